package calibration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/atomicfile"
	"github.com/spukit/spukit/internal/fitname"
	"github.com/spukit/spukit/internal/jsonfile"
)

// FormatName and FormatVersion identify calibration files. A file with
// another name or a newer version is refused.
const (
	FormatName    = "spukit-calibration"
	FormatVersion = 1
)

// ErrWrongBoard is returned when a calibration is applied to a board it was
// not measured on (another serial number or size).
var ErrWrongBoard = errors.New("calibration belongs to another board")

// BoardID names the board a calibration was measured on.
type BoardID struct {
	Model    string `json:"model"`
	Serial   string `json:"serial"`
	Firmware string `json:"firmware"`
	Cells    int    `json:"cells"`
	// TauS is the nominal τ (hal.Info.Tau) that the measured gains refer to.
	TauS float64 `json:"tau_s"`
	// CouplingStep and CouplingMax are the board's coupling resolution and
	// range in 1/τ.
	CouplingStep float64 `json:"coupling_step"`
	CouplingMax  float64 `json:"coupling_max"`
	// SamplePeriodS is the sample period of the identification.
	SamplePeriodS float64 `json:"sample_period_s"`
}

// Affine is a per-channel straight line y = Gain·x + Offset, fitted with
// standard errors; Residual is the rms residual of the fit in volts.
type Affine struct {
	Gain     []float64 `json:"gain"`
	GainSE   []float64 `json:"gain_se"`
	Offset   []float64 `json:"offset_v"`
	OffsetSE []float64 `json:"offset_se_v"`
	Residual []float64 `json:"residual_v"`
}

// BiasDAC is the measured bias transfer β_i(v) = Gain_i·v + Offset_i +
// INL_i(v), in volts referred to the nominal τ (see the package doc).
type BiasDAC struct {
	Affine
	// Levels are the programmed bias levels of the sweep, volts.
	Levels []float64 `json:"levels_v"`
	// Measured[i][l] is β_i at Levels[l] and MeasuredSE its standard error.
	Measured   [][]float64 `json:"measured_v"`
	MeasuredSE [][]float64 `json:"measured_se_v"`
	// Chi2 per channel of the straight line over the levels (dof =
	// len(Levels) − 2).
	Chi2 []float64 `json:"chi2"`
	// INL[i], when present, is channel i's deviation from the line at each
	// level (volts), applied by linear interpolation. It is kept only for
	// channels whose straight line is rejected (χ²/dof above 1 + 5·√(2/dof)).
	INL [][]float64 `json:"inl_v,omitempty"`
}

// Couplings holds the probe-plus-offset model of every coupling element:
// realised τ_ref·M_ij = Gain_ij·A_ij + Offset_ij (row-major, K²).
type Couplings struct {
	Gain     []float64 `json:"gain"`
	GainSE   []float64 `json:"gain_se"`
	Offset   []float64 `json:"offset"`
	OffsetSE []float64 `json:"offset_se"`
	// OffsetFitted[e] says whether element e's offset was significant
	// (|offset| ≥ 3 standard errors) and kept; otherwise it is 0.
	OffsetFitted []bool `json:"offset_fitted"`
	// Chi2 of each element's fit over the probes, with Dof degrees of
	// freedom (probes − parameters).
	Chi2 []float64 `json:"chi2"`
	Dof  []int     `json:"dof"`
	// Probes are the programmed probe matrices and Realised the measured
	// τ_ref·M for each, with standard errors.
	Probes     [][]float64 `json:"probes"`
	Realised   [][]float64 `json:"realised"`
	RealisedSE [][]float64 `json:"realised_se"`
}

// Cells holds per-cell quantities.
type Cells struct {
	// TauS is each cell's time constant under the gauge "the element
	// gains of a row average to one"; TauSE includes that gauge's
	// uncertainty (the spread of the row's gains over √K).
	TauS  []float64 `json:"tau_s"`
	TauSE []float64 `json:"tau_se_s"`
	// NoiseV is σ_i (the hal.Info.Noise convention) from the residual
	// covariance, NoiseSE its spread over probes / √probes. EffectiveNoiseV
	// is σ_i·√(τ_ref/τ_i), the noise a calibrated board shows.
	NoiseV          []float64 `json:"noise_v"`
	NoiseSE         []float64 `json:"noise_se_v"`
	EffectiveNoiseV []float64 `json:"effective_noise_v"`
	// NoiseCorrMax is the largest |correlation| between cells' injected
	// noise (0 for independent sources).
	NoiseCorrMax float64 `json:"noise_corr_max"`
}

// Cost is what a calibration took.
type Cost struct {
	// BoardTimeS is the board time used: from hal.Clock when the board
	// has one (Clocked), else the sum of the requested durations.
	BoardTimeS float64 `json:"board_time_s"`
	Clocked    bool    `json:"clocked"`
	WallS      float64 `json:"wall_s"`
	Events     int     `json:"events"`
	Samples    int     `json:"samples"`
}

// Calibration is everything measured on one board: the content of a
// calibration file.
type Calibration struct {
	Format  string  `json:"format"`
	Version int     `json:"version"`
	Key     string  `json:"key"`
	Board   BoardID `json:"board"`
	// MeasuredAt is the wall-clock time of the measurement (UTC).
	MeasuredAt time.Time `json:"measured_at"`
	// TemperatureC is the board temperature, if the board reports one.
	TemperatureC *float64 `json:"temperature_c"`
	Options      Options  `json:"options"`
	Cost         Cost     `json:"cost"`

	ADC       Affine    `json:"adc"`
	Bias      BiasDAC   `json:"bias_dac"`
	Couplings Couplings `json:"couplings"`
	Cells     Cells     `json:"cells"`
	// ADCFilter is the ADC's anti-aliasing filter when the transients
	// showed one (nil: none).
	ADCFilter *ADCFilter `json:"adc_filter,omitempty"`

	// Success[i] says whether every fit involving channel i converged to
	// plausible values; BoundaryHits[i] counts readings of channel i that
	// saturated (the events holding them were dropped).
	Success      []bool   `json:"success"`
	BoundaryHits []int    `json:"boundary_hits"`
	Notes        []string `json:"notes"`
}

// ProcedureVersion changes whenever the procedure's estimates change for
// the same options, so that cached files measured by older code are not
// found under the same key.
const ProcedureVersion = 4

// ContentKey returns the cache key of a calibration of the board described
// by info with options o: a hash of the procedure version, the serial, the
// firmware and the procedure options (defaults filled in for this board).
func ContentKey(info hal.Info, o Options) string {
	o = o.forBoard(info)
	opt, _ := json.Marshal(o)
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%s\x00%s\x00%s", ProcedureVersion, info.Serial, info.Firmware, opt)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Validate checks the file's format, version and internal sizes.
func (c *Calibration) Validate() error {
	if c.Format != FormatName {
		return fmt.Errorf("calibration: format %q, want %q: %w", c.Format, FormatName, hal.ErrInvalid)
	}
	if c.Version < 1 || c.Version > FormatVersion {
		return fmt.Errorf("calibration: version %d, this program reads 1..%d: %w", c.Version, FormatVersion, hal.ErrUnsupported)
	}
	k := c.Board.Cells
	if k < 1 || c.Board.Serial == "" || !(c.Board.TauS > 0) {
		return fmt.Errorf("calibration: board cells %d, serial %q, tau %g s: %w", k, c.Board.Serial, c.Board.TauS, hal.ErrInvalid)
	}
	if err := c.checkValues(k); err != nil {
		return err
	}
	if len(c.Couplings.OffsetFitted) != k*k || len(c.Couplings.Dof) != k*k {
		return fmt.Errorf("calibration: couplings.offset_fitted has %d entries and couplings.dof %d, want %d: %w",
			len(c.Couplings.OffsetFitted), len(c.Couplings.Dof), k*k, hal.ErrDimension)
	}
	if len(c.Success) != k || len(c.BoundaryHits) != k {
		return fmt.Errorf("calibration: success has %d entries and boundary_hits %d, want %d: %w",
			len(c.Success), len(c.BoundaryHits), k, hal.ErrDimension)
	}
	// In a fixed order, as checkValues, so that the first bad one is named
	// the same way every time (a map's order is random).
	for _, f := range []struct {
		name string
		v    []float64
	}{{"adc.gain", c.ADC.Gain}, {"bias_dac.gain", c.Bias.Gain}, {"couplings.gain", c.Couplings.Gain}, {"cells.tau_s", c.Cells.TauS}} {
		for i, g := range f.v {
			if !(g > 0) {
				return fmt.Errorf("calibration: %s[%d] = %g, want a positive value: %w", f.name, i, g, hal.ErrInvalid)
			}
		}
	}
	return c.Bias.checkSizes(k)
}

// checkValues checks the length of every per-channel and per-element
// field of a k-cell calibration, and that its values are finite and of
// plausible size.
func (c *Calibration) checkValues(k int) error {
	// Every per-channel and per-element field, in a fixed order so that
	// the first bad one is named the same way every time.
	type field struct {
		name string
		v    []float64
		n    int
	}
	fields := []field{
		{"adc.gain", c.ADC.Gain, k}, {"adc.gain_se", c.ADC.GainSE, k},
		{"adc.offset_v", c.ADC.Offset, k}, {"adc.offset_se_v", c.ADC.OffsetSE, k}, {"adc.residual_v", c.ADC.Residual, k},
		{"bias_dac.gain", c.Bias.Gain, k}, {"bias_dac.gain_se", c.Bias.GainSE, k},
		{"bias_dac.offset_v", c.Bias.Offset, k}, {"bias_dac.offset_se_v", c.Bias.OffsetSE, k},
		{"bias_dac.residual_v", c.Bias.Residual, k}, {"bias_dac.chi2", c.Bias.Chi2, k},
		{"couplings.gain", c.Couplings.Gain, k * k}, {"couplings.gain_se", c.Couplings.GainSE, k * k},
		{"couplings.offset", c.Couplings.Offset, k * k}, {"couplings.offset_se", c.Couplings.OffsetSE, k * k},
		{"couplings.chi2", c.Couplings.Chi2, k * k},
		{"cells.tau_s", c.Cells.TauS, k}, {"cells.tau_se_s", c.Cells.TauSE, k},
		{"cells.noise_v", c.Cells.NoiseV, k}, {"cells.noise_se_v", c.Cells.NoiseSE, k},
		{"cells.effective_noise_v", c.Cells.EffectiveNoiseV, k},
	}
	for _, f := range fields {
		if len(f.v) != f.n {
			return fmt.Errorf("calibration: %s has %d entries, want %d: %w", f.name, len(f.v), f.n, hal.ErrDimension)
		}
		for i, x := range f.v {
			// A hand-edited 1e308 would only fail much later, as nonsense.
			if math.IsNaN(x) || math.Abs(x) > 1e6 {
				return fmt.Errorf("calibration: %s[%d] = %g, want a finite value of plausible size: %w", f.name, i, x, hal.ErrInvalid)
			}
		}
	}
	return nil
}

// checkSizes checks the bias sweep's per-channel tables (measured means,
// their standard errors, the INL) against k channels and the levels.
func (bd *BiasDAC) checkSizes(k int) error {
	for _, m := range [][][]float64{bd.Measured, bd.MeasuredSE} {
		if m == nil {
			continue
		}
		if len(m) != k {
			return fmt.Errorf("calibration: bias_dac.measured has %d channels, want %d: %w", len(m), k, hal.ErrDimension)
		}
		for i, row := range m {
			if len(row) != len(bd.Levels) {
				return fmt.Errorf("calibration: bias_dac.measured[%d] has %d entries for %d levels: %w", i, len(row), len(bd.Levels), hal.ErrDimension)
			}
		}
	}
	if bd.INL != nil {
		if len(bd.INL) != k {
			return fmt.Errorf("calibration: bias_dac.inl_v has %d channels, want %d: %w", len(bd.INL), k, hal.ErrDimension)
		}
		for i, t := range bd.INL {
			if t != nil && len(t) != len(bd.Levels) {
				return fmt.Errorf("calibration: bias_dac.inl_v[%d] has %d entries for %d levels: %w", i, len(t), len(bd.Levels), hal.ErrDimension)
			}
		}
	}
	return nil
}

// Matches returns nil when the calibration was measured on the board
// described by info, and an error wrapping ErrWrongBoard otherwise.
func (c *Calibration) Matches(info hal.Info) error {
	if c.Board.Serial != info.Serial {
		return fmt.Errorf("calibration of board %s cannot be applied to board %s (%s): calibrate this board with spu calibrate: %w",
			c.Board.Serial, info.Serial, info.Model, ErrWrongBoard)
	}
	if c.Board.Cells != info.Cells {
		return fmt.Errorf("calibration has %d cells, board %s has %d: %w", c.Board.Cells, info.Serial, info.Cells, ErrWrongBoard)
	}
	// The serial alone is not enough: a serial cut to fit a protocol, or
	// reused by another profile or wiring file, would let one board take
	// another's calibration. The nominal parameters the measured gains
	// refer to must agree too — within 1e-6 relative, since a serial link
	// carries them as float32.
	for _, p := range []struct {
		name      string
		cal, have float64
	}{
		{"nominal τ (s)", c.Board.TauS, info.Tau.Seconds()},
		{"coupling step (1/τ)", c.Board.CouplingStep, info.CouplingStep},
		{"coupling maximum (1/τ)", c.Board.CouplingMax, info.Coupling.Max},
	} {
		if math.Abs(p.cal-p.have) > 1e-6*math.Max(math.Abs(p.cal), math.Abs(p.have)) {
			return fmt.Errorf("calibration of board %s was measured with %s %g, board %s (%s) reports %g: another board under the same serial? calibrate this board with spu calibrate: %w",
				c.Board.Serial, p.name, p.cal, info.Serial, info.Model, p.have, ErrWrongBoard)
		}
	}
	// Another firmware or transport on the same board is allowed (the
	// analog parts are the same); Staleness notes it.
	return nil
}

// Limits bound how far a calibration may be from the present before
// Staleness warns.
type Limits struct {
	// MaxAge is the largest age; zero selects 24 h.
	MaxAge time.Duration
	// MaxTempDelta is the largest temperature change in °C; zero selects 2.
	MaxTempDelta float64
}

// Staleness returns warnings (empty when none) for a calibration applied
// at time now to the board described by info, whose temperature is tempC
// (nil when unknown).
func (c *Calibration) Staleness(now time.Time, info hal.Info, tempC *float64, l Limits) []string {
	if l.MaxAge == 0 {
		l.MaxAge = 24 * time.Hour
	}
	if l.MaxTempDelta == 0 {
		l.MaxTempDelta = 2
	}
	var w []string
	if age := now.Sub(c.MeasuredAt); age > l.MaxAge {
		w = append(w, fmt.Sprintf("calibration is %s old (limit %s): recalibrate (spu calibrate) or check it (spu calibrate --check)",
			age.Round(time.Minute), l.MaxAge))
	}
	if tempC != nil && c.TemperatureC != nil {
		if d := *tempC - *c.TemperatureC; math.Abs(d) > l.MaxTempDelta {
			w = append(w, fmt.Sprintf("board is at %.2f °C, calibrated at %.2f °C (difference %.2f °C, limit %.2g °C): recalibrate or check it",
				*tempC, *c.TemperatureC, d, l.MaxTempDelta))
		}
	}
	if info.Firmware != c.Board.Firmware {
		w = append(w, fmt.Sprintf("calibrated with firmware %q, board now reports %q", c.Board.Firmware, info.Firmware))
	}
	return w
}

// Encode writes c as indented JSON.
func (c *Calibration) Encode(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}

// maxFileBytes bounds a calibration file (a 255-cell board's is ~30 MB).
const maxFileBytes = 64 << 20

// Decode reads and validates a calibration from r. Like profiles and
// problems, it is decoded strictly: an unknown field (a typo, or a file
// of another format) is an error naming it, not silently ignored.
func Decode(r io.Reader) (*Calibration, error) {
	data, err := jsonfile.Read(r, maxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("calibration: %w", jsonfile.Invalid(err, hal.ErrInvalid))
	}
	var c Calibration
	if err := jsonfile.Decode(data, &c); err != nil {
		return nil, fmt.Errorf("calibration: %w", jsonfile.Invalid(err, hal.ErrInvalid))
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Load reads a calibration file.
func Load(path string) (*Calibration, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("calibration: %w", err)
	}
	defer f.Close()
	c, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Save writes c to path atomically: to a temporary file in the same
// directory, synced, then renamed over path.
func (c *Calibration) Save(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("calibration: %w", err)
	}
	if err := atomicfile.WriteFile(path, ".calibration-", c.Encode); err != nil {
		return fmt.Errorf("calibration: %w", err)
	}
	return nil
}

// CacheDir returns dir, or when dir is empty the user cache directory's
// spukit/calibration (e.g. ~/.cache/spukit/calibration).
func CacheDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("calibration cache: %w (pass a cache directory)", err)
	}
	return filepath.Join(base, "spukit", "calibration"), nil
}

// maxSerialInName bounds the part of a cache file name taken from the
// serial, so that the name stays well under the usual 255-byte limit of a
// file name whatever the serial (the key adds 17 bytes and ".json" 5).
const maxSerialInName = 64

// CachePath is where a calibration with the given serial and content key
// lives in the cache directory dir. Path separators and glob
// metacharacters in the serial become '_' (FindCached globs the names); a
// serial longer than 64 bytes is shortened to its first 55 bytes, '~' and
// 8 hex digits of a hash of the whole (fitname.String), so that a long
// serial cannot make a name the file system refuses.
func CachePath(dir, serial, key string) string {
	safe := strings.Map(func(r rune) rune {
		if strings.ContainsRune(`/\\:*?[]~`, r) || r == os.PathSeparator || r < ' ' {
			return '_'
		}
		return r
	}, serial)
	return filepath.Join(dir, fitname.String(safe, maxSerialInName)+"-"+key+".json")
}

// CheckCacheWritable makes sure a calibration can be saved in the cache
// directory dir (creating it if needed) before any board time is spent.
func CheckCacheWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("calibration cache: %w", err)
	}
	f, err := atomicfile.CreateTemp(dir, ".calibration-probe-", ".tmp")
	if err != nil {
		return fmt.Errorf("calibration cache %s is not writable: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// FindCached returns the newest cached calibration for the board described
// by info in dir: the one with options o when o is non-nil, else any.
// It returns an error wrapping os.ErrNotExist when there is none.
func FindCached(dir string, info hal.Info, o *Options) (*Calibration, string, error) {
	var paths []string
	if o != nil {
		paths = []string{CachePath(dir, info.Serial, ContentKey(info, *o))}
	} else {
		pat := strings.TrimSuffix(CachePath(dir, info.Serial, "*"), "*.json") + "*.json"
		paths, _ = filepath.Glob(pat)
	}
	type found struct {
		c    *Calibration
		path string
	}
	var all []found
	var skipped []string
	for _, p := range paths {
		c, err := Load(p)
		if err == nil {
			err = c.Matches(info)
		}
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				skipped = append(skipped, fmt.Sprintf("%s: %v", filepath.Base(p), err))
			}
			continue
		}
		all = append(all, found{c, p})
	}
	if len(all) == 0 {
		msg := ""
		if len(skipped) > 0 {
			msg = " (unusable: " + strings.Join(skipped, "; ") + ")"
		}
		return nil, "", fmt.Errorf("no cached calibration for board %s in %s%s: run spu calibrate: %w", info.Serial, dir, msg, os.ErrNotExist)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].c.MeasuredAt.After(all[j].c.MeasuredAt) })
	return all[0].c, all[0].path, nil
}
