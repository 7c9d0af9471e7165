package remote

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/spukit/spukit/hal"
)

func init() { hal.Register("grpc", openURI) }

// uriOptions are the options of a grpc: URI (docs/server.md).
var uriOptions = []string{"ca", "cert", "client", "key", "tls", "token_file", "wait"}

// openURI opens "grpc://HOST:PORT?opt=value&…":
//
//	ca=FILE          the server's CA certificate (PEM)
//	cert=F, key=F    the client certificate for mutual TLS
//	token_file=FILE  the bearer token
//	tls=0|1          TLS off (loopback only) or on; default: off to a
//	                 loopback address when no ca/cert/key is given, on otherwise
//	wait=0|1         wait in the queue for a held board (default 1), or
//	                 fail at once with hal.ErrBusy
//	client=NAME      a name for the server's status and logs
func openURI(ctx context.Context, u *url.URL) (hal.Board, error) {
	q, err := hal.CheckQuery("grpc", u, uriOptions...)
	if err != nil {
		return nil, err
	}
	if u.Host == "" || u.Opaque != "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("grpc: %q: want grpc://HOST:PORT[?options]: %w", u.String(), hal.ErrInvalid)
	}
	o := Options{CAFile: q.Get("ca"), CertFile: q.Get("cert"), KeyFile: q.Get("key"),
		TokenFile: q.Get("token_file"), Client: q.Get("client")}
	tlsOn := o.CAFile != "" || o.CertFile != "" || o.KeyFile != "" || !isLoopback(u.Hostname())
	for _, f := range []struct {
		key string
		dst *bool
	}{{"tls", &tlsOn}, {"wait", new(bool)}} {
		v := q.Get(f.key)
		if v == "" {
			continue
		}
		on, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("grpc: option %s=%q: want 0 or 1: %w", f.key, v, hal.ErrInvalid)
		}
		*f.dst = on
		if f.key == "wait" {
			o.NoWait = !on
		}
	}
	o.Plaintext = !tlsOn
	b, err := Dial(ctx, u.Host, o)
	if err != nil {
		return nil, fmt.Errorf("grpc: %w", err)
	}
	return b, nil
}
