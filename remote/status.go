package remote

import (
	"context"
	"time"

	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/remote/boardpb"
	"github.com/spukit/spukit/remote/internal/wire"
)

// Status is a board server's account of its board and lease queue.
type Status struct {
	Board  string   `json:"board"`
	Info   hal.Info `json:"-"`
	Model  string   `json:"model"`
	Cells  int      `json:"cells"`
	Holder string   `json:"holder,omitempty"` // empty when the board is free
	// HeldS is how long the holder has held the board; ExpiresInS how long
	// its lease lasts without a renewal.
	HeldS      float64  `json:"held_s,omitempty"`
	ExpiresInS float64  `json:"expires_in_s,omitempty"`
	Queue      []Waiter `json:"queue"`
	Granted    uint64   `json:"leases_granted"`
	Expired    uint64   `json:"leases_expired"`
}

// Waiter is a client waiting for the board, first in line first.
type Waiter struct {
	Client   string  `json:"client"`
	WaitingS float64 `json:"waiting_s"`
}

// GetStatus asks the server at addr who holds the board and who waits. It
// takes no lease.
func GetStatus(ctx context.Context, addr string, o Options) (*Status, error) {
	conn, _, err := dial(ctx, addr, &o)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	r, err := boardpb.NewBoardClient(conn).Status(ctx, &boardpb.StatusRequest{})
	if err != nil {
		_, err = wire.FromStatus(ctx, "status", err)
		return nil, err
	}
	in := wire.InfoFromPB(r.GetInfo())
	s := &Status{Board: r.GetBoard(), Info: in, Model: in.Model, Cells: in.Cells, Holder: r.GetHolder(),
		HeldS: secs(r.GetHeldNs()), ExpiresInS: secs(r.GetExpiresInNs()), Queue: []Waiter{},
		Granted: r.GetLeasesGranted(), Expired: r.GetLeasesExpired()}
	for _, w := range r.GetQueue() {
		s.Queue = append(s.Queue, Waiter{Client: w.GetClient(), WaitingS: secs(w.GetWaitingNs())})
	}
	return s, nil
}

func secs(ns int64) float64 { return time.Duration(ns).Seconds() }
