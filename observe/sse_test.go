package observe

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/airssys/rt/supervisor"
)

func decodeEvent(t *testing.T, e sseEvent) EventRecord {
	t.Helper()
	var r EventRecord
	if err := json.Unmarshal([]byte(e.data), &r); err != nil {
		t.Fatalf("event data %q: %v", e.data, err)
	}
	if strconv.FormatUint(r.ID, 10) != e.id {
		t.Fatalf("SSE id %q but record id %d", e.id, r.ID)
	}
	return r
}

// nextEvent skips keep-alive comments and returns the next data event.
func (r *sseReader) nextEvent(t *testing.T) (sseEvent, EventRecord) {
	t.Helper()
	for {
		e := r.next()
		if e.data == "" {
			continue
		}
		if e.event != "" {
			return e, EventRecord{}
		}
		return e, decodeEvent(t, e)
	}
}

// crashDB makes db fail and waits until its restart has been published.
func crashDB(t *testing.T, tt *testTree) {
	t.Helper()
	restarted := waitEvent(t, tt.root, isKind(supervisor.EventChildRestarted, "db"))
	tt.dbFail <- errBoom
	restarted()
}

// waitHub waits until the observer's hub has published event id, failing
// the test after a generous timeout (it only bounds a hang).
func waitHub(t *testing.T, o *Observer, id uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for o.hub.lastID() < id {
		if time.Now().After(deadline) {
			t.Fatalf("hub at event %d, want %d", o.hub.lastID(), id)
		}
		time.Sleep(time.Millisecond)
	}
}

// expectDBCrash reads the two events of one crash of db.
func expectDBCrash(t *testing.T, r *sseReader, restarts int) (lastID uint64) {
	t.Helper()
	_, failed := r.nextEvent(t)
	_, restarted := r.nextEvent(t)
	if failed.Kind != "child_failed" || failed.Child != "db" || failed.Error != "boom" ||
		failed.Supervisor != "root" {
		t.Errorf("first event %+v, want db failed", failed)
	}
	if restarted.Kind != "child_restarted" || restarted.Restarts != restarts ||
		restarted.ID != failed.ID+1 {
		t.Errorf("second event %+v, want db restarted (%d) right after", restarted, restarts)
	}
	return restarted.ID
}

func TestEventStream(t *testing.T) {
	tt := startTree(t)
	_, srv := newObserver(t, tt.root)
	r, _ := openStream(t, srv.URL, "", "")
	crashDB(t, tt)
	if id := expectDBCrash(t, r, 1); id != 2 {
		t.Errorf("ids start at 1: last id %d", id)
	}

	// Every event shape has the documented keys.
	crashDB(t, tt)
	raw, _ := r.nextEvent(t)
	var doc map[string]any
	must(t, json.Unmarshal([]byte(raw.data), &doc))
	expectKeys(t, "event", doc, "id", "time", "supervisor", "child", "kind", "error", "restarts")
}

// TestEventStreamReconnect: a client that comes back with Last-Event-ID
// gets exactly the events it missed, then the live ones.
func TestEventStreamReconnect(t *testing.T) {
	tt := startTree(t)
	_, srv := newObserver(t, tt.root)
	r, disconnect := openStream(t, srv.URL, "", "")
	crashDB(t, tt)
	last := expectDBCrash(t, r, 1)
	disconnect()

	crashDB(t, tt) // while away
	crashDB(t, tt)

	r, _ = openStream(t, srv.URL, strconv.FormatUint(last, 10), "")
	expectDBCrash(t, r, 2)
	expectDBCrash(t, r, 3)
	crashDB(t, tt) // live again
	if id := expectDBCrash(t, r, 4); id != 8 {
		t.Errorf("last id %d, want 8: no event lost or repeated", id)
	}

	// The header wins over the query parameter, which serves when there is
	// no header; 0 replays the buffer.
	r, _ = openStream(t, srv.URL, "6", "?last_event_id=0")
	if e, rec := r.nextEvent(t); rec.ID != 7 {
		t.Errorf("header 6: first event %+v", e)
	}
	r, _ = openStream(t, srv.URL, "", "?last_event_id=0")
	if e, rec := r.nextEvent(t); rec.ID != 1 {
		t.Errorf("last_event_id=0: first event %+v", e)
	}
}

// TestEventStreamGap: a client further behind than the ring buffer is told
// how much it missed, then gets what the buffer still holds.
func TestEventStreamGap(t *testing.T) {
	tt := startTree(t)
	o, srv := newObserver(t, tt.root, WithEventBuffer(4))
	for range 3 {
		crashDB(t, tt) // events 1..6; the ring keeps 3..6
	}
	// Each event handler has a delivery goroutine of its own, so crashDB's
	// handler may see the 6th event before the observer's hub has it.
	waitHub(t, o, 6)
	r, _ := openStream(t, srv.URL, "1", "")
	e, _ := r.nextEvent(t)
	if e.event != "gap" || e.data != `{"missed":1}` {
		t.Fatalf("got %+v, want a gap of 1", e)
	}
	if _, rec := r.nextEvent(t); rec.ID != 3 {
		t.Errorf("after the gap: %+v, want id 3", rec)
	}

	// An id from the future (an earlier run of the server) gets a reset.
	r, _ = openStream(t, srv.URL, "1000", "")
	e, _ = r.nextEvent(t)
	if e.event != "reset" || e.data != `{"last_id":6}` {
		t.Fatalf("got %+v, want a reset", e)
	}
	crashDB(t, tt)
	if _, rec := r.nextEvent(t); rec.ID != 7 {
		t.Errorf("after the reset: %+v, want id 7", rec)
	}
}

// TestEventStreamClose: Close ends open streams, so a server can shut down.
func TestEventStreamClose(t *testing.T) {
	tt := startTree(t)
	o, srv := newObserver(t, tt.root)
	r, _ := openStream(t, srv.URL, "", "")
	o.Close()
	if r.sc.Scan() {
		t.Fatalf("stream still open after Close: %q", r.sc.Text())
	}
}

func TestHubRing(t *testing.T) {
	h := newHub(3)
	for i := range 5 {
		h.publish(supervisor.Event{Supervisor: "root", Child: fmt.Sprint(i)})
	}
	cur := h.since(0, nil)
	if cur.missed != 2 || len(cur.entries) != 3 || cur.entries[0].id != 3 || cur.entries[2].id != 5 {
		t.Errorf("since 0: missed %d, entries %v", cur.missed, cur.entries)
	}
	if cur := h.since(4, nil); cur.missed != 0 || len(cur.entries) != 1 || cur.entries[0].id != 5 {
		t.Errorf("since 4: %+v", cur)
	}
	if cur := h.since(5, nil); len(cur.entries) != 0 {
		t.Errorf("since 5: %+v", cur)
	}
	h.close()
	h.publish(supervisor.Event{})
	if cur := h.since(5, nil); !cur.closed || len(cur.entries) != 0 || h.lastID() != 5 {
		t.Errorf("after close: %+v", cur)
	}
}

// TestEventRecordJSON: the hand-written encoder agrees with encoding/json.
func TestEventRecordJSON(t *testing.T) {
	for _, r := range []EventRecord{
		{ID: 1, Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Supervisor: "root", Kind: "supervisor_started"},
		{ID: 2, Time: time.Now(), Supervisor: "root/web", Child: "w\"1\\\n\t\r\x01<&>é\u2028", Kind: "child_failed",
			Error: "bad \xff utf8", Restarts: 7, DelaySeconds: 0.125},
		{ID: 3, Supervisor: "r", Child: "c", Kind: "health_changed", Health: &Health{State: "degraded", Reason: "slow"}},
		{ID: 4, Supervisor: "r", Child: "c", Kind: "health_changed", Health: &Health{State: "healthy"}},
	} {
		want, err := json.Marshal(r)
		must(t, err)
		got := r.appendJSON(nil)
		var a, b any
		must(t, json.Unmarshal(want, &a))
		if err := json.Unmarshal(got, &b); err != nil {
			t.Fatalf("%s: %v", got, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("appendJSON:\n got  %s\n want %s", got, want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" back\\ nl\n", "\x00\x1f\x7f", "é€😀", "\xff\xfe", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got string
		if err := json.Unmarshal(appendJSONString(nil, s), &got); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		std, _ := json.Marshal(s)
		var want string
		must(t, json.Unmarshal(std, &want))
		if got != want {
			t.Fatalf("%q decoded as %q, encoding/json gives %q", s, got, want)
		}
	})
}
