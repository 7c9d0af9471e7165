package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

func TestServeRefusesInsecureOffLoopback(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:7700", ":7700", "192.0.2.1:7700"} {
		code, _, errOut := spu(t, "serve", "--board", "sim:proto8", "--listen", listen, "--insecure")
		assert.Equal(t, 2, code, listen)
		assert.Contains(t, errOut, "only on a loopback address", listen)
	}
	code, _, errOut := spu(t, "serve", "--board", "sim:proto8", "--listen", "127.0.0.1:0")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "TLS needs --tls-cert and --tls-key")
}

// A 100-iteration dual-mapping TNGD run through spu serve gives the local
// run's numbers (the bit-identical training check).
func TestServeTrainDualBitIdentical(t *testing.T) {
	board := "sim:" + filepath.Join("..", "..", "scripts", "testdata", "proto40.json") + "?seed=2"
	addr := freePort(t)
	startServe(t, addr, "--board", board, "--insecure")
	train := func(b string) map[string]any {
		code, out, errOut := spu(t, "train", "--board", b, "--batch", "4", "--mapping", "dual", "--iterations", "100",
			"--eval-every", "50", "--test-size", "500", "--json", "--quiet")
		require.Equal(t, 0, code, errOut)
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &v))
		return v
	}
	remote, local := train("grpc://"+addr), train(board)
	assert.Equal(t, "dual", remote["mapping"])
	for _, k := range []string{"test_accuracy", "test_loss", "board_time_s", "iterations", "rescales"} {
		assert.Equal(t, local[k], remote[k], k)
	}
}
