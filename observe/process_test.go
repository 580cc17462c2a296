package observe

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/airssys/rt/process"
	"github.com/airssys/rt/supervisor"
)

// Process children here are real OS processes (package process), run by
// /bin/sh: observe knows them only through what the supervisor reports.

// shSpec is a process child that runs script with sh -c; its output is
// kept (for the detail) and not logged.
func shSpec(t testing.TB, name, script string, opts ...process.Option) supervisor.Spec {
	t.Helper()
	opts = append([]process.Option{process.WithOutput(slog.New(slog.DiscardHandler))}, opts...)
	spec, err := process.NewSpec(name, process.Command{Path: "/bin/sh", Args: []string{"-c", script}}, opts...)
	must(t, err)
	return spec
}

// TestRegressionProcessChildrenAreProcesses: OS process children were
// reported as workers (kind "worker", counted in Totals.Workers and in
// airssys_supervisor_children{kind="worker"}), running or not, although
// their spec says "process".
func TestRegressionProcessChildrenAreProcesses(t *testing.T) {
	root := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent, quiet)
	must(t, root.StartChild(shSpec(t, "server", "exec sleep 3600")))
	must(t, root.StartChild(shSpec(t, "batch", "exec sleep 3600")))
	must(t, root.Child("plain").SpawnFunc(idle))
	must(t, root.Start(context.Background()))
	t.Cleanup(func() { _ = root.Stop() })
	// Between incarnations there is no instance: the spec alone says what
	// the child is.
	must(t, root.TerminateChild("batch"))

	snap := TakeSnapshot(root)
	kinds := map[string]Kind{}
	for _, c := range snap.Root.Children {
		kinds[c.Name+" "+c.State] = c.Kind
	}
	if kinds["server running"] != KindProcess || kinds["batch stopped"] != KindProcess || kinds["plain running"] != KindWorker {
		t.Errorf("kinds %v; want the two processes as %q, plain as %q", kinds, KindProcess, KindWorker)
	}
	if tot := snap.Totals; tot.Processes != 2 || tot.Workers != 1 {
		t.Errorf("totals %+v; want 2 processes and 1 worker", tot)
	}

	o, _ := newObserver(t, root)
	children := func(kind, state string) float64 {
		return testutil.ToFloat64(onlySeries(t, o.Collector(), "airssys_supervisor_children",
			`supervisor="root"`, `kind="`+kind+`"`, `state="`+state+`"`))
	}
	if run, stop, w := children("process", "running"), children("process", "stopped"), children("worker", "running"); run != 1 || stop != 1 || w != 1 {
		t.Errorf("metrics: %v running and %v stopped processes, %v running workers; want 1, 1, 1", run, stop, w)
	}
	if w := children("worker", "stopped"); w != 0 {
		t.Errorf("metrics: %v stopped workers, want 0", w)
	}
}

// TestRegressionChildOutputBetweenIncarnations: /api/child gave a
// process child's last output lines only while an incarnation ran, so a
// crash-looping child, which mostly waits for its restart, showed none:
// the very case where its user needs them.
func TestRegressionChildOutputBetweenIncarnations(t *testing.T) {
	// The backoff keeps the child waiting for its restart while the test
	// looks: between incarnations, with no instance.
	root := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent, quiet,
		supervisor.WithBackoff(supervisor.Backoff{Initial: time.Hour}))
	must(t, root.StartChild(shSpec(t, "flaky", `echo "config line 3: <b>bad</b> value"; echo "giving up" >&2; echo exiting; exit 3`)))
	scheduled := waitEvent(t, root, isKind(supervisor.EventChildRestartScheduled, "flaky"))
	_, srv := newObserver(t, root)
	must(t, root.Start(context.Background()))
	t.Cleanup(func() { _ = root.Stop() })
	scheduled()

	status, _, doc := call(t, "GET", srv.URL+"/api/child?path=root/flaky", "", "")
	if status != http.StatusOK || doc["kind"] != string(KindProcess) || doc["state"] != "restarting" ||
		!strings.Contains(fmt.Sprint(doc["last_error"]), "3") {
		t.Fatalf("root/flaky: %d %v", status, doc)
	}
	var out []string
	lines, _ := doc["output"].([]any)
	for _, l := range lines {
		out = append(out, l.(string))
	}
	// Two pipes: the order of lines across them is the reader's, not the
	// writer's; within one it is the writer's.
	var stdout, stderr []string
	for _, l := range out {
		_, text, _ := strings.Cut(l, " ")
		if s, ok := strings.CutPrefix(text, "stdout "); ok {
			stdout = append(stdout, s)
		} else if s, ok := strings.CutPrefix(text, "stderr "); ok {
			stderr = append(stderr, s)
		}
	}
	if !slices.Equal(stdout, []string{"config line 3: <b>bad</b> value", "exiting"}) ||
		!slices.Equal(stderr, []string{"giving up"}) || len(out) != 3 {
		t.Errorf("output of the crashed child, oldest first: %q", out)
	}
}
