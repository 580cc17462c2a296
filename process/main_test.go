//go:build linux

package process_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/airssys/rt/process"
	"github.com/airssys/rt/supervisor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sh is the Command of a POSIX shell script.
func sh(script string) process.Command {
	return process.Command{Path: "/bin/sh", Args: []string{"-c", script}}
}

var quietLog = slog.New(slog.DiscardHandler)

// events collects a supervisor's events for a test to wait on.
type events struct {
	mu   sync.Mutex
	all  []supervisor.Event
	wake chan struct{}
}

func newEvents() *events { return &events{wake: make(chan struct{}, 1)} }

func (e *events) handle(ev supervisor.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// await waits until the n-th event (counting from 1) of kind for child
// has arrived and returns it.
func (e *events) await(t *testing.T, child string, kind supervisor.EventKind, n int) supervisor.Event {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		e.mu.Lock()
		seen := 0
		for _, ev := range e.all {
			if ev.Child == child && ev.Kind == kind {
				if seen++; seen == n {
					e.mu.Unlock()
					return ev
				}
			}
		}
		e.mu.Unlock()
		select {
		case <-e.wake:
		case <-deadline:
			t.Fatalf("no %v event #%d for %s; events: %v", kind, n, child, e.list())
		}
	}
}

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.all {
		out = append(out, ev.String())
	}
	return out
}

// newSup returns a started supervisor whose events ev collects; the test
// stops it at cleanup if it still runs.
func newSup(t *testing.T, strategy supervisor.Strategy, ev *events, specs ...supervisor.Spec) *supervisor.Supervisor {
	t.Helper()
	s := supervisor.New("root", strategy, supervisor.Permanent,
		supervisor.WithLogger(quietLog), supervisor.WithEventHandler(ev.handle),
		supervisor.WithIntensity(10, time.Second))
	for _, sp := range specs {
		if err := s.StartChild(sp); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

// instance returns the running incarnation of child name.
func instance(t *testing.T, s *supervisor.Supervisor, name string) *process.Process {
	t.Helper()
	for _, ci := range s.WhichChildren() {
		if ci.Name == name {
			p, ok := ci.Instance.(*process.Process)
			if !ok {
				t.Fatalf("child %s: instance %T (state %v)", name, ci.Instance, ci.State)
			}
			return p
		}
	}
	t.Fatalf("no child %s", name)
	return nil
}

// awaitLine waits until the child's output holds a line starting with prefix.
func awaitLine(t *testing.T, p *process.Process, prefix string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range p.Output() {
			if strings.HasPrefix(l.Text, prefix) {
				return l.Text
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no output line %q; got %v", prefix, p.Tail())
	return ""
}

// procStat is what /proc/PID/stat says of a process.
type procStat struct {
	pid, ppid, pgrp, session int
	state                    byte
}

func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 4 {
		return procStat{}, false
	}
	st := procStat{pid: pid, state: f[0][0]}
	st.ppid, _ = strconv.Atoi(f[1])
	st.pgrp, _ = strconv.Atoi(f[2])
	st.session, _ = strconv.Atoi(f[3])
	return st, true
}

// procs lists the processes for which keep is true.
func procs(keep func(procStat) bool) []procStat {
	ents, _ := os.ReadDir("/proc")
	var out []procStat
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok && keep(st) {
			out = append(out, st)
		}
	}
	return out
}

// alive reports the live (not zombie) members of process group pgid.
func groupAlive(pgid int) []procStat {
	return procs(func(st procStat) bool { return st.pgrp == pgid && st.state != 'Z' && st.state != 'X' })
}

// awaitGroupGone waits (briefly: SIGKILL is delivered at once, but the
// kernel tears a process down on its own time) until group pgid has no
// live member.
func awaitGroupGone(t *testing.T, pgid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if len(groupAlive(pgid)) == 0 {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("process group %d still has live members: %+v", pgid, groupAlive(pgid))
}

// noZombies fails if a child of this test process is a zombie: everything
// the package started has been reaped.
func noZombies(t *testing.T) {
	t.Helper()
	me := os.Getpid()
	if z := procs(func(st procStat) bool { return st.ppid == me && st.state == 'Z' }); len(z) > 0 {
		t.Fatalf("zombies left: %+v", z)
	}
}
