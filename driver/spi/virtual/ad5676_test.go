package virtual

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/driver/spi"
	"github.com/spukit/spukit/sim"
)

// The wiring's reference field reaches the AD5676R at open: "external"
// switches the internal reference off (command 0x7, data 1, as Linux's
// ad5686_probe does with an external reference), "internal" switches it
// on, and none leaves the chip as it was (here: off, as a previous
// session may have left it). The field round-trips through JSON; the old
// driver's strict decoding refused it.
func TestAD5676Reference(t *testing.T) {
	open := func(bias, state string) *Rig {
		w := spi.DefaultWiring()
		w.Bias.Reference, w.State.Reference = bias, state
		p, err := sim.Builtin("proto8")
		require.NoError(t, err)
		p.Timing = sim.TimingProfile{}
		p.ADC.MinPeriodS = analogPeriod.Seconds()
		a, err := sim.New(p, 1)
		require.NoError(t, err)
		r, err := New(w, a)
		require.NoError(t, err)
		r.bias.(*vAD5676).refOff, r.state.(*vAD5676).refOff = true, true
		b, err := spi.New(context.Background(), r, w, nil)
		require.NoError(t, err)
		t.Cleanup(func() { b.Close() })
		return r
	}
	r := open(spi.ReferenceExternal, "")
	assert.True(t, r.bias.(*vAD5676).refOff, "external: the internal reference off")
	assert.True(t, r.state.(*vAD5676).refOff, "no field: left alone")
	r = open(spi.ReferenceInternal, spi.ReferenceExternal)
	assert.False(t, r.bias.(*vAD5676).refOff, "internal: switched back on")
	assert.True(t, r.state.(*vAD5676).refOff)

	w := spi.DefaultWiring()
	w.Bias.Reference = spi.ReferenceExternal
	data, err := json.Marshal(w)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"reference":"external"`)
	got, err := spi.DecodeWiring(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, w, got)
	w.Bias.Reference = "vref"
	assert.ErrorContains(t, w.Validate(), `bias.reference = "vref", want "internal", "external" or none`)
}
