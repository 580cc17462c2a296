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
	// The deadline only ends a run that is stuck; a healthy one takes
	// milliseconds.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var buf bytes.Buffer
	if err := run(ctx, &buf, 0); err != nil {
		t.Fatalf("run: %v\n%s", err, buf.String())
	}
	out := buf.String()

	// OneForAll: after each failure, the other two stop newest first, then
	// all three start again in order. Nothing else happens in between.
	for _, want := range []string{
		`
risk fails. OneForAll stops the others, newest first, then starts all three in order.
  trading         risk failed: exposure 1.4M over the 1M limit: position out of date
  trading         stopped order-book, market-data
  trading         restarted market-data, order-book, risk

market-data fails.`,
		`
market-data fails. The same again: no service keeps state built on the old feed.
  trading         market-data failed: feed gap: sequence 1041 followed by 1043
  trading         stopped risk, order-book
  trading         restarted market-data, order-book, risk

Restarts per service`,
		// WhichChildren: all three restarted together, twice.
		`
  market-data  running  restarts=2
  order-book   running  restarts=2
  risk         running  restarts=2
`,
		"  trading         stopped risk, order-book, market-data\n  trading         stopped\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks\n%s", want)
		}
	}
	if n := strings.Count(out, " failed: "); n != len(faults) {
		t.Errorf("%d failures, want %d", n, len(faults))
	}
	// Plain words only: no event in its key=value form.
	if strings.Contains(out, "child_") || strings.Contains(out, "err=") {
		t.Error("the output has raw events")
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
