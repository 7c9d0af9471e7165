package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// durFlag is a duration flag that accepts a Go duration ("2ms", "1.5s") or
// a multiple of the board's time constant τ ("20tau", "20τ"), resolved once
// the board is open.
type durFlag struct {
	d     time.Duration
	taus  float64
	inTau bool
	set   bool
}

func (f *durFlag) String() string {
	if f == nil {
		return ""
	}
	if f.inTau {
		return strconv.FormatFloat(f.taus, 'g', -1, 64) + "tau"
	}
	return f.d.String()
}

func (f *durFlag) Set(s string) error {
	s = strings.TrimSpace(s)
	for _, suf := range []string{"tau", "τ"} {
		if num, ok := strings.CutSuffix(s, suf); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%q: want a number of time constants like 20tau", s)
			}
			f.taus, f.inTau, f.set = v, true, true
			return nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q: want a duration like 2ms or 500us, or a multiple of τ like 20tau", s)
	}
	f.d, f.inTau, f.set = d, false, true
	return nil
}

// negative reports whether the flag holds a value below zero.
func (f *durFlag) negative() bool {
	if f.inTau {
		return f.taus < 0
	}
	return f.d < 0
}

// positive reports whether the flag holds a value above zero.
func (f *durFlag) positive() bool {
	if f.inTau {
		return f.taus > 0
	}
	return f.d > 0
}

// resolve converts the flag to a duration for a board with time constant tau.
func (f *durFlag) resolve(tau time.Duration) (time.Duration, error) {
	if !f.inTau {
		return f.d, nil
	}
	v := f.taus * float64(tau)
	if math.Abs(v) >= math.MaxInt64/2 {
		return 0, fmt.Errorf("%s: %g × τ = %g s is too long", f, f.taus, v/1e9)
	}
	return time.Duration(math.Round(v)), nil
}
