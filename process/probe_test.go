//go:build linux

package process_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/airssys/rt/process"
)

func TestTCPProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if err := process.TCPProbe(addr).Check(context.Background()); err != nil {
		t.Fatalf("open port: %v", err)
	}
	ln.Close()
	if err := process.TCPProbe(addr).Check(context.Background()); !errors.Is(err, process.ErrProbe) {
		t.Fatalf("closed port: %v, want ErrProbe", err)
	}
}

func TestHTTPProbe(t *testing.T) {
	f := newFlag(t)
	if err := process.HTTPProbe(f.srv.URL, 200).Check(context.Background()); !errors.Is(err, process.ErrProbe) || !strings.Contains(err.Error(), "status 503") {
		t.Fatalf("503 for 200: %v", err)
	}
	if err := process.HTTPProbe(f.srv.URL, 503).Check(context.Background()); err != nil {
		t.Fatalf("503 for 503: %v", err)
	}
	f.ok.Store(true)
	if err := process.HTTPProbe(f.srv.URL, 0).Check(context.Background()); err != nil {
		t.Fatalf("200 for any 2xx: %v", err)
	}
	if err := process.HTTPProbe("::bad", 200).Check(context.Background()); !errors.Is(err, process.ErrInvalidOption) {
		t.Fatalf("bad url: %v", err)
	}
}

func TestExecProbe(t *testing.T) {
	if err := process.ExecProbe("/bin/sh", "-c", "exit 0").Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := process.ExecProbe("/bin/sh", "-c", "echo not yet; exit 1").Check(context.Background())
	if !errors.Is(err, process.ErrProbe) || !strings.Contains(err.Error(), "not yet") {
		t.Fatalf("failing probe: %v, want ErrProbe quoting its output", err)
	}
}

// A probe that hangs is killed, with whatever it started, when its ctx ends.
func TestExecProbeTimeoutKillsItsGroup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := process.ExecProbe("/bin/sh", "-c", `trap "" TERM; sleep 1000 & wait`).Check(ctx)
	if took := time.Since(start); !errors.Is(err, process.ErrProbe) || took > 2*time.Second {
		t.Fatalf("hung probe: %v after %v", err, took)
	}
}
