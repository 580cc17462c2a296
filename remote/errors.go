package remote

import (
	"errors"
	"fmt"
)

// Sentinel errors, matched with errors.Is. Errors returned by this package
// wrap them with the node, actor or kind involved.
var (
	// ErrNodeDown: the node is declared down (missed heartbeats, or it
	// left), or could not be reached. A remote child whose node goes down
	// exits abnormally with an error wrapping it; Asks waiting on that node
	// fail with it; messages whose fate is unknown become dead letters
	// wrapping it.
	ErrNodeDown = errors.New("node down")
	// ErrUnknownKind: the node has not registered that kind (or registered
	// it with another message type), or no live node has (Any).
	ErrUnknownKind = errors.New("unknown kind")
	// ErrUnknownNode: no node of that name has been heard from (it has not
	// started, its first heartbeat has not arrived, or it is on another
	// NATS deployment or cluster name).
	ErrUnknownNode = errors.New("unknown node")
	// ErrCodec: a message could not be encoded, or bytes from the network
	// could not be decoded.
	ErrCodec = errors.New("codec error")
	// ErrTooLarge: an encoded message exceeds the NATS max_payload.
	ErrTooLarge = errors.New("message too large")
	// ErrNameTaken: a live node of that name is already a member.
	ErrNameTaken = errors.New("node name taken")
	// ErrClosed: the node has been closed.
	ErrClosed = errors.New("node closed")
	// ErrInvalid: bad input to Start, Register, Spec and the like (an
	// empty or malformed name, a nil System or codec, a bad option).
	ErrInvalid = errors.New("invalid argument")
)

// RemoteError is a failure that happened on another node and crossed the
// network as text: a remote child's crash, or a remote Reply.Fail. Only the
// text survives the trip (the other node's error values mean nothing here).
type RemoteError struct {
	Node string // where it happened
	Text string // the error's text there
}

func (e *RemoteError) Error() string { return fmt.Sprintf("on node %q: %s", e.Node, e.Text) }
