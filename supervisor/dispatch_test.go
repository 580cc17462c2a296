package supervisor

import (
	"bytes"
	"context"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// goroutineID parses the running goroutine's id, for tests only.
func goroutineID() uint64 {
	var buf [64]byte
	b := bytes.TrimPrefix(buf[:runtime.Stack(buf[:], false)], []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}

// Issue 10: every burst of events started a goroutine (and parsed its id
// from runtime.Stack). Now one delivery goroutine per handler serves every
// burst while the supervisor runs, and ends with it.
func TestRegressionOneDeliveryGoroutinePerHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		ids := map[string][]uint64{}
		record := func(who string) func(Event) {
			return func(Event) {
				mu.Lock()
				ids[who] = append(ids[who], goroutineID())
				mu.Unlock()
			}
		}
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet, WithEventHandler(record("handler")),
			WithIntensity(100, time.Second))
		cancel := s.Subscribe(record("subscriber"))
		defer cancel()
		r.add(t, s, "w")
		mustStart(t, s)
		for range 3 {
			synctest.Wait() // the burst is delivered; the delivery goroutines idle
			r.crash("w", errBoom)
		}
		synctest.Wait()
		mu.Lock()
		for who, got := range ids {
			if len(got) < 4 || len(slices.Compact(slices.Clone(got))) != 1 {
				t.Errorf("%s delivered by goroutines %v, want one", who, got)
			}
		}
		if ids["handler"][0] == ids["subscriber"][0] {
			t.Error("the handler and the subscriber share a goroutine: a slow one would delay the other")
		}
		mu.Unlock()
		mustStop(t, s)
		// synctest.Test fails if a delivery goroutine outlives the test.
	})
}

// Issue 7 item 6: a panicking handler was recovered silently. Now the
// panic is logged at Error with its stack, and later events still come.
func TestRegressionEventHandlerPanicIsReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf syncBuffer
		logger := slog.New(slog.NewJSONHandler(&buf, nil))
		var mu sync.Mutex
		var seen []EventKind
		r := newRig()
		s := New("root", OneForOne, Permanent, WithLogger(logger), WithEventHandler(func(e Event) {
			mu.Lock()
			seen = append(seen, e.Kind)
			mu.Unlock()
			if e.Kind == EventChildStarted {
				panicInHandler()
			}
		}))
		r.add(t, s, "w")
		mustStart(t, s)
		mustStop(t, s)
		mu.Lock()
		got := slices.Clone(seen)
		mu.Unlock()
		want := []EventKind{EventChildStarted, EventSupervisorStarted, EventChildStopped, EventSupervisorStopped}
		if !slices.Equal(got, want) {
			t.Errorf("events %v, want %v", got, want)
		}
		var line map[string]any
		for _, l := range buf.lines() {
			if l["msg"] == "event handler panicked" {
				line = l
			}
		}
		at, _ := line["at"].(string)
		stack, _ := line["stack"].(string)
		if line["level"] != "ERROR" || line["panic"] != "handler bug" || line["event"] != "child_started" ||
			line["supervisor"] != "root" || !strings.Contains(at, "panicInHandler (") || !strings.Contains(stack, "panicInHandler") {
			t.Errorf("log line %v", line)
		}
	})
}

func panicInHandler() { panic("handler bug") }

// Subscribers get their own goroutine and the same care: a panicking one
// is reported through the logger of the supervisor it subscribed to.
func TestSubscriberPanicIsReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf syncBuffer
		logger := slog.New(slog.NewJSONHandler(&buf, nil))
		s := New("root", OneForOne, Permanent, WithLogger(logger))
		var n int
		cancel := s.Subscribe(func(Event) { n++; panic("subscriber bug") })
		r := newRig()
		r.add(t, s, "w")
		mustStart(t, s)
		mustStop(t, s)
		cancel()
		panics := 0
		for _, l := range buf.lines() {
			if l["msg"] == "event handler panicked" && l["panic"] == "subscriber bug" {
				panics++
			}
		}
		if n != 4 || panics != 4 {
			t.Fatalf("%d calls, %d reported panics; want 4 and 4", n, panics)
		}
	})
}

// Stop returns after the handlers have seen every event, in order, even
// slow ones; the supervisor itself never waited for them.
func TestStopDrainsSlowHandlersInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var seen []string
		s := New("root", OneForOne, Permanent, quiet, WithIntensity(100, time.Second), WithEventHandler(func(e Event) {
			time.Sleep(time.Second) // slow
			mu.Lock()
			seen = append(seen, e.Child+" "+e.Kind.String())
			mu.Unlock()
		}))
		r := newRig()
		r.add(t, s, "a", "b")
		t0 := time.Now()
		mustStart(t, s)
		r.crash("a", errBoom)
		r.crash("a", errBoom)
		// The incarnation has taken the crash, but its exit may still be on
		// its way to the supervisor: let the restart happen, or Stop could
		// come first and find a child to stop rather than one to restart.
		synctest.Wait()
		if d := time.Since(t0); d != 0 {
			t.Fatalf("the supervisor waited %v for its handler", d)
		}
		mustStop(t, s)
		mu.Lock()
		defer mu.Unlock()
		want := []string{"a child_started", "b child_started", " supervisor_started",
			"a child_failed", "a child_restarted", "a child_failed", "a child_restarted",
			"b child_stopped", "a child_stopped", " supervisor_stopped"}
		if !slices.Equal(seen, want) {
			t.Fatalf("seen\n %q\nwant\n %q", seen, want)
		}
		if d := time.Since(t0); d != time.Duration(len(want))*time.Second {
			t.Fatalf("Stop returned after %v, before the handler was done", d)
		}
	})
}

// A supervisor started again after it ended delivers events again, to
// handlers and to subscribers made while it was stopped.
func TestEventsAfterRestartOfSupervisor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ev eventLog
		s := New("root", OneForOne, Permanent, quiet)
		r := newRig()
		r.add(t, s, "w")
		mustStart(t, s)
		mustStop(t, s)
		cancel := s.Subscribe(ev.handler)
		defer cancel()
		mustStart(t, s)
		synctest.Wait()
		mustStop(t, s)
		if kinds := ev.kinds("w"); !slices.Equal(kinds, []EventKind{EventChildStarted, EventChildStopped}) {
			t.Fatalf("events %v", kinds)
		}
	})
}

// onDeliverer knows a handler's goroutine by the delivery loop's name.
func TestOnDelivererSeesTheDeliveryLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inHandler := make(chan bool, 1)
		s := New("root", OneForOne, Permanent, quiet, WithEventHandler(func(e Event) {
			if e.Kind == EventSupervisorStarted {
				inHandler <- onDeliverer()
			}
		}))
		mustStart(t, s)
		if !<-inHandler {
			t.Fatalf("a handler is not on a delivery goroutine: is %q still the loop's name?", deliveryLoop)
		}
		if onDeliverer() {
			t.Fatal("the test's goroutine is a delivery goroutine")
		}
		mustStop(t, s)
	})
}

// The disposer's goroutine is known by name the same way.
func TestOnStackSeesTheDisposerLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inHook := make(chan bool, 1)
		s := New("root", OneForOne, Permanent, quiet)
		err := s.StartChild(Spec{Name: "temp", Restart: Temporary,
			New:     func() Child { return ChildFunc(func(context.Context) error { return nil }) },
			Dispose: func(error) { inHook <- onStack(disposerLoop) }})
		if err != nil {
			t.Fatal(err)
		}
		mustStart(t, s)
		if !<-inHook {
			t.Fatalf("a Dispose hook is not on the disposer's goroutine: is %q still its name?", disposerLoop)
		}
		mustStop(t, s)
	})
}
