package broker

import "errors"

// Sentinel errors, matched with errors.Is. Errors returned by this package
// wrap them with the topic involved.
var (
	// ErrInvalid: bad input, such as a nil Broker, Topic, context, codec or
	// adapter, an empty topic name, or the zero actor.Ref.
	ErrInvalid = errors.New("invalid argument")
	// ErrWrongType: a topic of that name is open with another message type.
	ErrWrongType = errors.New("topic has another message type")
	// ErrConflict: OpenRemote found the name open as a local topic. (The
	// other way round is no error: Open returns the remote topic.)
	ErrConflict = errors.New("topic is open as a local topic")
	// ErrNoTransport: OpenRemote on a Broker made without WithTransport.
	ErrNoTransport = errors.New("broker has no transport")
	// ErrCodec: a message could not be encoded for the transport.
	ErrCodec = errors.New("codec failed")
	// ErrClosed: the Broker has been closed.
	ErrClosed = errors.New("broker closed")
)
