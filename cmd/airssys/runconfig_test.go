package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/airssys/rt/supervisor"
)

func TestParseTreeFull(t *testing.T) {
	const doc = `name: web
strategy: rest_for_one
intensity: {max_restarts: 5, period: 10s}
backoff: {initial: 100ms, max: 5s, multiplier: 2, jitter: 0.1, reset_after: 30s}
children:
  - name: api
    command: ["./api", "--port", "8080"]
    env: {PORT: "8080"}
    dir: ./srv
    restart: transient
    shutdown: 10s
    stop_signal: SIGINT
    success_exit_codes: [0, 3]
    ready: {tcp: "127.0.0.1:8080", timeout: 30s}
    health: {http: {url: "http://127.0.0.1:8080/healthz", status: 200}, interval: 5s, timeout: 1s, unhealthy_threshold: 3}
  - name: workers
    strategy: one_for_all
    restart: temporary
    shutdown: brutal_kill
    children:
      - name: w
        command: [sleep, "1"]
        ready: {exec: [test, -f, x]}
`
	tree, err := parseTree("t.yaml", "/base", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if tree.Name != "web" || tree.Strategy != supervisor.RestForOne || tree.MaxRestarts != 5 || tree.Period != 10*time.Second ||
		tree.Backoff == nil || tree.Backoff.Jitter != 0.1 || len(tree.children) != 2 {
		t.Fatalf("tree %+v", tree)
	}
	api := tree.children[0].proc
	if api == nil || api.Dir != "/base/srv" || api.Env["PORT"] != "8080" || api.Restart != supervisor.Transient ||
		api.Shutdown != supervisor.Graceful(10*time.Second) || api.StopSignal.String() != "interrupt" ||
		len(api.Success) != 2 || api.Ready.Kind != "tcp" || api.Health.Kind != "http" || api.Health.Threshold != 3 {
		t.Fatalf("api %+v", api)
	}
	w := tree.children[1].tree
	if w == nil || w.Strategy != supervisor.OneForAll || w.Restart != supervisor.Temporary || w.Shutdown != supervisor.BrutalKill ||
		w.children[0].proc.Ready.Timeout != 30*time.Second || w.children[0].proc.Dir != "/base" {
		t.Fatalf("workers %+v", w)
	}
}

func TestParseTreeErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"", "t.yaml:1: file: empty"},
		{"name: [x\n", "t.yaml:1: syntax:"},
		{"- a\n", "t.yaml:1: file: want a mapping"},
		{"children: []\n", "t.yaml:1: name: missing"},
		{"name: x\n", "t.yaml:1: children: missing"},
		{"name: x\nchildren: []\nrestart: permanent\n", "t.yaml:3: restart: unknown field"},
		{"name: x\nname: y\nchildren: []\n", `t.yaml:2: syntax: mapping key "name" already defined`},
		{"name: a/b\nchildren: []\n", `t.yaml:1: name: "a/b": a name has no slash`},
		{"name: x\nstrategy: fifo\nchildren: []\n", `t.yaml:2: strategy: want one_for_all | one_for_one | rest_for_one, not "fifo"`},
		{"name: x\nintensity: {max_restarts: 3}\nchildren: []\n", "t.yaml:2: intensity: needs max_restarts and period"},
		{"name: x\nbackoff: {initial: 1s, max: 10ms}\nchildren: []\n", "t.yaml:2: backoff.max: 10ms is less than initial 1s"},
		{"name: x\nbackoff: {initial: 1s, jitter: 1}\nchildren: []\n", "t.yaml:2: backoff.jitter"},
		{"name: x\nchildren:\n  - name: a\n", "t.yaml:3: children[0]: needs command (a process) or children"},
		{"name: x\nchildren:\n  - command: [a]\n", "t.yaml:3: children[0].name: missing"},
		{"name: x\nchildren:\n  - name: a\n    command: a\n", `t.yaml:4: children[0].command: want a list, not "a"`},
		{"name: x\nchildren:\n  - name: a\n    command: [a]\n    restart: sometimes\n", "t.yaml:5: children[0].restart: want permanent | temporary | transient"},
		{"name: x\nchildren:\n  - name: a\n    command: [a]\n    env: {A: [1]}\n", "t.yaml:5: children[0].env.A: want a value"},
		{"name: x\nchildren:\n  - name: a\n    command: [a]\n    dir:\n", "t.yaml:5: children[0].dir: want a value, not an empty value"},
		{"name: x\nchildren:\n  - name: a\n    command: [a]\n    strategy: one_for_all\n", "t.yaml:5: children[0].strategy: only for supervisors"},
		{"name: x\nchildren:\n  - name: a\n    children: []\n    stop_signal: TERM\n", "t.yaml:5: children[0].stop_signal: only for processes"},
		{"name: x\nchildren:\n  - name: a\n    command: [a]\n    ready: {timeout: 1s}\n", "t.yaml:5: children[0].ready: needs exactly one of tcp, http, exec"},
		{"name: x\nchildren:\n  - name: a\n    command: [a]\n    ready: {http: {status: 200}}\n", "t.yaml:5: children[0].ready.http.url: missing"},
		{"name: x\nchildren:\n  - name: a\n    command: [a]\n    health: {tcp: \"127.0.0.1:1\"}\n", "t.yaml:5: children[0].health.interval: missing"},
		{"name: x\nchildren:\n  - name: a\n    command: [a]\n    health: {tcp: \"127.0.0.1:1\", interval: 1s, unhealthy_threshold: 0}\n", "t.yaml:5: children[0].health.unhealthy_threshold: want an integer in 1.."},
		{"name: x\nchildren:\n  - name: a\n    command: [a]\n  - name: a\n    command: [b]\n", `t.yaml:5: children[1].name: "a" is already the name of the child at line 3`},
		{"name: x\nchildren:\n  - name: a\n    command: [a]\n    shutdown: -1s\n", "t.yaml:5: children[0].shutdown: want a positive duration"},
	} {
		_, err := parseTree("t.yaml", "/base", []byte(tc.doc))
		if !errors.Is(err, errBadFile) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s", tc.doc, err, tc.want)
		}
	}
}

func TestRunUsage(t *testing.T) {
	if code, _, errOut := runArgs(t, "run"); code != exitUsage || !strings.Contains(errOut, "want one FILE.yaml") {
		t.Fatalf("no file: %d %q", code, errOut)
	}
	if code, out, _ := runArgs(t, "run", "--help"); code != exitOK || !strings.Contains(out, "SIGHUP") {
		t.Fatalf("--help: %d %q", code, out)
	}
	if code, _, errOut := runArgs(t, "run", "--check", "/nonexistent/tree.yaml"); code != exitUsage || !strings.Contains(errOut, "no such file") {
		t.Fatalf("missing file: %d %q", code, errOut)
	}
	if code, out, _ := runArgs(t, "run", "--check", "../../examples/process-tree/tree.yaml"); code != exitOK || !strings.Contains(out, "ok") {
		t.Fatalf("the example does not validate: %d %q", code, out)
	}
}
