package remote

import (
	"testing"

	"github.com/airssys/rt/actor"
)

type plain struct {
	A int
	B []string
	C map[string]float64
}

type withReply struct {
	N int
	R actor.Reply[int]
}

type nested struct {
	Items []*withReply
}

type recursive struct {
	Next *recursive
	Vals []int
}

type holdsAny struct{ V any }

// carriesReply decides which messages are encoded under the process-wide
// binding (slow, serialised) and which are not (a plain message never
// needs it): a wrong "false" would make Asks fail with ErrCodec.
func TestCarriesReply(t *testing.T) {
	for name, got := range map[string][2]bool{
		"plain":     {carriesReply[plain](), false},
		"string":    {carriesReply[string](), false},
		"withReply": {carriesReply[withReply](), true},
		"nested":    {carriesReply[nested](), true},
		"reply":     {carriesReply[actor.Reply[string]](), true},
		"recursive": {carriesReply[recursive](), false},
		"any":       {carriesReply[holdsAny](), true},
		"mapValue":  {carriesReply[map[string]withReply](), true},
	} {
		if got[0] != got[1] {
			t.Errorf("carriesReply[%s] = %v, want %v", name, got[0], got[1])
		}
	}
}

// Topic names map to distinct subject tokens, whatever their characters.
func TestTopicSubjects(t *testing.T) {
	tr := transport{&Node{prefix: "airssys.x."}}
	seen := map[string]string{}
	for _, topic := range []string{"a", "a.b", "a%2Eb", "a b", "a*", "a>", "a\tb", "é", "a%", "%25"} {
		s := tr.topicSubject(topic)
		if other, dup := seen[s]; dup {
			t.Errorf("topics %q and %q share subject %q", topic, other, s)
		}
		seen[s] = topic
		tok := s[len("airssys.x.t."):]
		for _, c := range []byte(tok) {
			if c <= ' ' || c == '.' || c == '*' || c == '>' || c >= 0x7f {
				t.Errorf("topic %q: subject token %q has %q", topic, tok, c)
			}
		}
	}
}
