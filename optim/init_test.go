package optim

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// layerParams splits layer l of m into its weights and its biases.
func layerParams(m *MLP, l int) (w, b []float64) {
	in, out := m.Sizes[l], m.Sizes[l+1]
	row := m.W(l)
	for p := range out {
		w = append(w, row[p*(in+1):p*(in+1)+in]...)
		b = append(b, row[p*(in+1)+in])
	}
	return w, b
}

// checkMoments checks that xs look like n draws of a zero-mean law with
// variance v and fourth central moment mu4, within 4 standard errors
// (false-failure probability ≈ 6e-5 per check, and the draws are seeded):
// the sample mean has standard error √(v/n) and the sample variance
// √((μ4 − v²)/n).
func checkMoments(t *testing.T, name string, xs []float64, v, mu4 float64) {
	t.Helper()
	n := float64(len(xs))
	mean, sq := 0.0, 0.0
	for _, x := range xs {
		mean += x
	}
	mean /= n
	for _, x := range xs {
		sq += (x - mean) * (x - mean)
	}
	sv := sq / (n - 1)
	assert.InDelta(t, 0, mean, 4*math.Sqrt(v/n), "%s: mean", name)
	assert.InDelta(t, v, sv, 4*math.Sqrt((mu4-v*v)/n), "%s: variance %g, want %g", name, sv, v)
}

// checkUniform checks that xs are U(−a, a): variance a²/3, μ4 = a⁴/5, all
// within [−a, a], and the largest |x| within 0.1 % of a — with n draws
// P(max |x| < a(1−ε)) = (1−ε)ⁿ, e^−10 already at n = 10⁴ — so the
// support is a, not anything narrower.
func checkUniform(t *testing.T, name string, xs []float64, a float64) {
	t.Helper()
	checkMoments(t, name, xs, a*a/3, math.Pow(a, 4)/5)
	big := 0.0
	for _, x := range xs {
		big = math.Max(big, math.Abs(x))
	}
	assert.LessOrEqual(t, big, a, "%s: outside ±%g", name, a)
	if len(xs) >= 10000 {
		assert.Greater(t, big, a*(1-1e-3), "%s: largest |x| %g, want close to %g", name, big, a)
	}
}

func allZero(xs []float64) bool {
	for _, x := range xs {
		if x != 0 {
			return false
		}
	}
	return true
}

// TestInitDistributions draws a 400-300-10 network with each
// initialisation and checks every layer's weights and biases against the
// formula (fan_in = In, fan_out = Out).
func TestInitDistributions(t *testing.T) {
	sizes := []int{400, 300, 10}
	for _, act := range []Activation{Tanh, ReLU} {
		for _, init := range []Init{InitHe, InitTorch, InitGlorot} {
			m, err := NewMLPInit(sizes, act, init, 3)
			require.NoError(t, err)
			assert.Equal(t, init, m.Init)
			for l := range m.Layers() {
				in, out := float64(sizes[l]), float64(sizes[l+1])
				w, b := layerParams(m, l)
				name := init.String() + "/" + act.String()
				switch init {
				case InitHe:
					// N(0, g/fan_in): μ4 = 3σ⁴.
					v := 1 / in
					if act == ReLU {
						v = 2 / in
					}
					checkMoments(t, name+" weights", w, v, 3*v*v)
					assert.True(t, allZero(b), "%s biases", name)
				case InitTorch:
					checkUniform(t, name+" weights", w, 1/math.Sqrt(in))
					checkUniform(t, name+" biases", b, 1/math.Sqrt(in))
					assert.False(t, allZero(b), "%s biases", name)
				case InitGlorot:
					checkUniform(t, name+" weights", w, math.Sqrt(6/(in+out)))
					assert.True(t, allZero(b), "%s biases", name)
				}
			}
		}
	}
}

// TestInitSeeded: the same seed gives the same θ, another seed another.
func TestInitSeeded(t *testing.T) {
	for _, init := range []Init{InitHe, InitTorch, InitGlorot} {
		a, err := NewMLPInit([]int{5, 4, 3}, ReLU, init, 7)
		require.NoError(t, err)
		b, err := NewMLPInit([]int{5, 4, 3}, ReLU, init, 7)
		require.NoError(t, err)
		c, err := NewMLPInit([]int{5, 4, 3}, ReLU, init, 8)
		require.NoError(t, err)
		assert.Equal(t, a.Params(), b.Params(), init.String())
		assert.NotEqual(t, a.Params(), c.Params(), init.String())
		assert.Equal(t, init, a.Clone().Init)
	}
	// NewMLP is InitHe.
	a, err := NewMLP([]int{5, 4, 3}, Tanh, 7)
	require.NoError(t, err)
	b, err := NewMLPInit([]int{5, 4, 3}, Tanh, InitHe, 7)
	require.NoError(t, err)
	assert.Equal(t, a.Params(), b.Params())
	assert.Equal(t, InitHe, a.Init)
}

func TestParseInit(t *testing.T) {
	for i, n := range InitNames {
		got, err := ParseInit(n)
		require.NoError(t, err)
		assert.Equal(t, Init(i), got)
		assert.Equal(t, n, got.String())
	}
	got, err := ParseInit("Torch")
	require.NoError(t, err)
	assert.Equal(t, InitTorch, got)
	_, err = ParseInit("xavier")
	require.ErrorIs(t, err, ErrModel)
	assert.Contains(t, err.Error(), `"xavier"`)
	assert.Contains(t, err.Error(), "he, torch, glorot")
	_, err = NewMLPInit([]int{2, 1}, Tanh, Init(7), 1)
	require.ErrorIs(t, err, ErrModel)
	assert.Contains(t, err.Error(), "he, torch, glorot")
}
