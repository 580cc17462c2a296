//go:build linux

package process_test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/airssys/rt/process"
	"github.com/airssys/rt/supervisor"
)

// Two children for every shutdown policy: one that traps the stop signal
// and exits cleanly, one that ignores it (the ignoring disposition
// survives exec, so the sleep ignores it too).
const (
	trapper = `trap 'echo "got TERM"; exit 0' TERM; echo up; while :; do sleep 0.05; done`
	ignorer = `trap "" TERM; echo up; exec sleep 1000`
)

// grace is the Graceful timeout of the tests whose child ignores the stop
// signal; slack bounds how late the SIGKILL may come on a loaded machine
// (it is sent by a timer, and the kernel then tears the process down). It
// stays under DefaultWorkerShutdown, so that a policy ignored in favour of
// the default still fails.
const (
	grace = 400 * time.Millisecond
	slack = 3 * time.Second
)

// trapGrace is the Graceful timeout of the test whose child traps the stop
// signal and exits: long, because it must never be reached. With 400 ms a
// loaded machine (forking the script's sleep, scheduling the shell)
// reached it: SIGKILL, no trap, 1 run in 80 of the package under stress.
const trapGrace = 10 * time.Second

// terminate starts child under policy, waits until it runs, stops it with
// TerminateChild and returns how long that took and what it printed. When
// TerminateChild returns, the whole group must be gone and reaped.
func terminate(t *testing.T, script string, policy supervisor.ShutdownPolicy) (time.Duration, string) {
	t.Helper()
	ev := newEvents()
	s := newSup(t, supervisor.OneForOne, ev, process.Spec("c", sh(script),
		process.WithShutdown(policy), process.WithOutput(quietLog)))
	p := instance(t, s, "c")
	awaitLine(t, p, "up")
	start := time.Now()
	if err := s.TerminateChild("c"); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	awaitGroupGone(t, p.Pid())
	noZombies(t)
	var lines []string
	for _, l := range p.Output() {
		lines = append(lines, l.Text)
	}
	return took, strings.Join(lines, "\n")
}

func TestShutdownGracefulTrapping(t *testing.T) {
	took, out := terminate(t, trapper, supervisor.Graceful(trapGrace))
	if !strings.Contains(out, "got TERM") || took >= trapGrace {
		t.Fatalf("took %v, output %q: want the trap to run and the child to end before %v", took, out, trapGrace)
	}
}

func TestShutdownGracefulIgnoring(t *testing.T) {
	took, _ := terminate(t, ignorer, supervisor.Graceful(grace))
	if took < grace || took > grace+slack {
		t.Fatalf("took %v, want SIGKILL after the %v timeout (+%v)", took, grace, slack)
	}
	t.Logf("SIGKILL after %v (timeout %v)", took, grace)
}

func TestShutdownBrutalKill(t *testing.T) {
	for _, script := range []string{trapper, ignorer} {
		took, out := terminate(t, script, supervisor.BrutalKill)
		if strings.Contains(out, "got TERM") || took > slack {
			t.Fatalf("took %v, output %q: want SIGKILL at once, no stop signal first", took, out)
		}
	}
}

func TestShutdownInfinityTrapping(t *testing.T) {
	took, out := terminate(t, trapper, supervisor.Infinity)
	if !strings.Contains(out, "got TERM") {
		t.Fatalf("took %v, output %q: want the trap to run", took, out)
	}
}

// Infinity waits as long as it takes: a child that ignores the stop signal
// holds TerminateChild until something else ends it.
func TestShutdownInfinityIgnoring(t *testing.T) {
	ev := newEvents()
	s := newSup(t, supervisor.OneForOne, ev, process.Spec("c", sh(ignorer),
		process.WithShutdown(supervisor.Infinity), process.WithOutput(quietLog)))
	p := instance(t, s, "c")
	awaitLine(t, p, "up")
	done := make(chan error, 1)
	go func() { done <- s.TerminateChild("c") }()
	select {
	case err := <-done:
		t.Fatalf("TerminateChild returned %v while the child ignores its stop signal", err)
	case <-time.After(grace + time.Second): // longer than the ignoring child's Graceful kill takes
	}
	p.Kill() // what an operator's kill -9 would do
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	awaitGroupGone(t, p.Pid())
}

// A custom stop signal reaches the group instead of SIGTERM. The signal is
// SIGUSR1, not SIGHUP: a shell cannot trap a signal ignored when it
// started, and a test run under nohup (or a CI runner started by one)
// hands its children SIGHUP ignored, so a HUP trap failed there every time.
func TestStopSignal(t *testing.T) {
	ev := newEvents()
	s := newSup(t, supervisor.OneForOne, ev, process.Spec("c",
		sh(`trap 'echo "got USR1"; exit 0' USR1; trap "" TERM; echo up; while :; do sleep 0.05; done`),
		process.WithStopSignal(syscall.SIGUSR1), process.WithOutput(quietLog)))
	p := instance(t, s, "c")
	awaitLine(t, p, "up")
	if err := s.TerminateChild("c"); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(p.Tail()); !strings.Contains(got, "got USR1") {
		t.Fatalf("output %s: want the USR1 trap to run", got)
	}
}
