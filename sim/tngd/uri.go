package tngd

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/spukit/spukit/hal"
)

// OpenURL opens "sim:tngd?opt=value&…" (see docs/profiles.md): package
// sim's "sim" scheme hands it every sim:tngd URI. The seed defaults to 1.
func OpenURL(u *url.URL) (hal.Board, error) {
	q, err := hal.CheckQuery("sim:tngd", u, uriOptions...)
	if err != nil {
		return nil, err
	}
	return openQuery(q)
}

// openQuery opens "sim:tngd?opt=value&…" (see docs/profiles.md) from the
// options hal.CheckQuery returned: known keys, one value each.
func openQuery(q url.Values) (hal.Board, error) {
	p := DefaultProfile()
	seed := uint64(1)
	num := func(key string) (float64, error) {
		v := q.Get(key)
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("sim:tngd: option %s=%q: want a finite number: %w", key, v, hal.ErrInvalid)
		}
		return f, nil
	}
	integer := func(key string) (int, error) {
		v := q.Get(key)
		i, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("sim:tngd: option %s=%q: want an integer: %w", key, v, hal.ErrInvalid)
		}
		return i, nil
	}
	// "bits" sets every converter; the specific options then override it.
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if (a == "bits") != (b == "bits") {
			if a == "bits" {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	kappaSet, noiseSet := false, false
	for _, key := range keys {
		var err error
		var f float64
		var i int
		switch key {
		case "seed":
			v := q.Get(key)
			seed, err = strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("sim:tngd: seed %q: want a non-negative integer: %w", v, hal.ErrInvalid)
			}
		case "cells":
			i, err = integer(key)
			p.Cells = i
		case "bits":
			i, err = integer(key)
			p.DACBits, p.BiasBits, p.ADCBits = i, i, i
		case "dac_bits":
			i, err = integer(key)
			p.DACBits = i
		case "bias_bits":
			i, err = integer(key)
			p.BiasBits = i
		case "adc_bits":
			i, err = integer(key)
			p.ADCBits = i
		case "lanczos_max":
			i, err = integer(key)
			p.LanczosMax = i
		case "noise":
			f, err = num(key)
			p.NoiseV, noiseSet = f, true
		case "kappa":
			f, err = num(key)
			if err == nil && f < 0 {
				return nil, fmt.Errorf("sim:tngd: kappa = %g V²: want ≥ 0: %w", f, hal.ErrInvalid)
			}
			p.NoiseV, kappaSet = math.Sqrt(f), true
		case "tau":
			f, err = num(key)
			p.TauS = f
		case "mismatch":
			f, err = num(key)
			p.Mismatch = f
		case "bias_range":
			f, err = num(key)
			p.BiasRangeV = f
		case "adc_range":
			f, err = num(key)
			p.ADCRangeV = f
		case "adc_conv":
			f, err = num(key)
			p.ADCConvS = f
		case "min_period":
			f, err = num(key)
			p.MinPeriodS = f
		case "link":
			f, err = num(key)
			p.LinkBytesPerS = f
		case "lanczos_tol":
			f, err = num(key)
			p.LanczosTol = f
		case "freerun":
			v := q.Get(key)
			p.FreeRun, err = strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("sim:tngd: freerun=%q: want 0 or 1: %w", v, hal.ErrInvalid)
			}
		case "method":
			p.Method = q.Get(key)
		default:
			return nil, fmt.Errorf("sim:tngd: unknown option %q (known: %s): %w", key, strings.Join(uriOptions, ", "), hal.ErrInvalid)
		}
		if err != nil {
			return nil, err
		}
	}
	if kappaSet && noiseSet {
		return nil, fmt.Errorf("sim:tngd: give noise (σ, V) or kappa (κ₀ = σ², V²), not both: %w", hal.ErrInvalid)
	}
	return New(p, seed)
}

var uriOptions = []string{"seed", "cells", "noise", "kappa", "tau", "bits", "dac_bits", "mismatch",
	"bias_bits", "bias_range", "adc_bits", "adc_range", "adc_conv", "min_period", "link", "freerun",
	"method", "lanczos_tol", "lanczos_max"}
