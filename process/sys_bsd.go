//go:build unix && !linux

package process

import (
	"os/exec"
	"syscall"
)

// canPeek: without waitid's WNOWAIT here, the group is killed just after
// the leader is reaped.
const canPeek = false

// sysProcAttr puts the child in a process group of its own. Only Linux
// has Pdeathsig: elsewhere, children outlive a supervisor process that is
// killed with SIGKILL.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func peekExit(int) {}

// startCmd starts cmd; without Pdeathsig any thread will do.
func startCmd(cmd *exec.Cmd) (release func(), err error) { return func() {}, cmd.Start() }
