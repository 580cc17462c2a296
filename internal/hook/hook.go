// Package hook names the agreement between the supervisor and actor
// packages that no user should call into.
//
// An actor's incarnation takes its stop request on the goroutine that
// cancels its context (the supervisor's), without a function made for it:
// the supervisor's incarnation context has OnCancelStopChild and
// StopOnCancelInline, and the actor's incarnation has StopInline, which
// that cancel calls. They are methods of unexported types found through
// interface checks, so they must be exported; each takes a Token, which
// only packages of this module can name, so that code outside it cannot
// write an interface that reaches them (say, through
// supervisor.ChildInfo.Instance, or the ctx a child is given).
package hook

import "time"

// Token is the parameter that keeps a method of the supervisor↔actor
// agreement out of reach of code outside this module. It is empty and
// costs nothing to pass.
type Token struct{}

// The names of an actor System's root children.
//
// An actor spawned under its System's root while the root runs is
// registered once, in the root supervisor's table of children (by
// StartLaneChild), rather than in the System's registry as
// well: the System finds it there. The supervisor package sets these
// functions at init; sup is a *supervisor.Supervisor, and a source a
// child's Spec.Source (nil for a child without one).
var (
	// StartLaneChild starts spec on sup's lane if it can, as StartChild
	// does, with guard called under the name table's lock before the
	// start takes the name (see the supervisor's startLaneChild). A
	// function here rather than a method of Supervisor: a Token parameter
	// keeps an interface from reaching a method, but not a call on the
	// exported type itself.
	StartLaneChild func(sup any, spec LaneSpec, guard func(name string, holder any) error) (handled bool, err error)
	// ChildSource returns the Source of sup's child named name, or nil.
	ChildSource func(sup any, name string) any
	// EachChildSource calls f with the Source of every child of sup that
	// has one, under the lock of its name table.
	EachChildSource func(sup any, f func(src any))
	// WithChildNames calls f under the lock of sup's name table, with a
	// function that returns the Source of the child named name, or nil:
	// a check of a name and what f does next are one step for the lane.
	WithChildNames func(sup any, f func(source func(name string) any) error) error
)

// LaneSpec is the part of a supervisor.Spec that StartLaneChild takes: the
// fields an actor's spec sets, by value. A *supervisor.Spec passed through
// a function variable escapes, and moved every spawn's 144-byte Spec to
// the heap (an allocation per actor); a value does not.
type LaneSpec struct {
	Name         string
	Source       any // a supervisor.Source
	Restart      int // a supervisor.RestartPolicy
	Shutdown     time.Duration
	StartTimeout time.Duration
	Kind         string
}
