package training

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/spukit/spukit/checkpoint"
	"github.com/spukit/spukit/optim"
)

// extra is the loop's own part of a checkpoint.
type extra struct {
	Batch     int     `json:"batch"`
	TrainN    int     `json:"train_n"`
	Inputs    int     `json:"inputs"`
	Damping   float64 `json:"damping"`
	WallS     float64 `json:"wall_s"`
	DigitalS  float64 `json:"digital_s"`
	SimWallS  float64 `json:"sim_wall_s"`
	BoardS    float64 `json:"board_time_s"`
	Rescales  int     `json:"rescales"`
	LossSum   float64 `json:"loss_sum"`
	LossN     int     `json:"loss_n"`
	History   []Eval  `json:"history"`
	LastCkptK int     `json:"-"`
}

func (o *Options) checkpointAt(k, perEpoch int, ex *extra) *checkpoint.Checkpoint {
	c := &checkpoint.Checkpoint{Header: checkpoint.Header{
		Model: checkpoint.Model{Sizes: slices.Clone(o.Model.Sizes), Activation: o.Model.Act.String(),
			Init: o.Model.Init.String()},
		Optimizer: o.Optimizer.Name(),
		Iteration: k, Epoch: k / perEpoch, Seed: o.Seed,
	}}
	c.Theta = o.Model.Params()
	if s, ok := o.Optimizer.(optim.Stateful); ok {
		c.OptimizerStateful = true
		c.OptimizerState = s.State()
	}
	if o.Config != nil {
		c.Config, _ = marshal(o.Config)
	}
	c.Extra, _ = marshal(ex)
	return c
}

// restore checks c against the options and loads it into the model and
// optimiser.
func (o *Options) restore(c *checkpoint.Checkpoint, ex *extra) error {
	mm := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrMismatch)
	}
	if !slices.Equal(c.Model.Sizes, o.Model.Sizes) || c.Model.Activation != o.Model.Act.String() {
		return mm("checkpoint model %v %s, this run %v %s", c.Model.Sizes, c.Model.Activation, o.Model.Sizes, o.Model.Act)
	}
	// A checkpoint from before Model.Init reads as the default, which
	// those runs used.
	if c.Model.InitName() != o.Model.Init.String() {
		return mm("checkpoint initialisation %s, this run %s", c.Model.InitName(), o.Model.Init)
	}
	if c.Optimizer != o.Optimizer.Name() {
		return mm("checkpoint optimizer %s, this run %s", c.Optimizer, o.Optimizer.Name())
	}
	if c.Seed != o.Seed {
		return mm("checkpoint seed %d, this run %d", c.Seed, o.Seed)
	}
	if len(c.Theta) != o.Model.NumParams() {
		return mm("checkpoint has %d parameters, the model %d", len(c.Theta), o.Model.NumParams())
	}
	var saved extra
	if err := json.Unmarshal(c.Extra, &saved); err != nil {
		return fmt.Errorf("checkpoint: loop state: %v: %w", err, checkpoint.ErrCorrupt)
	}
	if saved.Batch != o.Batch || saved.TrainN != o.Train.Size() || saved.Inputs != o.Model.Inputs() {
		return mm("checkpoint batch %d over %d examples, this run batch %d over %d", saved.Batch, saved.TrainN, o.Batch, o.Train.Size())
	}
	if saved.Damping != o.Damping {
		return mm("checkpoint damping %g, this run %g", saved.Damping, o.Damping)
	}
	if o.Config != nil {
		diff, err := ConfigDiff(c.Config, o.Config)
		if err != nil {
			return err
		}
		if len(diff) > 0 {
			return mm("settings differ from the checkpoint's: %s", joinDiff(diff))
		}
	}
	s, stateful := o.Optimizer.(optim.Stateful)
	if c.OptimizerStateful {
		if !stateful {
			return mm("checkpoint has optimizer state, %s takes none", o.Optimizer.Name())
		}
		if err := s.SetState(c.OptimizerState); err != nil {
			return fmt.Errorf("checkpoint optimizer state: %w", err)
		}
	}
	copy(o.Model.Params(), c.Theta)
	*ex = saved
	return nil
}

// ConfigDiff compares a saved configuration (JSON object) with the current
// one, returning "key: saved → now" for every top-level key that differs.
func ConfigDiff(saved json.RawMessage, now any) ([]string, error) {
	nb, err := marshal(now)
	if err != nil {
		return nil, err
	}
	var a, b map[string]any
	if len(saved) == 0 {
		saved = json.RawMessage("{}")
	}
	if err := json.Unmarshal(saved, &a); err != nil {
		return nil, fmt.Errorf("checkpoint config: %v: %w", err, checkpoint.ErrCorrupt)
	}
	if err := json.Unmarshal(nb, &b); err != nil {
		return nil, fmt.Errorf("config is not a JSON object: %w", err)
	}
	var diff []string
	for k, bv := range b {
		av, ok := a[k]
		as, _ := marshal(av)
		bs, _ := marshal(bv)
		if !ok {
			as = []byte("(unset)")
		}
		if string(as) != string(bs) {
			diff = append(diff, fmt.Sprintf("%s %s → %s", k, as, bs))
		}
	}
	for k, av := range a {
		if _, ok := b[k]; !ok {
			as, _ := marshal(av)
			diff = append(diff, fmt.Sprintf("%s %s → (unset)", k, as))
		}
	}
	sort.Strings(diff)
	return diff, nil
}

// marshal is json.Marshal without HTML escaping (board URIs hold '&').
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func joinDiff(d []string) string {
	s := ""
	for i, x := range d {
		if i > 0 {
			s += ", "
		}
		s += x
	}
	return s
}
