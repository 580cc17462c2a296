package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// nodeProc is one node process: a copy of this program.
type nodeProc struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{} // closed once Wait has returned
	err    error         // Wait's result, once exited
}

// nodeProcs are the node processes of a run.
type nodeProcs []*nodeProc

// startNodes starts exe once per name as a node joining url. On error it
// returns the ones already started, for stop.
func startNodes(exe, url string, names []string) (nodeProcs, error) {
	var procs nodeProcs
	for _, name := range names {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), envNode+"="+name, envURL+"="+url)
		cmd.Stdout = os.Stderr // a node has nothing to say on stdout; anything it says is a problem
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = procAttr()
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return procs, err
		}
		if err := cmd.Start(); err != nil {
			return procs, fmt.Errorf("starting node %s: %w", name, err)
		}
		p := &nodeProc{name: name, cmd: cmd, stdin: stdin, exited: make(chan struct{})}
		go func() {
			p.err = cmd.Wait()
			close(p.exited)
		}()
		procs = append(procs, p)
	}
	return procs, nil
}

func (ps nodeProcs) find(name string) *nodeProc {
	for _, p := range ps {
		if p.name == name {
			return p
		}
	}
	return nil
}

func (ps nodeProcs) pid(name string) int {
	if p := ps.find(name); p != nil {
		return p.cmd.Process.Pid
	}
	return 0
}

// String lists the processes with their pids.
func (ps nodeProcs) String() string {
	var parts []string
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("%s (pid %d)", p.name, p.cmd.Process.Pid))
	}
	return strings.Join(parts, ", ")
}

// kill sends SIGKILL to one node and waits until it is gone.
func (ps nodeProcs) kill(name string) error {
	p := ps.find(name)
	if p == nil {
		return fmt.Errorf("no node process %s", name)
	}
	if err := p.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("killing %s: %w", name, err)
	}
	<-p.exited
	return nil
}

// stop ends every node process still running: it closes their stdin, which
// makes a node leave and exit, and kills those still there after a while.
// It returns once all have exited, with the errors of those that failed
// on their own (a node killed on purpose is not an error).
func (ps nodeProcs) stop() error {
	for _, p := range ps {
		_ = p.stdin.Close()
	}
	grace := time.After(5 * time.Second)
	var errs []error
	for _, p := range ps {
		select {
		case <-p.exited:
		case <-grace:
			_ = p.cmd.Process.Kill()
			<-p.exited
			errs = append(errs, fmt.Errorf("node %s did not stop within 5 s; killed", p.name))
			continue
		}
		var exit *exec.ExitError
		if p.err != nil && !(errors.As(p.err, &exit) && !exit.Exited()) {
			errs = append(errs, fmt.Errorf("node %s: %w", p.name, p.err))
		}
	}
	return errors.Join(errs...)
}
