package virtual

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/driver/spi"
	"github.com/spukit/spukit/hal"
)

// chain-slow at open: the echo check fails at the wiring's 10 MHz, and the
// driver locates the slow link before refusing the board. The link into
// chip N passes f_max = 1/(2·(2.2·10 kΩ·10 pF + 5 ns)) = 2.22 MHz
// (faults.go), so halving from 10 MHz fails at 5 and 2.5 MHz and answers
// at 1.25 MHz — the first halving at or below f_max, hence in
// (f_max/2, f_max]. The message names chip N and that clock, and a board
// wired with the clock it advises opens. The chips are left as power-up
// left them (the localisation sends NOPs only): write-protected, wipers
// at midscale.
func TestChainSlowLocated(t *testing.T) {
	fMax := 1 / (2 * (2.2*slowPullupOhm*slowLinkF + chainSetupS))
	advice := regexp.MustCompile(`the chain answers at [0-9.]+ [kM]Hz: set coupling\.chain_hz ≤ ([0-9]+) `)
	w := spi.DefaultWiring()
	for _, n := range []int{1, 32, 63} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			f := Fault{Name: FaultChainSlow, At: n}
			r := faultRig(t, f)
			t0 := r.Now()
			_, err := spi.New(context.Background(), r, w, nil)
			require.ErrorIs(t, err, hal.ErrDisconnected)
			e := w.Coupling.Elements[n]
			assert.Contains(t, err.Error(), fmt.Sprintf("corrupts frames at 10 MHz (and still at 2.5 MHz) from AD5293 #%d (A[%d][%d]) on", n, e[0], e[1]))
			assert.Contains(t, err.Error(), fmt.Sprintf("the SDO→SDI link into chip %d (chip %d's open-drain SDO) is too slow for its pull-up", n, n-1))
			m := advice.FindStringSubmatch(err.Error())
			require.NotNil(t, m, err.Error())
			hz, perr := strconv.ParseFloat(m[1], 64)
			require.NoError(t, perr)
			assert.LessOrEqual(t, hz, fMax)
			assert.Greater(t, 2*hz, fMax, "the fastest halving of 10 MHz that works")

			// The rig clocked the localisation at the lower clocks: echoes
			// (2 × 128 bytes) at 5, 2.5 and 1.25 MHz, then 128 bytes in at
			// 2.5 MHz and 128 out at 1.25 MHz: 256·8/5e6 + 256·8/2.5e6 +
			// 256·8/1.25e6 + 128·8/2.5e6 + 128·8/1.25e6 = 4096 µs, after
			// the echo at 10 MHz (204.8 µs) and the DACs' power-up frames.
			loc := 4096*time.Microsecond + 204800*time.Nanosecond
			assert.GreaterOrEqual(t, r.Now()-t0, loc)
			assert.Less(t, r.Now()-t0, loc+100*time.Microsecond)

			c := r.coupling.(*vAD5293Chain)
			for k, ch := range c.chips {
				assert.False(t, ch.unlocked, "chip %d write-protected", k)
				assert.Equal(t, 512, c.code(k), "chip %d at midscale", k)
			}

			slow := w
			slow.Coupling.ChainHz = hz
			fixed, err := OpenFault(context.Background(), slow, simProto8(t), faultSeed, nil, f)
			require.NoError(t, err, "opens at the advised chain clock")
			require.NoError(t, fixed.Close())
		})
	}
}
