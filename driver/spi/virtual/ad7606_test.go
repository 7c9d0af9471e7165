package virtual

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"periph.io/x/conn/v3/gpio"

	"github.com/spukit/spukit/driver/spi"
	"github.com/spukit/spukit/driver/spi/ad7606"
)

// The virtual AD7606 acts on CONVST only when the data sheet says the
// part converts (Rev. C pin descriptions, Table 3), and oversampling
// lengthens the conversion to Table 3's t_CONV.
func TestAD7606ControlPins(t *testing.T) {
	w := spi.DefaultWiring().ADC
	w.ResetPin, w.StbyPin = "R", "S"
	var now time.Duration
	a := newAD7606(w, func() time.Duration { return now })
	lv := map[string]gpio.Level{}
	set := func(role string, l gpio.Level) bool {
		start := a.drive(role, lv[role], l)
		lv[role] = l
		return start
	}
	convst := func() bool {
		set("convst", gpio.Low)
		now += time.Microsecond
		return set("convst", gpio.High)
	}
	assert.False(t, convst(), "in standby (STBY low) since power-up")
	set("stby", gpio.High)
	assert.False(t, convst(), "within the wake-up from standby")
	now += ad7606.WakeStandby
	assert.False(t, convst(), "awake but never reset")
	set("reset", gpio.High)
	now += ad7606.ResetWidth - time.Nanosecond
	set("reset", gpio.Low)
	now += time.Microsecond
	assert.False(t, convst(), "a RESET pulse shorter than t_RESET")
	set("reset", gpio.High)
	now += ad7606.ResetWidth
	assert.False(t, convst(), "RESET high")
	set("reset", gpio.Low)
	assert.False(t, set("convst", gpio.Low) || set("convst", gpio.High), "CONVST within t7 of RESET falling")
	now += ad7606.ResetToConvst
	assert.True(t, convst(), "reset, awake, OS = 000")
	assert.Equal(t, 4*time.Microsecond, a.conversion(4*time.Microsecond))

	set("os1", gpio.High) // OS = 010: oversampling by 4
	assert.True(t, convst())
	want, _ := ad7606.ConversionTime(2)
	assert.Equal(t, want, a.conversion(4*time.Microsecond))
	set("os0", gpio.High)
	set("os2", gpio.High) // OS = 111: invalid
	assert.False(t, convst(), "OS = 111")
	set("os0", gpio.Low)
	set("os1", gpio.Low)
	set("os2", gpio.Low)

	set("range", gpio.High) // STBY low with RANGE high: shutdown
	set("stby", gpio.Low)
	set("stby", gpio.High)
	now += ad7606.WakeStandby
	assert.False(t, convst(), "100 µs after shutdown")
	now += ad7606.WakeShutdown
	assert.True(t, convst(), "30 ms after shutdown")
}
