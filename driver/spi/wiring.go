package spi

import (
	"bytes"
	"fmt"
	"io"
	"os"

	pspi "periph.io/x/conn/v3/spi"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/internal/jsonfile"
)

// Wiring describes how a board's chips sit on the host: which chip, on
// which SPI port (chip select) and GPIO pins, serves which cell, bias
// channel and coupling element. It is data: it loads from JSON (see
// docs/boards.md for every field) and DefaultWiring is the reference
// 8-cell board.
type Wiring struct {
	// Model names the board design, e.g. "ref8".
	Model string `json:"model"`
	// Serial identifies this board (calibration files are keyed to it);
	// the URI's ?serial= overrides it.
	Serial string `json:"serial"`
	// Cells is K.
	Cells int `json:"cells"`
	// TauS is the nominal cell time constant RC in seconds.
	TauS float64 `json:"tau_s"`
	// NoiseV is the injected noise σ in volts (0: none).
	NoiseV float64 `json:"noise_v"`
	// SPIHz is the SPI clock in Hz used for every chip (capped by each
	// chip's own maximum); programming and read-out times follow from it.
	SPIHz float64 `json:"spi_hz"`

	Bias     DACWiring      `json:"bias"`
	State    StateWiring    `json:"state"`
	Coupling CouplingWiring `json:"coupling"`
	Polarity PolarityWiring `json:"polarity"`
	ADC      ADCWiring      `json:"adc"`
}

// DACWiring places a bias or state DAC, one of the DAC table's chips
// (chips.go; the ad5676: 16 bits, 8 channels).
type DACWiring struct {
	// Chip names the DAC's row of the table: "ad5676".
	Chip string `json:"chip"`
	// Port is the SPI port, e.g. "/dev/spidev0.0".
	Port string `json:"port"`
	// Channels[i] is the DAC channel driving cell i.
	Channels []int `json:"channels"`
	// MinV and MaxV are the output range after the board's level shifter:
	// code c gives MinV + c·(MaxV−MinV)/2^bits (65536 for the ad5676).
	MinV float64 `json:"min_v"`
	MaxV float64 `json:"max_v"`
	// SettleS is how long the driver waits after an update.
	SettleS float64 `json:"settle_s"`
	// Reference, when set, is "internal" or "external": the driver
	// switches an AD5676R's internal reference on or off at open (off when
	// VREF comes from an external reference, as Linux's ad5686 driver does
	// at probe). Empty: left as the chip powered up — the AD5676 has no
	// internal reference, an AD5676R's is on (docs/boards.md §1).
	Reference string `json:"reference,omitempty"`
}

// Reference values of a DACWiring.
const (
	ReferenceInternal = "internal"
	ReferenceExternal = "external"
)

// StateWiring places the circuit that forces node voltages: a second
// DAC whose outputs are switched onto the cells while the
// FORCE pin is high.
type StateWiring struct {
	DACWiring
	// ForcePin is the GPIO that closes the forcing switches (high = force).
	ForcePin string `json:"force_pin"`
	// ForceS is how long FORCE stays high (≫ the switch RC).
	ForceS float64 `json:"force_s"`
}

// CouplingWiring places the coupling elements.
type CouplingWiring struct {
	// Chip is "ad5293" (10-bit rheostats, daisy-chained on Port) or
	// "ad5450" (AD545x multiplying DACs sharing Port, each with its own
	// SYNC GPIO from SyncPins).
	Chip string `json:"chip"`
	// Port is the SPI port.
	Port string `json:"port"`
	// Bits is the MDAC resolution (8, 10, 12 or 14); ad5293 is always 10.
	Bits int `json:"bits"`
	// Max is the coupling at full-scale code in units of 1/τ: element
	// codes realise A_ij = ±code·Max/(2^bits − 1).
	Max float64 `json:"max"`
	// Symmetric boards realise A_ij and A_ji with one element.
	Symmetric bool `json:"symmetric"`
	// Elements[k] is the [row, col] that element k (chain position k, or
	// SyncPins[k]) realises; every entry (every i ≤ j when Symmetric)
	// exactly once.
	Elements [][2]int `json:"elements"`
	// SyncPins are the MDACs' SYNC GPIOs, one per element (ad5450 only).
	SyncPins []string `json:"sync_pins,omitempty"`
	// SettleS is how long the driver waits after an update.
	SettleS float64 `json:"settle_s"`
	// ChainHz, when set, is the clock of the ad5293 daisy chain in Hz,
	// used instead of spi_hz on Port: each SDO→SDI link is open-drain
	// with a pull-up, so a long chain may need a slower clock than one
	// chip allows (docs/boards.md §7 gives the formula). 0: spi_hz.
	ChainHz float64 `json:"chain_hz,omitempty"`
}

// PolarityWiring places the 74HC595-style chain holding each element's
// sign: output k is element k's polarity (1 = negative coupling).
type PolarityWiring struct {
	// Chip names the register's row of the polarity table: "hc595".
	Chip string `json:"chip"`
	// Port is the SPI port; its chip select drives RCLK.
	Port string `json:"port"`
}

// ADCWiring places the node-voltage ADC, one of the ADC table's chips
// (chips.go; the ad7606: 16 bits, 8 simultaneous channels).
type ADCWiring struct {
	// Chip names the ADC's row of the table: "ad7606".
	Chip string `json:"chip"`
	// Port is the SPI port (DOUT A).
	Port string `json:"port"`
	// Channels[i] is the ADC channel reading cell i.
	Channels []int `json:"channels"`
	// RangeV is the input range ±RangeV in volts (ad7606: 5 or 10).
	RangeV float64 `json:"range_v"`
	// ConvstPin and BusyPin are the handshake GPIOs; RangePin may be empty
	// when RANGE is strapped.
	ConvstPin string `json:"convst_pin"`
	BusyPin   string `json:"busy_pin"`
	RangePin  string `json:"range_pin,omitempty"`
	// ConversionS is the conversion time (BUSY high), used for the
	// sampling-time account and the minimum sample period.
	ConversionS float64 `json:"conversion_s"`
	// MinPeriodS raises the minimum sample period above conversion +
	// read-out (0: no floor), for hosts whose SPI system calls take longer.
	MinPeriodS float64 `json:"min_period_s,omitempty"`
	// ResetPin, StbyPin and OSPins are optional GPIOs (empty: strapped on
	// the board). When present the driver drives them at open: STBY high
	// (normal operation), OS[2:0] = 000 (no oversampling: conversion_s
	// holds), then a RESET pulse, as both reference drivers do at start-up
	// (docs/boards.md §1 strap pins). OSPins lists OS0, OS1, OS2.
	ResetPin string   `json:"reset_pin,omitempty"`
	StbyPin  string   `json:"stby_pin,omitempty"`
	OSPins   []string `json:"os_pins,omitempty"`
	// Oversampling, when above 1, is the AD7606's oversampling ratio (2,
	// 4, …, 64) set on OSPins at open instead of 000; conversion_s must
	// then cover the data sheet's longest conversion for it
	// (ad7606.ConversionTime). 0 or 1: none.
	Oversampling int `json:"oversampling,omitempty"`
	// SPIMode, when set, is the SPI mode (0..3) the ADC is read in,
	// one of its chip's accepted modes; nil: the chip's default
	// (ad7606: 2, docs/boards.md §2 says why and how to check it).
	SPIMode *int `json:"spi_mode,omitempty"`
}

// DefaultWiring returns the reference 8-cell board ("ref8", docs/boards.md):
// general topology with 64 daisy-chained AD5293 rheostats (row-major) and
// 8 74HC595 polarity registers, an AD5676 bias DAC and an AD5676 state DAC
// on SPI0, the rheostats, the polarity chain and an AD7606 on SPI1. Its
// parts match the sim:proto8 profile, so the two can be compared.
func DefaultWiring() Wiring {
	k := 8
	id := make([]int, k)
	for i := range id {
		id[i] = i
	}
	var el [][2]int
	for i := range k {
		for j := range k {
			el = append(el, [2]int{i, j})
		}
	}
	return Wiring{
		Model: "ref8", Serial: "ref8-unset", Cells: k, TauS: 100e-6, NoiseV: 0.01, SPIHz: 10e6,
		Bias: DACWiring{Chip: ChipAD5676, Port: "/dev/spidev0.0", Channels: id, MinV: -5, MaxV: 5, SettleS: 5e-6},
		State: StateWiring{
			DACWiring: DACWiring{Chip: ChipAD5676, Port: "/dev/spidev0.1", Channels: id, MinV: -5, MaxV: 5, SettleS: 5e-6},
			ForcePin:  "GPIO22", ForceS: 50e-6,
		},
		// 5 µs: AD5293 settling at half scale in resistor-performance mode.
		Coupling: CouplingWiring{Chip: ChipAD5293, Port: "/dev/spidev1.0", Bits: 10, Max: 2, Elements: el, SettleS: 5e-6},
		Polarity: PolarityWiring{Chip: ChipHC595, Port: "/dev/spidev1.1"},
		ADC: ADCWiring{Chip: ChipAD7606, Port: "/dev/spidev1.2", Channels: id, RangeV: 5,
			ConvstPin: "GPIO17", BusyPin: "GPIO27", ConversionS: 4e-6},
	}
}

// LoadWiring reads a wiring from a JSON file. Unknown fields are errors;
// errors name the file and the field.
func LoadWiring(path string) (Wiring, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Wiring{}, fmt.Errorf("wiring: %w", err)
	}
	w, err := DecodeWiring(bytes.NewReader(data))
	if err != nil {
		return Wiring{}, fmt.Errorf("wiring %s: %w", path, err)
	}
	return w, nil
}

// DecodeWiring decodes and validates one JSON wiring. Fields left out take
// DefaultWiring's values only where documented (none do): a wiring is
// explicit, since a wrong default would drive the wrong pin.
func DecodeWiring(r io.Reader) (Wiring, error) {
	data, err := jsonfile.Read(r, jsonfile.MaxBytes)
	if err != nil {
		return Wiring{}, jsonfile.Invalid(err, hal.ErrInvalid)
	}
	var w Wiring
	if err := jsonfile.Decode(data, &w); err != nil {
		return Wiring{}, jsonfile.Invalid(err, hal.ErrInvalid)
	}
	if err := w.Validate(); err != nil {
		return Wiring{}, err
	}
	return w, nil
}

// Ports lists the SPI ports the wiring uses, bias first.
func (w Wiring) Ports() []string {
	return []string{w.Bias.Port, w.State.Port, w.Coupling.Port, w.Polarity.Port, w.ADC.Port}
}

// couplingHz is the wiring clock on the coupling port: chain_hz when set,
// else spi_hz.
func (w Wiring) couplingHz() float64 {
	if w.Coupling.ChainHz > 0 {
		return w.Coupling.ChainHz
	}
	return w.SPIHz
}

// adcMode is the SPI mode the ADC is read in: the wiring's spi_mode, else
// its chip's default.
func (w Wiring) adcMode() pspi.Mode {
	if w.ADC.SPIMode != nil {
		return pspi.Mode(*w.ADC.SPIMode)
	}
	return adcChips[w.ADC.Chip].bus.Mode
}

// CouplingStep is the coupling resolution in 1/τ: element codes realise
// ±code·step with step = max/(2^bits − 1).
func (w Wiring) CouplingStep() float64 { return w.Coupling.Max / float64(int(1)<<w.Coupling.Bits-1) }
