package observe

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/airssys/rt/supervisor"
)

// keys returns the sorted keys of a JSON object.
func keys(t *testing.T, v any) []string {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%v is not a JSON object", v)
	}
	return slices.Sorted(maps.Keys(m))
}

func expectKeys(t *testing.T, what string, v any, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := keys(t, v); !slices.Equal(got, want) {
		t.Errorf("%s keys:\n got  %q\n want %q", what, got, want)
	}
}

// TestSnapshotJSON pins the JSON shape of a snapshot: the names are part of
// the HTTP API.
func TestSnapshotJSON(t *testing.T) {
	tt := startTree(t)
	data, err := json.Marshal(TakeSnapshot(tt.root))
	must(t, err)
	var doc map[string]any
	must(t, json.Unmarshal(data, &doc))

	expectKeys(t, "snapshot", doc, "taken_at", "totals", "root")
	expectKeys(t, "totals", doc["totals"], "supervisors", "workers", "actors", "processes", "running", "restarts", "unhealthy")
	root := doc["root"].(map[string]any)
	supKeys := []string{"name", "path", "strategy", "running", "started_at", "max_restarts",
		"period_seconds", "restarts_in_window", "children"}
	expectKeys(t, "root", root, supKeys...)
	if root["strategy"] != "OneForOne" || root["running"] != true || root["max_restarts"] != 1000.0 || root["period_seconds"] != 60.0 {
		t.Errorf("root = %v", root)
	}
	children := root["children"].([]any)
	if len(children) != 3 {
		t.Fatalf("root has %d children, want 3", len(children))
	}
	childKeys := []string{"name", "path", "kind", "state", "restarts", "health", "uptime_seconds",
		"restart_policy", "shutdown_policy", "actions"}
	api := children[0].(map[string]any)
	expectKeys(t, "sub-supervisor child", api, append(childKeys, "supervisor")...)
	if api["kind"] != "supervisor" || api["path"] != "root/api" || api["state"] != "running" {
		t.Errorf("api = %v", api)
	}
	expectKeys(t, "sub-supervisor", api["supervisor"], supKeys...)
	expectKeys(t, "health", api["health"], "state")

	actors := children[1].(map[string]any)["supervisor"].(map[string]any)["children"].([]any)
	counter := actors[0].(map[string]any)
	expectKeys(t, "actor", counter, append(childKeys, "actor")...)
	if counter["kind"] != "actor" || counter["path"] != "root/actors/counter" {
		t.Errorf("counter = %v", counter)
	}
	expectKeys(t, "actor stats", counter["actor"], "mailbox_depth", "processed", "dead_letters")
	if a := counter["actor"].(map[string]any); a["mailbox_depth"] != 3.0 || a["processed"] != 42.0 || a["dead_letters"] != 1.0 {
		t.Errorf("actor stats = %v", a)
	}

	db := children[2].(map[string]any)
	expectKeys(t, "worker", db, childKeys...)
	if db["kind"] != "worker" || db["restart_policy"] != "Permanent" || db["shutdown_policy"] != "Graceful(5s)" {
		t.Errorf("db = %v", db)
	}
}

func TestSnapshotTotalsAndErrors(t *testing.T) {
	tt := startTree(t)
	restarted := waitEvent(t, tt.root, isKind(supervisor.EventChildRestarted, "db"))
	tt.dbFail <- errBoom
	restarted()

	s := TakeSnapshot(tt.root)
	want := Totals{Supervisors: 3, Workers: 4, Actors: 2, Running: 8, Restarts: 1}
	if s.Totals != want {
		t.Errorf("totals = %+v, want %+v", s.Totals, want)
	}
	db := s.Root.Children[2]
	if db.Restarts != 1 || db.LastError != "boom" || db.State != "running" {
		t.Errorf("db = %+v", db)
	}
	if db.UptimeSeconds < 0 {
		t.Errorf("uptime %v", db.UptimeSeconds)
	}
}

func TestSnapshotFilterAndLimit(t *testing.T) {
	tt := startTree(t)

	s := TakeSnapshotWith(tt.root, SnapshotOptions{Filter: "HANDLER-1"})
	if len(s.Root.Children) != 1 || s.Root.ChildrenOmitted != 2 {
		t.Fatalf("root children %d omitted %d, want the api supervisor only", len(s.Root.Children), s.Root.ChildrenOmitted)
	}
	api := s.Root.Children[0].Supervisor
	if len(api.Children) != 1 || api.Children[0].Name != "handler-1" || api.ChildrenOmitted != 2 {
		t.Errorf("api children = %+v (omitted %d)", api.Children, api.ChildrenOmitted)
	}
	if s.Totals.Workers != 4 {
		t.Errorf("totals must count what the filter hides: %+v", s.Totals)
	}

	// A supervisor that matches keeps its whole subtree.
	s = TakeSnapshotWith(tt.root, SnapshotOptions{Filter: "actors"})
	if len(s.Root.Children) != 1 || len(s.Root.Children[0].Supervisor.Children) != 2 {
		t.Errorf("filter on a supervisor's name: %+v", s.Root.Children)
	}

	s = TakeSnapshotWith(tt.root, SnapshotOptions{Filter: "nothing-has-this-name"})
	if len(s.Root.Children) != 0 || s.Root.ChildrenOmitted != 3 {
		t.Errorf("no match: %+v", s.Root)
	}

	s = TakeSnapshotWith(tt.root, SnapshotOptions{MaxChildren: 2})
	if len(s.Root.Children) != 2 || s.Root.ChildrenOmitted != 1 {
		t.Errorf("limit 2: %d children, %d omitted", len(s.Root.Children), s.Root.ChildrenOmitted)
	}
	if api := s.Root.Children[0].Supervisor; len(api.Children) != 2 || api.ChildrenOmitted != 1 {
		t.Errorf("limit applies per supervisor: %+v", api)
	}
}

func TestSnapshotStoppedAndNil(t *testing.T) {
	s := TakeSnapshot(nil)
	if s.Root.Children == nil {
		t.Error("nil root: children must be [] in JSON, not null")
	}

	root := supervisor.New("idle", supervisor.OneForAll, supervisor.Permanent, quiet)
	must(t, root.SpawnChild("w", supervisor.ChildFunc(idle().Serve)))
	s = TakeSnapshot(root)
	if s.Root.Running || len(s.Root.Children) != 1 || s.Root.Children[0].State != "stopped" {
		t.Errorf("not started: %+v", s.Root)
	}
	data, err := json.Marshal(s)
	must(t, err)
	if !strings.Contains(string(data), `"strategy":"OneForAll"`) {
		t.Errorf("JSON: %s", data)
	}
}

// TestRegressionSnapshotShowsAPanicOfErrShutdown: a panic with
// supervisor.ErrShutdown is a crash (the supervisor restarts a Transient
// child after it), but the snapshot hid its error as a normal end's,
// because errors.Is finds the value through the PanicError.
func TestRegressionSnapshotShowsAPanicOfErrShutdown(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{supervisor.ErrShutdown, ""},
		{fmt.Errorf("done: %w", supervisor.ErrShutdown), ""},
		{&supervisor.PanicError{Value: supervisor.ErrShutdown}, "panic: shutdown"},
		{fmt.Errorf("relayed: %w", &supervisor.PanicError{Value: supervisor.ErrShutdown}), "relayed: panic: shutdown"},
	} {
		if got := errString(c.err); got != c.want {
			t.Errorf("errString(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
