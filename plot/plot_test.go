package plot

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func curve(n int, f func(float64) float64) (x, y []float64) {
	for i := range n {
		x = append(x, float64(10*i))
		y = append(y, f(float64(i)))
	}
	return x, y
}

func TestPNG(t *testing.T) {
	x, y := curve(50, func(i float64) float64 { return 2 * math.Exp(-i/10) })
	x2, y2 := curve(30, func(i float64) float64 { return 1 / (1 + i) })
	var buf bytes.Buffer
	require.NoError(t, PNG(&buf, 640, 480, Chart{Title: "t", XLabel: "x", YLabel: "y", LogY: true,
		Series: []Series{{Name: "a", X: x, Y: y}, {Name: "b", X: x2, Y: y2}, {X: []float64{3}, Y: []float64{1}}}}))
	img, err := png.Decode(&buf)
	require.NoError(t, err)
	assert.Equal(t, 640, img.Bounds().Dx())
	assert.Equal(t, 480, img.Bounds().Dy())
	// Something was drawn: not every pixel is the white background.
	colours := map[[4]uint32]bool{}
	for yy := 0; yy < 480; yy += 3 {
		for xx := 0; xx < 640; xx += 3 {
			r, g, b, a := img.At(xx, yy).RGBA()
			colours[[4]uint32{r, g, b, a}] = true
		}
	}
	assert.Greater(t, len(colours), 5)
}

func TestTraining(t *testing.T) {
	path := filepath.Join(t.TempDir(), "train.png")
	it := []float64{0, 50, 100, 150}
	require.NoError(t, Training(path, "MNIST", "test loss",
		Run{Name: "adam", Iter: it, Loss: []float64{2.3, 0.6, 0.4, 0.3}, Acc: []float64{0.1, 0.8, 0.88, 0.91}},
		Run{Name: "tngd", Iter: it[:3], Loss: []float64{2.3, 0.4, 0.2}, Acc: []float64{0.1, 0.9, 0.93}}))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	require.NoError(t, err)
	assert.Equal(t, DefaultWidth, cfg.Width)
	assert.Equal(t, 2*DefaultPanelHeight, cfg.Height)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm())

	// A zero loss turns the log scale off instead of failing.
	loss, _ := TrainingCharts("", "", Run{Iter: it, Loss: []float64{1, 0, 1, 1}, Acc: []float64{0, 0, 0, 0}})
	assert.False(t, loss.LogY)
	require.NoError(t, loss.Validate())
}

func TestBadInput(t *testing.T) {
	ok := Series{Name: "ok", X: []float64{0, 1}, Y: []float64{1, 2}}
	for _, tc := range []struct {
		name   string
		w, h   int
		charts []Chart
		want   string
	}{
		{"no charts", 100, 100, nil, "no charts"},
		{"no series", 100, 100, []Chart{{Title: "c"}}, "no series"},
		{"ragged", 100, 100, []Chart{{Series: []Series{{Name: "s", X: []float64{1, 2}, Y: []float64{1}}}}}, "2 x values but 1 y values"},
		{"empty", 100, 100, []Chart{{Series: []Series{{Name: "s"}}}}, "no points"},
		{"NaN", 100, 100, []Chart{{Series: []Series{{Name: "s", X: []float64{1}, Y: []float64{math.NaN()}}}}}, "point 0 is (1, NaN)"},
		{"Inf", 100, 100, []Chart{{Series: []Series{{Name: "s", X: []float64{math.Inf(1)}, Y: []float64{1}}}}}, "want finite"},
		{"log of zero", 100, 100, []Chart{{LogY: true, Series: []Series{{Name: "s", X: []float64{1}, Y: []float64{0}}}}}, "log axis"},
		{"bad range", 100, 100, []Chart{{YMin: math.Inf(-1), YMax: 1, Series: []Series{ok}}}, "not drawable"},
		{"zero width", 0, 100, []Chart{{Series: []Series{ok}}}, "0×100"},
		{"huge", 100000, 100, []Chart{{Series: []Series{ok}}}, "100000×100"},
		{"too short for panels", 100, 60, []Chart{{Series: []Series{ok}}, {Series: []Series{ok}}}, "100×60"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := PNG(&buf, tc.w, tc.h, tc.charts...)
			require.ErrorIs(t, err, ErrInput)
			assert.Contains(t, err.Error(), tc.want)
			assert.Zero(t, buf.Len(), "nothing written on error")
		})
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "x.png")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o644))
	require.ErrorIs(t, Training(path, "", ""), ErrInput)
	require.ErrorIs(t, WriteFile(path, 100, 100, Chart{}), ErrInput)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "old", string(b), "a failed plot leaves the old file")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary files left behind")
	require.Error(t, WriteFile(filepath.Join(dir, "no", "such", "dir.png"), 100, 100, Chart{Series: []Series{ok}}))
}

func TestLogTicks(t *testing.T) {
	var labels []string
	for _, tk := range (logTicks{}).Ticks(0.15, 2.5) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	assert.Equal(t, []string{"0.2", "0.5", "1", "2"}, labels)
	assert.Nil(t, (logTicks{}).Ticks(0, 1))
	labels = nil
	for _, tk := range (logTicks{}).Ticks(1.2, 2.3) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	assert.GreaterOrEqual(t, len(labels), 3, "2 is the only 1-2-5 value, so linear ticks take over: %v", labels)
	labels = nil
	for _, tk := range (logTicks{}).Ticks(1.5, 3.5) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	assert.Equal(t, []string{"2", "3"}, labels)
}
