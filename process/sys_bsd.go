//go:build unix && !linux

package process

import "syscall"

// canPeek: without waitid's WNOWAIT here, the group is killed just after
// the leader is reaped.
const canPeek = false

// sysProcAttr puts the child in a process group of its own. Only Linux
// has Pdeathsig: elsewhere, children outlive a supervisor process that is
// killed with SIGKILL.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func peekExit(int) {}
