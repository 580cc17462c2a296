//go:build linux

package process_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/airssys/rt/process"
	"github.com/airssys/rt/supervisor"
)

// run starts one incarnation of spec outside any supervisor and returns
// what Serve returned.
func run(t *testing.T, spec supervisor.Spec) error {
	t.Helper()
	c := spec.New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := c.(supervisor.Starter).Start(ctx); err != nil {
		return err
	}
	return c.Serve(ctx)
}

func TestExitCodeMapping(t *testing.T) {
	for _, tc := range []struct {
		script  string
		success []int
		code    int            // expected ExitError.Code; 0: no error
		signal  syscall.Signal // expected ExitError.Signal
		text    string
	}{
		{script: "exit 0"},
		{script: "exit 3", code: 3, text: "exited with code 3"},
		{script: "exit 3", success: []int{0, 3}},
		{script: "exit 0", success: []int{3}, code: 0, text: "exited with code 0"},
		{script: "kill -KILL $$", code: -1, signal: syscall.SIGKILL, text: "killed by signal SIGKILL"},
		{script: "kill -TERM $$", code: -1, signal: syscall.SIGTERM, text: "killed by signal SIGTERM"},
	} {
		t.Run(fmt.Sprintf("%s/%v", tc.script, tc.success), func(t *testing.T) {
			var opts []process.Option
			if tc.success != nil {
				opts = append(opts, process.WithSuccessExitCodes(tc.success...))
			}
			err := run(t, process.Spec("job", sh(tc.script), opts...))
			if tc.text == "" {
				if err != nil {
					t.Fatalf("Serve = %v, want nil (a normal exit)", err)
				}
				return
			}
			var ee *process.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("Serve = %v, want an *ExitError", err)
			}
			if ee.Code != tc.code || ee.Signal != tc.signal || ee.Pid <= 0 || ee.Path != "job" {
				t.Fatalf("ExitError = %+v, want code %d signal %v", *ee, tc.code, tc.signal)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %q does not say %q", err, tc.text)
			}
			noZombies(t)
		})
	}
}

// A crash is a failure for the supervisor, with the exit in LastErr; a
// success code is a normal exit that a Transient child is not restarted
// after.
func TestExitCodesUnderSupervisor(t *testing.T) {
	ev := newEvents()
	s := newSup(t, supervisor.OneForOne, ev,
		process.Spec("crash", sh("exit 4"), process.WithRestart(supervisor.Transient)),
		process.Spec("done", sh("exit 9"), process.WithRestart(supervisor.Transient), process.WithSuccessExitCodes(0, 9)),
	)
	failed := ev.await(t, "crash", supervisor.EventChildFailed, 1)
	var ee *process.ExitError
	if !errors.As(failed.Err, &ee) || ee.Code != 4 {
		t.Fatalf("failure %v, want exit code 4", failed.Err)
	}
	ev.await(t, "crash", supervisor.EventChildRestarted, 1)
	ev.await(t, "done", supervisor.EventChildExited, 1)
	for _, ci := range s.WhichChildren() {
		if ci.Name == "done" && (ci.State != supervisor.ChildStopped || ci.Restarts != 0) {
			t.Fatalf("done: %+v, want stopped without restarts", ci)
		}
	}
	_ = s.TerminateChild("crash")
}

func TestGroupKillReachesGrandchildren(t *testing.T) {
	ev := newEvents()
	s := newSup(t, supervisor.OneForOne, ev,
		process.Spec("parent", sh(`sleep 1000 & echo "grandchild $!"; trap "" TERM; sleep 1000 & wait`),
			process.WithRestart(supervisor.Temporary)))
	p := instance(t, s, "parent")
	gc, _ := strconv.Atoi(strings.Fields(awaitLine(t, p, "grandchild "))[1])
	if st, ok := readStat(gc); !ok || st.pgrp != p.Pid() {
		t.Fatalf("grandchild %d: %+v, want it in group %d", gc, st, p.Pid())
	}
	p.Kill()
	if e := ev.await(t, "parent", supervisor.EventChildFailed, 1); !strings.Contains(e.Err.Error(), "SIGKILL") {
		t.Fatalf("failure %v, want SIGKILL named", e.Err)
	}
	awaitGroupGone(t, p.Pid())
	if st, ok := readStat(gc); ok && st.state != 'Z' {
		t.Fatalf("grandchild %d survived its group's kill: %+v", gc, st)
	}
	noZombies(t)
}

// When the leader exits on its own, what it left in its group is killed:
// a child is its whole group, and nothing outlives it.
func TestLeaderExitKillsItsGroup(t *testing.T) {
	c := process.Spec("leader", sh(`sleep 1000 & echo "grandchild $!"; exit 0`)).New()
	if err := c.(supervisor.Starter).Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := c.(*process.Process)
	if err := c.Serve(context.Background()); err != nil {
		t.Fatal(err)
	}
	gc, _ := strconv.Atoi(strings.Fields(awaitLine(t, p, "grandchild "))[1])
	awaitGroupGone(t, p.Pid())
	if st, ok := readStat(gc); ok && st.state != 'Z' {
		t.Fatalf("grandchild %d outlived its leader: %+v", gc, st)
	}
	noZombies(t)
}

func TestNoProcessLeftAfterStop(t *testing.T) {
	ev := newEvents()
	var specs []supervisor.Spec
	for i := range 4 {
		specs = append(specs, process.Spec(fmt.Sprintf("w%d", i),
			sh(`sleep 1000 & sleep 1000 & echo up; wait`)))
	}
	s := newSup(t, supervisor.OneForAll, ev, specs...)
	var groups []int
	for i := range 4 {
		p := instance(t, s, fmt.Sprintf("w%d", i))
		awaitLine(t, p, "up")
		groups = append(groups, p.Pid())
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		awaitGroupGone(t, g)
	}
	// Nothing of ours in our session but this test process and its threads.
	me, _ := readStat(os.Getpid())
	left := procs(func(st procStat) bool {
		return st.session == me.session && st.ppid == os.Getpid() && st.state != 'Z'
	})
	if len(left) > 0 {
		t.Fatalf("processes left after Stop: %+v", left)
	}
	noZombies(t)
}

func TestOutputLoggedAndKept(t *testing.T) {
	var mu sync.Mutex
	var recs []string
	h := slog.NewTextHandler(writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		recs = append(recs, string(b))
		mu.Unlock()
		return len(b), nil
	}), nil)
	spec := process.Spec("talker",
		sh(`echo hello; echo oops >&2; i=0; while [ $i -lt 250 ]; do i=$((i+1)); echo "line $i"; done`),
		process.WithOutput(slog.New(h)), process.WithPath("root/talker"))
	c := spec.New()
	if err := run(t, spec); err != nil {
		t.Fatal(err)
	}
	// The tail is shared by the spec's incarnations: a fresh one reads it.
	p := c.(*process.Process)
	lines := p.Output()
	if len(lines) != process.TailLines {
		t.Fatalf("kept %d lines, want %d", len(lines), process.TailLines)
	}
	// stdout and stderr are two pipes: their lines interleave as read.
	var out []string
	for _, l := range lines {
		if l.Stream == "stdout" {
			out = append(out, l.Text)
		}
	}
	if last := out[len(out)-1]; last != "line 250" || len(out) < process.TailLines-2 {
		t.Fatalf("kept %d stdout lines up to %q, want line 250 last", len(out), last)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(recs) != 252 {
		t.Fatalf("logged %d records, want 252", len(recs))
	}
	joined := strings.Join(recs, "")
	for _, want := range []string{
		`msg=hello child=root/talker stream=stdout pid=`,
		`msg=oops child=root/talker stream=stderr pid=`,
	} {
		if !strings.Contains(joined, want) {
			t.Fatalf("no record with %q in:\n%s", want, joined[:min(len(joined), 600)])
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// flag is an HTTP endpoint that answers 200 or 503 as the test says, and
// counts the requests.
type flag struct {
	ok    atomic.Bool
	calls atomic.Int64
	srv   *httptest.Server
}

func newFlag(t *testing.T) *flag {
	f := &flag{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		if !f.ok.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// awaitCalls waits until the endpoint has been asked n more times.
func (f *flag) awaitCalls(t *testing.T, n int64) {
	t.Helper()
	target := f.calls.Load() + n
	deadline := time.Now().Add(10 * time.Second)
	for f.calls.Load() < target {
		if time.Now().After(deadline) {
			t.Fatalf("probe not called %d more times", n)
		}
		time.Sleep(time.Millisecond)
	}
}

// Under RestForOne a child's readiness gates its later siblings, at the
// first start and at every restart.
func TestReadinessOrderingRestForOne(t *testing.T) {
	ready := newFlag(t)
	ev := newEvents()
	s := supervisor.New("root", supervisor.RestForOne, supervisor.Permanent,
		supervisor.WithLogger(quietLog), supervisor.WithEventHandler(ev.handle))
	_ = s.StartChild(process.Spec("db", sh("exec sleep 1000"),
		process.WithReady(process.HTTPProbe(ready.srv.URL, 200), 20*time.Second)))
	_ = s.StartChild(process.Spec("app", sh("exec sleep 1000")))
	started := make(chan error, 1)
	go func() { started <- s.Start(context.Background()) }()
	t.Cleanup(func() { _ = s.Stop() })
	ready.awaitCalls(t, 2) // db runs, its probe fails: Start is still on db
	select {
	case err := <-started:
		t.Fatalf("Start returned %v before db was ready", err)
	default:
	}
	ready.ok.Store(true)
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	ev.await(t, "db", supervisor.EventChildStarted, 1)
	ev.await(t, "app", supervisor.EventChildStarted, 1)
	if got := ev.list(); !(indexOf(got, "root/db child_started") < indexOf(got, "root/app child_started")) {
		t.Fatalf("start order: %v", got)
	}
	// db dies: app is stopped, db restarts and app waits for db's probe.
	ready.ok.Store(false)
	oldApp := instance(t, s, "app").Pid()
	_ = syscall.Kill(instance(t, s, "db").Pid(), syscall.SIGKILL)
	ev.await(t, "app", supervisor.EventChildStopped, 1)
	ready.awaitCalls(t, 2)
	// (Not WhichChildren: the supervisor answers calls only between
	// starts, and db's Start is waiting for its probe.)
	for _, e := range ev.list() {
		if e == "root/app child_restarted" || e == "root/db child_restarted" {
			t.Fatalf("%s while db is not ready: %v", e, ev.list())
		}
	}
	ready.ok.Store(true)
	ev.await(t, "app", supervisor.EventChildRestarted, 1)
	if instance(t, s, "app").Pid() == oldApp {
		t.Fatal("app was not restarted")
	}
	awaitGroupGone(t, oldApp)
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return 1 << 30
}

func TestReadyTimeoutKillsTheProcess(t *testing.T) {
	never := newFlag(t)
	spec := process.Spec("slow", sh(`trap "" TERM; echo up; exec sleep 1000`),
		process.WithReady(process.HTTPProbe(never.srv.URL, 200), 200*time.Millisecond))
	c := spec.New()
	err := c.(supervisor.Starter).Start(context.Background())
	if !errors.Is(err, process.ErrNotReady) || !errors.Is(err, process.ErrProbe) {
		t.Fatalf("Start = %v, want ErrNotReady wrapping the probe's ErrProbe", err)
	}
	pid := c.(*process.Process).Pid()
	if pid == 0 {
		t.Fatal("no process was started")
	}
	awaitGroupGone(t, pid)
	noZombies(t)
}

func TestExitBeforeReadyIsAStartFailure(t *testing.T) {
	never := newFlag(t)
	spec := process.Spec("quitter", sh("exit 5"),
		process.WithReady(process.HTTPProbe(never.srv.URL, 200), 20*time.Second))
	err := spec.New().(supervisor.Starter).Start(context.Background())
	var ee *process.ExitError
	if !errors.Is(err, process.ErrNotReady) || !errors.As(err, &ee) || ee.Code != 5 {
		t.Fatalf("Start = %v, want ErrNotReady wrapping exit code 5", err)
	}
}

func TestFailingHealthProbeRestarts(t *testing.T) {
	healthy := newFlag(t)
	healthy.ok.Store(true)
	ev := newEvents()
	s := newSup(t, supervisor.OneForOne, ev, process.Spec("svc", sh("exec sleep 1000"),
		process.WithHealth(process.HTTPProbe(healthy.srv.URL+"/healthz", 200),
			supervisor.HealthPolicy{Interval: 10 * time.Millisecond, Timeout: time.Second, UnhealthyThreshold: 2})))
	old := instance(t, s, "svc").Pid()
	healthy.awaitCalls(t, 2)
	healthy.ok.Store(false)
	hr := ev.await(t, "svc", supervisor.EventHealthRestart, 1)
	if !strings.Contains(hr.Health.Reason, "status 503") {
		t.Fatalf("health restart reason %q, want the probe's status", hr.Health.Reason)
	}
	healthy.ok.Store(true)
	ev.await(t, "svc", supervisor.EventChildRestarted, 1)
	if now := instance(t, s, "svc").Pid(); now == old {
		t.Fatal("same process after a health restart")
	}
	awaitGroupGone(t, old)
}

func TestInvalidInput(t *testing.T) {
	ok := process.Command{Path: "/bin/true"}
	for _, tc := range []struct {
		name string
		cmd  process.Command
		opts []process.Option
		is   error
	}{
		{"empty path", process.Command{}, nil, process.ErrInvalidCommand},
		{"bad env", process.Command{Path: "/bin/true", Env: []string{"NOEQUALS"}}, nil, process.ErrInvalidCommand},
		{"nil option", ok, []process.Option{nil}, process.ErrInvalidOption},
		{"nil ready probe", ok, []process.Option{process.WithReady(nil, time.Second)}, process.ErrInvalidOption},
		{"zero ready timeout", ok, []process.Option{process.WithReady(process.TCPProbe("127.0.0.1:1"), 0)}, process.ErrInvalidOption},
		{"nil health probe", ok, []process.Option{process.WithHealth(nil, supervisor.HealthPolicy{Interval: time.Second})}, process.ErrInvalidOption},
		{"no health interval", ok, []process.Option{process.WithHealth(process.TCPProbe("127.0.0.1:1"), supervisor.HealthPolicy{})}, process.ErrInvalidOption},
		{"bad url", ok, []process.Option{process.WithReady(process.HTTPProbe("localhost:80", 200), time.Second)}, process.ErrInvalidOption},
		{"bad status", ok, []process.Option{process.WithReady(process.HTTPProbe("http://127.0.0.1/", 1000), time.Second)}, process.ErrInvalidOption},
		{"bad addr", ok, []process.Option{process.WithReady(process.TCPProbe("nohostport"), time.Second)}, process.ErrInvalidOption},
		{"empty exec", ok, []process.Option{process.WithHealth(process.ExecProbe(), supervisor.HealthPolicy{Interval: time.Second})}, process.ErrInvalidOption},
		{"bad signal", ok, []process.Option{process.WithStopSignal(0)}, process.ErrInvalidOption},
		{"bad exit code", ok, []process.Option{process.WithSuccessExitCodes(256)}, process.ErrInvalidOption},
		{"no exit codes", ok, []process.Option{process.WithSuccessExitCodes()}, process.ErrInvalidOption},
		{"nil logger", ok, []process.Option{process.WithOutput(nil)}, process.ErrInvalidOption},
		{"bad shutdown", ok, []process.Option{process.WithShutdown(supervisor.Graceful(0))}, process.ErrInvalidOption},
		{"bad restart", ok, []process.Option{process.WithRestart(7)}, process.ErrInvalidOption},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := process.NewSpec("x", tc.cmd, tc.opts...)
			if !errors.Is(err, tc.is) || !errors.Is(err, supervisor.ErrInvalidSpec) {
				t.Fatalf("NewSpec = %v, want %v and supervisor.ErrInvalidSpec", err, tc.is)
			}
			// Spec never panics: the mistake is a start failure.
			s := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent, supervisor.WithLogger(quietLog))
			if err := s.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer s.Stop()
			if err := s.StartChild(process.Spec("x", tc.cmd, tc.opts...)); !errors.Is(err, tc.is) {
				t.Fatalf("StartChild = %v, want %v", err, tc.is)
			}
		})
	}
}

func TestMissingProgramIsAStartFailure(t *testing.T) {
	dir := t.TempDir()
	err := spawnErr(process.Spec("ghost", process.Command{Path: filepath.Join(dir, "nothing")}))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("start = %v, want os.ErrNotExist", err)
	}
	err = spawnErr(process.Spec("ghost", process.Command{Path: "no-such-program-airssys"}))
	if err == nil || !strings.Contains(err.Error(), "executable file not found") {
		t.Fatalf("start = %v, want a PATH lookup failure", err)
	}
}

func spawnErr(spec supervisor.Spec) error {
	return spec.New().(supervisor.Starter).Start(context.Background())
}

func TestEnvAndDir(t *testing.T) {
	dir := t.TempDir()
	spec := process.Spec("env", process.Command{Path: "/bin/sh", Args: []string{"-c", `echo "$GREETING $(pwd)"`},
		Env: []string{"GREETING=hi"}, Dir: dir})
	c := spec.New()
	if err := run(t, spec); err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	if got := c.(*process.Process).Output(); len(got) != 1 || (got[0].Text != "hi "+dir && got[0].Text != "hi "+real) {
		t.Fatalf("output %v, want %q", got, "hi "+dir)
	}
}

// TestOutputBetweenIncarnations: the spec's Observable gives the child's
// kept lines while it waits for its restart, when there is no instance to
// ask: the output of the crashed incarnation, what a user looks for.
func TestOutputBetweenIncarnations(t *testing.T) {
	ev := newEvents()
	s := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent,
		supervisor.WithLogger(quietLog), supervisor.WithEventHandler(ev.handle),
		supervisor.WithBackoff(supervisor.Backoff{Initial: time.Hour}))
	if err := s.StartChild(process.Spec("flaky", sh(`echo "bad config"; exit 3`), process.WithOutput(quietLog))); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	ev.await(t, "flaky", supervisor.EventChildRestartScheduled, 1)
	ci := s.WhichChildren()[0]
	kept, ok := ci.Observable.(interface {
		Lines() []process.Line
		Tail() []string
	})
	if ci.State != supervisor.ChildRestarting || ci.Instance != nil || !ok {
		t.Fatalf("child %+v: want restarting, no instance, an Observable with the lines", ci)
	}
	if lines := kept.Lines(); len(lines) != 1 || lines[0].Text != "bad config" || lines[0].Stream != "stdout" {
		t.Errorf("lines %+v", lines)
	}
	if tail := kept.Tail(); len(tail) != 1 || !strings.HasSuffix(tail[0], " stdout bad config") {
		t.Errorf("tail %q", tail)
	}
}
