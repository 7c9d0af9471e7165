package calibration

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/hal/haltest"
	"github.com/spukit/spukit/internal/testnum"
)

// TestWrapStreams: a calibrated board reports Sample's progress as the
// board it wraps does, with readings already corrected when reported
// (spu serve --calibration then streams them while the board samples);
// the samples are those of Sample on a board of the same seed, bit for
// bit, with and without dithering.
func TestWrapStreams(t *testing.T) {
	ctx := context.Background()
	c := calibrate(t, "sim:proto8?seed=1", Options{Events: 800, Probes: 4, BiasTaus: 100})
	const rows = 1000
	for _, o := range []*WrapOptions{nil, {Dither: true, DitherRows: 256}} {
		var want []float64
		for _, stream := range []bool{false, true} {
			w, err := Wrap(haltest.Open(t, "sim:proto8?seed=1"), c, o)
			require.NoError(t, err)
			a := testnum.Identity(8, 1)
			a[1], a[8] = -0.25, -0.25
			require.NoError(t, w.SetCouplings(ctx, a))
			dst := make([]float64, rows*8)
			if !stream {
				n, err := w.Sample(ctx, 0, dst)
				require.NoError(t, err)
				require.Equal(t, rows, n)
				want = dst
				continue
			}
			sb, ok := w.(hal.Streamer)
			require.True(t, ok, "the calibrated board is a hal.Streamer")
			var seen []float64
			n, err := sb.SampleStream(ctx, 0, dst, func(m int) { seen = append(seen[:0], dst[:m*8]...) })
			require.NoError(t, err)
			require.Equal(t, rows, n)
			assert.Equal(t, want, dst, "dither %v", o != nil)
			require.NotEmpty(t, seen, "progress reported while sampling")
			assert.Equal(t, want[:len(seen)], seen, "reported samples are final (corrected)")
		}
	}
}
