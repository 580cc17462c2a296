package observe

import (
	"errors"
	"strings"
	"time"

	"github.com/airssys/rt/health"
	"github.com/airssys/rt/supervisor"
)

// Kind says what a child is: a plain worker, a sub-supervisor, an actor or
// an OS process.
type Kind string

// The kinds of child a snapshot reports.
const (
	KindWorker     Kind = "worker"
	KindSupervisor Kind = "supervisor"
	KindActor      Kind = "actor"
	// KindProcess is an OS process child (package process): its spec's
	// Kind says so, running or not, as observe does not import that package.
	KindProcess Kind = "process"
)

// Actor is what observe needs from a running actor to report on it. The
// actor package's incarnations implement it; observe finds them by duck
// typing on ChildInfo.Instance so that it does not depend on the shape of
// that package's types.
type Actor interface {
	MailboxLen() int
	Processed() uint64
	DeadLetterCount() uint64
}

// Crasher is implemented by children that accept fault injection: Crash
// makes the child fail at its next turn, as if it had returned err.
type Crasher interface {
	Crash(err error)
}

// Snapshot is a picture of a whole supervision tree, as served by GET
// /api/tree. Each supervisor is described consistently (its control loop
// reports it in one step); different supervisors are read one after the
// other, so a restart racing the walk may show in one level and not yet in
// the next.
//
// Enumerations are strings, the names their types' String methods give, so
// that a snapshot decodes as well as it encodes.
type Snapshot struct {
	TakenAt time.Time          `json:"taken_at"`
	Totals  Totals             `json:"totals"`
	Root    SupervisorSnapshot `json:"root"`
	// Cluster is the cluster the tree's node belongs to, when the
	// Observer has one (WithCluster); TakeSnapshot leaves it nil.
	Cluster *ClusterState `json:"cluster,omitempty"`
}

// Totals counts the whole tree, whatever was omitted from the listing.
type Totals struct {
	Supervisors int `json:"supervisors"` // including the root
	Workers     int `json:"workers"`
	Actors      int `json:"actors"`
	Processes   int `json:"processes"` // OS process children
	Running     int `json:"running"`   // children in state running
	Restarts    int `json:"restarts"`  // automatic restarts of the children present
	Unhealthy   int `json:"unhealthy"`
}

// SupervisorSnapshot describes one supervisor and its children.
type SupervisorSnapshot struct {
	Name     string `json:"name"`
	Path     string `json:"path"`
	Strategy string `json:"strategy"` // "OneForOne", "OneForAll" or "RestForOne"
	Running  bool   `json:"running"`
	// StartedAt is when the current run began; zero when not running.
	StartedAt time.Time `json:"started_at"`
	// MaxRestarts and PeriodSeconds are the intensity allowed;
	// RestartsInWindow is how much of it is used now.
	MaxRestarts      int     `json:"max_restarts"`
	PeriodSeconds    float64 `json:"period_seconds"`
	RestartsInWindow int     `json:"restarts_in_window"`
	// Error is the final error of the last run, once it has ended.
	Error    string          `json:"error,omitempty"`
	Children []ChildSnapshot `json:"children"`
	// ChildrenOmitted counts children left out of Children by a filter or
	// a limit (see SnapshotOptions).
	ChildrenOmitted int `json:"children_omitted,omitempty"`
}

// ChildSnapshot describes one child of a supervisor.
type ChildSnapshot struct {
	Name string `json:"name"`
	// Path is the supervisor's path, a slash, and the child's name.
	Path string `json:"path"`
	Kind Kind   `json:"kind"`
	// State is a supervisor.ChildState's name: starting, running,
	// restarting, stopping or stopped.
	State    string `json:"state"`
	Restarts int    `json:"restarts"`
	// LastError is the error of the most recent incarnation that failed.
	LastError string `json:"last_error,omitempty"`
	Health    Health `json:"health"`
	// UptimeSeconds is how long the current incarnation has run; 0 when it
	// is not running.
	UptimeSeconds float64 `json:"uptime_seconds"`
	// Restart and Shutdown are the effective policies, as their String
	// methods write them: "Permanent", "Graceful(5s)".
	Restart  string `json:"restart_policy"`
	Shutdown string `json:"shutdown_policy"`
	// Actions are the fault-injection actions that the observer accepts for
	// this child in its present state (when WithFaultInjection enables
	// them): "terminate" while it runs or waits for a restart, "restart"
	// once it has stopped, "crash" while it runs and implements Crasher.
	// The live page offers these and no others. Children of one snapshot
	// may share the slice: do not modify it.
	Actions []string `json:"actions,omitempty"`
	// Node is the node a running child runs on, when that is another
	// node than the observer's (the child implements Located).
	Node string `json:"node,omitempty"`
	// Actor is set for actors that are running.
	Actor *ActorStats `json:"actor,omitempty"`
	// Supervisor is set for sub-supervisors.
	Supervisor *SupervisorSnapshot `json:"supervisor,omitempty"`
}

// Health is the last health check result of a child.
type Health struct {
	State  string `json:"state"` // healthy, degraded or unhealthy
	Reason string `json:"reason,omitempty"`
}

// ActorStats are the numbers an actor reports about its mailbox.
type ActorStats struct {
	MailboxDepth int    `json:"mailbox_depth"`
	Processed    uint64 `json:"processed"`
	DeadLetters  uint64 `json:"dead_letters"`
}

// SnapshotOptions trims a snapshot for display. The zero value keeps
// everything.
type SnapshotOptions struct {
	// Filter, when not empty, keeps only children whose name contains it,
	// and the supervisors on the way to them.
	Filter string
	// MaxChildren, when positive, lists at most that many children per
	// supervisor; the rest are counted in ChildrenOmitted. A browser cannot
	// draw a 100,000-child pool usefully; Totals still count all of them.
	MaxChildren int
}

// TakeSnapshot describes the tree under root. It is safe to call at any
// time, on a running or stopped supervisor; a nil root gives an empty
// snapshot.
func TakeSnapshot(root *supervisor.Supervisor) Snapshot {
	return TakeSnapshotWith(root, SnapshotOptions{})
}

// TakeSnapshotWith is TakeSnapshot with trimming options.
func TakeSnapshotWith(root *supervisor.Supervisor, opts SnapshotOptions) Snapshot {
	return takeSnapshot(root, opts, time.Now(), nil)
}

// takeSnapshot describes the tree at now; placements (child name -> node)
// come from a cluster, if any.
func takeSnapshot(root *supervisor.Supervisor, opts SnapshotOptions, now time.Time, placements map[string]string) Snapshot {
	snap := Snapshot{TakenAt: now}
	if root == nil {
		snap.Root.Children = []ChildSnapshot{}
		return snap
	}
	w := walker{now: now, max: opts.MaxChildren, totals: &snap.Totals, placements: placements}
	snap.Root, _ = w.supervisor(root.Info(), strings.ToLower(opts.Filter))
	return snap
}

type walker struct {
	now    time.Time
	max    int
	totals *Totals
	// shutdown caches policy names: ShutdownPolicy.String formats a
	// duration, which would cost allocations per child in a big pool
	// where they are all the same.
	shutdown map[supervisor.ShutdownPolicy]string
	// actions caches the few distinct action lists, one slice each per
	// snapshot rather than one per child.
	actions [actionSets][]string
	// placements says where remote children run, by name (WithCluster).
	placements map[string]string
}

func (w *walker) shutdownName(p supervisor.ShutdownPolicy) string {
	name, ok := w.shutdown[p]
	if !ok {
		if w.shutdown == nil {
			w.shutdown = map[supervisor.ShutdownPolicy]string{}
		}
		name = p.String()
		w.shutdown[p] = name
	}
	return name
}

// actionList returns the names of set, one slice per distinct set.
func (w *walker) actionList(set actionSet) []string {
	if set == 0 {
		return nil
	}
	if w.actions[set] == nil {
		w.actions[set] = set.names()
	}
	return w.actions[set]
}

// supervisor describes info and its subtree, keeping the children that
// match filter (lower case; empty keeps all). matched reports whether
// anything in the subtree matched.
func (w *walker) supervisor(info supervisor.Info, filter string) (s SupervisorSnapshot, matched bool) {
	w.totals.Supervisors++
	s = SupervisorSnapshot{
		Name: info.Name, Path: info.Path, Strategy: info.Strategy.String(), Running: info.Running,
		StartedAt: info.StartedAt, MaxRestarts: info.MaxRestarts,
		PeriodSeconds: info.Period.Seconds(), RestartsInWindow: info.RestartsInWindow,
		Error: errString(info.Err),
	}
	n := len(info.Children)
	if w.max > 0 {
		n = min(n, w.max)
	}
	s.Children = make([]ChildSnapshot, 0, n)
	for i := range info.Children {
		// The walk goes on past the limit so that Totals count everything.
		c, ok := w.child(info.Path, &info.Children[i], filter)
		if !ok || (w.max > 0 && len(s.Children) >= w.max) {
			if ok {
				matched = true
			}
			s.ChildrenOmitted++
			continue
		}
		matched = true
		s.Children = append(s.Children, c)
	}
	return s, matched
}

// child describes one child; ok is false when the filter drops it.
func (w *walker) child(parent string, ci *supervisor.ChildInfo, filter string) (c ChildSnapshot, ok bool) {
	c = ChildSnapshot{
		Name: ci.Name, Path: parent + "/" + ci.Name, Kind: KindWorker, State: ci.State.String(),
		Restarts: ci.Restarts, LastError: errString(ci.LastErr),
		Health:  Health{State: ci.Health.State.String(), Reason: ci.Health.Reason},
		Restart: ci.Restart.String(), Shutdown: w.shutdownName(ci.Shutdown),
	}
	if ci.State == supervisor.ChildRunning {
		w.totals.Running++
		if !ci.Since.IsZero() {
			c.UptimeSeconds = w.now.Sub(ci.Since).Seconds()
		}
	}
	w.totals.Restarts += ci.Restarts
	if ci.Health.State == health.StateUnhealthy {
		w.totals.Unhealthy++
	}
	ok = filter == "" || strings.Contains(strings.ToLower(ci.Name), filter)
	c.Kind = kindOf(ci)
	c.Actions = w.actionList(allowed(ci))
	if l, located := ci.Instance.(Located); located {
		c.Node = l.Node()
	} else if node, placed := w.placements[ci.Name]; placed && ci.State == supervisor.ChildRunning {
		c.Node = node
	}
	switch c.Kind {
	case KindSupervisor:
		// A supervisor that matches shows its whole subtree; otherwise it
		// stays only if something below it matches.
		subFilter := filter
		if ok {
			subFilter = ""
		}
		sub, subOK := w.supervisor(ci.Supervisor.Info(), subFilter)
		c.Supervisor = &sub
		ok = ok || subOK
	case KindProcess:
		w.totals.Processes++
	case KindActor:
		w.totals.Actors++
		// An actor between incarnations has no instance to ask.
		if a, running := ci.Instance.(Actor); running {
			c.Actor = &ActorStats{
				MailboxDepth: a.MailboxLen(), Processed: a.Processed(), DeadLetters: a.DeadLetterCount(),
			}
		}
	default:
		w.totals.Workers++
	}
	return c, ok
}

// kindOf classifies a child the same way for snapshots and metrics: an
// actor is one whose running instance reports like an actor, or, between
// incarnations when there is no instance, one whose spec says so; a process
// is one whose spec says so.
func kindOf(ci *supervisor.ChildInfo) Kind {
	switch {
	case ci.Supervisor != nil:
		return KindSupervisor
	case ci.Kind == string(KindActor):
		return KindActor
	case ci.Kind == string(KindProcess):
		return KindProcess
	}
	if _, ok := ci.Instance.(Actor); ok {
		return KindActor
	}
	return KindWorker
}

// errString renders err for JSON. A normal end (ErrShutdown) is not an
// error worth showing; a panic is a crash whatever its value, shown.
func errString(err error) string {
	if err == nil {
		return ""
	}
	if _, panicked := errors.AsType[*supervisor.PanicError](err); !panicked && errors.Is(err, supervisor.ErrShutdown) {
		return ""
	}
	return err.Error()
}
