// Package spi drives SPU boards whose converters sit directly on a host's
// SPI bus (a Raspberry Pi or another single-board computer), through
// periph.io: an AD5676-style bias DAC, a second one with a FORCE switch for
// the node states, AD5293-style daisy-chained rheostats or AD545x-style
// multiplying DACs for the couplings with 74HC595 polarity registers, and an
// AD7606-style simultaneous-sampling ADC. One package per chip lives below
// (ad5676, ad5293, ad5450, hc595, ad7606); this package joins them into a
// hal.Board from a Wiring, and package virtual provides virtual chips backed
// by the simulator so the whole path runs in CI.
//
// It registers the URI scheme "spi":
//
//	spi:///dev/spidev0.0                      the reference board (DefaultWiring)
//	spi:///dev/spidev0.0?wiring=board.json    a board described by a wiring file
//	                     &serial=SN           override the wiring's serial number
//
// The path must be one of the wiring's ports. PeriphHost initialises
// periph's host drivers (periph.io/x/host/v3 host.Init) once, on first use,
// so a program that opens "spi:" needs nothing else.
//
// # Timing
//
// Programming and sampling take the bus time of their frames at the SPI
// clock (Stats), plus settling waits from the wiring. On hardware, board
// time (hal.Clock) is wall time since open and also contains the host's
// overheads; on virtual chips it is simulated and equals bus time plus
// waits exactly. docs/boards.md is the bring-up guide.
package spi
