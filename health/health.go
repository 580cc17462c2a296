package health

import (
	"context"
	"fmt"
)

// State is the coarse health of a child.
type State int

const (
	// StateHealthy is the zero value: a child that was never checked is
	// presumed healthy, as a supervisor presumes it running.
	StateHealthy State = iota
	// StateDegraded means working but impaired; reported, never acted upon.
	StateDegraded
	// StateUnhealthy means broken; enough of them in a row trigger a restart.
	StateUnhealthy
)

// String returns "healthy", "degraded" or "unhealthy".
func (s State) String() string {
	switch s {
	case StateHealthy:
		return "healthy"
	case StateDegraded:
		return "degraded"
	case StateUnhealthy:
		return "unhealthy"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// MarshalText makes a State read as its name in JSON and logs.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses "healthy", "degraded" or "unhealthy".
func (s *State) UnmarshalText(text []byte) error {
	for v := StateHealthy; v <= StateUnhealthy; v++ {
		if v.String() == string(text) {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("health: unknown state %q", text)
}

// Status is the result of one health check.
type Status struct {
	State  State
	Reason string // why the child is not healthy; empty when healthy
}

// Healthy returns a healthy Status.
func Healthy() Status { return Status{State: StateHealthy} }

// Degraded returns a degraded Status with a reason.
func Degraded(reason string) Status { return Status{State: StateDegraded, Reason: reason} }

// Unhealthy returns an unhealthy Status with a reason.
func Unhealthy(reason string) Status { return Status{State: StateUnhealthy, Reason: reason} }

// String returns the state, followed by the reason when there is one.
func (s Status) String() string {
	if s.Reason == "" {
		return s.State.String()
	}
	return s.State.String() + ": " + s.Reason
}

// Checker is implemented by anything that can report its own health.
// CheckHealth should return promptly and honour ctx: a supervisor counts a
// check that outlives its timeout as unhealthy.
type Checker interface {
	CheckHealth(ctx context.Context) Status
}

// CheckerFunc adapts a function to Checker.
type CheckerFunc func(ctx context.Context) Status

// CheckHealth calls f(ctx).
func (f CheckerFunc) CheckHealth(ctx context.Context) Status { return f(ctx) }
