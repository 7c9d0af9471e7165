package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/spukit/spukit/remote"
)

// freePort returns a loopback address nothing listens on (a race with
// other programs is possible but unlikely in a test).
func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// startServe runs spu serve with args until the test ends and waits
// until it answers --status.
func startServe(t *testing.T, addr string, args ...string) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var errb bytes.Buffer
	wg.Add(1)
	go func() {
		defer wg.Done()
		run(ctx, append([]string{"serve", "--listen", addr}, args...), &bytes.Buffer{}, &errb)
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("spu serve did not listen on %s", addr)
}

// The "done when": a solve through spu serve gives the local x.
func TestServeSolveBitIdentical(t *testing.T) {
	addr := freePort(t)
	startServe(t, addr, "--board", "sim:proto8?seed=5", "--insecure")
	solve := func(board string) map[string]any {
		code, out, errOut := spu(t, "solve", "--board", board, "--random", "8", "--cond", "10", "--seed", "1", "--json")
		require.Equal(t, 0, code, errOut)
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &v))
		return v
	}
	remote, local := solve("grpc://"+addr), solve("sim:proto8?seed=5")
	for _, k := range []string{"x", "std_err", "board_time_s", "samples", "residual"} {
		assert.Equal(t, local[k], remote[k], k)
	}
	code, out, errOut := spu(t, "serve", "--status", addr, "--json")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, `"leases_granted": 1`)
}

func TestServeTLSToken(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := spu(t, "serve", "--gen-certs", dir, "--hosts", "127.0.0.1")
	require.Equal(t, 0, code, errOut)
	f := func(n string) string { return filepath.Join(dir, n) }
	addr := freePort(t)
	startServe(t, addr, "--board", "sim:proto8?seed=2", "--tls-cert", f("server.pem"), "--tls-key", f("server-key.pem"),
		"--token-file", f("token"))
	code, _, errOut = spu(t, "info", "--board", "grpc://"+addr+"?ca="+f("ca.pem"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "not authenticated")
	code, out, errOut := spu(t, "info", "--board", "grpc://"+addr+"?ca="+f("ca.pem")+"&token_file="+f("token"))
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "sim/proto8")
}

// A 100-iteration dual-mapping TNGD run through spu serve gives the local
// run's numbers (the bit-identical training check). The run may
// stop early, identically: on proto40's 10-bit couplings the dual mapping
// reaches a matrix that is unstable after quantisation on many board seeds
// (seeds 2–14 on 2026-12-06: 6 of 13 finished 100 iterations before issue
// 14's part models, 2 of 13 after; seed 2 now stops at iteration 87) —
// a training problem, not the server's; the numbers of the iterations run
// must still agree.
func TestServeTrainDualBitIdentical(t *testing.T) {
	board := "sim:" + filepath.Join("..", "..", "scripts", "testdata", "proto40.json") + "?seed=2"
	addr := freePort(t)
	startServe(t, addr, "--board", board, "--insecure")
	train := func(b string) (int, map[string]any) {
		code, out, errOut := spu(t, "train", "--board", b, "--batch", "4", "--mapping", "dual", "--iterations", "100",
			"--eval-every", "50", "--test-size", "500", "--json", "--quiet")
		require.Contains(t, []int{0, 1}, code, errOut)
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &v), errOut)
		return code, v
	}
	remoteCode, remote := train("grpc://" + addr)
	localCode, local := train(board)
	assert.Equal(t, localCode, remoteCode, "exit code")
	assert.Positive(t, local["iterations"], "iterations run")
	assert.Equal(t, "dual", remote["mapping"])
	for _, k := range []string{"test_accuracy", "test_loss", "board_time_s", "iterations", "rescales"} {
		assert.Equal(t, local[k], remote[k], k)
	}
}

// TestBadInputServe has one case per row of docs/errors.md's "Board
// servers" table, in the same order.
func TestBadInputServe(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := spu(t, "serve", "--gen-certs", dir, "--hosts", "127.0.0.1")
	require.Equal(t, 0, code, errOut)
	f := func(n string) string { return filepath.Join(dir, n) }
	short := filepath.Join(dir, "short")
	require.NoError(t, os.WriteFile(short, []byte("short\n"), 0o600))
	tokAddr, openAddr := freePort(t), freePort(t)
	startServe(t, tokAddr, "--board", "sim:proto8", "--tls-cert", f("server.pem"), "--tls-key", f("server-key.pem"),
		"--token-file", f("token"))
	startServe(t, openAddr, "--board", "sim:proto8", "--insecure")
	held, err := remote.Dial(t.Context(), openAddr, remote.Options{Plaintext: true, Client: "alice"})
	require.NoError(t, err)
	defer held.Close()
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no TLS off loopback", []string{"serve", "--listen", "0.0.0.0:7700", "--insecure"},
			exitUsage, []string{"serving without TLS is allowed only on a loopback address", "invalid argument"}},
		{"TLS without a certificate", []string{"serve", "--listen", "127.0.0.1:7700"},
			exitUsage, []string{"TLS needs --tls-cert and --tls-key", "invalid argument"}},
		{"TLS without client authentication", []string{"serve", "--board", "nosuch:", "--listen", "127.0.0.1:7700", "--tls-cert", f("server.pem"), "--tls-key", f("server-key.pem")},
			exitUsage, []string{"TLS with no client authentication: give --token-file and/or --client-ca", "invalid argument"}},
		{"token too short", []string{"serve", "--listen", "127.0.0.1:7700", "--insecure", "--token-file", short},
			exitUsage, []string{"the token has 5 characters, want at least 16", "invalid argument"}},
		{"no samples per call", []string{"serve", "--listen", "127.0.0.1:7700", "--insecure", "--max-sample-values", "0"},
			exitUsage, []string{"--max-sample-values 0: want at least 1", "invalid argument"}},
		{"plaintext to another machine", []string{"info", "--board", "grpc://pi.lab:7700?tls=0"},
			exitError, []string{"plaintext to pi.lab refused: only a loopback address", "invalid argument"}},
		{"no board server there", []string{"info", "--board", "grpc://127.0.0.1:1"},
			exitError, []string{"board server unreachable", "board disconnected"}},
		{"missing or wrong token", []string{"info", "--board", "grpc://" + tokAddr + "?ca=" + f("ca.pem")},
			exitError, []string{"missing or wrong bearer token", "not authenticated by the board server"}},
		{"board busy", []string{"info", "--board", "grpc://" + openAddr + "?wait=0"},
			exitError, []string{"the board is held by", "(alice)", "board busy"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := spu(t, c.args...)
			assert.Equal(t, c.code, code, errOut)
			for _, w := range c.want {
				assert.Contains(t, errOut, w)
			}
		})
	}
}
