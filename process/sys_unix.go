//go:build unix

package process

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func signalGroup(pgid int, sig syscall.Signal) error {
	if pgid <= 0 {
		return nil
	}
	return syscall.Kill(-pgid, sig)
}

// SignalName returns "SIGTERM" for syscall.SIGTERM.
func SignalName(sig syscall.Signal) string {
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	return fmt.Sprintf("signal %d", int(sig))
}

// ParseSignal reads a signal name, with or without its SIG prefix ("TERM",
// "SIGTERM", "hup"), or its number.
func ParseSignal(name string) (syscall.Signal, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(n, "SIG") {
		n = "SIG" + n
	}
	if sig := unix.SignalNum(n); sig != 0 {
		return sig, nil
	}
	var num int
	if _, err := fmt.Sscanf(name, "%d", &num); err == nil && fmt.Sprint(num) == strings.TrimSpace(name) && num > 0 && num < 65 {
		return syscall.Signal(num), nil
	}
	return 0, fmt.Errorf("%w: unknown signal %q", ErrInvalidOption, name)
}

// probeAttr runs an exec probe in a group of its own, killed whole when its
// ctx ends.
func probeAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return signalGroup(cmd.Process.Pid, syscall.SIGKILL) }
}
