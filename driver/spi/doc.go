// Package spi drives SPU boards whose converters sit directly on a host's
// SPI bus (a Raspberry Pi or another single-board computer), through
// periph.io: an AD5676-style bias DAC, a second one with a FORCE switch for
// the node states, AD5293-style daisy-chained rheostats or AD545x-style
// multiplying DACs for the couplings with 74HC595 polarity registers, and an
// AD7606-style simultaneous-sampling ADC. One package per chip lives below
// (ad5676, ad5293, ad5450, hc595, ad7606), each with its frame format and
// its bus limits (a bus.Limits named Bus: mode, clocks, frame size, with
// the datasheet's word for each). This package joins them into a hal.Board
// from a Wiring, and package virtual provides virtual chips backed by the
// simulator so the whole path runs in CI.
//
// # Roles and the wiring table
//
// The board drives its chips through four small role interfaces (roles.go):
// a DAC for the bias and the forced state, a coupling array, a polarity
// register and a sampling ADC. The wiring table (chips.go) has one row per
// chip a wiring may name, in the table of its role: its bus limits, its
// own wiring rules and its constructor. Nothing else looks at a chip's
// name. Adding a chip of an existing role — say another ADC — touches its
// own package, one implementation of the role (an adapter in roles.go, or
// the chip's Dev itself when its methods fit) and one row of the table,
// plus its virtual twin in package virtual; docs/boards.md ("Adding a
// chip") lists the steps.
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
