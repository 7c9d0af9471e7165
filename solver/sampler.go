package solver

import "math"

// means accumulates batch sums of samples for batch-means error bars. Batch
// boundaries are by sample count: batch b holds samples [b·size, (b+1)·size).
// Values are accumulated relative to the first sample (a shift) so that
// the sums keep their precision when the mean is large compared with the
// fluctuations.
type means struct {
	n, size, want int
	shift         []float64
	shifted       bool
	sums          []float64 // completed batches, len = done·n
	cur           []float64
	count         int
}

func newMeans(n, batches, size int) *means {
	return &means{n: n, size: size, want: batches, shift: make([]float64, n),
		sums: make([]float64, 0, batches*n), cur: make([]float64, n)}
}

func (m *means) add(x []float64) {
	if !m.shifted {
		copy(m.shift, x)
		m.shifted = true
	}
	for i, v := range x {
		m.cur[i] += v - m.shift[i]
	}
	m.count++
	if m.count == m.size {
		m.sums = append(m.sums, m.cur...)
		clear(m.cur)
		m.count = 0
	}
}

func (m *means) done() int { return len(m.sums) / m.n }

// remaining is the number of samples still needed to complete all batches.
func (m *means) remaining() int { return (m.want-m.done())*m.size - m.count }

// samples is the number of samples in completed batches.
func (m *means) samples() int { return m.done() * m.size }

// double merges adjacent pairs of the (complete, even number of) batches,
// doubling the batch size, so that sampling as long again completes the
// same number of batches of the new size.
func (m *means) double() {
	h := m.done() / 2
	for b := range h {
		for i := range m.n {
			m.sums[b*m.n+i] = m.sums[2*b*m.n+i] + m.sums[(2*b+1)*m.n+i]
		}
	}
	m.sums = m.sums[:h*m.n]
	m.size *= 2
}

// stats writes the grand mean and the batch-means standard error of the
// completed batches: with B batch means m_b,
//
//	mean = Σ m_b / B,   se = sqrt( Σ (m_b − mean)² / (B(B−1)) ).
func (m *means) stats(mean, se []float64) {
	nb := m.done()
	inv := 1 / float64(m.size)
	for i := range m.n {
		s := 0.0
		for b := range nb {
			s += m.sums[b*m.n+i] * inv
		}
		mu := s / float64(nb)
		v := 0.0
		for b := range nb {
			d := m.sums[b*m.n+i]*inv - mu
			v += d * d
		}
		mean[i] = mu + m.shift[i]
		if nb > 1 {
			se[i] = math.Sqrt(v / float64(nb*(nb-1)))
		} else {
			se[i] = math.Inf(1)
		}
	}
}

// covs accumulates the stationary covariance with batch-means error bars.
// Per batch b it forms the batch mean d_b and the within-batch covariance
// C_b (normalised by the batch size) of the shifted samples; the estimate
//
//	Σ̂ = mean_b C_b + Cov_b(d_b)      (Cov_b with 1/(B−1))
//
// is the within-plus-between decomposition of the total covariance. It is
// unbiased to first order: E C_b = Σ − Var(d_b) and E Cov_b(d_b) = Var(d_b)
// for independent batches. Its standard error is sd_b(C_b)/√B. Memory is
// O(n² + B·n): C_b is folded into running (Welford) moments.
type covs struct {
	n, size, want int
	shift         []float64
	shifted       bool
	cur1          []float64 // Σ d over the current batch
	cur2          []float64 // Σ d dᵀ, packed upper triangle
	count         int
	bmeans        []float64 // batch means, len = done·n
	wMean, wM2    []float64 // Welford moments of C_b, packed
	tmp           []float64
}

func newCovs(n, batches, size int) *covs {
	p := n * (n + 1) / 2
	return &covs{n: n, size: size, want: batches, shift: make([]float64, n),
		cur1: make([]float64, n), cur2: make([]float64, p), bmeans: make([]float64, 0, batches*n),
		wMean: make([]float64, p), wM2: make([]float64, p), tmp: make([]float64, n)}
}

func (c *covs) done() int      { return len(c.bmeans) / c.n }
func (c *covs) remaining() int { return (c.want-c.done())*c.size - c.count }
func (c *covs) samples() int   { return c.done() * c.size }

func (c *covs) add(x []float64) {
	if !c.shifted {
		copy(c.shift, x)
		c.shifted = true
	}
	d := c.tmp
	for i, v := range x {
		d[i] = v - c.shift[i]
		c.cur1[i] += d[i]
	}
	p := 0
	for i := range c.n {
		di := d[i]
		row := c.cur2[p : p+c.n-i]
		for j, dj := range d[i:] {
			row[j] += di * dj
		}
		p += c.n - i
	}
	c.count++
	if c.count == c.size {
		c.endBatch()
	}
}

func (c *covs) endBatch() {
	inv := 1 / float64(c.size)
	for i := range c.cur1 {
		c.cur1[i] *= inv
	}
	c.bmeans = append(c.bmeans, c.cur1...)
	k := float64(c.done())
	p := 0
	for i := range c.n {
		for j := i; j < c.n; j++ {
			cb := c.cur2[p]*inv - c.cur1[i]*c.cur1[j]
			delta := cb - c.wMean[p]
			c.wMean[p] += delta / k
			c.wM2[p] += delta * (cb - c.wMean[p])
			p++
		}
	}
	clear(c.cur1)
	clear(c.cur2)
	c.count = 0
}

// stats writes the covariance estimate and its standard errors as full
// symmetric n×n row-major matrices.
func (c *covs) stats(cov, se []float64) {
	n, nb := c.n, c.done()
	mean := make([]float64, n)
	for b := range nb {
		for i := range n {
			mean[i] += c.bmeans[b*n+i]
		}
	}
	for i := range mean {
		mean[i] /= float64(nb)
	}
	p := 0
	for i := range n {
		for j := i; j < n; j++ {
			between := 0.0
			for b := range nb {
				between += (c.bmeans[b*n+i] - mean[i]) * (c.bmeans[b*n+j] - mean[j])
			}
			v := c.wMean[p]
			e := math.Inf(1)
			if nb > 1 {
				v += between / float64(nb-1)
				e = math.Sqrt(c.wM2[p] / float64(nb-1) / float64(nb))
			}
			cov[i*n+j], cov[j*n+i] = v, v
			se[i*n+j], se[j*n+i] = e, e
			p++
		}
	}
}
