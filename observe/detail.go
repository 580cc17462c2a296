package observe

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/airssys/rt/supervisor"
)

// ChildDetail is the answer of GET /api/child: one child as a snapshot
// shows it, and what is too costly to compute for every child of every
// snapshot: where the child's last failure panicked, and the stack.
type ChildDetail struct {
	ChildSnapshot
	// Panic is set when the last error is a panic that recorded its stack
	// (a *supervisor.PanicError).
	Panic *PanicDetail `json:"panic,omitempty"`
	// Output is the last lines the child wrote, oldest first, when it keeps
	// them (an OS process child of package process), between incarnations
	// too: a crash-looping child is mostly waiting for its restart.
	Output []string `json:"output,omitempty"`
}

// outputTail is what observe needs from a child that keeps its output,
// found by duck typing (observe does not import package process): on the
// spec's Observable, which outlives incarnations, or else on the running
// instance.
type outputTail interface {
	Tail() []string
}

// childOutput returns the output lines ci keeps, if any.
func childOutput(ci *supervisor.ChildInfo) []string {
	if t, ok := ci.Observable.(outputTail); ok {
		return t.Tail()
	}
	if t, ok := ci.Instance.(outputTail); ok {
		return t.Tail()
	}
	return nil
}

// PanicDetail describes the panic of a child's last failure.
type PanicDetail struct {
	// Value is the value passed to panic, as the error's text gives it.
	Value string `json:"value"`
	// At names the function, file and line the panic came from.
	At string `json:"at,omitempty"`
	// Stack is the panicking goroutine's stack, innermost first.
	Stack string `json:"stack"`
}

// panicStack is what observe needs from a panic failure: the supervisor's
// PanicError records program counters at the recover and formats them only
// when asked, here.
type panicStack interface {
	error
	Stack() string
	At() string
}

// panicDetail finds a panic with a stack in err's chain.
func panicDetail(err error) *PanicDetail {
	var p panicStack
	if err == nil || !errors.As(err, &p) {
		return nil
	}
	return &PanicDetail{Value: p.Error(), At: p.At(), Stack: p.Stack()}
}

// serveChild answers GET /api/child?path=SUPERVISOR/CHILD.
func (o *Observer) serveChild(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	q, ok := parseQuery(w, r)
	if !ok {
		return
	}
	for k := range q {
		if k != "path" {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown parameter %q; known: path", k))
			return
		}
	}
	path := q.Get("path")
	supPath, name, ok := cutLast(path)
	if !ok {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("path %q: want SUPERVISOR/CHILD, such as root/web/handler-0", path))
		return
	}
	sup := findSupervisor(o.root, supPath)
	if sup == nil {
		writeError(w, http.StatusNotFound, "no supervisor "+supPath)
		return
	}
	info := sup.Info()
	for i := range info.Children {
		ci := &info.Children[i]
		if ci.Name != name {
			continue
		}
		now := time.Now()
		var placements map[string]string
		if cluster := clusterState(o.cfg.cluster, now); cluster != nil {
			placements = cluster.Placements
		}
		var totals Totals
		wk := walker{now: now, max: 1, totals: &totals, placements: placements}
		c, _ := wk.child(info.Path, ci, "")
		// A sub-supervisor's subtree is what /api/tree is for.
		c.Supervisor = nil
		d := ChildDetail{ChildSnapshot: c, Panic: panicDetail(ci.LastErr)}
		d.Output = childOutput(ci)
		writeJSON(w, http.StatusOK, d)
		return
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("supervisor %s has no child %s", supPath, name))
}

// cutLast splits a child's path at its last separator.
func cutLast(path string) (sup, name string, ok bool) {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 || i == len(path)-1 {
		return "", "", false
	}
	return path[:i], path[i+1:], true
}
