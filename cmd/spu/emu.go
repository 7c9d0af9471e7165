package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spukit/spukit/emu"
	"github.com/spukit/spukit/hal"
)

func runEmu(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("emu", "spu emu [--board URI | --profile NAME|FILE.json --seed N] [--link PATH] [--faults drop=P,flip=P,dup=P,delay=D]",
		`Runs the board firmware on the host, on a simulated board, behind a
pseudo-terminal: the printed device (or --link) is a serial board for
spu --board serial://PATH. The board is --board's URI (any board of at most
255 cells that takes dense couplings, e.g. sim:ideal?seed=4) or, without
--board, sim:PROFILE?seed=SEED. Stops on Ctrl-C or SIGTERM.
`)
	profile := f.String("profile", "proto8", "simulator profile: a built-in name or a JSON file")
	seed := f.Uint64("seed", 1, "board seed (its serial number); also seeds --faults")
	link := f.String("link", "", "make `PATH` a symlink to the device")
	faults := f.String("faults", "", "seeded link faults, e.g. drop=1e-3,flip=1e-4,dup=1e-3,delay=1ms")
	if err := f.parse(args, stdout); err != nil {
		return err
	}
	fl, err := emu.ParseFaults(*faults)
	if err != nil {
		return &usageError{err}
	}
	uri, err := emuBoardURI(f, *profile, *seed)
	if err != nil {
		return err
	}
	b, err := hal.Open(ctx, uri)
	if err != nil {
		return err
	}
	defer b.Close()
	e, err := emu.Serve(ctx, b, *link, fl, *seed)
	if err != nil {
		return err
	}
	defer e.Close()
	dev := e.Path
	if e.Link != "" {
		dev = e.Link
	}
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false) // board URIs carry '&' (see writeJSON)
		if err := enc.Encode(map[string]string{"device": e.Path, "link": e.Link, "board": uri, "uri": "serial://" + dev}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "emulating %s on %s\nuse: spu solve --board serial://%s --random 8 --cond 10 --seed 1\n", uri, e.Path, dev)
	}
	<-ctx.Done()
	return nil
}

// emuBoardURI is the board to emulate: --board when given (then --profile
// and --seed, which would name another board, are refused), else
// sim:PROFILE?seed=SEED.
func emuBoardURI(f *flags, profile string, seed uint64) (string, error) {
	set := f.given()
	if set["board"] {
		if set["profile"] || set["seed"] {
			return "", usagef("--board %q and --profile/--seed both name the board to emulate: give the seed in the URI (sim:NAME?seed=N) or use --profile and --seed alone", f.board)
		}
		return f.board, nil
	}
	if strings.Contains(profile, "?") {
		return "", usagef("--profile %q: give the seed with --seed", profile)
	}
	return fmt.Sprintf("sim:%s?seed=%d", profile, seed), nil
}
