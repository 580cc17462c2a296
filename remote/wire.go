package remote

import (
	"encoding/binary"
	"fmt"
)

// The framing of what nodes send each other. NATS does the routing, the
// ordering per publisher and the delivery; this is only how the fields of
// one message are laid out: a type byte, then fields, each string or byte
// slice prefixed by its length as a uvarint, each number a uvarint. The
// user's payload, encoded by the user's Codec, comes last and unframed.

// Message types on a node's inbox subject.
const (
	tSend    byte = 1 + iota // to a served actor: name, payload
	tChild                   // to a hosted incarnation: incarnation, seq, payload
	tAnswer                  // an Ask's answer: id, failed, data or error text
	tExit                    // a hosted incarnation ended: incarnation, begun, status, text
	tAck                     // a hosted incarnation has begun up to: incarnation, begun, host
	tStopped                 // a served actor stopped for good: name, text
	tSpawn                   // request: kind, name, owner, incarnation
	tStop                    // request: incarnation -> begun
	tLookup                  // request: name, type, watcher
	tPing                    // request: -> node id
	tBatch                   // to a served actor: name, then payloads each length-prefixed
)

// Statuses of replies to requests.
const (
	stOK byte = iota
	stUnknownKind
	stNotFound
	stWrongType
	stFailed
)

// Exit statuses.
const (
	exitNormal byte = iota
	exitCrash
	exitStopped // stopped by its owner, or fenced
)

type writer struct{ b []byte }

func (w *writer) byte(v byte) { w.b = append(w.b, v) }
func (w *writer) uint(v uint64) {
	w.b = binary.AppendUvarint(w.b, v)
}
func (w *writer) str(s string) {
	w.b = binary.AppendUvarint(w.b, uint64(len(s)))
	w.b = append(w.b, s...)
}
func (w *writer) bytes(p []byte) {
	w.b = binary.AppendUvarint(w.b, uint64(len(p)))
	w.b = append(w.b, p...)
}

// reader reads fields; the first error sticks, so a caller checks once.
type reader struct {
	b   []byte
	err error
}

var errTruncated = fmt.Errorf("%w: truncated or malformed frame", ErrCodec)

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) < 1 {
		r.err = errTruncated
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) uint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errTruncated
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) raw() []byte {
	n := r.uint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errTruncated
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) str() string { return string(r.raw()) }

// rest returns what is left: the payload.
func (r *reader) rest() []byte {
	if r.err != nil {
		return nil
	}
	p := r.b
	r.b = nil
	return p
}
