package main

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	// The deadline only ends a run that is stuck; a healthy one takes
	// milliseconds.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var buf bytes.Buffer
	if err := run(ctx, &buf, 0); err != nil {
		t.Fatalf("run: %v\n%s", err, buf.String())
	}
	out := buf.String()

	// Each fault's reaction, as the printer renders it: the strategy decides
	// which siblings appear in the restart line.
	for _, want := range []string{
		"  http-api        handler-1 failed: injected fault\n  http-api        restarted handler-1\n",
		"  business-logic  stopped order-service\n  business-logic  restarted order-service, payment-service\n",
		"  data-layer      stopped repository\n  data-layer      restarted cache, repository\n",
		"  data-layer      db-pool is degraded: slow queries\n",
		"  data-layer      restarting db-pool: unhealthy too long (connection refused)\n",
		"  data-layer      restarted db-pool\n  data-layer      db-pool is healthy again\n  data-layer      restarted cache, repository\n",
		"  http-api        gave up: too many restarts, escalating to its parent\n",
		"  microservice    http-api failed: too many restarts\n",
		"  microservice    restarted http-api\n",
		"  microservice    restarted business-logic\n",
		"  microservice    restarted data-layer\n",
		"Stopped cleanly",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}

	// The final tree: restarts of every child over the whole run.
	_, final, ok := strings.Cut(out, "The tree now")
	if !ok {
		t.Fatalf("no final tree in:\n%s", out)
	}
	for name, restarts := range map[string]string{
		"http-api": "1", "handler-0": "2", "handler-1": "1", "handler-2": "0",
		"business-logic": "1", "order-service": "1", "payment-service": "1",
		"data-layer": "1", "db-pool": "1", "cache": "2", "repository": "2",
	} {
		if !hasRow(final, name, "running", "restarts="+restarts) {
			t.Errorf("final tree lacks %s running with restarts=%s", name, restarts)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

// hasRow reports whether a line of out names child and ends with tail.
func hasRow(out, child string, tail ...string) bool {
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if slices.Contains(f, child) && len(f) >= len(tail) && slices.Equal(f[len(f)-len(tail):], tail) {
			return true
		}
	}
	return false
}
