package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	// The deadline only ends a run that is stuck; a healthy one takes a
	// fraction of a second.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var buf bytes.Buffer
	if err := run(ctx, &buf, 0); err != nil {
		t.Fatalf("run: %v\n%s", err, buf.String())
	}
	out := buf.String()

	for _, want := range []string{
		// Degraded is reported and nothing else happens.
		"  health-checks   db-client is degraded: ping took 80ms\n\n",
		// Unhealthy counts; at the threshold the client is restarted.
		`
  health-checks   db-client is unhealthy: ping: connection reset by peer
  health-checks   restarting db-client: unhealthy too long (ping: connection reset by peer)
  health-checks   stopped db-client
  health-checks   restarted db-client
  health-checks   db-client is healthy again

From WhichChildren, with connection #2:
  db-client  running  restarts=1
`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks\n%s", want)
		}
	}
	if n := strings.Count(out, "restarting db-client"); n != 1 {
		t.Errorf("%d health restarts, want 1", n)
	}
	if strings.Contains(out, " failed: ") {
		t.Error("db-client failed on its own; only its health checks should restart it")
	}
	if strings.Contains(out, "child_") || strings.Contains(out, "err=") {
		t.Error("the output has raw events, not plain words")
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
