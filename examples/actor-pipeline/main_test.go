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
	if err := run(ctx, &buf); err != nil {
		t.Fatalf("run: %v\n%s", err, buf.String())
	}
	out := buf.String()
	for _, want := range []string{
		// The crash, with the lines behind it still queued, then
		// RestForOne: the stages after parse stop newest first, and all
		// three start again in order. audit is not touched.
		`  parse: crashed on "7,tea", with 5 lines queued behind it for the next parse
  pipeline        parse failed: panic: runtime error: index out of range [2] with length 2
  pipeline        stopped store, enrich
  pipeline        restarted parse, enrich, store

Dead letters (subscribed on the System):
  to parse: "7,tea" (panic: runtime error: index out of range [2] with length 2)

`,
		// Nothing else was lost, and the order held.
		"Stored orders, in order: [1 2 3 4 5 6 8 9 10 11 12]; 11 of 12 lines, revenue 72.50.",
		"audit heard: 12 lines, 11 orders, 11 priced.",
		`  lines   published=12  delivered=24  dropped=0
  orders  published=11  delivered=22  dropped=0
  priced  published=11  delivered=22  dropped=0
`,
		`  audit   running  restarts=0
  parse   running  restarts=1
  enrich  running  restarts=1
  store   running  restarts=1
`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks\n%s", want)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "  pipeline ") && strings.Contains(line, "audit") {
			t.Errorf("audit, started before parse, was touched by the restart: %q", line)
		}
	}
	if strings.Contains(out, "child_") || strings.Contains(out, "err=") {
		t.Error("the output has raw events, not plain words")
	}
	if !strings.HasSuffix(out, "Shutting down.\n") {
		t.Error("something was printed after the shutdown began")
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
