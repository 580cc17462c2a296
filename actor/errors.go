package actor

import (
	"errors"

	"github.com/airssys/rt/supervisor"
)

// Sentinel errors, matched with errors.Is. Errors returned by this package
// wrap them with the name of the actor involved.
var (
	// ErrMailboxFull: a bounded mailbox had no room and its policy is Fail.
	// The refused message is not a dead letter: the sender still has it and
	// may send it again (see DeadLetters). Dropped messages (DropNewest,
	// DropOldest) go to dead letters with a reason that wraps it.
	ErrMailboxFull = errors.New("mailbox full")
	// ErrStopped: the actor has stopped for good and will never run again.
	// A message refused with it is a dead letter too, since no retry can
	// deliver it (see DeadLetters).
	// It is supervisor.ErrStopped, so that one errors.Is matches whichever
	// package reported the end: an actor's Send, a supervisor's StartChild,
	// a System's Start after Shutdown.
	ErrStopped = supervisor.ErrStopped
	// ErrNotFound: no actor of that name (Lookup), or a zero Ref. It is
	// supervisor.ErrNotFound (no child of that name), for the same reason.
	ErrNotFound = supervisor.ErrNotFound
	// ErrWrongType: an actor of that name exists but takes another message
	// type than the one asked for (Lookup).
	ErrWrongType = errors.New("actor has another message type")
	// ErrDuplicateName: the name is already taken in the actor's System.
	ErrDuplicateName = errors.New("actor name already taken")
	// ErrInvalidSpec is supervisor.ErrInvalidSpec, so that bad input to
	// Spec, Spawn or an Option matches either name: a nil factory, an empty
	// name, a bounded capacity below one, a nil supervisor.
	ErrInvalidSpec = supervisor.ErrInvalidSpec
	// ErrNoReply: the incarnation that took a request ended without
	// answering it, and nothing will (see Ask). It is wrapped together
	// with how the incarnation ended, so that errors.Is also matches
	// supervisor.ErrShutdown, or the crash error.
	ErrNoReply = errors.New("actor ended without replying")
)
