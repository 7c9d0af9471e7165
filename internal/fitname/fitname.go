// Package fitname shortens identifiers that must fit a byte limit — a serial
// in the serial protocol's INFO, a serial in a cache file name — without
// making two of them equal.
package fitname

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// HashDigits is how many hex digits of the hash String appends.
const HashDigits = 8

// String returns s when it has at most max bytes, and otherwise its
// first bytes (whole runes only), "~" and HashDigits hex digits of the
// SHA-256 of the whole of s, max bytes at most in all: strings that differ
// only past the limit stay distinct, and the start stays readable. max
// must leave room for the suffix (max > HashDigits+1).
func String(s string, max int) string {
	if len(s) <= max {
		return s
	}
	h := sha256.Sum256([]byte(s))
	suffix := "~" + hex.EncodeToString(h[:])[:HashDigits]
	// Cut at a rune boundary, and replace what is not UTF-8 (one byte
	// for each bad sequence, so the result only gets shorter).
	n := max - len(suffix)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.ToValidUTF8(s[:n], "_") + suffix
}
