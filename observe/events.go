package observe

import (
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/airssys/rt/supervisor"
)

// EventRecord is one supervisor event as GET /api/events serves it, in the
// data field of a server-sent event whose id is ID.
type EventRecord struct {
	// ID numbers the events an Observer has seen, from 1, without gaps.
	ID         uint64    `json:"id"`
	Time       time.Time `json:"time"`
	Supervisor string    `json:"supervisor"` // path, "root/web"
	Child      string    `json:"child,omitempty"`
	Kind       string    `json:"kind"` // supervisor.EventKind's name: "child_failed"
	Error      string    `json:"error,omitempty"`
	Restarts   int       `json:"restarts"`
	// DelaySeconds is the backoff delay of a child_restart_scheduled event.
	DelaySeconds float64 `json:"delay_seconds,omitempty"`
	// Health is set on health events.
	Health *Health `json:"health,omitempty"`
}

func newEventRecord(id uint64, e supervisor.Event) EventRecord {
	r := EventRecord{
		ID: id, Time: e.Time, Supervisor: e.Supervisor, Child: e.Child, Kind: e.Kind.String(),
		Restarts: e.Restarts, DelaySeconds: e.Delay.Seconds(),
	}
	if e.Err != nil {
		r.Error = e.Err.Error()
	}
	if e.Kind == supervisor.EventHealthChanged || e.Kind == supervisor.EventHealthRestart {
		r.Health = &Health{State: e.Health.State.String(), Reason: e.Health.Reason}
	}
	return r
}

// appendJSON encodes r as encoding/json would, without reflection: every
// supervisor event passes through here, and at tens of thousands of
// events a second the generic encoder was the observer's main cost.
func (r EventRecord) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendUint(b, r.ID, 10)
	b = append(b, `,"time":"`...)
	b = r.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","supervisor":`...)
	b = appendJSONString(b, r.Supervisor)
	if r.Child != "" {
		b = append(b, `,"child":`...)
		b = appendJSONString(b, r.Child)
	}
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, r.Kind)
	if r.Error != "" {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, r.Error)
	}
	b = append(b, `,"restarts":`...)
	b = strconv.AppendInt(b, int64(r.Restarts), 10)
	if r.DelaySeconds != 0 {
		b = append(b, `,"delay_seconds":`...)
		b = strconv.AppendFloat(b, r.DelaySeconds, 'g', -1, 64)
	}
	if r.Health != nil {
		b = append(b, `,"health":{"state":`...)
		b = appendJSONString(b, r.Health.State)
		if r.Health.Reason != "" {
			b = append(b, `,"reason":`...)
			b = appendJSONString(b, r.Health.Reason)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as with encoding/json; unlike it, <, > and & are left alone, since
// the result is parsed as JSON and never pasted into HTML.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// entry is one event kept in the ring, already encoded: it is encoded once
// however many clients stream it.
type entry struct {
	id   uint64
	data []byte
}

// hub keeps the last events in a ring buffer and wakes the streams waiting
// for more. Streams read the ring at their own pace: a slow client never
// holds up the supervisor or another client; if it falls more than the
// ring's size behind, it is told how many events it missed.
type hub struct {
	mu     sync.Mutex
	ring   []entry // ring[(first+i)%len(ring)] for i < n
	first  int
	n      int
	last   uint64        // id of the newest event; 0 before any
	wake   chan struct{} // closed and replaced on every publish
	closed bool
}

func newHub(size int) *hub {
	return &hub{ring: make([]entry, size), wake: make(chan struct{})}
}

// publish records e. Subscribe delivers events one at a time, so publish
// is never called concurrently with itself; the lock is for the readers.
func (h *hub) publish(e supervisor.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.last++
	en := entry{id: h.last, data: newEventRecord(h.last, e).appendJSON(nil)}
	if h.n < len(h.ring) {
		h.ring[(h.first+h.n)%len(h.ring)] = en
		h.n++
	} else {
		h.ring[h.first] = en
		h.first = (h.first + 1) % len(h.ring)
	}
	close(h.wake)
	h.wake = make(chan struct{})
}

// cursor is where a stream stands and what it waits for.
type cursor struct {
	entries []entry         // the events after the requested id, oldest first
	missed  uint64          // events after the requested id no longer in the ring
	wake    <-chan struct{} // closed when there is more
	closed  bool            // the hub is closed: no more events will come
}

// since appends to buf the events with an id greater than after.
func (h *hub) since(after uint64, buf []entry) cursor {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := cursor{wake: h.wake, closed: h.closed}
	if after >= h.last {
		c.entries = buf
		return c
	}
	oldest := h.last - uint64(h.n) + 1
	if after+1 < oldest {
		c.missed = oldest - after - 1
		after = oldest - 1
	}
	skip := int(after + 1 - oldest)
	for i := skip; i < h.n; i++ {
		buf = append(buf, h.ring[(h.first+i)%len(h.ring)])
	}
	c.entries = buf
	return c
}

// lastID is the id of the newest event.
func (h *hub) lastID() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

// close wakes every stream for the last time.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	close(h.wake)
}
