//go:build linux

package process_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/airssys/rt/process"
	"github.com/airssys/rt/supervisor"
)

// Pdeathsig follows the thread that started a child, not the process: a
// child started from a thread that Go later ends (a goroutine locked to
// it exits) was killed with its supervisor alive. Children are now started
// from a thread of their own.
func TestRegressionChildSurvivesTheEndOfTheThreadThatStartedIt(t *testing.T) {
	c := process.Spec("survivor", sh("echo up; exec sleep 1000"), process.WithOutput(quietLog)).New()
	type result struct {
		tid int
		err error
	}
	started := make(chan result)
	doomed := func() {
		runtime.LockOSThread() // never unlocked: Go ends this thread with the goroutine
		started <- result{syscall.Gettid(), c.(supervisor.Starter).Start(context.Background())}
	}
	go func() {
		// The main thread is never ended (Go wedges it instead): hold it
		// here, if this is it, so that the doomed goroutine runs elsewhere.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if syscall.Gettid() == os.Getpid() {
			held := make(chan struct{})
			go func() { defer close(held); doomed() }()
			<-held
			return
		}
		doomed()
	}()
	res := <-started
	if res.err != nil {
		t.Fatal(res.err)
	}
	p := c.(*process.Process)
	served := make(chan error, 1)
	go func() { served <- c.Serve(context.Background()) }()
	awaitLine(t, p, "up")
	// Wait for the thread to end: the kernel sends Pdeathsig as it does.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", res.tid)); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the locked thread did not end")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-served:
		t.Fatalf("the child died with the thread that started it: %v", err)
	default:
	}
	if st, ok := readStat(p.Pid()); !ok || st.state == 'Z' {
		// The signal is sent before the task disappears; a kill in flight
		// shows here, or in Serve.
		t.Fatalf("the child is gone: %+v", st)
	}
	p.Kill()
	<-served
}
