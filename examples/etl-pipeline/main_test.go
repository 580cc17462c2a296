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
	running, stopping, ok := strings.Cut(out, "Stopping:")
	if !ok {
		t.Fatalf("no shutdown in:\n%s", out)
	}

	for _, want := range []string{
		// RestForOne: transform's failure stops and restarts load, the child
		// after it, and nothing before it.
		`
  etl-pipeline    transform failed: row 5 "erin,4x": strconv.Atoi: parsing "4x": invalid syntax
  etl-pipeline    stopped load
  etl-pipeline    restarted transform, load
`,
		// load is the last child: it restarts alone.
		`
  etl-pipeline    load failed: insert row 9: amount -3 violates check constraint "amount >= 0"
  etl-pipeline    restarted load
`,
		"Loaded rows [1 2 3 4 6 7 8 10 11 12]; lost [5 9]",
		`
  extract    running  restarts=0
  transform  running  restarts=1
  load       running  restarts=2
`,
	} {
		if !strings.Contains(running, want) {
			t.Errorf("output lacks\n%s", want)
		}
	}
	// extract was never touched while the pipeline ran.
	touched := 0
	for _, line := range strings.Split(running, "\n") {
		if strings.HasPrefix(line, "  etl-pipeline ") && strings.Contains(line, "extract") {
			touched++
		}
	}
	if touched != 1 {
		t.Errorf("extract has events other than its first start")
	}
	if !strings.Contains(stopping, "  etl-pipeline    stopped load, transform, extract\n") {
		t.Errorf("the stages were not stopped newest first at the end")
	}
	if strings.Contains(out, "child_") || strings.Contains(out, "err=") {
		t.Error("the output has raw events, not plain words")
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
