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
		`  trading/risk child_failed err=exposure 1.4M over the 1M limit: position out of date
  trading/order-book child_stopped
  trading/market-data child_stopped
  trading/market-data child_restarted restarts=1
  trading/order-book child_restarted restarts=1
  trading/risk child_restarted restarts=1
`,
		`  trading/market-data child_failed restarts=1 err=feed gap: sequence 1041 followed by 1043
  trading/risk child_stopped restarts=1
  trading/order-book child_stopped restarts=1
  trading/market-data child_restarted restarts=2
  trading/order-book child_restarted restarts=2
  trading/risk child_restarted restarts=2
`,
		// WhichChildren: all three restarted together, twice.
		`  market-data  running  restarts=2
  order-book   running  restarts=2
  risk         running  restarts=2
`,
		"  trading supervisor_stopped\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks\n%s", want)
		}
	}
	if n := strings.Count(out, "child_failed"); n != len(faults) {
		t.Errorf("%d failures, want %d", n, len(faults))
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
