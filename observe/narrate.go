package observe

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/airssys/rt/health"
	"github.com/airssys/rt/supervisor"
)

// A Narrator tells what a supervision tree does, in plain words, one short
// line per transition: for a terminal, a log file or a test to read, where
// Event.String's key=value form suits machines. Each line starts with the
// supervisor's path below the root (the root keeps its name), then says
// what happened:
//
//	data-layer      cache failed: injected fault
//	data-layer      stopped repository
//	data-layer      restarted cache, repository
//
// A run of the same transition in one supervisor becomes one line, so a
// group restart reads as what it is. Such a line is written once the next
// event, a Printf or a Flush shows that its run is over; everything else
// is written at once. Routine events of sub-supervisors (started, stopped)
// are left out: their parent's line about them says the same.
//
// Pass Event to supervisor.WithEventHandler or Supervisor.Subscribe. A
// Narrator is safe for concurrent use. Write errors are ignored: a story
// that cannot be told must not stop the tree it tells of.
type Narrator struct {
	mu      sync.Mutex
	w       io.Writer
	pending *run // a run of mergeable events not written yet
}

// run is a run of one mergeable kind of event in one supervisor.
type run struct {
	sup      string
	kind     supervisor.EventKind
	children []string
}

// NewNarrator returns a Narrator writing to w.
func NewNarrator(w io.Writer) *Narrator { return &Narrator{w: w} }

// Event tells e, now or when its run of similar events ends.
func (n *Narrator) Event(e supervisor.Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	sup := relPath(e.Supervisor)
	if mergeable(e.Kind) && e.Child != "" {
		if r := n.pending; r != nil && r.sup == sup && r.kind == e.Kind {
			r.children = append(r.children, e.Child)
			return
		}
		n.flush()
		n.pending = &run{sup: sup, kind: e.Kind, children: []string{e.Child}}
		return
	}
	n.flush()
	if text := describe(e); text != "" {
		n.line(sup, text)
	}
}

// Printf writes a line of the program's own, unindented, after the events
// told so far: a story's narration between the tree's lines.
func (n *Narrator) Printf(format string, args ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.flush()
	fmt.Fprintf(n.w, format+"\n", args...)
}

// Flush writes the pending run of events, if any.
func (n *Narrator) Flush() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.flush()
}

func (n *Narrator) flush() {
	r := n.pending
	if r == nil {
		return
	}
	n.pending = nil
	n.line(r.sup, verb(r.kind)+" "+strings.Join(r.children, ", "))
}

func (n *Narrator) line(sup, text string) {
	fmt.Fprintf(n.w, "  %-15s %s\n", sup, text)
}

// relPath drops the root from a supervisor's path: the root itself keeps
// its name, "shop/data-layer" becomes "data-layer".
func relPath(path string) string {
	if _, rest, ok := strings.Cut(path, "/"); ok {
		return rest
	}
	return path
}

func mergeable(k supervisor.EventKind) bool {
	switch k {
	case supervisor.EventChildStarted, supervisor.EventChildRestarted,
		supervisor.EventChildStopped, supervisor.EventChildRemoved:
		return true
	}
	return false
}

func verb(k supervisor.EventKind) string {
	switch k {
	case supervisor.EventChildStarted:
		return "started"
	case supervisor.EventChildRestarted:
		return "restarted"
	case supervisor.EventChildStopped:
		return "stopped"
	case supervisor.EventChildRemoved:
		return "removed"
	}
	return k.String()
}

// describe renders an event that is not merged, or "" to leave it out.
func describe(e supervisor.Event) string {
	top := !strings.Contains(e.Supervisor, "/")
	switch e.Kind {
	case supervisor.EventSupervisorStarted:
		if top {
			return "started"
		}
	case supervisor.EventSupervisorStopped:
		if top && e.Err != nil {
			return "stopped: " + reason(e.Err)
		} else if top {
			return "stopped"
		}
	case supervisor.EventChildFailed:
		return e.Child + " failed: " + reason(e.Err)
	case supervisor.EventChildExited:
		return e.Child + " exited"
	case supervisor.EventChildStartFailed:
		return e.Child + " failed to start: " + reason(e.Err)
	case supervisor.EventChildRestartScheduled:
		return fmt.Sprintf("%s restarts in %v", e.Child, e.Delay)
	case supervisor.EventChildAbandoned:
		return "abandoned " + e.Child + ": " + reason(e.Err)
	case supervisor.EventHealthChanged:
		if e.Health.State == health.StateHealthy {
			return e.Child + " is healthy again"
		}
		return e.Child + " is " + e.Health.String()
	case supervisor.EventHealthRestart:
		// The reason of the last check tells more than e.Err, which counts them.
		return "restarting " + e.Child + ": unhealthy too long (" + e.Health.Reason + ")"
	case supervisor.EventIntensityExceeded:
		if top {
			return "gave up: too many restarts"
		}
		return "gave up: too many restarts, escalating to its parent"
	case supervisor.EventAutoShutdown:
		return e.Child + " ended: shutting down"
	default:
		return e.String()
	}
	return ""
}

// reason is the short form of a failure: a supervisor that gave up carries
// its whole history in its error, already told by earlier lines; a panic's
// stack is for logs, not for a story.
func reason(err error) string {
	if err == nil {
		return "no error"
	}
	if errors.Is(err, supervisor.ErrIntensityExceeded) {
		return "too many restarts"
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}
