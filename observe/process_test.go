package observe

import (
	"context"
	"log/slog"
	"testing"

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
