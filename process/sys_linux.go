package process

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// canPeek: the exit of the leader can be seen before it is reaped, so the
// rest of its group is killed while its id cannot name another group.
const canPeek = true

// sysProcAttr puts the child in a process group of its own and has the
// kernel kill it when the thread that started it dies (Pdeathsig): a dying
// supervisor process takes its children with it. (Go threads end only when
// a goroutine locked to one exits without unlocking, which this package
// never does.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// peekExit blocks until pid has exited, leaving it a zombie (not reaped).
func peekExit(pid int) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return
		}
	}
}
