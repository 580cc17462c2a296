package observe

import (
	"encoding/json"
	"sync"
	"time"

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
	data, err := json.Marshal(newEventRecord(h.last, e))
	if err != nil {
		// EventRecord holds only plain values; this cannot happen, but a
		// missing event is better than a panic in an observer.
		data = []byte(`{}`)
	}
	en := entry{id: h.last, data: data}
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
