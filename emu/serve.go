package emu

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/creack/pty"
	"golang.org/x/term"

	"github.com/spukit/spukit/firmware"
	"github.com/spukit/spukit/firmware/proto"
	"github.com/spukit/spukit/hal"
)

// Emulator is the firmware running on a simulated board behind a
// pseudo-terminal: to the host it is a serial device like a real board's.
type Emulator struct {
	// Path is the device to open (the pty's slave), e.g. /dev/pts/3.
	Path string
	// Link is the stable symlink to Path, if one was asked for.
	Link string

	master, slave *os.File
	done          chan struct{}
	err           error
}

// Serve starts the firmware for board b on a new pty, with seeded link
// faults; link, if not empty, becomes a symlink to the device. The
// emulator stops when ctx is cancelled or Close is called.
//
// The board must fit the protocol (at most proto.MaxCells cells) and take
// dense couplings: it is reset to the firmware's power-up state (A = I,
// b = 0, x = 0) first, and a board that refuses is not emulated.
func Serve(ctx context.Context, b hal.Board, link string, f Faults, seed uint64) (*Emulator, error) {
	in := b.Info()
	if in.Cells > proto.MaxCells {
		return nil, fmt.Errorf("emu: board %s has %d cells; the serial protocol carries at most %d: %w",
			in.Serial, in.Cells, proto.MaxCells, hal.ErrUnsupported)
	}
	fe := NewFrontEnd(ctx, b)
	if err := fe.Reset(); err != nil {
		return nil, fmt.Errorf("emu: board %s cannot be emulated (the firmware programs dense couplings, bias and state): %w", in.Serial, err)
	}
	master, slave, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("emu: open pty: %w", err)
	}
	// Raw mode: no echo, no line editing, every byte as it is.
	if _, err := term.MakeRaw(int(slave.Fd())); err != nil {
		master.Close()
		slave.Close()
		return nil, fmt.Errorf("emu: raw mode: %w", err)
	}
	// done stays nil until the firmware loop runs, so that Close on the
	// error paths below does not wait for a loop that never started.
	e := &Emulator{Path: slave.Name(), master: master, slave: slave}
	if link != "" {
		if fi, err := os.Lstat(link); err == nil {
			if fi.Mode()&os.ModeSymlink == 0 {
				e.Close()
				return nil, fmt.Errorf("emu: --link %s exists and is not a symlink; refusing to replace it: %w", link, hal.ErrInvalid)
			}
			os.Remove(link)
		}
		if err := os.Symlink(e.Path, link); err != nil {
			e.Close()
			return nil, fmt.Errorf("emu: --link %s: cannot make the symlink to %s: %w", link, e.Path, err)
		}
		e.Link = link
	}
	fw := firmware.New(Info(b), fe, WithFaults(master, f, seed))
	e.done = make(chan struct{})
	go func() {
		defer close(e.done)
		for {
			if err := fw.Poll(); err != nil {
				if !errors.Is(err, os.ErrClosed) {
					e.err = err
				}
				return
			}
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			e.Close()
		case <-e.done:
		}
	}()
	return e, nil
}

// Close stops the emulator, removes the link and waits for the firmware
// loop to end. It is idempotent.
func (e *Emulator) Close() error {
	e.master.Close()
	e.slave.Close()
	if e.Link != "" {
		os.Remove(e.Link)
	}
	if e.done != nil {
		<-e.done
	}
	return nil
}

// Wait blocks until the emulator stops and returns why, if not by Close.
func (e *Emulator) Wait() error {
	if e.done == nil {
		return nil
	}
	<-e.done
	return e.err
}
