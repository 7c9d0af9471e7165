package bus

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

func TestHz(t *testing.T) {
	assert.Equal(t, 50*physic.MegaHertz, Limits{WriteHz: 50 * physic.MegaHertz, ReadHz: 25 * physic.MegaHertz}.Hz(), "writes set the connection clock")
	assert.Equal(t, 20*physic.MegaHertz, Limits{ReadHz: 20 * physic.MegaHertz}.Hz(), "a chip that only sends")
}

func TestAccepts(t *testing.T) {
	l := Limits{Mode: spi.Mode1, Modes: []spi.Mode{spi.Mode1, spi.Mode2}}
	assert.True(t, l.Accepts(spi.Mode1))
	assert.True(t, l.Accepts(spi.Mode2|spi.NoCS), "only CPOL and CPHA count")
	assert.False(t, l.Accepts(spi.Mode0))
}
