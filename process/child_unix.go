//go:build unix

package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/airssys/rt/health"
)

// drainGrace is how long output may keep flowing after the process group
// is gone: only a process that left the group (setsid) and still holds the
// pipes keeps them open that long, and is then no longer read.
const drainGrace = 250 * time.Millisecond

// shared is what the incarnations of one spec have in common.
type shared struct {
	cmd  Command
	cfg  config
	tail *tail
}

// Process is one incarnation of a process child: one OS process, leader of
// a process group of its own that holds whatever it starts. Observers find
// it in supervisor.ChildInfo.Instance.
type Process struct {
	sh *shared

	mu        sync.Mutex
	cmd       *exec.Cmd
	pid       int
	reaped    bool          // the leader was reaped: its pid, the group's id, may be reused
	done      chan struct{} // closed once reaped and its output drained
	err       error         // the exit as Serve returns it, set before done closes
	stopAfter func() bool
}

// Start starts the process and, with WithReady, waits until the ready probe
// first passes. When ctx is cancelled the stop signal goes to the group.
func (p *Process) Start(ctx context.Context) error {
	if err := p.launch(ctx); err != nil {
		return err
	}
	if p.sh.cfg.ready == nil {
		return nil
	}
	if err := p.awaitReady(ctx); err != nil {
		p.Kill()
		<-p.done
		p.stopAfter()
		return err
	}
	return nil
}

// Serve waits until the process has ended and been reaped, and returns nil
// for an exit code in the success list, an *ExitError otherwise.
func (p *Process) Serve(ctx context.Context) error {
	if p.done == nil { // run without a supervisor's Start
		if err := p.Start(ctx); err != nil {
			return err
		}
	}
	<-p.done
	p.stopAfter()
	return p.err
}

// Kill sends SIGKILL to the process group; the supervisor calls it at
// BrutalKill and when a Graceful timeout expires. It never signals a
// group whose leader has been reaped, whose id may belong to another.
func (p *Process) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !p.reaped {
		_ = signalGroup(p.pid, syscall.SIGKILL)
	}
}

// CheckHealth runs the health probe of WithHealth.
func (p *Process) CheckHealth(ctx context.Context) health.Status {
	if p.sh.cfg.health == nil {
		return health.Healthy()
	}
	if err := p.sh.cfg.health.Check(ctx); err != nil {
		return health.Unhealthy(err.Error())
	}
	return health.Healthy()
}

// Pid returns the process id (and process group id) of this incarnation,
// 0 before it started.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid
}

func (p *Process) launch(ctx context.Context) error {
	c, path := p.sh.cmd, p.sh.cfg.path
	cmd := exec.Command(c.Path, c.Args...)
	if cmd.Err != nil {
		return fmt.Errorf("process %s: %w", path, cmd.Err)
	}
	cmd.Env, cmd.Dir = c.Env, c.Dir
	cmd.SysProcAttr = sysProcAttr()
	outR, outW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("process %s: %w", path, err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return fmt.Errorf("process %s: %w", path, err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	p.mu.Lock()
	release, err := startCmd(cmd)
	outW.Close()
	errW.Close()
	if err != nil {
		p.mu.Unlock()
		outR.Close()
		errR.Close()
		return fmt.Errorf("process %s: %w", path, err)
	}
	p.cmd, p.pid, p.done = cmd, cmd.Process.Pid, make(chan struct{})
	p.mu.Unlock()
	pumps := new(sync.WaitGroup)
	pumps.Add(2)
	go p.pump(outR, "stdout", pumps)
	go p.pump(errR, "stderr", pumps)
	go p.reap(outR, errR, pumps, release)
	p.stopAfter = context.AfterFunc(ctx, p.stop)
	return nil
}

// stop sends the stop signal to the group (the supervisor cancelled ctx).
func (p *Process) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.reaped {
		_ = signalGroup(p.pid, p.sh.cfg.stopSignal)
	}
}

// reap waits for the leader to exit, kills what is left of its group while
// the zombie leader still holds the group's id, reaps it, and waits (a
// little) for the output to drain.
func (p *Process) reap(outR, errR *os.File, pumps *sync.WaitGroup, release func()) {
	var err error
	defer release() // after the reap: the spawner thread may end
	if canPeek {
		peekExit(p.pid)
		p.mu.Lock()
		_ = signalGroup(p.pid, syscall.SIGKILL)
		err = p.cmd.Wait()
		p.reaped = true
		p.mu.Unlock()
	} else {
		err = p.cmd.Wait()
		p.mu.Lock()
		p.reaped = true
		_ = signalGroup(p.pid, syscall.SIGKILL) // small risk: the id may be reused already
		p.mu.Unlock()
	}
	drained := make(chan struct{})
	go func() { pumps.Wait(); close(drained) }()
	t := time.NewTimer(drainGrace)
	select {
	case <-drained:
	case <-t.C:
		outR.Close() // unblocks the reads
		errR.Close()
		<-drained
	}
	t.Stop()
	outR.Close()
	errR.Close()
	p.err = p.exitError(err)
	close(p.done)
}

func (p *Process) exitError(waitErr error) error {
	st := p.cmd.ProcessState
	if st == nil {
		return fmt.Errorf("process %s (pid %d): %w", p.sh.cfg.path, p.pid, waitErr)
	}
	e := &ExitError{Path: p.sh.cfg.path, Pid: p.pid, Code: st.ExitCode()}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		e.Signal, e.Code = ws.Signal(), -1
		return e
	}
	if slices.Contains(p.sh.cfg.success, e.Code) {
		return nil
	}
	return e
}

func (p *Process) awaitReady(ctx context.Context) error {
	cfg := &p.sh.cfg
	rctx, cancel := context.WithTimeout(ctx, cfg.readyTimeout)
	defer cancel()
	wait := 5 * time.Millisecond
	var last error
	for {
		select {
		case <-p.done:
			err := p.err
			if err == nil {
				err = errors.New("exited normally")
			}
			return fmt.Errorf("process %s: %w: exited before its ready probe passed: %w", cfg.path, ErrNotReady, err)
		default:
		}
		if last = cfg.ready.Check(rctx); last == nil {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-p.done:
		case <-t.C:
		case <-rctx.Done():
			t.Stop()
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("process %s: start cancelled: %w", cfg.path, err)
			}
			return fmt.Errorf("process %s: %w after %v: %w", cfg.path, ErrNotReady, cfg.readyTimeout, last)
		}
		t.Stop()
		wait = min(2*wait, 200*time.Millisecond)
	}
}
