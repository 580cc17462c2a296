//go:build !unix

package process

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"syscall"

	"github.com/airssys/rt/health"
)

// shared is what the incarnations of one spec have in common.
type shared struct {
	cmd  Command
	cfg  config
	tail *tail
}

// Process is one incarnation of a process child. Process groups and
// signals are Unix: here every start fails with errors.ErrUnsupported.
type Process struct {
	sh  *shared
	pid int
}

var errUnsupported = fmt.Errorf("process children need a Unix system: %w", errors.ErrUnsupported)

// Start fails: process children need Unix process groups.
func (p *Process) Start(context.Context) error { return errUnsupported }

// Serve fails: process children need Unix process groups.
func (p *Process) Serve(context.Context) error { return errUnsupported }

// Kill does nothing: nothing was started.
func (p *Process) Kill() {}

// CheckHealth reports the lack of support.
func (p *Process) CheckHealth(context.Context) health.Status {
	return health.Unhealthy(errUnsupported.Error())
}

// Pid returns 0: nothing was started.
func (p *Process) Pid() int { return 0 }

// SignalName returns the signal's number.
func SignalName(sig syscall.Signal) string { return "signal " + strconv.Itoa(int(sig)) }

// ParseSignal reads a signal number; names need a Unix system.
func ParseSignal(name string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(name); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	return 0, fmt.Errorf("%w: unknown signal %q", ErrInvalidOption, name)
}

func probeAttr(*exec.Cmd) {}
