package process

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// canPeek: the exit of the leader can be seen before it is reaped, so the
// rest of its group is killed while its id cannot name another group.
const canPeek = true

// sysProcAttr puts the child in a process group of its own and has the
// kernel kill it when the thread that started it dies (Pdeathsig): a dying
// supervisor process takes its children with it. Pdeathsig follows the
// thread, not the process, so children are started from a thread of their
// own (see startCmd).
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

// The spawner thread. Go ends an OS thread when a goroutine locked to it
// exits without unlocking; a child started from such a thread would be
// killed then, by Pdeathsig, with its supervisor alive (golang/go#27505).
// So every child is started from one goroutine locked to its thread, which
// lives as long as a process it started may be alive: it ends (and its
// thread with it) when the last one has been reaped, and a later start
// begins another.
var spawner struct {
	mu   sync.Mutex
	live int               // started and not yet reaped, or being started
	reqs chan spawnRequest // nil when no spawner runs
}

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

func spawnLoop(reqs <-chan spawnRequest) {
	runtime.LockOSThread() // never unlocked: the thread ends with the loop
	for r := range reqs {
		r.done <- r.cmd.Start()
	}
}

// startCmd starts cmd from the spawner thread; release must be called once
// the process has been reaped (or at once when Start failed).
func startCmd(cmd *exec.Cmd) (release func(), err error) {
	spawner.mu.Lock()
	spawner.live++
	if spawner.reqs == nil {
		spawner.reqs = make(chan spawnRequest)
		go spawnLoop(spawner.reqs)
	}
	reqs := spawner.reqs
	spawner.mu.Unlock()
	done := make(chan error, 1)
	reqs <- spawnRequest{cmd: cmd, done: done}
	if err := <-done; err != nil {
		releaseSpawner()
		return nil, err
	}
	return releaseSpawner, nil
}

func releaseSpawner() {
	spawner.mu.Lock()
	defer spawner.mu.Unlock()
	if spawner.live--; spawner.live == 0 {
		close(spawner.reqs)
		spawner.reqs = nil
	}
}
