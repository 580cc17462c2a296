package remote

import "encoding/json"

// Codec turns messages of type M into bytes for the network, and back. A
// kind, or a Lookup, names the codec its messages travel with; both sides
// must use the same one. Decode gets bytes from the network, which may be
// anything: it must return an error, never panic (a panic is caught and
// treated as a decode error all the same).
//
// Messages that carry an actor.Reply (requests for actor.Ask) need the
// codec to encode the Reply field with its MarshalText and decode it with
// UnmarshalText, as encoding/json does by itself: the Reply then answers
// across the network.
type Codec[M any] interface {
	Encode(msg M) ([]byte, error)
	Decode(data []byte) (M, error)
}

// JSON is the default Codec: encoding/json, readable on the wire, and
// understood by programs in other languages. Exported fields only; an
// actor.Reply field round-trips.
type JSON[M any] struct{}

// Encode returns msg as JSON.
func (JSON[M]) Encode(msg M) ([]byte, error) { return json.Marshal(msg) }

// Decode parses a JSON message.
func (JSON[M]) Decode(data []byte) (M, error) {
	var msg M
	err := json.Unmarshal(data, &msg)
	return msg, err
}
