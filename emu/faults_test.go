package emu

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/hal"
)

// Every probability must be a finite number in [0, 1]: NaN compares false
// with everything, so a range check written as "p < 0 || p > 1" let it
// through, and a NaN drop rate then never fired.
func TestParseFaultsRefusesBadProbabilities(t *testing.T) {
	for _, s := range []string{"drop=NaN", "flip=nan", "dup=-NaN", "drop=Inf", "flip=-inf", "dup=-0.1", "drop=1.5", "drop=x"} {
		_, err := ParseFaults(s)
		require.ErrorIs(t, err, hal.ErrInvalid, s)
		assert.Contains(t, err.Error(), "finite probability in [0, 1]", s)
	}
	f, err := ParseFaults("drop=0,flip=1,dup=0.5,delay=1ms")
	require.NoError(t, err)
	assert.Equal(t, 1.0, f.Flip)
	assert.Equal(t, 0.5, f.Dup)
}

// A delay is bounded (delay=100h was accepted and would stall every frame
// for days) and no key may be given twice (the last one silently won).
func TestParseFaultsRefusesLongDelayAndRepeats(t *testing.T) {
	for _, s := range []string{"delay=100h", "delay=10.001s", "delay=-1ms", "delay=x"} {
		_, err := ParseFaults(s)
		require.ErrorIs(t, err, hal.ErrInvalid, s)
		assert.Contains(t, err.Error(), "want a duration from 0 to 10s", s)
	}
	_, err := ParseFaults("drop=0.1,drop=0.2")
	require.ErrorIs(t, err, hal.ErrInvalid)
	assert.Contains(t, err.Error(), `"drop" given twice`)
	f, err := ParseFaults("delay=10s")
	require.NoError(t, err)
	assert.Equal(t, 10*time.Second, f.Delay)
}
