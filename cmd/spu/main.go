// Command spu drives stochastic processing units (SPUs), real or simulated.
//
//	spu info   [--board URI] [--json]
//	spu sample [--board URI] [--n N] [--period D] [--burn D] [--couplings FILE] [--bias FILE|LIST] [--out FILE.csv] [--json]
//	spu solve  [--board URI] (--a FILE [--b FILE] | --random N --cond K --seed S) [--json] [solver flags]
//	spu train  [--board URI] [--optimizer NAME] [--epochs N] [--metrics FILE.jsonl] [--plot FILE.png] [--checkpoint DIR [--resume]] [--json]
//	spu calibrate [--board URI] [--out FILE] [--plot FILE.png] [--json] | --check [--calibration FILE]
//	spu selftest [--board URI] [--json]
//	spu report --run NAME=FILE.jsonl ... --out FILE.md --img DIR [--json]
//	spu emu    [--board URI | --profile NAME|FILE.json --seed N] [--link PATH] [--faults drop=P,flip=P,dup=P,delay=D]
//	spu serve  --board URI --listen ADDR [--insecure] [--token-file F] [--tls-cert F --tls-key F] [--client-ca F] | --status ADDR | --gen-certs DIR
//	spu export-params --checkpoint DIR --out FILE.npz [--json]
//	spu version [--json]
//
// Boards are named by URI: sim:proto8?seed=3, serial:///dev/ttyACM0,
// spi:///dev/spidev0.0?wiring=FILE, spi+sim:proto8?seed=3.
//
// Run "spu help" for the full usage and docs/errors.md for what each error
// means and what to do about it.
//
// Exit codes: 0 success, 1 error, 2 usage error (bad command line),
// 3 the command wrote its output (every sample, or the solve report) but
// some readings saturated, 130 stopped by SIGINT (Ctrl-C), 143 by SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	_ "github.com/spukit/spukit/driver/serial"      // registers the serial: scheme
	_ "github.com/spukit/spukit/driver/spi"         // registers the spi: scheme
	_ "github.com/spukit/spukit/driver/spi/virtual" // registers the spi+sim: scheme
	"github.com/spukit/spukit/hal"
	_ "github.com/spukit/spukit/remote" // registers the grpc: scheme
	_ "github.com/spukit/spukit/sim"    // registers the sim: scheme
)

// Exit codes.
const (
	exitOK        = 0
	exitError     = 1
	exitUsage     = 2
	exitSaturated = 3
)

// defaultBoard is the board every command opens without --board.
const defaultBoard = "sim:proto8"

// version is set at link time with -ldflags "-X main.version=v1.2.3";
// otherwise it comes from the module's build information.
var version = ""

func main() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	// After the first signal a second one takes the default action: a
	// command stuck past its cancellation can still be stopped.
	os.Exit(runSignalled(sigs, func() { signal.Stop(sigs) }, os.Args[1:], os.Stdout, os.Stderr))
}

// runSignalled is run with a context cancelled by the first signal on sigs
// (then it calls stop). A run that was signalled exits 128 + the signal's
// number, the shell's convention (130 for SIGINT, 143 for SIGTERM),
// whatever the command returned: whoever sent it asked for a stop, and
// scripts tell that from a failure by the code.
func runSignalled(sigs <-chan os.Signal, stop func(), args []string, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	caught := make(chan os.Signal, 1)
	done := make(chan struct{})
	go func() {
		defer close(caught)
		select {
		case s := <-sigs:
			stop()
			caught <- s
			cancel()
		case <-done:
		}
	}()
	code := run(ctx, args, stdout, stderr)
	close(done)
	if s, ok := <-caught; ok {
		if n, isSys := s.(syscall.Signal); isSys {
			return 128 + int(n)
		}
		return 128 + int(syscall.SIGINT)
	}
	return code
}

// command is one subcommand of spu.
type command struct {
	name    string
	summary string
	// run executes the command; flags are parsed by the command itself
	// through newFlags/parseFlags.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"info", "describe a board: size, ranges, converters, time constant, noise", runInfo},
		{"sample", "program couplings and bias, burn in, record node voltages as CSV or NumPy", runSample},
		{"solve", "solve A x = b on a board and compare with a digital solve", runSolve},
		{"train", "train an MLP on MNIST with TNGD (or SGD, Adam, NGD) on a board", runTrain},
		{"report", "summarise training metrics as a Markdown table and PNG plots", runReport},
		{"emu", "run the board firmware on a simulated board behind a pseudo-terminal", runEmu},
		{"calibrate", "measure the board's analog errors, write a calibration file; --check checks one", runCalibrate},
		{"selftest", "bring-up check: every cell, channel and coupling element, with hints", runSelftest},
		{"serve", "serve a board to the network (grpc://HOST:PORT), with TLS, auth and leases", runServe},
		{"export-params", "write a training checkpoint's parameters to a NumPy .npz", runExportParams},
		{"version", "print the version and the commit it was built from (also spu --version)", runVersion},
	}
}

// run is the whole program: it parses args (without the program name),
// runs one command and returns the exit code. Errors are printed as one line
// "spu <cmd>: <message>" on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			for _, c := range commands() {
				if c.name == args[1] {
					return run(ctx, []string{c.name, "-h"}, stdout, stderr)
				}
			}
			fmt.Fprintf(stderr, "spu help: unknown command %q (commands: %s)\n", args[1], commandNames())
			return exitUsage
		}
		usage(stdout)
		return exitOK
	case "-version", "--version":
		name = "version"
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		if err == nil {
			return exitOK
		}
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "spu %s: %s\n", c.name, oneLine(err.Error()))
		var ue *usageError
		var se *saturatedError
		switch {
		case errors.As(err, &ue):
			return exitUsage
		case errors.As(err, &se):
			return exitSaturated
		}
		return exitError
	}
	if strings.HasPrefix(name, "-") {
		fmt.Fprintf(stderr, "spu: flag %s before a command: flags go after the command (spu <command> [flags])\n", name)
	} else {
		fmt.Fprintf(stderr, "spu: unknown command %q (commands: %s)\n", name, commandNames())
	}
	usage(stderr)
	return exitUsage
}

func commandNames() string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return strings.Join(append(names, "help"), ", ")
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `spu drives stochastic processing units (SPUs): boards of coupled RC cells
whose node voltages relax, with noise, towards the solution of A x = b.

usage: spu <command> [flags]

commands:
`)
	width := 0
	for _, c := range commands() {
		width = max(width, len(c.name))
	}
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-*s %s\n", width, c.name, c.summary)
	}
	fmt.Fprintf(w, `  %-*s show this help, or a command's flags: spu help <command>

Every command takes --json, and every one but version, report and
export-params --board URI (default %s; spu train: %s).
Board URIs: sim:NAME[?seed=N] (built-in profiles ideal, proto8) or
sim:FILE.json[?seed=N]; sim:tngd[?cells=N] is the large virtual SPU that
takes factored couplings; registered schemes: %s.
Durations are Go durations (500us, 2ms, 1.5s) or multiples of the board's
time constant τ (20tau).

exit codes: 0 ok, 1 error, 2 usage error, 3 output written but readings
saturated (sample, solve), 130 interrupted (Ctrl-C, SIGINT), 143 stopped by
SIGTERM. docs/errors.md explains every error.
`, width, "help", defaultBoard, defaultTrainBoard, strings.Join(hal.Schemes(), ", "))
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// usageError is a mistake on the command line: exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usage error wrapping hal.ErrInvalid.
func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format+": %w", append(args, hal.ErrInvalid)...)}
}

// saturatedError says the command completed but readings saturated: exit 3.
type saturatedError struct{ err error }

func (e *saturatedError) Error() string { return e.err.Error() }
func (e *saturatedError) Unwrap() error { return e.err }

// flags is a command's flag set with the flags every command shares.
type flags struct {
	*flag.FlagSet
	board    string
	json     bool
	synopsis string // one line after "usage: "
	help     string // text after the flag list
}

// newFlags is the flag set of a command that opens a board: --board and
// --json.
func newFlags(name, synopsis, help string) *flags {
	f := newBoardlessFlags(name, synopsis, help)
	f.StringVar(&f.board, "board", defaultBoard, "board `URI`, e.g. sim:proto8?seed=3, sim:ideal, sim:profile.json")
	return f
}

// newBoardlessFlags is the flag set of a command that opens no board
// (version, report): --json only, so --board is refused as undefined
// rather than silently ignored.
func newBoardlessFlags(name, synopsis, help string) *flags {
	f := &flags{FlagSet: flag.NewFlagSet("spu "+name, flag.ContinueOnError), help: help, synopsis: synopsis}
	f.SetOutput(io.Discard)
	f.BoolVar(&f.json, "json", false, "print machine-readable JSON")
	f.Usage = func() {}
	return f
}

// parse parses args; -h prints the usage to stdout and returns flag.ErrHelp,
// any other problem is a usage error. Positional arguments are refused.
func (f *flags) parse(args []string, stdout io.Writer) error {
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			f.printUsage(stdout)
			return err
		}
		return &usageError{fmt.Errorf("%v (see '%s -h'): %w", err, f.Name(), hal.ErrInvalid)}
	}
	if f.NArg() > 0 {
		return usagef("unexpected argument %q (flags only; see '%s -h')", f.Arg(0), f.Name())
	}
	return nil
}

// given returns the names of the flags given on the command line (not
// those left at their defaults).
func (f *flags) given() map[string]bool {
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	return set
}

func (f *flags) printUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n\nflags:\n", f.synopsis)
	f.SetOutput(w)
	f.PrintDefaults()
	f.SetOutput(io.Discard)
	if f.help != "" {
		fmt.Fprintf(w, "\n%s", f.help)
	}
}
