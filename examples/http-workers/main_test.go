package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
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
	const workers = 4
	if err := run(ctx, &buf, workers, 0); err != nil {
		t.Fatalf("run: %v\n%s", err, buf.String())
	}
	out := buf.String()
	defer func() {
		if t.Failed() {
			t.Logf("output:\n%s", out)
		}
	}()
	running, _, ok := strings.Cut(out, "Stopping:")
	if !ok {
		t.Fatal("no shutdown in the output")
	}

	// Which worker takes a malformed request is up to the scheduler, but
	// OneForOne makes every failure the failed worker's restart, at once,
	// and touches no other worker.
	lines := strings.Split(running, "\n")
	failed := regexp.MustCompile(`^  http-workers +(worker-\d) failed: panic: GET /items/%`)
	failures := 0
	for i, line := range lines {
		m := failed.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		failures++
		if i+1 == len(lines) || !regexp.MustCompile(`^  http-workers +restarted `+m[1]+`$`).MatchString(lines[i+1]) {
			t.Errorf("%q is not followed by the restart of %s", line, m[1])
		}
	}
	if failures != 3 {
		t.Errorf("%d failures, want 3", failures)
	}
	if strings.Contains(running, " stopped ") {
		t.Error("a worker was stopped while the pool ran: OneForOne stops no sibling")
	}
	if strings.Contains(out, "child_") || strings.Contains(out, "err=") {
		t.Error("the output has raw events, not plain words")
	}
	if !strings.Contains(running, "Served 9 requests; 3 malformed") {
		t.Error("not every good request was served")
	}

	// WhichChildren counts the same restarts.
	row := regexp.MustCompile(`(?m)^  worker-\d +running +restarts=(\d+)$`)
	rows := row.FindAllStringSubmatch(running, -1)
	if len(rows) != workers {
		t.Fatalf("%d workers running in the table, want %d", len(rows), workers)
	}
	total := 0
	for _, r := range rows {
		n, _ := strconv.Atoi(r[1])
		total += n
	}
	if total != 3 {
		t.Errorf("WhichChildren counts %d restarts, want 3", total)
	}
}
