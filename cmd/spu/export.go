package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/checkpoint"
)

const exportHelp = `Writes the parameters of a spu train checkpoint (--checkpoint DIR, as given
to spu train, or a checkpoint file) to a NumPy .npz (--out) that numpy reads
with np.load (no pickle):

  theta        (N,)          every parameter, in the trainer's flat order
  W0, W1, …    (out, in)     layer l's weights, as torch.nn.Linear's weight
  b0, b1, …    (out,)        layer l's biases, as torch.nn.Linear's bias
  sizes        (L+1,) int64  layer widths, inputs first
  activation, init, optimizer, checkpoint, created, spu_version   strings
  iteration, epoch, seed     integers

In θ, layer l is an out × (in+1) row-major block whose last column is the
bias (docs/architecture.md, optim); W and b are that block split. For the
784-32-10 MLP, torch.nn.Sequential(Linear(784, 32), ReLU(), Linear(32, 10))
loads them as {"0.weight": W0, "0.bias": b0, "2.weight": W1, "2.bias": b1}.
`

// exportJSON is spu export-params --json.
type exportJSON struct {
	Checkpoint string `json:"checkpoint"`
	Out        string `json:"out"`
	Sizes      []int  `json:"sizes"`
	Params     int    `json:"params"`
	Iteration  int    `json:"iteration"`
}

// runExportParams is spu export-params.
func runExportParams(_ context.Context, args []string, stdout, _ io.Writer) error {
	f := newBoardlessFlags("export-params", "spu export-params --checkpoint DIR|FILE --out FILE.npz [--json]", exportHelp)
	dir := f.String("checkpoint", "", "the checkpoint `DIR` of spu train (or a checkpoint file)")
	out := f.String("out", "", "write the parameters to `FILE`.npz")
	if err := f.parse(args, stdout); err != nil {
		return err
	}
	if *dir == "" || *out == "" {
		return usagef("--checkpoint and --out are both required")
	}
	if npyFormat(*out) != "npz" {
		return usagef("--out %s: want a name ending .npz", *out)
	}
	c, path, err := loadCheckpointAt(*dir)
	if err != nil {
		return fmt.Errorf("--checkpoint: %w", err)
	}
	entries, err := paramEntries(c, path)
	if err != nil {
		return err
	}
	file, err := createOut(*out)
	if err != nil {
		return err
	}
	defer file.Close()
	if err := writeNPZ(file, entries); err != nil {
		return fmt.Errorf("--out %s: %w", *out, err)
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("--out %s: %w", *out, err)
	}
	s := exportJSON{Checkpoint: path, Out: *out, Sizes: c.Model.Sizes, Params: len(c.Theta), Iteration: c.Iteration}
	if f.json {
		return writeJSON(stdout, s)
	}
	_, err = fmt.Fprintf(stdout, "%s: %d parameters of the %s MLP at iteration %d → %s\n",
		path, s.Params, joinSizes(s.Sizes), s.Iteration, s.Out)
	return err
}

// loadCheckpointAt reads the checkpoint in a directory or the file named.
func loadCheckpointAt(p string) (*checkpoint.Checkpoint, string, error) {
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
		c, err := checkpoint.ReadFile(p)
		return c, p, err
	}
	return checkpoint.Load(p)
}

// paramEntries splits θ into per-layer weights and biases (the layout of
// optim.MLP) and adds the run's description.
func paramEntries(c *checkpoint.Checkpoint, path string) ([]npzEntry, error) {
	sizes := c.Model.Sizes
	n := 0
	for l := range len(sizes) - 1 {
		n += sizes[l+1] * (sizes[l] + 1)
	}
	if len(sizes) < 2 || n != len(c.Theta) {
		return nil, fmt.Errorf("checkpoint %s: model sizes %v need %d parameters, the file holds %d: %w",
			path, sizes, n, len(c.Theta), checkpoint.ErrCorrupt)
	}
	sz := make([]int64, len(sizes))
	for i, s := range sizes {
		sz[i] = int64(s)
	}
	e := []npzEntry{{"theta", c.Theta}, {"sizes", sz}}
	off := 0
	for l := range len(sizes) - 1 {
		in, out := sizes[l], sizes[l+1]
		block := mat.NewDense(out, in+1, c.Theta[off:off+out*(in+1)])
		e = append(e,
			npzEntry{fmt.Sprintf("W%d", l), mat.DenseCopyOf(block.Slice(0, out, 0, in))},
			npzEntry{fmt.Sprintf("b%d", l), mat.Col(nil, in, block)})
		off += out * (in + 1)
	}
	return append(e,
		npzEntry{"activation", c.Model.Activation}, npzEntry{"init", c.Model.InitName()},
		npzEntry{"optimizer", c.Optimizer}, npzEntry{"checkpoint", path},
		npzEntry{"created", c.Created.UTC().Format("2006-01-02T15:04:05Z")},
		npzEntry{"spu_version", currentVersion().String()},
		npzEntry{"iteration", int64(c.Iteration)}, npzEntry{"epoch", int64(c.Epoch)},
		npzEntry{"seed", c.Seed}), nil
}
