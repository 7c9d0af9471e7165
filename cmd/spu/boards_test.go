package main

import "testing"

// TestBadInputBoards has one case per row of the "Board URIs, the emulator
// and calibration files" table of docs/errors.md, in the same order.
func TestBadInputBoards(t *testing.T) {
	runDocTable(t, "## Board URIs, the emulator and calibration files", []docCase{
		{"Emulator fault probability not in [0, 1]", []string{"emu", "--faults", "drop=NaN"}, exitUsage,
			[]string{`spu emu: faults drop="NaN": want a finite probability in [0, 1]`, "invalid argument"}},
	})
}
