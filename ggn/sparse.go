package ggn

import (
	"fmt"
	"math"
	"sync"
)

// Sparse is a row-major matrix kept as its nonzero entries, for products
// with a layer's inputs: MNIST pixels are about 80 % zeros, so skipping
// them cuts the work of the first layer about fivefold. On amd64 its
// products give bit for bit what the dense gonum BLAS calls they replace
// give (gonum's assembly dot products, whose four partial sums they copy;
// its portable loop elsewhere keeps one sum and differs by rounding) (see
// MulTrans, TransMul and UpperGram): they add the same products in the same
// order into the same partial sums, and a skipped term is a product with an
// exact zero, which leaves an accumulator unchanged (an accumulator starts
// at +0 and +0 + −0 = +0, so it is never −0). The one exception is a
// non-finite entry of the other factor: 0·Inf is NaN in the dense product
// and skipped here.
//
// The zero value is an empty pattern; Set fills it. Products may run
// concurrently; Set must not run concurrently with anything else.
type Sparse struct {
	Rows, Cols int
	// By rows: row r's entries with lane q (see lane) are
	// [lanes[4r+q], lanes[4r+q+1]), columns ascending.
	lanes []int32
	col   []int32
	val   []float64
	// By columns: column i's entries are [cstart[i], cstart[i+1]), rows
	// ascending.
	cstart, crow []int32
	cval         []float64
}

// scratch is a product's transposed operand (Cols × n) and the four
// partial sums of a row (4 × n), pooled so that a Sparse made for one
// forward pass does not allocate them.
type scratch struct{ t, acc []float64 }

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// SparseDensity is the fraction of nonzero inputs below which the sparse
// products are faster than gonum's dense kernels (measured on the 784-32-10
// MLP; see BenchmarkSparse).
const SparseDensity = 0.5

// Set makes s the nonzero pattern of a (rows × cols, row-major), reusing
// s's storage.
func (s *Sparse) Set(a []float64, rows, cols int) { s.set(a, rows, cols, false) }

// SetOnes makes s the nonzero pattern of x (rows × cols, row-major) with a
// column of ones appended (Cols = cols+1): a layer's input augmented for
// the bias, without the augmented copy.
func (s *Sparse) SetOnes(x []float64, rows, cols int) { s.set(x, rows, cols, true) }

func (s *Sparse) set(a []float64, rows, cols int, ones bool) {
	if rows < 0 || cols < 0 || len(a) != rows*cols {
		panic(fmt.Sprintf("ggn: sparse %d×%d from %d entries", rows, cols, len(a)))
	}
	w := cols
	if ones {
		w++
	}
	s.Rows, s.Cols = rows, w
	s.lanes = growInt32(s.lanes, 4*rows+1)
	nz := Nonzeros(a)
	if ones {
		nz += rows
	}
	// One slot of slack: every entry is written and the count advances
	// only past nonzeros, without a branch to mispredict on random pixels.
	s.col, s.val = growInt32(s.col, nz+1), grow(s.val, nz+1)
	k, tail := 0, w&^3
	for r := range rows {
		row := a[r*cols : (r+1)*cols]
		for q := range 4 {
			s.lanes[4*r+q] = int32(k)
			for i := q; i < min(tail, cols); i += 4 {
				s.col[k], s.val[k] = int32(i), row[i]
				k += nonzero(row[i])
			}
			if q == 0 { // lane 0 also takes the tail, after the loop's entries
				for i := tail; i < cols; i++ {
					s.col[k], s.val[k] = int32(i), row[i]
					k += nonzero(row[i])
				}
			}
			if ones && lane(cols, w) == q { // the ones column is its lane's last
				s.col[k], s.val[k] = int32(cols), 1
				k++
			}
		}
	}
	s.lanes[4*rows] = int32(k)
	s.col, s.val = s.col[:k], s.val[:k]
	s.setColumns()
}

// setColumns builds the by-column copy of the entries.
func (s *Sparse) setColumns() {
	cols, k := s.Cols, len(s.col)
	s.cstart = growInt32(s.cstart, cols+1)
	clear(s.cstart)
	for _, i := range s.col {
		s.cstart[i+1]++
	}
	for i := range cols {
		s.cstart[i+1] += s.cstart[i]
	}
	s.crow, s.cval = growInt32(s.crow, k), grow(s.cval, k)
	next := append([]int32(nil), s.cstart[:cols]...) // each column's cursor
	for r := range s.Rows {
		for e := s.lanes[4*r]; e < s.lanes[4*r+4]; e++ {
			i := s.col[e]
			s.crow[next[i]], s.cval[next[i]] = int32(r), s.val[e]
			next[i]++
		}
	}
}

// Nonzeros returns the number of nonzero entries of a.
func Nonzeros(a []float64) int {
	nz := 0
	for _, v := range a {
		nz += nonzero(v)
	}
	return nz
}

// nonzero is 1 for v ≠ 0 (either zero's sign gives 0), without a branch.
func nonzero(v float64) int {
	b := math.Float64bits(v) << 1
	return int((b | -b) >> 63)
}

func growInt32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

// Density returns the fraction of nonzero entries (0 for an empty matrix).
func (s *Sparse) Density() float64 {
	if s.Rows*s.Cols == 0 {
		return 0
	}
	return float64(len(s.col)) / float64(s.Rows*s.Cols)
}

// GemmSerial reports whether gonum's Dgemm computes an m × n product
// serially, without splitting the inner dimension into blocks of 64 (it
// goes parallel from 4 blocks of 64 × 64 outputs). MulTrans reproduces only
// the serial summation order.
func GemmSerial(m, n int) bool {
	const block, minPar = 64, 4 // gonum/blas/gonum: blockSize, minParBlock
	return ((m+block-1)/block)*((n+block-1)/block) < minPar
}

// lane returns which of DotUnitary's four partial sums gonum's amd64
// kernel adds x[i]·y[i] to, for vectors of length cols: i mod 4 in the
// unrolled loop, the first sum for the tail of the last cols mod 4 entries
// (added after the loop).
func lane(i, cols int) int {
	if i >= cols&^3 {
		return 0
	}
	return i & 3
}

// MulTrans sets z (Rows × n, row stride ldz ≥ n) to A·Bᵀ for b (n × Cols,
// row-major): bit for bit gonum's Dgemm(NoTrans, Trans, 1, A, B, 0, Z) when
// GemmSerial(Rows, n), which takes each entry as DotUnitary of a row of A
// and a row of B: four partial sums (see lane), combined as (s₀+s₂)+(s₁+s₃).
func (s *Sparse) MulTrans(z []float64, ldz int, b []float64, n int) {
	if n <= 0 || ldz < n || len(b) != n*s.Cols || (s.Rows > 0 && len(z) < (s.Rows-1)*ldz+n) {
		panic(fmt.Sprintf("ggn: sparse %d×%d times %d entries as %d columns into %d entries (stride %d)",
			s.Rows, s.Cols, len(b), n, len(z), ldz))
	}
	ws := scratchPool.Get().(*scratch)
	defer scratchPool.Put(ws)
	ws.t, ws.acc = grow(ws.t, s.Cols*n), grow(ws.acc, 4*n)
	transpose(ws.t, b, n, s.Cols) // the loops read rows of Bᵀ
	for r := range s.Rows {
		s.rowDots(z[r*ldz:r*ldz+n], r, ws.t, n, 0, ws.acc)
	}
}

// rowDots sets out[lo:n] to the products of row r with columns lo..n−1 of
// t (Cols × n, row-major) in DotUnitary's order: per lane, eight columns
// at a time in registers.
func (s *Sparse) rowDots(out []float64, r int, t []float64, n, lo int, acc []float64) {
	for q := range 4 {
		es, ee := s.lanes[4*r+q], s.lanes[4*r+q+1]
		dl := acc[q*n : (q+1)*n]
		val, col := s.val[es:ee], s.col[es:ee]
		p := lo
		for ; p+8 <= n; p += 8 {
			d := dl[p : p+8 : p+8]
			d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7] = dots8(val, col, t, n, p)
		}
		for ; p < n; p++ {
			dl[p] = dot1(val, col, t, n, p)
		}
	}
	for p := lo; p < n; p++ {
		out[p-lo] = (acc[p] + acc[2*n+p]) + (acc[n+p] + acc[3*n+p])
	}
}

// TransMul sets c (n × Cols, row-major) to Dᵀ·A for d (Rows × n,
// row-major): bit for bit gonum's Dgemm(Trans, NoTrans, 1, D, A, 0, C),
// which adds D[r,p]·A[r,i] into C[p,i] row r after row r (serially and in
// parallel alike). Per column of A, eight outputs at a time in registers.
func (s *Sparse) TransMul(c, d []float64, n int) {
	if n <= 0 || len(d) != s.Rows*n || len(c) != n*s.Cols {
		panic(fmt.Sprintf("ggn: the transpose of %d entries as %d columns times sparse %d×%d into %d entries",
			len(d), n, s.Rows, s.Cols, len(c)))
	}
	cols := s.Cols
	for i := range cols {
		val, row := s.cval[s.cstart[i]:s.cstart[i+1]], s.crow[s.cstart[i]:s.cstart[i+1]]
		p := 0
		for ; p+8 <= n; p += 8 {
			a0, a1, a2, a3, a4, a5, a6, a7 := dots8(val, row, d, n, p)
			c[p*cols+i], c[(p+1)*cols+i], c[(p+2)*cols+i], c[(p+3)*cols+i] = a0, a1, a2, a3
			c[(p+4)*cols+i], c[(p+5)*cols+i], c[(p+6)*cols+i], c[(p+7)*cols+i] = a4, a5, a6, a7
		}
		for ; p < n; p++ {
			c[p*cols+i] = dot1(val, row, d, n, p)
		}
	}
}

// dots8 returns Σ_e val[e]·t[idx[e], p+j] for j = 0..7 (t row-major with
// n columns), each sum in e's order from +0, in registers.
func dots8(val []float64, idx []int32, t []float64, n, p int) (a0, a1, a2, a3, a4, a5, a6, a7 float64) {
	idx = idx[:len(val)]
	for e, v := range val {
		row := t[int(idx[e])*n+p:]
		row = row[:8]
		// float64(…) keeps each product rounded on its own, as gonum's
		// kernels do (no FMA where the compiler would fuse).
		a0 += float64(v * row[0])
		a1 += float64(v * row[1])
		a2 += float64(v * row[2])
		a3 += float64(v * row[3])
		a4 += float64(v * row[4])
		a5 += float64(v * row[5])
		a6 += float64(v * row[6])
		a7 += float64(v * row[7])
	}
	return
}

// dot1 is dots8 for one column.
func dot1(val []float64, idx []int32, t []float64, n, p int) float64 {
	idx = idx[:len(val)]
	a := 0.0
	for e, v := range val {
		a += float64(v * t[int(idx[e])*n+p])
	}
	return a
}

// UpperGram sets the upper triangle of c (Rows × Rows, row-major) to A·Aᵀ:
// bit for bit gonum's Dsyrk(Upper, NoTrans, 1, A, 0, C), each entry
// DotUnitary of two rows. The strict lower triangle is left alone.
func (s *Sparse) UpperGram(c []float64) {
	m := s.Rows
	if len(c) != m*m {
		panic(fmt.Sprintf("ggn: gram of sparse %d×%d into %d entries", m, s.Cols, len(c)))
	}
	ws := scratchPool.Get().(*scratch)
	defer scratchPool.Put(ws)
	ws.t, ws.acc = grow(ws.t, s.Cols*m), grow(ws.acc, 4*m)
	at := ws.t // Aᵀ, from the columns
	clear(at)
	for i := range s.Cols {
		for e := s.cstart[i]; e < s.cstart[i+1]; e++ {
			at[i*m+int(s.crow[e])] = s.cval[e]
		}
	}
	for r := range m {
		s.rowDots(c[r*m+r:(r+1)*m], r, at, m, r, ws.acc)
	}
}

// transpose sets dst (cols × rows) to the transpose of src (rows × cols),
// both row-major, in tiles to stay in cache.
func transpose(dst, src []float64, rows, cols int) {
	const tile = 32
	for r0 := 0; r0 < rows; r0 += tile {
		for c0 := 0; c0 < cols; c0 += tile {
			for r := r0; r < min(r0+tile, rows); r++ {
				row := src[r*cols : (r+1)*cols]
				for c := c0; c < min(c0+tile, cols); c++ {
					dst[c*rows+r] = row[c]
				}
			}
		}
	}
}
