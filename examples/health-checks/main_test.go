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
		"  health-checks/db-client health_changed health=degraded: ping took 80ms\n\n",
		// Unhealthy counts; at the threshold the client is restarted.
		`  health-checks/db-client health_changed health=unhealthy: ping: connection reset by peer
  health-checks/db-client health_restart health=unhealthy: ping: connection reset by peer err=unhealthy: 3 consecutive unhealthy checks, last: ping: connection reset by peer
  health-checks/db-client child_stopped
  health-checks/db-client child_restarted restarts=1
`,
		"with connection #2:\n  db-client  running  restarts=1  health=healthy\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks\n%s", want)
		}
	}
	if n := strings.Count(out, "health_restart"); n != 1 {
		t.Errorf("%d health restarts, want 1", n)
	}
	if strings.Contains(out, "child_failed") {
		t.Error("db-client failed on its own; only its health checks should restart it")
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
