package sim

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"

	"github.com/spukit/spukit/internal/testnum"
)

var ctx = context.Background()

// cleanProfile is a k-cell board with injected noise and no other
// non-ideality: continuous converters, exact parts, no drift, no timing.
func cleanProfile(k int) Profile {
	p := builtins["ideal"]
	p.Name = fmt.Sprintf("clean%d", k)
	p.Cells = k
	return p
}

var symA = mat.NewDense(3, 3, []float64{
	2.0, -0.5, 0.3,
	-0.5, 1.5, -0.4,
	0.3, -0.4, 1.2,
})

var testBias = []float64{1, -0.5, 0.8}

// draws takes n independent pairs (x(t), x(t+lag)) from the stationary
// distribution: a run of gap between pairs makes them independent.
func draws(t *testing.T, b *Board, n int, gap, lag time.Duration) (x, y [][]float64) {
	t.Helper()
	k := b.k
	buf := make([]float64, 2*k)
	for range n {
		require.NoError(t, b.Run(ctx, gap))
		_, err := b.Sample(ctx, lag, buf)
		require.NoError(t, err)
		x = append(x, append([]float64(nil), buf[:k]...))
		y = append(y, append([]float64(nil), buf[k:]...))
	}
	return x, y
}

// checkStationary compares the sample mean, covariance and lag covariance of
// n independent pairs against closed forms for drift M = ΓA, diffusion
// 2σ²Γ: mean A⁻¹b, covariance Σ solving MΣ + ΣMᵀ = 2σ²Γ (Kronecker
// reference), lag covariance e^{-M·lag}Σ (eigendecomposition reference).
//
// Tolerances are 5 standard errors of iid estimators, with the true mean μ
// subtracted: SE(mean_i) = sqrt(Σ_ii/n); for a product of zero-mean jointly
// Gaussian X, Y, Var(XY) = Var X·Var Y + Cov(X,Y)², so
// SE(Ĉ_ij) = sqrt((Σ_ii Σ_jj + C_ij²)/n).
func checkStationary(t *testing.T, b *Board, a *mat.Dense, bias []float64, tau []float64) {
	t.Helper()
	checkStationaryQ(t, b, a, bias, tau, scaledDiffusion(b.prof.NoiseV, tau), 50000)
}

// scaledDiffusion is the diffusion 2σ²/τ_i of NoiseScaled.
func scaledDiffusion(sigma float64, tau []float64) []float64 {
	q := make([]float64, len(tau))
	for i, ti := range tau {
		q[i] = 2 * sigma * sigma / ti
	}
	return q
}

// stationaryCov solves the Lyapunov equation MΣ + ΣMᵀ = Q for drift
// M = diag(1/τ)A and diagonal diffusion Q (Kronecker reference).
func stationaryCov(t *testing.T, a *mat.Dense, tau, qd []float64) (m, cov *mat.Dense) {
	t.Helper()
	k, _ := a.Dims()
	m = mat.NewDense(k, k, nil)
	q := mat.NewDense(k, k, nil)
	for i := range k {
		for j := range k {
			m.Set(i, j, a.At(i, j)/tau[i])
		}
		q.Set(i, i, qd[i])
	}
	return m, lyapunov(t, m, q)
}

// checkStationaryQ is checkStationary for the diagonal diffusion qd (V²/s)
// and n independent pairs.
func checkStationaryQ(t *testing.T, b *Board, a *mat.Dense, bias []float64, tau, qd []float64, n int) {
	t.Helper()
	k, _ := a.Dims()
	m, cov := stationaryCov(t, a, tau, qd)
	var mu mat.VecDense
	require.NoError(t, mu.SolveVec(a, mat.NewVecDense(k, bias)))
	lag := 100 * time.Microsecond // one τ: Φ far from I, so the lag test has power
	var lagCov mat.Dense
	lagCov.Mul(expmEig(t, m, lag.Seconds()), cov)

	require.NoError(t, b.SetCouplings(ctx, a.RawMatrix().Data))
	require.NoError(t, b.SetBias(ctx, bias))
	x, y := draws(t, b, n, 5*time.Millisecond, lag) // 5 ms = 50τ ≫ slowest relaxation
	nf := float64(n)
	for i := range k {
		var s float64
		for _, r := range x {
			s += r[i]
		}
		se := math.Sqrt(cov.At(i, i) / nf)
		require.InDelta(t, mu.AtVec(i), s/nf, 5*se, "mean of cell %d", i)
	}
	for i := range k {
		for j := range k {
			var c0, c1 float64
			for r := range x {
				c0 += (x[r][i] - mu.AtVec(i)) * (x[r][j] - mu.AtVec(j))
				c1 += (y[r][i] - mu.AtVec(i)) * (x[r][j] - mu.AtVec(j))
			}
			vv := cov.At(i, i) * cov.At(j, j)
			require.InDelta(t, cov.At(i, j), c0/nf, 5*math.Sqrt((vv+cov.At(i, j)*cov.At(i, j))/nf), "cov[%d][%d]", i, j)
			require.InDelta(t, lagCov.At(i, j), c1/nf, 5*math.Sqrt((vv+lagCov.At(i, j)*lagCov.At(i, j))/nf), "lag cov[%d][%d]", i, j)
		}
	}
}

func nominalTau(p Profile) []float64 {
	tau := make([]float64, p.Cells)
	for i := range tau {
		tau[i] = p.TauS
	}
	return tau
}

func TestStationarySymmetric(t *testing.T) {
	p := cleanProfile(3)
	b, err := New(p, 11)
	require.NoError(t, err)
	checkStationary(t, b, symA, testBias, nominalTau(p))
}

func TestStationaryNonNormal(t *testing.T) {
	p := cleanProfile(3)
	b, err := New(p, 12)
	require.NoError(t, err)
	checkStationary(t, b, nonNormal, testBias, nominalTau(p))
}

// With 5 % capacitors each cell has its own τ; the mean is unchanged and
// the covariance solves the Γ-weighted Lyapunov equation.
func TestStationaryCapacitorMismatch(t *testing.T) {
	p := cleanProfile(3)
	p.CapacitorTolerance = 0.05
	b, err := New(p, 13)
	require.NoError(t, err)
	for _, tau := range b.tr.tau {
		require.NotEqual(t, p.TauS, tau, "mismatch drawn")
		require.InEpsilon(t, p.TauS, tau, 0.05)
	}
	checkStationary(t, b, nonNormal, testBias, b.tr.tau)
}

// A fixed noise current into capacitors spread by 5 %: the diffusion is
// Q_ii = 2σ²τ/τ_i² (∝ C_i⁻²), and the covariance solves MΣ + ΣMᵀ = Q,
// not σ²A⁻¹ (which the scaled source gives for this symmetric A whatever
// the capacitors). checkStationaryQ's tolerance is 5 standard errors,
// SE(Ĉ_ij) = sqrt((Σ_ii Σ_jj + Σ_ij²)/n); the old model is refuted when
// some entry of σ²A⁻¹ lies more than 10 of them from the true Σ.
func TestNoiseCurrentCapacitorSpread(t *testing.T) {
	p := cleanProfile(3)
	p.CapacitorTolerance = 0.05
	p.NoiseSource = NoiseCurrent
	b, err := New(p, 13)
	require.NoError(t, err)
	tau := b.tr.tau
	q := make([]float64, len(tau))
	for i, ti := range tau {
		q[i] = 2 * p.NoiseV * p.NoiseV * p.TauS / (ti * ti)
	}
	_, cov := stationaryCov(t, symA, tau, q)
	_, old := stationaryCov(t, symA, tau, scaledDiffusion(p.NoiseV, tau))
	var inv mat.Dense
	require.NoError(t, inv.Inverse(symA))
	inv.Scale(p.NoiseV*p.NoiseV, &inv)
	require.InDelta(t, 0, testnum.MaxAbsDiff(&inv, old), 1e-12, "scaled noise: σ²A⁻¹")
	const n = 150000
	worst := 0.0
	for i := range 3 {
		for j := range 3 {
			se := math.Sqrt((cov.At(i, i)*cov.At(j, j) + cov.At(i, j)*cov.At(i, j)) / n)
			worst = math.Max(worst, math.Abs(inv.At(i, j)-cov.At(i, j))/se)
		}
	}
	require.Greater(t, worst, 10.0, "σ²A⁻¹ is resolvably different from the C⁻² covariance")
	checkStationaryQ(t, b, symA, testBias, tau, q, n)
}

func TestDeterministic(t *testing.T) {
	run := func(seed uint64) []float64 {
		p := builtins["proto8"]
		b, err := New(p, seed)
		require.NoError(t, err)
		require.NoError(t, b.SetBias(ctx, []float64{1, 2, 3, -1, -2, 0.5, 0, 4}))
		require.NoError(t, b.Run(ctx, time.Millisecond))
		out := make([]float64, 8*500)
		_, err = b.Sample(ctx, 0, out)
		require.NoError(t, err)
		return out
	}
	require.Equal(t, run(5), run(5), "same seed, same samples")
	require.NotEqual(t, run(5), run(6), "another seed is another board")
}
