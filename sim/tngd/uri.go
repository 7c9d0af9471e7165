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
	o := uriProfile{p: DefaultProfile(), seed: 1}
	for _, key := range optionOrder(q) {
		if err := o.set(key, q.Get(key)); err != nil {
			return nil, err
		}
	}
	if o.kappaSet && o.noiseSet {
		return nil, fmt.Errorf("sim:tngd: give noise (σ, V) or kappa (κ₀ = σ², V²), not both: %w", hal.ErrInvalid)
	}
	return New(o.p, o.seed)
}

// optionOrder returns q's keys in the order they are applied: "bits"
// first, since it sets every converter and the specific options then
// override it; the others sorted.
func optionOrder(q url.Values) []string {
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
	return keys
}

// intOptions are the options that set integer fields of the profile.
var intOptions = map[string]func(p *Profile, i int){
	"cells":       func(p *Profile, i int) { p.Cells = i },
	"bits":        func(p *Profile, i int) { p.DACBits, p.BiasBits, p.ADCBits = i, i, i },
	"dac_bits":    func(p *Profile, i int) { p.DACBits = i },
	"bias_bits":   func(p *Profile, i int) { p.BiasBits = i },
	"adc_bits":    func(p *Profile, i int) { p.ADCBits = i },
	"lanczos_max": func(p *Profile, i int) { p.LanczosMax = i },
}

// floatOptions are the options that set a finite number into the profile
// as it is (kappa, which is converted, is in uriProfile.set).
var floatOptions = map[string]func(p *Profile, f float64){
	"noise":       func(p *Profile, f float64) { p.NoiseV = f },
	"tau":         func(p *Profile, f float64) { p.TauS = f },
	"mismatch":    func(p *Profile, f float64) { p.Mismatch = f },
	"bias_range":  func(p *Profile, f float64) { p.BiasRangeV = f },
	"adc_range":   func(p *Profile, f float64) { p.ADCRangeV = f },
	"adc_conv":    func(p *Profile, f float64) { p.ADCConvS = f },
	"adc_filter":  func(p *Profile, f float64) { p.ADCFilterHz = f },
	"min_period":  func(p *Profile, f float64) { p.MinPeriodS = f },
	"link":        func(p *Profile, f float64) { p.LinkBytesPerS = f },
	"lanczos_tol": func(p *Profile, f float64) { p.LanczosTol = f },
}

// uriProfile is the profile and seed a sim:tngd URI builds, and which of
// the two ways to give the noise it used.
type uriProfile struct {
	p                  Profile
	seed               uint64
	kappaSet, noiseSet bool
}

// set applies option key = v.
func (o *uriProfile) set(key, v string) error {
	if set, ok := intOptions[key]; ok {
		i, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("sim:tngd: option %s=%q: want an integer: %w", key, v, hal.ErrInvalid)
		}
		set(&o.p, i)
		return nil
	}
	if set, ok := floatOptions[key]; ok {
		f, err := finite(key, v)
		if err != nil {
			return err
		}
		set(&o.p, f)
		o.noiseSet = o.noiseSet || key == "noise"
		return nil
	}
	var err error
	switch key {
	case "seed":
		if o.seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			return fmt.Errorf("sim:tngd: seed %q: want a non-negative integer: %w", v, hal.ErrInvalid)
		}
	case "kappa":
		f, err := finite(key, v)
		if err != nil {
			return err
		}
		if f < 0 {
			return fmt.Errorf("sim:tngd: kappa = %g V²: want ≥ 0: %w", f, hal.ErrInvalid)
		}
		o.p.NoiseV, o.kappaSet = math.Sqrt(f), true
	case "freerun":
		if o.p.FreeRun, err = strconv.ParseBool(v); err != nil {
			return fmt.Errorf("sim:tngd: freerun=%q: want 0 or 1: %w", v, hal.ErrInvalid)
		}
	case "method":
		o.p.Method = v
	default:
		return fmt.Errorf("sim:tngd: unknown option %q (known: %s): %w", key, strings.Join(uriOptions, ", "), hal.ErrInvalid)
	}
	return nil
}

// finite parses option key's value v as a finite number.
func finite(key, v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("sim:tngd: option %s=%q: want a finite number: %w", key, v, hal.ErrInvalid)
	}
	return f, nil
}

var uriOptions = []string{"seed", "cells", "noise", "kappa", "tau", "bits", "dac_bits", "mismatch",
	"bias_bits", "bias_range", "adc_bits", "adc_range", "adc_conv", "adc_filter", "min_period", "link", "freerun",
	"method", "lanczos_tol", "lanczos_max"}
