package actor

import (
	"errors"

	"github.com/airssys/rt/supervisor"
)

// Sentinel errors, matched with errors.Is. Errors returned by this package
// wrap them with the name of the actor involved.
var (
	// ErrMailboxFull: a bounded mailbox had no room and its policy is Fail.
	// Dropped messages (DropNewest, DropOldest) go to dead letters with a
	// reason that wraps it.
	ErrMailboxFull = errors.New("mailbox full")
	// ErrStopped: the actor has stopped for good and will never run again.
	ErrStopped = errors.New("actor stopped")
	// ErrNotFound: no actor of that name (Lookup), or a zero Ref.
	ErrNotFound = errors.New("actor not found")
	// ErrWrongType: an actor of that name exists but takes another message
	// type than the one asked for (Lookup).
	ErrWrongType = errors.New("actor has another message type")
	// ErrDuplicateName: the name is already taken in the actor's System.
	ErrDuplicateName = errors.New("actor name already taken")
	// ErrInvalidSpec is supervisor.ErrInvalidSpec, so that bad input to
	// Spec, Spawn or an Option matches either name: a nil factory, an empty
	// name, a bounded capacity below one, a nil supervisor.
	ErrInvalidSpec = supervisor.ErrInvalidSpec
)
