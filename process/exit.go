package process

import (
	"fmt"
	"syscall"
)

// ExitError is the failure of a process that exited with a code outside
// its success list, or was killed by a signal. Match it with errors.As.
type ExitError struct {
	Path   string         // the child's path (see WithPath)
	Pid    int            // the process that ended
	Code   int            // its exit code; -1 when a signal ended it
	Signal syscall.Signal // the signal that ended it; 0 after an exit
}

// Error names the code or the signal.
func (e *ExitError) Error() string {
	if e.Signal != 0 {
		return fmt.Sprintf("process %s (pid %d) killed by signal %s", e.Path, e.Pid, SignalName(e.Signal))
	}
	return fmt.Sprintf("process %s (pid %d) exited with code %d", e.Path, e.Pid, e.Code)
}
