package fitname

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

// A string that fits is left alone; longer ones are cut to max bytes,
// keep their start, stay distinct when they differ only past the limit,
// and are never cut inside a rune.
func TestString(t *testing.T) {
	assert.Equal(t, "SIM-PROTO8-1", String("SIM-PROTO8-1", 32))
	exact := strings.Repeat("x", 32)
	assert.Equal(t, exact, String(exact, 32))

	long := strings.Repeat("A-LONG-PROFILE-NAME-", 3)
	a, b := String(long+"1", 32), String(long+"2", 32)
	assert.Len(t, a, 32)
	assert.Len(t, b, 32)
	assert.NotEqual(t, a, b)
	assert.True(t, strings.HasPrefix(a, long[:32-1-HashDigits]), a)
	assert.Equal(t, a, String(long+"1", 32), "deterministic")

	// "é" is 2 bytes: 23 of them put a rune across the cut at byte 23.
	u := String(strings.Repeat("é", 23)+"1", 32)
	assert.True(t, utf8.ValidString(u), u)
	assert.LessOrEqual(t, len(u), 32)
	assert.True(t, strings.HasPrefix(u, strings.Repeat("é", 11)), u)

	// Bytes that are not UTF-8 become '_'; the rest of the start is kept.
	bad := String("AB\xffCD"+strings.Repeat("x", 40), 32)
	assert.True(t, strings.HasPrefix(bad, "AB_CD"), bad)
}
