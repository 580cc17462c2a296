package supervisor

import (
	"context"
	"fmt"
	"time"

	"github.com/airssys/rt/health"
)

// A Child is run by a supervisor. Serve runs until ctx is cancelled or the
// child fails. Returning nil, or an error wrapping ErrShutdown, is a normal
// exit; so is any return after the supervisor cancelled ctx. Anything else,
// including a panic, is a failure.
type Child interface {
	Serve(ctx context.Context) error
}

// Starter is implemented by children with an initialisation step. Start runs
// to completion before Serve and before any later sibling starts (the OTP
// init acknowledgement). A Start error is a start failure. ctx is the same
// context Serve receives: it lives as long as the child, and the supervisor
// bounds Start with a timer (Spec.StartTimeout), never with a deadline on ctx.
type Starter interface {
	Start(ctx context.Context) error
}

// Launcher is the seam for children that run without a goroutine of their
// own, such as actors, which hold a goroutine only while they have work.
// When a child returned by Spec.New implements Launcher, the supervisor calls
// Launch (after Start, if the child is also a Starter) instead of running
// Serve on a new goroutine. Launch must not block; exit must be called
// exactly once, from any goroutine, when this incarnation has ended, with
// the result Serve would have returned. Cancelling ctx asks the incarnation
// to end. Serve is still required so the child can run under other runners.
type Launcher interface {
	Child
	Launch(ctx context.Context, exit func(error))
}

// ChildFunc adapts a function to Child.
type ChildFunc func(ctx context.Context) error

// Serve calls f(ctx).
func (f ChildFunc) Serve(ctx context.Context) error { return f(ctx) }

// Strategy decides which children restart when one fails.
type Strategy int

const (
	// OneForOne restarts only the failed child.
	OneForOne Strategy = iota
	// OneForAll stops every other child in reverse start order, then starts
	// all non-temporary children again in start order.
	OneForAll
	// RestForOne stops the children started after the failed one in reverse
	// order, then starts the failed one and those after it in order.
	RestForOne
)

// String returns the strategy's name.
func (s Strategy) String() string {
	switch s {
	case OneForOne:
		return "OneForOne"
	case OneForAll:
		return "OneForAll"
	case RestForOne:
		return "RestForOne"
	}
	return fmt.Sprintf("Strategy(%d)", int(s))
}

// MarshalText makes a Strategy read as its name in JSON.
func (s Strategy) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// RestartPolicy decides whether a child is restarted after it exits.
type RestartPolicy int

const (
	// DefaultRestart (the zero value) means "the supervisor's default".
	DefaultRestart RestartPolicy = iota
	// Permanent children are restarted after any exit.
	Permanent
	// Transient children are restarted only after an abnormal exit; after a
	// normal one they stay as a stopped spec that RestartChild can revive.
	Transient
	// Temporary children are never restarted; their spec is removed on any
	// exit, a stop included: one stopped with its supervisor is not
	// started again when the supervisor is.
	Temporary
)

// String returns the policy's name.
func (p RestartPolicy) String() string {
	switch p {
	case DefaultRestart:
		return "Default"
	case Permanent:
		return "Permanent"
	case Transient:
		return "Transient"
	case Temporary:
		return "Temporary"
	}
	return fmt.Sprintf("RestartPolicy(%d)", int(p))
}

// MarshalText makes a RestartPolicy read as its name in JSON.
func (p RestartPolicy) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// ShutdownPolicy says how a child is stopped. A positive value is a graceful
// timeout (see Graceful); BrutalKill and Infinity are the two special
// values; the zero value means the default: Graceful(5s) for workers,
// Infinity for supervisors. Being a number, it is comparable and constant.
type ShutdownPolicy time.Duration

const (
	// BrutalKill ends the child at once: a Killer is killed (Kill, then up
	// to KillTimeout for the exit); any other child has its context
	// cancelled and is not waited for, except that its next incarnation,
	// and the end of its supervisor, wait up to KillTimeout for it, and
	// report it abandoned if it still runs.
	BrutalKill ShutdownPolicy = -1
	// Infinity cancels the child's context and waits as long as it takes.
	Infinity ShutdownPolicy = -2
	// invalidShutdown is what Graceful returns for a non-positive duration,
	// so that the mistake surfaces as ErrInvalidSpec rather than a panic.
	invalidShutdown ShutdownPolicy = -3
	// DefaultWorkerShutdown is the shutdown policy of a worker that sets none.
	DefaultWorkerShutdown = ShutdownPolicy(5 * time.Second)
)

// Graceful cancels the child's context and waits up to d for it to return.
// A Killer still running after d is killed and waited for up to
// KillTimeout more; any other child still running after d is abandoned (Go
// cannot kill a goroutine) and reported by an EventChildAbandoned event, as
// is a Killer that outlives its kill. d must be positive.
func Graceful(d time.Duration) ShutdownPolicy {
	if d <= 0 {
		return invalidShutdown
	}
	return ShutdownPolicy(d)
}

// String returns "Graceful(5s)", "BrutalKill", "Infinity" or "Default".
func (p ShutdownPolicy) String() string {
	switch {
	case p == 0:
		return "Default"
	case p == BrutalKill:
		return "BrutalKill"
	case p == Infinity:
		return "Infinity"
	case p > 0:
		return "Graceful(" + time.Duration(p).String() + ")"
	}
	return fmt.Sprintf("ShutdownPolicy(%d)", int64(p))
}

// MarshalText makes a ShutdownPolicy read as its name in JSON.
func (p ShutdownPolicy) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// AutoShutdown decides whether the exit of significant children ends the
// supervisor.
type AutoShutdown int

const (
	// Never (the default): significant children are not allowed.
	Never AutoShutdown = iota
	// AnySignificant: the supervisor ends normally when any significant
	// child exits on its own and will not be restarted.
	AnySignificant
	// AllSignificant: the supervisor ends normally when that happens and no
	// other significant child is running.
	AllSignificant
)

// String returns the setting's name.
func (a AutoShutdown) String() string {
	switch a {
	case Never:
		return "Never"
	case AnySignificant:
		return "AnySignificant"
	case AllSignificant:
		return "AllSignificant"
	}
	return fmt.Sprintf("AutoShutdown(%d)", int(a))
}

// DefaultStartTimeout bounds a worker's Start when its spec sets none. A
// sub-supervisor's start is not bounded by default: it takes as long as its
// own children take, each under its own bound (as in OTP). When a
// sub-supervisor's spec does set a StartTimeout and it expires, the parent
// stops it and waits for it before retrying or moving on.
const DefaultStartTimeout = 30 * time.Second

// Spec describes one child to a supervisor.
type Spec struct {
	Name         string         // unique among siblings; required; no PathSeparator ("/")
	New          func() Child   // called on every (re)start, so each incarnation has fresh state; required, unless Source is set
	Restart      RestartPolicy  // zero: the supervisor's default
	Shutdown     ShutdownPolicy // zero: Graceful(5s) for workers, Infinity for supervisors
	StartTimeout time.Duration  // bound on Start; zero: DefaultStartTimeout for workers, none for supervisors
	Significant  bool           // only with Transient/Temporary and AutoShutdown != Never
	Health       HealthPolicy   // zero value: no health checks; else New must return a health.Checker

	// Kind names what the child is, for observers ("actor", "process");
	// empty means a plain worker. Supervisors are recognised on their own.
	Kind string

	// Observable, if set, is what observers may ask about the child whether
	// an incarnation runs or not (Instance is nil between incarnations): one
	// value shared by all its incarnations, which observers query by type
	// assertion as they do Instance. An OS process child's output tail is
	// one, so that the last lines of a crash-looping child stay readable
	// while it waits for its restart. ChildInfo.Observable carries it.
	Observable any

	// Dispose, if set, is called once when the spec is gone for good and no
	// incarnation of it will ever run again: it was removed (a Temporary
	// exit, DeleteChild, a temporary bystander of a group restart, a start
	// failure while the supervisor runs), or the tree it belongs to has
	// ended for good (its top-level supervisor ended, or an ancestor spec
	// was disposed); a Temporary child stopped with its supervisor counts
	// as removed. reason is the error of the last incarnation, or nil.
	// It never runs while the supervisor's control goroutine waits for it,
	// so it may call the supervisor (WhichChildren, StartChild, Stop): a
	// removal by the API (DeleteChild, TerminateChild of a Temporary child,
	// a failed StartChild) runs it on the caller's goroutine before the
	// call returns; one the supervisor decides (a Temporary exit, a
	// temporary bystander) on a goroutine of the supervisor's, one hook at
	// a time, which Stop and Serve wait for (the exit of a Temporary child
	// started on the lane, see the package documentation, has its hook run
	// by the lane's reaper goroutine, also one at a time and also waited
	// for, but possibly alongside a hook of the other kind); the end of a
	// tree once the supervisor has ended (calls then get an ended
	// supervisor's answers).
	// It should not block for long.
	// Actors use it to close their mailbox; plain workers rarely need it.
	Dispose func(reason error)

	// Source, if set, stands for New and Dispose, which must then be nil:
	// its New is called where New would be, its Dispose where Dispose
	// would be. It is for programs that hold many children of their own
	// kind (actors): one value that is already allocated, where two func
	// values would be two allocations more per child, kept as long as
	// the child is.
	Source Source

	sup *Supervisor // the child, when known before New runs (AddSupervisor)
}

func specSupervisor(spec Spec) *Supervisor { return spec.sup }

// Source is Spec.New and Spec.Dispose as one value (see Spec.Source).
type Source interface {
	New() Child           // as Spec.New
	Dispose(reason error) // as Spec.Dispose
}

// HealthPolicy configures health polling of a child that implements
// health.Checker. The zero value means no health checks. A policy with an
// Interval on a child that is not a health.Checker is a mistake, reported
// as ErrInvalidSpec naming the child: by Spawn, which has the value, or
// else by the first start (New has not run before), which then fails. A
// Timeout or threshold without an Interval is ErrInvalidSpec as well.
//
// A check slower than Timeout counts as unhealthy, and its ctx is
// cancelled. One that ignores its ctx keeps running, but never alongside
// another: while it runs, the checks that fall due are not started and
// each counts as unhealthy (reported like any result), so a hung check
// costs one goroutine, not one per Interval.
type HealthPolicy struct {
	Interval           time.Duration // how often CheckHealth is called; 0 disables
	Timeout            time.Duration // a slower check counts as unhealthy; 0: 5s
	UnhealthyThreshold int           // consecutive unhealthy checks that trigger a restart; 0: 3
}

// Defaults of HealthPolicy's zero fields.
const (
	DefaultHealthTimeout      = 5 * time.Second
	DefaultUnhealthyThreshold = 3
)

// ChildState is where a child is in its life cycle.
type ChildState int

const (
	ChildStarting   ChildState = iota // New and Start are running
	ChildRunning                      // serving
	ChildRestarting                   // waiting for a restart (backoff delay or retry)
	ChildStopping                     // being stopped by its supervisor
	ChildStopped                      // not running; the spec is kept
)

// String returns the state's name.
func (s ChildState) String() string {
	switch s {
	case ChildStarting:
		return "starting"
	case ChildRunning:
		return "running"
	case ChildRestarting:
		return "restarting"
	case ChildStopping:
		return "stopping"
	case ChildStopped:
		return "stopped"
	}
	return fmt.Sprintf("ChildState(%d)", int(s))
}

// MarshalText makes a ChildState read as its name in JSON.
func (s ChildState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ChildInfo describes one child, as WhichChildren reports it.
type ChildInfo struct {
	Name         string
	Kind         string // "supervisor", "worker", or the spec's Kind
	State        ChildState
	Restarts     int  // automatic restarts so far
	IsSupervisor bool // the child is a *Supervisor
	// LastErr is what the most recent incarnation that ended on its own
	// returned (nil for a plain normal exit), or why its start failed. It
	// is kept across restarts; stops the supervisor asked for (Stop,
	// TerminateChild, a sibling's group restart) leave it unchanged.
	LastErr error
	Health  health.Status // last health check result
	// Since is when the current incarnation started running (zero when not
	// running), for uptime.
	Since time.Time
	// Restart and Shutdown are the effective policies (defaults resolved).
	Restart  RestartPolicy
	Shutdown ShutdownPolicy
	// Supervisor is the child itself when IsSupervisor, for walking a tree.
	Supervisor *Supervisor
	// Instance is the current incarnation (nil when not running): observers
	// use it to ask a child for more, such as an actor's mailbox depth.
	Instance Child
	// Observable is the spec's Observable, there between incarnations too.
	Observable any
}

// ChildCounts summarises a supervisor's children, as CountChildren reports.
type ChildCounts struct {
	Specs       int // specs held
	Active      int // children running
	Supervisors int // specs whose child is a supervisor, alive or not
	Workers     int // the other specs, alive or not
}
