package demo

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/airssys/rt/health"
	"github.com/airssys/rt/supervisor"
)

// Printer writes the events of a tree as short lines, one per transition,
// with the supervisor's path below the root in the first column. A run of
// the same transition in one supervisor becomes one line, so that a group
// restart reads as what it is:
//
//	data-layer      cache failed: injected fault
//	data-layer      stopped repository
//	data-layer      restarted cache, repository
//
// Pass its Event method to supervisor.WithEventHandler or Subscribe. A line
// is written once the next event, a Printf or a Flush shows that its run is
// over. Routine events of sub-supervisors (started, stopped) are left out:
// their parent's line about them says the same.
//
// A Printer is safe for concurrent use.
type Printer struct {
	mu      sync.Mutex
	w       io.Writer
	pending *group // a run of mergeable events not written yet
}

// group is a run of one mergeable kind of event in one supervisor.
type group struct {
	sup      string
	kind     supervisor.EventKind
	children []string
}

// NewPrinter returns a Printer writing to w.
func NewPrinter(w io.Writer) *Printer { return &Printer{w: w} }

// Event records e, writing it now or when its run of similar events ends.
func (p *Printer) Event(e supervisor.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sup := relPath(e.Supervisor)
	if mergeable(e.Kind) && e.Child != "" {
		if g := p.pending; g != nil && g.sup == sup && g.kind == e.Kind {
			g.children = append(g.children, e.Child)
			return
		}
		p.flush()
		p.pending = &group{sup: sup, kind: e.Kind, children: []string{e.Child}}
		return
	}
	p.flush()
	if text := describe(e); text != "" {
		p.line(sup, text)
	}
}

// Printf writes a line of the program's own, after any pending events.
func (p *Printer) Printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flush()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// Flush writes the pending run of events, if any.
func (p *Printer) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flush()
}

func (p *Printer) flush() {
	g := p.pending
	if g == nil {
		return
	}
	p.pending = nil
	p.line(g.sup, verb(g.kind)+" "+strings.Join(g.children, ", "))
}

func (p *Printer) line(sup, text string) {
	fmt.Fprintf(p.w, "  %-15s %s\n", sup, text)
}

// relPath drops the root from a supervisor's path: the root itself keeps
// its name, "microservice/data-layer" becomes "data-layer".
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
// its whole history in its error, already told by earlier lines.
func reason(err error) string {
	switch {
	case err == nil:
		return "no error"
	case errors.Is(err, supervisor.ErrIntensityExceeded):
		return "too many restarts"
	}
	return err.Error()
}

// WriteTree writes sup and everything below it, one line each, with each
// child's state, automatic restarts and health when it is not healthy:
//
//	microservice        OneForAll   running
//	├── http-api        OneForOne   running  restarts=0
//	│   ├── handler-0               running  restarts=1
//
// The supervisors are asked one after the other, so a tree that is busy
// restarting may be shown half before and half after a transition.
func WriteTree(w io.Writer, sup *supervisor.Supervisor) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	info := sup.Info()
	state := "running"
	switch {
	case info.Err != nil:
		state = "failed: " + reason(info.Err)
	case !info.Running:
		state = "stopped"
	}
	fmt.Fprintf(tw, "%s\t%v\t%s\n", info.Name, info.Strategy, state)
	writeChildren(tw, info.Children, "")
	return tw.Flush()
}

func writeChildren(tw io.Writer, children []supervisor.ChildInfo, indent string) {
	for i, c := range children {
		branch, next := "├── ", "│   "
		if i == len(children)-1 {
			branch, next = "└── ", "    "
		}
		strategy := ""
		var sub []supervisor.ChildInfo
		if c.Supervisor != nil {
			info := c.Supervisor.Info()
			strategy, sub = info.Strategy.String(), info.Children
		}
		line := fmt.Sprintf("%s%s%s\t%s\t%s\trestarts=%d", indent, branch, c.Name, strategy, c.State, c.Restarts)
		if c.Health.State != health.StateHealthy {
			line += "  " + c.Health.String()
		}
		fmt.Fprintln(tw, line)
		writeChildren(tw, sub, indent+next)
	}
}
