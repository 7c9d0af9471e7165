package tngd

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/spukit/spukit/ggn"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// flush applies the pending interval as one exact transition.
func (b *Board) flush(ctx context.Context) error {
	if b.pending <= 0 {
		return nil
	}
	if err := b.advance(ctx, b.pending); err != nil {
		return err
	}
	b.pending = 0
	return nil
}

// advance applies the exact transition over d to the state:
//
//	x ← x + f₂(A)(b − A x) + f₃(A) z
//	  = x + f₂(λ)(b − λx) + f₃(λ)z + Uᵀ[ψ₂(G)U r + ψ₃(G)U z − f₂(λ)U x]
//
// with U r = U b − λ U x − G U x (see the package doc). On error the state is
// unchanged.
func (b *Board) advance(ctx context.Context, d time.Duration) error {
	if b.fv != nil {
		return b.advanceFiltered(ctx, d)
	}
	t := d.Seconds() / b.p.TauS
	kappa := b.p.NoiseV * b.p.NoiseV
	tf := newTransFuncs(t, b.lam, kappa)
	if kappa > 0 {
		for i := range b.z {
			b.z[i] = b.noise.NormFloat64()
		}
	}
	if pr := b.prog; pr != nil {
		if err := b.rowSpace(ctx, pr, &tf, d); err != nil {
			return err
		}
	}
	x, xn, g, z := b.x, b.xn, b.biasProg, b.z
	lam := b.lam
	for i, xi := range x {
		v := xi + tf.f2*(g[i]-lam*xi)
		if kappa > 0 {
			v += tf.f3 * z[i]
		}
		xn[i] = v
	}
	if pr := b.prog; pr != nil {
		for i, v := range pr.back {
			xn[i] += v
		}
	}
	b.x, b.xn = xn, x
	b.stats.Transitions++
	return nil
}

// rowSpace sets pr.back to Uᵀ[ψ₂(G)U r + ψ₃(G)U z − f₂(λ)U x].
func (b *Board) rowSpace(ctx context.Context, pr *program, tf *transFuncs, d time.Duration) error {
	n, m := pr.n, pr.m
	noise := tf.kappa > 0
	if !pr.ugValid {
		ggn.MulVec(pr.ug, &pr.u, b.biasProg[:n], pr.work)
		pr.ugValid = true
	}
	ggn.MulVec(pr.ux, &pr.u, b.x[:n], pr.work)
	symMul(pr.g, m, pr.ur, pr.ux)
	b.stats.GramProducts++
	for i := range m {
		pr.ur[i] = pr.ug[i] - pr.lam*pr.ux[i] - pr.ur[i]
	}
	var yz []float64
	if noise {
		ggn.MulVec(pr.uz, &pr.u, b.z[:n], pr.work)
		yz = pr.uz
	}
	out := pr.out
	for i := range m {
		out[i] = -tf.f2 * pr.ux[i]
	}
	if err := b.applyPsi(ctx, pr, tf, d, yz, out); err != nil {
		return err
	}
	ggn.MulTransVec(pr.back, &pr.u, out, pr.work)
	return nil
}

// applyPsi adds ψ₂(G)·ur + ψ₃(G)·yz to out, by the method of the profile.
func (b *Board) applyPsi(ctx context.Context, pr *program, tf *transFuncs, d time.Duration, yz, out []float64) error {
	m := pr.m
	useEig := false
	switch b.p.Method {
	case "eig":
		useEig = true
	case "auto":
		useEig = pr.eig != nil || m <= eigSmall ||
			(m <= eigFallback && pr.products > eigWorkFactor*m)
	}
	if !useEig {
		tol := b.p.LanczosTol
		if tol == 0 {
			tol = defaultTol
		}
		kmax := b.p.LanczosMax
		if kmax == 0 {
			kmax = defaultMax
		}
		prods, err := lanczos2(ctx, pr.g, m, &b.ka, &b.kb, pr.ur, tf.psi2, yz, tf.psi3, tol, kmax, out)
		pr.products += prods
		b.stats.GramProducts += prods
		b.stats.LanczosRuns++
		steps := max(b.ka.j, b.kb.j)
		b.stats.LanczosSteps += steps
		b.stats.MaxLanczosSteps = max(b.stats.MaxLanczosSteps, steps)
		if err == nil {
			return nil
		}
		if !(b.p.Method == "auto" && m <= eigFallback && ctx.Err() == nil) {
			return err
		}
		// Fall back to the exact eigendecomposition (lanczos2 leaves out
		// untouched when it fails).
	}
	if pr.eig == nil {
		ge, err := newGramEig(pr.g, m)
		if err != nil {
			return err
		}
		pr.eig, pr.eigPsi = ge, map[time.Duration]*eigPsi{}
		b.stats.Eigendecompositions++
	}
	ep := pr.eigPsi[d]
	if ep == nil {
		if len(pr.eigPsi) >= 16 {
			clear(pr.eigPsi)
		}
		ep = pr.eig.psis(tf)
		pr.eigPsi[d] = ep
	}
	pr.eig.apply(ep, pr.ur, yz, out, pr.coef)
	return nil
}

// ---------------------------------------------------------------------------
// Eigendecomposition path.

// gramEig is G = Qᵀ diag(s) Q with the eigenvectors as rows of qt.
type gramEig struct {
	m  int
	s  []float64
	qt []float64 // row i: eigenvector i
}

func newGramEig(g []float64, m int) (*gramEig, error) {
	sym := mat.NewSymDense(m, nil)
	for i := range m {
		for j := i; j < m; j++ {
			sym.SetSym(i, j, g[i*m+j])
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(sym, true) {
		return nil, fmt.Errorf("eigendecomposition of the %d×%d Gram matrix failed: %w", m, m, ErrNotConverged)
	}
	var v mat.Dense
	eig.VectorsTo(&v)
	ge := &gramEig{m: m, s: eig.Values(nil), qt: make([]float64, m*m)}
	for i := range m {
		for j := range m {
			ge.qt[j*m+i] = v.At(i, j)
		}
		ge.s[i] = math.Max(ge.s[i], 0) // G is PSD: clip round-off
	}
	return ge, nil
}

// eigPsi caches ψ₂, ψ₃ on the spectrum for one duration.
type eigPsi struct {
	p2, p3 []float64
}

func (ge *gramEig) psis(tf *transFuncs) *eigPsi {
	ep := &eigPsi{p2: make([]float64, ge.m), p3: make([]float64, ge.m)}
	for i, s := range ge.s {
		ep.p2[i] = tf.psi2(s)
		ep.p3[i] = tf.psi3(s)
	}
	return ep
}

// apply adds ψ₂(G)ya + ψ₃(G)yb (yb may be nil) to dst; coef is scratch (m).
func (ge *gramEig) apply(ep *eigPsi, ya, yb, dst, coef []float64) {
	m := ge.m
	for i := range m {
		row := ge.qt[i*m : i*m+m]
		c := ep.p2[i] * floats.Dot(row, ya)
		if yb != nil {
			c += ep.p3[i] * floats.Dot(row, yb)
		}
		coef[i] = c
	}
	for i, c := range coef[:m] {
		if c != 0 {
			floats.AddScaled(dst, c, ge.qt[i*m:i*m+m])
		}
	}
}
