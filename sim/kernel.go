package sim

import (
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	"gonum.org/v1/gonum/floats"
)

// The per-step kernel: y = Φx + c + Lz, the exact transition of one step
// (ou.go). It is the simulator's inner loop, so it is written for speed:
// below gemvMin free states plain loops (a call into assembly costs more
// than it saves), from gemvMin on gonum's assembly matrix–vector product,
// which runs about twice as many multiply–adds per second as one dot
// product per row; L's zero upper triangle is skipped in row blocks of
// lowerBlock. Small boards get the same sums in the same order as one dot
// product per row, so their outputs are bit for bit those of that loop.
const (
	gemvMin    = 32
	lowerBlock = 16
)

// propagate sets y = Φx + c + Lz for fresh standard normals z. With the
// ADC filter, Φ has known zeros, which it skips: node voltages do not
// depend on filter states, and a channel's filter states depend on the
// node voltages and on their own channel only (Φ_ff = e^{−Fh} ⊗ I).
func (b *Board) propagate(s *step, n int, x, y []float64) {
	var z []float64
	if s.l != nil {
		z = b.z[:n]
		for j := range z {
			z[j] = b.noise.NormFloat64()
		}
	}
	switch {
	case s.nx < n:
		b.propagateFilter(s, n, x, y)
	case n >= gemvMin:
		copy(y, s.c[:n])
		gonum.Implementation{}.Dgemv(blas.NoTrans, n, n, 1, s.phi, n, x, 1, 1, y, 1)
	default:
		propagateSmall(s, n, x, z, y)
		return
	}
	if z == nil {
		return
	}
	if !s.lower || n < gemvMin {
		for i := range n {
			m := n
			if s.lower {
				m = i + 1
			}
			y[i] += dot(s.l[i*n:i*n+m], z)
		}
		return
	}
	for i0 := 0; i0 < n; i0 += lowerBlock {
		i1 := min(i0+lowerBlock, n)
		gonum.Implementation{}.Dgemv(blas.NoTrans, i1-i0, i1, 1, s.l[i0*n:], n, z, 1, 1, y[i0:i1], 1)
	}
}

// propagateFilter sets y = Φx + c on the augmented state with the filter.
func (b *Board) propagateFilter(s *step, n int, x, y []float64) {
	k, nx := b.k, s.nx
	for i := range n {
		row := s.phi[i*n : i*n+n]
		v := s.c[i] + dot(row[:nx], x)
		if i >= nx {
			c := (i - nx) % k
			v += row[nx+c]*x[nx+c] + row[nx+k+c]*x[nx+k+c]
		}
		y[i] = v
	}
}

// propagateSmall is propagate for n < gemvMin without the filter: both
// products in one pass over the rows (z nil: no noise).
func propagateSmall(s *step, n int, x, z, y []float64) {
	for i := range n {
		row := s.phi[i*n : i*n+n]
		xs := x[:len(row)] // one bounds check per row, not per entry
		acc := 0.0
		for j, p := range row {
			acc += p * xs[j]
		}
		v := s.c[i] + acc
		if z != nil {
			m := n
			if s.lower {
				m = i + 1
			}
			row = s.l[i*n : i*n+m]
			zs := z[:len(row)]
			acc = 0
			for j, l := range row {
				acc += l * zs[j]
			}
			v += acc
		}
		y[i] = v
	}
}

// read converts node i through the ADC; it reports saturation when the
// reading is beyond the ADC's codes or the node hit its rail since the
// last reading.
func (b *Board) read(i int) (float64, bool) {
	a := &b.prof.ADC // not a copy: this runs per reading
	r := b.x[i]
	if len(b.x) > b.k {
		r = b.x[b.k+i] // the anti-aliasing filter's output
	}
	if a.NoiseV > 0 {
		r += a.NoiseV * b.adcR.NormFloat64()
	}
	r = r*b.tr.adcGain[i] + b.tr.adcOffset[i]
	sat := b.railHits[i] > 0
	b.railHits[i] = 0
	if a.Bits == 0 {
		if r < a.MinV {
			return a.MinV, true
		}
		if r > a.MaxV {
			return a.MaxV, true
		}
		return r, sat
	}
	code := math.Round((r - a.MinV) / b.adcLSB)
	if code < 0 {
		code, sat = 0, true
	} else if code > b.adcTop {
		code, sat = b.adcTop, true
	}
	return a.MinV + code*b.adcLSB, sat
}

// dot is the inner product of a and b[:len(a)]. Short rows (small boards)
// stay inline; long ones use gonum's assembly kernel.
func dot(a, b []float64) float64 {
	if len(a) >= 32 {
		return floats.Dot(a, b[:len(a)])
	}
	acc := 0.0
	for j, v := range a {
		acc += v * b[j]
	}
	return acc
}

// isLower reports whether the k × k row-major l is lower-triangular.
func isLower(l []float64, k int) bool {
	for i := range k {
		for j := i + 1; j < k; j++ {
			if l != nil && l[i*k+j] != 0 {
				return false
			}
		}
	}
	return true
}
