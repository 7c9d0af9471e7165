package sim

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/internal/spice"
	"github.com/spukit/spukit/internal/testnum"
)

// spiceStat is one compared statistic: ngspice's and the simulator's
// estimates with standard errors, d, the derived ngspice − simulator
// difference (trnoise's band limit), and the simulator's closed form.
// ngSEw is ngspice's within-run standard error alone; ngSE adds the
// run-level term of a covariance (power: the statistic scales with the
// run's noise power, see runLevel).
type spiceStat struct {
	name               string
	ng, ngSE, sm, smSE float64
	ngSEw              float64
	d, ref             float64
	power              bool
}

func (s spiceStat) z() float64 {
	return (s.ng - s.sm - s.d) / math.Hypot(s.ngSE, s.smSE)
}

// spiceRef is what the statistics of the observed channels should be: the
// simulator's closed forms (mean, Σ, lag covariance) and the derived
// ngspice − simulator shifts.
type spiceRef struct {
	mean                 []float64
	cov, lag, dCov, dLag *mat.Dense
}

// compareSeries returns the mean, covariance and lag-L covariance of both
// runs against ref.
func compareSeries(ng, sm [][]float64, ref spiceRef, lag int) []spiceStat {
	k := len(ng)
	var out []spiceStat
	mNg, mSm := make([]float64, k), make([]float64, k)
	for i := range k {
		s := spiceStat{name: fmt.Sprintf("mean %d", i), ref: ref.mean[i]}
		s.ng, s.ngSE = testnum.MeanSE(ng[i])
		s.ngSEw = s.ngSE
		s.sm, s.smSE = testnum.MeanSE(sm[i])
		mNg[i], mSm[i] = s.ng, s.sm
		out = append(out, s)
	}
	prod := func(x [][]float64, m []float64, i, j, l int) []float64 {
		n := len(x[0]) - l
		y := make([]float64, n)
		for r := range n {
			y[r] = (x[i][r+l] - m[i]) * (x[j][r] - m[j])
		}
		return y
	}
	for i := range k {
		for j := range k {
			if j >= i {
				s := spiceStat{name: fmt.Sprintf("cov %d,%d", i, j), d: ref.dCov.At(i, j), ref: ref.cov.At(i, j), power: true}
				s.ng, s.ngSE = testnum.MeanSE(prod(ng, mNg, i, j, 0))
				s.ngSEw = s.ngSE
				s.sm, s.smSE = testnum.MeanSE(prod(sm, mSm, i, j, 0))
				out = append(out, s)
			}
			s := spiceStat{name: fmt.Sprintf("lag cov %d,%d", i, j), d: ref.dLag.At(i, j), ref: ref.lag.At(i, j), power: true}
			s.ng, s.ngSE = testnum.MeanSE(prod(ng, mNg, i, j, lag))
			s.ngSEw = s.ngSE
			s.sm, s.smSE = testnum.MeanSE(prod(sm, mSm, i, j, lag))
			out = append(out, s)
		}
	}
	return out
}

// reference returns the closed forms for the free (not held) channels: the
// linear system of the free nodes (drift M_FF = (ΓA)_FF, noise currents
// through 1/C_i) and, with a filter, per channel the Butterworth states
// v, u = v̇/ω (dv = ωu dt, du = (ωx − ωv − √2ωu) dt; the ADC reads v).
// The simulator's covariance solves M Σ + Σ Mᵀ = B diag(NA²h) Bᵀ (white
// noise of trnoise's density), its lag covariance is e^{−M·Lh}Σ; ngspice's
// are spice.GridCov's. Held nodes are constant inputs: they shift the mean
// only.
func (c spiceCase) reference(t *testing.T, h float64, lag int) spiceRef {
	k, f := c.k(), c.free()
	nf := len(f)
	n, obs := nf, make([]int, nf)
	if c.filterHz > 0 {
		n = 3 * nf
	}
	w := 2 * math.Pi * c.filterHz
	m, bIn, q := mat.NewDense(n, n, nil), mat.NewDense(n, nf, nil), mat.NewDense(n, n, nil)
	s := make([]float64, nf)
	for p, i := range f {
		for r, j := range f {
			m.Set(p, r, c.a[i*k+j]/c.tau[i])
		}
		ci := c.tau[i] / spiceR
		s[p] = c.noiseA(i, h) * c.noiseA(i, h)
		bIn.Set(p, p, 1/ci)
		q.Set(p, p, s[p]*h/(ci*ci))
		obs[p] = p
		if c.filterHz > 0 {
			v, u := nf+2*p, nf+2*p+1
			m.Set(v, u, -w)
			m.Set(u, p, -w)
			m.Set(u, v, w)
			m.Set(u, u, math.Sqrt2*w)
			obs[p] = v
		}
	}
	white := lyapunov(t, m, q)
	cov, lag1, phi, err := spice.GridCov(m, bIn, s, h)
	require.NoError(t, err)
	var pl, lagTrn, lagWhite mat.Dense
	pl.Pow(phi, lag-1)
	lagTrn.Mul(&pl, lag1)
	lagWhite.Mul(expmEig(t, m, float64(lag)*h), white)
	mean := c.mean(t)
	r := spiceRef{mean: make([]float64, nf)}
	sub := func(a mat.Matrix) *mat.Dense {
		o := mat.NewDense(nf, nf, nil)
		for p, i := range obs {
			for q, j := range obs {
				o.Set(p, q, a.At(i, j))
			}
		}
		return o
	}
	for p, i := range f {
		r.mean[p] = mean[i]
	}
	r.cov, r.lag = sub(white), sub(&lagWhite)
	r.dCov, r.dLag = sub(cov), sub(&lagTrn)
	r.dCov.Sub(r.dCov, r.cov)
	r.dLag.Sub(r.dLag, r.lag)
	return r
}

// runLevel adds ngspice's run-level error to the covariances of one run:
// each is its expected value (ref + d) times the run's noise power G, of
// relative standard deviation g (spice.RunPowerSD), so
// SE² = SE_within² + (g·(ref + d))². Means are linear in the noise and
// keep their within-run error (G changes only their spread, by ≤ g).
func runLevel(st []spiceStat, g float64) {
	for i := range st {
		if st[i].power {
			st[i].ngSE = math.Hypot(st[i].ngSEw, g*(st[i].ref+st[i].d))
		}
	}
}

// spiceDispersion compares the spread of ngspice's statistics between
// independent runs with their standard errors: for each statistic
// χ² = Σ_r (ŝ_r − s̄)²/SE_r², summed over the statistics of a kind and
// divided by its expectation (R − 1 per statistic), once with the full
// standard error (model: within-run and run-level) and once with the
// within-run error alone (what a single series shows). Ratios near 1 mean
// the standard error explains the spread.
type spiceDispersion struct {
	meanModel, covModel, covWithin float64
}

// poolRuns averages per-run statistics over R independent runs (SE² =
// Σ_r SE_r²/R²) and measures their dispersion (R ≥ 2).
func poolRuns(per [][]spiceStat) ([]spiceStat, spiceDispersion) {
	r := float64(len(per))
	out := make([]spiceStat, len(per[0]))
	var d spiceDispersion
	var nMean, nCov float64
	for i := range out {
		s := per[0][i]
		s.ng, s.sm, s.ngSE, s.ngSEw, s.smSE = 0, 0, 0, 0, 0
		for _, run := range per {
			q := run[i]
			s.ng += q.ng / r
			s.sm += q.sm / r
			s.ngSE += q.ngSE * q.ngSE / (r * r)
			s.ngSEw += q.ngSEw * q.ngSEw / (r * r)
			s.smSE += q.smSE * q.smSE / (r * r)
		}
		s.ngSE, s.ngSEw, s.smSE = math.Sqrt(s.ngSE), math.Sqrt(s.ngSEw), math.Sqrt(s.smSE)
		out[i] = s
		for _, run := range per {
			q := run[i]
			dev := q.ng - s.ng
			if q.power {
				d.covModel += dev * dev / (q.ngSE * q.ngSE)
				d.covWithin += dev * dev / (q.ngSEw * q.ngSEw)
			} else {
				d.meanModel += dev * dev / (q.ngSE * q.ngSE)
			}
		}
		if s.power {
			nCov++
		} else {
			nMean++
		}
	}
	if r < 2 {
		return out, spiceDispersion{}
	}
	d.meanModel /= nMean * (r - 1)
	d.covModel /= nCov * (r - 1)
	d.covWithin /= nCov * (r - 1)
	return out, d
}

// fidelityRow summarises one circuit for docs/fidelity.md: the largest
// |z| with and without the derived trnoise difference, the variances'
// ratio ngspice/simulator and its derived value, ngspice's variance
// errors and, over several runs, the between-run dispersion.
func fidelityRow(name string, st []spiceStat, disp spiceDispersion, runs, n int, repro bool) string {
	var zMax, zRaw, relSE, relSEw float64
	var ratio, want []string
	for _, s := range st {
		zMax = math.Max(zMax, math.Abs(s.z()))
		raw := s
		raw.d = 0
		zRaw = math.Max(zRaw, math.Abs(raw.z()))
		if strings.HasPrefix(s.name, "cov ") && s.name[4:5] == s.name[6:7] {
			ratio = append(ratio, fmt.Sprintf("%.4f", s.ng/s.sm))
			want = append(want, fmt.Sprintf("%.4f", (s.ref+s.d)/s.ref))
			relSE = math.Max(relSE, s.ngSE/s.ng)
			relSEw = math.Max(relSEw, s.ngSEw/s.ng)
		}
	}
	r := "yes"
	if !repro {
		r = "no"
	}
	dsp := "—"
	if runs > 1 {
		dsp = fmt.Sprintf("%.2f / %.2f / %.2f", disp.meanModel, disp.covModel, disp.covWithin)
	}
	return fmt.Sprintf("| %s | %d × %d | %d | %.2f | %.2f | %s | %s | %.2f %% (%.2f %%) | %s | %s |", name, runs, n, len(st), zMax, zRaw,
		strings.Join(ratio, " "), strings.Join(want, " "), 100*relSE, 100*relSEw, dsp, r)
}

// writeFidelity replaces the table between the "<!-- ngspice KEY -->"
// markers of the file SPUKIT_FIDELITY names (make fidelity), or does
// nothing.
func writeFidelity(t *testing.T, key string, rows []string) {
	path := os.Getenv("SPUKIT_FIDELITY")
	if path == "" || len(rows) == 0 || t.Failed() {
		return
	}
	doc, err := os.ReadFile(path)
	require.NoError(t, err)
	start, end := "<!-- ngspice "+key+" -->\n", "<!-- end ngspice "+key+" -->\n"
	i, j := strings.Index(string(doc), start), strings.Index(string(doc), end)
	require.True(t, i >= 0 && j > i, "%s has no %q … %q markers", path, start, end)
	head := "| circuit | runs × samples (ngspice) | statistics | max \\|z\\| | max \\|z\\| without the trnoise term | variance ratio ngspice/sim per channel | derived ratio | ngspice variance SE (within-run only) | between-run dispersion: means / covariances / covariances against the within-run SE alone | reproducible runs |\n|---|---|---|---|---|---|---|---|---|---|\n"
	out := string(doc[:i]) + start + head + strings.Join(rows, "\n") + "\n" + string(doc[j:])
	require.NoError(t, os.WriteFile(path, []byte(out), 0o644))
}
