package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/airssys/rt/health"
)

// EventKind names a transition in a supervision tree.
type EventKind int

const (
	EventSupervisorStarted     EventKind = iota // a supervisor started all its children
	EventSupervisorStopped                      // a supervisor ended; Err is its final error (wraps ErrIntensityExceeded if it gave up)
	EventChildStarted                           // an incarnation started (first start or manual)
	EventChildRestarted                         // an incarnation started by an automatic restart
	EventChildExited                            // an incarnation ended normally on its own
	EventChildFailed                            // an incarnation failed; Err says how
	EventChildStartFailed                       // New or Start failed; Err says how
	EventChildRestartScheduled                  // a restart waits for its backoff delay (Delay)
	EventChildStopped                           // the supervisor stopped the child
	EventChildAbandoned                         // an incarnation outlived its shutdown (and its Kill, or KillTimeout after BrutalKill) and was left running
	EventChildRemoved                           // the spec was removed
	EventHealthChanged                          // a health check's state differs from the last one
	EventHealthRestart                          // the child reached its unhealthy threshold and is restarted
	EventIntensityExceeded                      // too many restarts: the supervisor gives up
	EventAutoShutdown                           // significant children ended the supervisor
)

var eventNames = [...]string{
	"supervisor_started", "supervisor_stopped", "child_started", "child_restarted",
	"child_exited", "child_failed", "child_start_failed", "child_restart_scheduled",
	"child_stopped", "child_abandoned", "child_removed", "health_changed",
	"health_restart", "intensity_exceeded", "auto_shutdown",
}

// String returns the kind's snake_case name, as logged.
func (k EventKind) String() string {
	if k >= 0 && int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// MarshalText makes an EventKind read as its name in JSON.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Event is one transition of a supervision tree.
//
// Restarts counts automatic restarts, of the event's subject:
//   - For a child's event (Child set), the child's restarts that have
//     succeeded so far, as [ChildInfo.Restarts] reports them at that moment.
//     A restart that fails to start is not counted: EventChildStartFailed
//     says restarts=2 when the third attempt fails, and the
//     EventIntensityExceeded that may follow says 2 as well.
//   - For the supervisor's own events (Child empty), the restarts counted
//     in its intensity window, as [Info.RestartsInWindow] reports them. On
//     the EventSupervisorStopped of a supervisor that gave up, it is the
//     count that went over the limit (max+1), and Err wraps
//     [ErrIntensityExceeded].
//
// Logs and String name the two "restarts" and "restarts_in_window", so a
// line never needs the reader to know which is which.
type Event struct {
	Time       time.Time
	Supervisor string // path of the supervisor, "root/web"
	Child      string // empty for events of the supervisor itself
	Kind       EventKind
	Err        error
	Restarts   int           // see above: the child's, or the supervisor's in its window
	Delay      time.Duration // for EventChildRestartScheduled
	Health     health.Status // for health events
}

// restartsKey is the name of Restarts in logs and String.
func (e Event) restartsKey() string {
	if e.Child == "" {
		return "restarts_in_window"
	}
	return "restarts"
}

// LogLevel is the level an event is logged at: routine transitions at Debug,
// failures at Info, lost goroutines and health restarts at Warn, giving up
// at Error, so a default logger reports trouble without a line per start.
func (e Event) LogLevel() slog.Level {
	switch e.Kind {
	case EventChildFailed, EventChildStartFailed:
		return slog.LevelInfo
	case EventChildAbandoned, EventHealthRestart:
		return slog.LevelWarn
	case EventIntensityExceeded:
		return slog.LevelError
	case EventSupervisorStopped:
		if e.Err != nil {
			return slog.LevelError
		}
	}
	return slog.LevelDebug
}

// String renders the event as one readable line.
func (e Event) String() string {
	s := e.Supervisor
	if e.Child != "" {
		s += "/" + e.Child
	}
	s += " " + e.Kind.String()
	if e.Restarts > 0 {
		s += fmt.Sprintf(" %s=%d", e.restartsKey(), e.Restarts)
	}
	if e.Delay > 0 {
		s += " delay=" + e.Delay.String()
	}
	if e.Kind == EventHealthChanged || e.Kind == EventHealthRestart {
		s += " health=" + e.Health.String()
	}
	if e.Err != nil {
		s += " err=" + e.Err.Error()
		if at := panicAt(e.Err); at != "" {
			s += " at " + at
		}
	}
	return s
}

// panicAt names where a panic behind err came from, or returns "".
func panicAt(err error) string {
	var pe *PanicError
	if !errors.As(err, &pe) {
		return ""
	}
	return pe.At()
}

func (e Event) log(l *slog.Logger) {
	lvl := e.LogLevel()
	if !l.Enabled(context.Background(), lvl) {
		return
	}
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, slog.String("supervisor", e.Supervisor))
	if e.Child != "" {
		attrs = append(attrs, slog.String("child", e.Child))
	}
	attrs = append(attrs, slog.Int(e.restartsKey(), e.Restarts))
	if e.Delay > 0 {
		attrs = append(attrs, slog.Duration("delay", e.Delay))
	}
	if e.Kind == EventHealthChanged || e.Kind == EventHealthRestart {
		attrs = append(attrs, slog.String("health", e.Health.String()))
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String("error", e.Err.Error()))
		// A panic is a bug: say where it happened, and show the stack.
		var pe *PanicError
		if errors.As(e.Err, &pe) {
			if at := pe.At(); at != "" {
				attrs = append(attrs, slog.String("at", at), slog.String("stack", pe.Stack()))
			}
		}
	}
	l.LogAttrs(context.Background(), lvl, e.Kind.String(), attrs...)
}

// emit stamps an event and hands it to the dispatchers that want it: the
// logger of this supervisor, and the handlers of it and its ancestors.
func (r *run) emit(e Event) { r.emitHolding(e, false) }

// emitHeld is emit on the loop's goroutine, which may hold the wake-ups
// (holdWakes) while it restarts a child.
func (r *run) emitHeld(e Event) { r.emitHolding(e, r.holding) }

// emitHolding is emit; hold says that a handler's dispatcher found parked
// is not woken but owes its wake-up (holdWakes). A log line is never
// held.
func (r *run) emitHolding(e Event, hold bool) {
	s := r.s
	log, handlers := r.listeners(e.LogLevel())
	if !log && !handlers {
		return
	}
	if e.Time.IsZero() { // the caller may have read the clock already
		e.Time = time.Now()
	}
	e.Supervisor = r.path
	if log && s.cfg.handler == nil {
		s.events.push(&e, true, false)
	}
	held := false
	for p := s; p != nil; p = p.parent {
		if p.cfg.handler != nil {
			l := log && p == s
			held = p.events.push(&e, l, hold && !l) || held
		}
		if subs := p.subs.Load(); subs != nil {
			for _, sub := range *subs {
				held = sub.events.push(&e, false, hold) || held
			}
		}
	}
	if held {
		r.held = true
	}
}

// emitInc is emitHeld for inc's start or end, an event of kind k at now
// (EventChildStarted, EventChildRestarted, EventChildExited or
// EventChildFailed): the events of every restart, which the dispatchers
// record by reference rather than copy (see dispatchItem).
func (r *run) emitInc(k EventKind, inc *incarnation, now time.Time) {
	restarts := inc.c.rd().restarts
	if restarts > math.MaxInt32 {
		e := Event{Time: now, Kind: k, Child: inc.c.spec.Name, Restarts: restarts}
		if k == EventChildFailed || k == EventChildExited {
			e.Err = inc.err
		}
		r.emitHeld(e)
		return
	}
	s := r.s
	log, handlers := r.listeners(Event{Kind: k}.LogLevel())
	if !log && !handlers {
		return
	}
	hold := r.holding
	if log && s.cfg.handler == nil {
		s.events.pushInc(k, inc, &now, restarts, true, false)
	}
	held := false
	for p := s; p != nil; p = p.parent {
		if p.cfg.handler != nil {
			l := log && p == s
			held = p.events.pushInc(k, inc, &now, restarts, l, hold && !l) || held
		}
		if subs := p.subs.Load(); subs != nil {
			for _, sub := range *subs {
				held = sub.events.pushInc(k, inc, &now, restarts, false, hold) || held
			}
		}
	}
	if held {
		r.held = true
	}
}

// listeners reports whether this supervisor's logger logs an event at lvl,
// and whether any handler or subscriber of it or its ancestors wants it.
func (r *run) listeners(lvl slog.Level) (log, handlers bool) {
	s := r.s
	log = s.logger().Enabled(context.Background(), lvl)
	for p := s; p != nil && !handlers; p = p.parent {
		handlers = p.cfg.handler != nil || p.subs.Load() != nil && len(*p.subs.Load()) > 0
	}
	return log, handlers
}
