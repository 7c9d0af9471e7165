package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/credentials"

	"github.com/spukit/spukit/calibration"
	"github.com/spukit/spukit/hal"
	"github.com/spukit/spukit/remote"
	"github.com/spukit/spukit/remote/server"
)

const serveHelp = `Serves one board to the network (docs/server.md): clients open it as
--board grpc://HOST:PORT, one at a time under a lease, the others waiting
in a FIFO queue. Between leases the board is opened again (A = I, b = 0).

TLS is on unless --insecure, which only a loopback --listen address may
use. Clients authenticate with a bearer token (--token-file) and/or a
client certificate signed by --client-ca (mutual TLS). --gen-certs DIR
makes a private CA, a server and a client certificate and a token in DIR
for a lab without a PKI, and exits.

spu serve --status ADDR [--json] shows who holds the board and who waits
(with --ca, --token-file, --cert/--key as a client would need them).
Requests are logged to stderr; --metrics ADDR serves Prometheus metrics.
`

// serveFlags are spu serve's options.
type serveFlags struct {
	*flags
	listen, tokenFile, cert, key, clientCA, genCerts, hosts, metrics string
	calibration                                                      string
	status, ca, clientCert, clientKey                                string
	insecure                                                         bool
	leaseTTL                                                         time.Duration
	maxSampleValues                                                  int
}

func newServeFlags() *serveFlags {
	f := &serveFlags{flags: newFlags("serve",
		"spu serve --board URI --listen ADDR [--insecure] [--token-file F] [--tls-cert F --tls-key F] [--client-ca F] [--metrics ADDR] | --gen-certs DIR | --status ADDR [--json]",
		serveHelp)}
	f.StringVar(&f.listen, "listen", "127.0.0.1:7700", "`ADDR` to serve on, HOST:PORT")
	f.BoolVar(&f.insecure, "insecure", false, "serve without TLS (a loopback --listen address only)")
	f.StringVar(&f.tokenFile, "token-file", "", "`FILE` holding the bearer token clients must present")
	f.StringVar(&f.cert, "tls-cert", "", "server certificate `FILE` (PEM)")
	f.StringVar(&f.key, "tls-key", "", "server key `FILE` (PEM)")
	f.StringVar(&f.clientCA, "client-ca", "", "require client certificates signed by this CA `FILE` (mutual TLS)")
	f.StringVar(&f.genCerts, "gen-certs", "", "write a CA, server and client certificates and a token into `DIR`, then exit")
	f.StringVar(&f.hosts, "hosts", "", "with --gen-certs: comma-separated names and IPs of the server (default: this host's name, localhost, 127.0.0.1, ::1)")
	f.StringVar(&f.calibration, "calibration", "", "serve the board through the calibration in `FILE` (or \"cache\")")
	f.StringVar(&f.metrics, "metrics", "", "serve Prometheus metrics on `ADDR` (/metrics)")
	f.DurationVar(&f.leaseTTL, "lease-ttl", server.DefaultLeaseTTL, "a lease not renewed for this long ends and the board is reset")
	f.IntVar(&f.maxSampleValues, "max-sample-values", server.DefaultMaxSampleValues,
		"`N` values (samples × cells) at most per Sample call: the server holds one call's samples, 8 bytes each")
	f.StringVar(&f.status, "status", "", "show the server at `ADDR`'s holder and queue, then exit")
	f.StringVar(&f.ca, "ca", "", "with --status: the server's CA `FILE`")
	f.StringVar(&f.clientCert, "cert", "", "with --status: client certificate `FILE`")
	f.StringVar(&f.clientKey, "key", "", "with --status: client key `FILE`")
	return f
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newServeFlags()
	if err := f.parse(args, stdout); err != nil {
		return err
	}
	switch {
	case f.genCerts != "":
		return genCerts(f, stdout)
	case f.status != "":
		return serveStatus(ctx, f, stdout)
	}
	creds, auth, err := f.security()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if f.maxSampleValues < 1 {
		return usagef("--max-sample-values %d: want at least 1 (default %d)", f.maxSampleValues, server.DefaultMaxSampleValues)
	}
	o := server.Options{URI: f.board, LeaseTTL: f.leaseTTL, MaxSampleValues: f.maxSampleValues, Logger: log,
		Metrics: server.NewMetrics(reg), Name: serverName()}
	if f.calibration != "" {
		if err := f.calibrated(ctx, &o, stderr); err != nil {
			return err
		}
	}
	s, err := server.New(ctx, o)
	if err != nil {
		return err
	}
	defer s.Close()
	lis, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if f.metrics != "" {
		stop, err := serveMetrics(f.metrics, reg)
		if err != nil {
			return err
		}
		defer stop()
	}
	g := s.NewGRPC(auth, creds)
	in := s.BoardInfo()
	log.Info("serving", "board", f.board, "model", in.Model, "cells", in.Cells, "listen", lis.Addr().String(),
		"tls", creds != nil, "token", auth.Token != "", "mtls", f.clientCA != "", "lease_ttl", f.leaseTTL)
	done := make(chan error, 1)
	go func() { done <- g.Serve(lis) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	// Finish the requests under way for a moment, then cut the rest.
	t := time.AfterFunc(2*time.Second, g.Stop)
	g.GracefulStop()
	t.Stop()
	return nil
}

// security checks the listen address against the TLS options and loads
// the credentials: TLS is required except with --insecure on loopback.
func (f *serveFlags) security() (credentials.TransportCredentials, server.Auth, error) {
	var a server.Auth
	if f.tokenFile != "" {
		raw, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return nil, a, fmt.Errorf("token file: %w", err)
		}
		if a.Token = strings.TrimSpace(string(raw)); len(a.Token) < 16 {
			return nil, a, usagef("token file %s: the token has %d characters, want at least 16 (spu serve --gen-certs DIR makes one)", f.tokenFile, len(a.Token))
		}
	}
	host, _, err := net.SplitHostPort(f.listen)
	if err != nil {
		return nil, a, usagef("--listen %q: %v (want HOST:PORT)", f.listen, err)
	}
	if f.insecure {
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, a, usagef("--insecure with --listen %s: serving without TLS is allowed only on a loopback address (127.0.0.1, ::1, localhost); give --tls-cert and --tls-key (spu serve --gen-certs DIR makes them)", f.listen)
		}
		if f.clientCA != "" || f.cert != "" {
			return nil, a, usagef("--insecure with TLS options: choose one")
		}
		return nil, a, nil
	}
	if f.cert == "" || f.key == "" {
		return nil, a, usagef("TLS needs --tls-cert and --tls-key (spu serve --gen-certs DIR makes them), or --insecure on a loopback address")
	}
	// TLS alone only proves the server to its clients: a server on the
	// network must also authenticate them (issue 15, "security by default").
	if a.Token == "" && f.clientCA == "" {
		return nil, a, usagef("TLS with no client authentication: give --token-file and/or --client-ca (spu serve --gen-certs DIR makes a token and a CA); only --insecure on a loopback address may serve unauthenticated clients")
	}
	cfg, err := server.TLSConfig(f.cert, f.key, f.clientCA)
	if err != nil {
		return nil, a, err
	}
	return credentials.NewTLS(cfg), a, nil
}

// calibrated makes o serve the board through --calibration: the file is
// loaded (and checked against the board) once, and every reopening of the
// board between leases is wrapped with it.
func (f *serveFlags) calibrated(ctx context.Context, o *server.Options, stderr io.Writer) error {
	b, err := hal.Open(ctx, f.board)
	if err != nil {
		return err
	}
	cal, _, err := loadCalibration(f.calibration, "", b, stderr, "serve")
	b.Close()
	if err != nil {
		return fmt.Errorf("--calibration: %w", err)
	}
	var buf bytes.Buffer
	if err := cal.Encode(&buf); err != nil {
		return err
	}
	o.Calibration = buf.Bytes()
	o.Open = func(ctx context.Context) (hal.Board, error) {
		b, err := hal.Open(ctx, f.board)
		if err != nil {
			return nil, err
		}
		wb, err := calibration.Wrap(b, cal, nil)
		if err != nil {
			b.Close()
			return nil, err
		}
		return wb, nil
	}
	return nil
}

// serveMetrics serves reg on addr's /metrics until stop is called.
func serveMetrics(addr string, reg *prometheus.Registry) (stop func(), err error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(lis) }()
	return func() { hs.Close() }, nil
}

// genCerts writes a lab's certificates and token.
func genCerts(f *serveFlags, stdout io.Writer) error {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil {
		hosts = append(hosts, h)
	}
	if f.hosts != "" {
		hosts = strings.Split(f.hosts, ",")
	}
	if err := server.GenCerts(f.genCerts, hosts, "spu-client", 5*365*24*time.Hour); err != nil {
		return fmt.Errorf("gen-certs: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s/{%s,%s,%s,%s,%s,%s} for hosts %s\n", f.genCerts, server.CAFile, server.ServerCertFile,
		server.ServerKeyFile, server.ClientCertFile, server.ClientKeyFile, server.TokenFile, strings.Join(hosts, ", "))
	return nil
}

// serveStatus prints a server's holder and queue.
func serveStatus(ctx context.Context, f *serveFlags, stdout io.Writer) error {
	o := remote.Options{CAFile: f.ca, CertFile: f.clientCert, KeyFile: f.clientKey, TokenFile: f.tokenFile}
	host, _, _ := net.SplitHostPort(f.status)
	if ip := net.ParseIP(host); f.ca == "" && f.clientCert == "" && (host == "localhost" || ip != nil && ip.IsLoopback()) {
		o.Plaintext = true
	}
	st, err := remote.GetStatus(ctx, f.status, o)
	if err != nil {
		return err
	}
	if f.json {
		return writeJSON(stdout, st)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "board\t%s (%s, %d cells)\n", st.Board, st.Model, st.Cells)
	if st.Holder == "" {
		fmt.Fprintf(tw, "holder\tnone (free)\n")
	} else {
		fmt.Fprintf(tw, "holder\t%s for %.1f s (lease ends in %.1f s unless renewed)\n", st.Holder, st.HeldS, st.ExpiresInS)
	}
	for i, w := range st.Queue {
		fmt.Fprintf(tw, "queue %d\t%s, waiting %.1f s\n", i+1, w.Client, w.WaitingS)
	}
	fmt.Fprintf(tw, "leases\t%d granted, %d expired\n", st.Granted, st.Expired)
	return tw.Flush()
}

// serverName names this program in the server's Version replies.
func serverName() string {
	bi, _ := debug.ReadBuildInfo()
	return "spu " + buildVersion(bi).Version
}
