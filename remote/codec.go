package remote

import (
	"encoding/json"
	"fmt"
	"reflect"
)

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
// JSON cannot decode into an interface type with methods
// (it cannot tell which concrete type to make): Register, Expose and
// Lookup refuse JSON for such an M; use a concrete struct type, or a Codec
// of your own that knows the variants.
type JSON[M any] struct{}

// Encode returns msg as JSON.
func (JSON[M]) Encode(msg M) ([]byte, error) { return json.Marshal(msg) }

// Decode parses a JSON message.
func (JSON[M]) Decode(data []byte) (M, error) {
	var msg M
	err := json.Unmarshal(data, &msg)
	return msg, err
}

// checkCodec refuses, up front, a codec that cannot decode M: JSON into an
// interface type with methods (encoding/json cannot pick a concrete type),
// which would otherwise turn every message into a codec dead letter on the
// receiving node, long after Send returned nil.
func checkCodec[M any](codec Codec[M]) error {
	switch codec.(type) {
	case JSON[M], *JSON[M]:
	default:
		return nil
	}
	t := reflect.TypeFor[M]()
	if t.Kind() == reflect.Interface && t.NumMethod() > 0 {
		return fmt.Errorf("%w: %w: remote.JSON cannot decode into the interface type %s: use a concrete struct type (say, one field per variant) or a custom Codec", ErrInvalid, ErrCodec, t)
	}
	return nil
}
