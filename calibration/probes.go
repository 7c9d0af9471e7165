package calibration

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/hal"
)

// probes draws the probe coupling matrices: a diagonal alternating between
// two levels and random-sign off-diagonal elements, each matrix stable with
// a margin (its slowest eigenvalue has real part ≥ 0.3).
func probes(info hal.Info, o Options) ([][]float64, error) {
	k := info.Cells
	r := rand.New(rand.NewPCG(o.Seed, streamProbes))
	hi := math.Min(2, 0.95*info.Coupling.Max)
	lo := 0.6 * hi
	out := make([][]float64, o.Probes)
	for c := range out {
		d := hi
		if c%2 == 1 {
			d = lo
		}
		p := 0.45 * d / 2
		if info.Topology == hal.Symmetric {
			p /= 2
		}
		if info.Coupling.Min > -p {
			p = 0 // a board without negative couplings: positive probes only
		}
		var a []float64
		for try := 0; ; try++ {
			if try == 200 {
				return nil, fmt.Errorf("calibration: no stable probe matrix found for board %s: %w", info.Model, hal.ErrUnsupported)
			}
			a = make([]float64, k*k)
			for i := range k {
				a[i*k+i] = snapCoupling(d, info)
				for j := range k {
					if i == j || (info.Topology == hal.Symmetric && j < i) {
						continue
					}
					v := p
					if r.IntN(2) == 0 && p > 0 {
						v = -p
					}
					if p == 0 {
						v = 0.2 * d / 2 * r.Float64()
					}
					a[i*k+j] = snapCoupling(v, info)
					if info.Topology == hal.Symmetric {
						a[j*k+i] = a[i*k+j]
					}
				}
			}
			if minRe(a, k) >= 0.3*d/2 && hal.CheckCouplings(info, a) == nil {
				break
			}
			if try%20 == 19 {
				p *= 0.85
			}
		}
		out[c] = a
	}
	return out, nil
}

func minRe(a []float64, k int) float64 {
	var eig mat.Eigen
	if !eig.Factorize(mat.NewDense(k, k, append([]float64(nil), a...)), mat.EigenNone) {
		return math.Inf(-1)
	}
	m := math.Inf(1)
	for _, v := range eig.Values(nil) {
		m = math.Min(m, real(v))
	}
	return m
}

// recordProbes programs each probe in turn and records its forced-state
// transients (o.Events spread evenly over the probes, the forced states
// from one stream across all of them), fitting each probe's regression in
// reading space. The transients stage is the first 85 % of the progress.
func (s *session) recordProbes(ctx context.Context, pr [][]float64, o Options, p *stageProgress) ([]*transients, []*fit, error) {
	rs := rand.New(rand.NewPCG(o.Seed, streamStates))
	per := o.Events / o.Probes
	data := make([]*transients, len(pr))
	fits := make([]*fit, len(pr))
	for c, a := range pr {
		if err := s.b.SetCouplings(ctx, a); err != nil {
			return nil, nil, fmt.Errorf("calibration: programming probe %d: %w", c+1, err)
		}
		done := c
		p.stage = StageProbe(c+1, len(pr))
		p.done(0.85 * float64(done) / float64(len(pr)))
		t, err := s.record(ctx, rs, per, o.Window, nil, func(e int) {
			p.done(0.85 * (float64(done) + float64(e)/float64(per)) / float64(len(pr)))
		})
		if err != nil {
			return nil, nil, fmt.Errorf("probe %d: %w", c+1, err)
		}
		if fits[c], err = t.reg.solveDynamics(s.period.Seconds()); err != nil {
			return nil, nil, fmt.Errorf("calibration: probe %d: %w", c+1, err)
		}
		data[c] = t
	}
	return data, fits, nil
}
