package supervisor

import (
	"errors"
	"fmt"
)

// Sentinel errors, matched with errors.Is. Errors returned by this package
// wrap them with the name of the supervisor and child involved.
var (
	// ErrShutdown is returned (or wrapped) by a child to end normally.
	ErrShutdown = errors.New("shutdown")
	// ErrIntensityExceeded ends a supervisor that restarted too often; it
	// wraps the last failure as well.
	ErrIntensityExceeded = errors.New("restart intensity exceeded")
	// ErrAlreadyStarted: a child of that name is running, or the supervisor
	// is already running.
	ErrAlreadyStarted = errors.New("already started")
	// ErrAlreadyPresent: a child of that name is known but not running.
	ErrAlreadyPresent = errors.New("already present")
	// ErrNotFound: no child of that name. The actor package's ErrNotFound
	// is this value, so the text names no kind of thing.
	ErrNotFound = errors.New("not found")
	// ErrRunning: the operation needs a child that is not running.
	ErrRunning = errors.New("child is running")
	// ErrRestarting: the child is waiting for a restart.
	ErrRestarting = errors.New("child is restarting")
	// ErrInvalidSpec: a spec (or builder setting) is invalid.
	ErrInvalidSpec = errors.New("invalid child spec")
	// ErrInvalidOption: a supervisor option is invalid; Start reports it.
	ErrInvalidOption = errors.New("invalid supervisor option")
	// ErrStopped: the supervisor has ended and was not restarted. The
	// actor package's ErrStopped (an actor stopped for good) is this value,
	// so the text names no kind of thing.
	ErrStopped = errors.New("stopped")
	// ErrStartTimeout: a child's Start outlived its StartTimeout.
	ErrStartTimeout = errors.New("start timeout")
	// ErrUnhealthy: a child reached its UnhealthyThreshold and was
	// restarted as if it had failed. It is the failure recorded for that
	// incarnation (ChildInfo.LastErr, the EventHealthRestart's Err, and
	// ErrIntensityExceeded's last failure when that restart was one too many).
	ErrUnhealthy = errors.New("unhealthy")
)

// PanicError is the failure of a child that panicked, in Serve, Start,
// New or CheckHealth.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the goroutine's stack at the panic
}

// Error describes the panic value; the stack is kept for logs, not printed.
func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap returns the panic value when it is an error, so errors.Is sees it.
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}
