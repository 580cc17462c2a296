package actor

import (
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/airssys/rt/internal/hook"
	"github.com/airssys/rt/supervisor"
)

// Option configures an actor at Spec, Spawn or SpawnIn. (It takes and
// returns the settings by value, so that applying options allocates
// nothing: actors may be spawned by the million.)
type Option func(options) options

type options struct {
	mailbox      Mailbox
	restart      supervisor.RestartPolicy
	shutdown     supervisor.ShutdownPolicy
	startTimeout time.Duration
	significant  bool
	health       supervisor.HealthPolicy
	sys          *System
	logger       *slog.Logger
	throughput   int
	drain        bool
	err          error
}

// WithMailbox sets the actor's mailbox: Unbounded() (the default) or
// Bounded(capacity, policy).
func WithMailbox(m Mailbox) Option { return func(o options) options { o.mailbox = m; return o } }

// WithRestart sets the restart policy; the default is the supervisor's.
// Permanent actors are restarted after any exit, including stopping
// themselves with supervisor.ErrShutdown; use Transient or Temporary for
// actors that may finish.
func WithRestart(p supervisor.RestartPolicy) Option {
	return func(o options) options { o.restart = p; return o }
}

// WithShutdown sets how the supervisor stops the actor: Graceful(d) waits up
// to d for the Receive under way (and, with WithDrainOnStop, the queued
// messages) to finish; the default is Graceful(5s).
func WithShutdown(p supervisor.ShutdownPolicy) Option {
	return func(o options) options { o.shutdown = p; return o }
}

// WithStartTimeout bounds PreStart; the default is supervisor.DefaultStartTimeout.
func WithStartTimeout(d time.Duration) Option {
	return func(o options) options { o.startTimeout = d; return o }
}

// WithSignificant marks the actor significant for its supervisor's
// AutoShutdown (it must then be Transient or Temporary).
func WithSignificant() Option { return func(o options) options { o.significant = true; return o } }

// WithHealth enables supervisor health checks of an actor that implements
// health.Checker. CheckHealth runs concurrently with Receive.
func WithHealth(p supervisor.HealthPolicy) Option {
	return func(o options) options { o.health = p; return o }
}

// WithSystem makes the actor a member of sys from the moment it is spawned
// (see System for membership by tree, which needs no option): its name is
// registered there (unique within sys, found by Lookup), its dead letters
// go to sys.DeadLetters(), and it logs through sys's logger. Membership
// does not decide where the actor runs: that is the supervisor it is given
// to, which should be in sys's tree.
func WithSystem(sys *System) Option { return func(o options) options { o.sys = sys; return o } }

// WithLogger sets the logger behind Context.Logger.
func WithLogger(l *slog.Logger) Option { return func(o options) options { o.logger = l; return o } }

// WithThroughput sets how many messages the actor handles in a row before
// yielding its processor to other goroutines (default 64). Lower values
// favour fairness, higher ones throughput. While more than 1,024 messages
// wait in an unbounded mailbox the actor yields every 16th time only:
// what it would yield to is then mostly its own senders.
func WithThroughput(n int) Option {
	return func(o options) options {
		if n < 1 || n > math.MaxInt32 {
			o.err = fmt.Errorf("%w: throughput %d (want 1 to %d)", ErrInvalidSpec, n, math.MaxInt32)
			return o
		}
		o.throughput = n
		return o
	}
}

// WithDrainOnStop makes a stopping incarnation handle the messages queued
// when it was asked to stop before it ends (bounded by the shutdown
// policy). Without it, which is the default, an incarnation asked to stop
// ends after the Receive under way, and the queued messages wait for the
// next incarnation, or become dead letters if there will be none. A crash
// never drains.
func WithDrainOnStop() Option { return func(o options) options { o.drain = true; return o } }

// Spec describes an actor as a child for any supervisor: add it with
// StartChild. factory is called on every (re)start, so each incarnation is
// a fresh value; the mailbox, the Ref and the counters stay. The Ref is
// usable at once: messages sent before the actor starts wait for it.
//
// Bad input (an empty name or one containing supervisor.PathSeparator, a
// nil factory, an invalid option) is not reported here but by the
// supervisor, as an error wrapping ErrInvalidSpec; the Ref is then already
// stopped, with Err saying why.
// Spawn reports it directly. A valid Spec's Source is the actor itself
// (its New makes an incarnation, its Dispose stops the actor for good;
// runners other than a supervisor call them), and its New and Dispose
// fields are nil. A Spec value is for one supervisor: given to a second
// while the first runs it, it fails to start there with ErrInvalidSpec,
// and the actor stays with the first, restarts included.
func Spec[M any](name string, factory func() Actor[M], opts ...Option) (supervisor.Spec, Ref[M]) {
	spec, ref, _ := newSpec(name, factory, opts)
	return spec, ref
}

func newSpec[M any](name string, factory func() Actor[M], opts []Option) (supervisor.Spec, Ref[M], error) {
	return newSpecIn(nil, false, name, factory, opts)
}

// newSpecIn is newSpec with sys, if not nil, as if WithSystem(sys) came
// after opts: SpawnIn passes it so, without a closure and a copy of opts
// per actor. root says that the spec is for sys's root, where spawn
// tries the lane first: the cell is then made with stRootName if the lane
// may take it, in the one store of its settings (see spawnOnLane).
func newSpecIn[M any](sys *System, root bool, name string, factory func() Actor[M], opts []Option) (supervisor.Spec, Ref[M], error) {
	o := options{throughput: defaultThroughput}
	for _, opt := range opts {
		if opt != nil {
			o = opt(o)
		}
	}
	if sys != nil {
		o.sys = sys
	}
	c := &cell[M]{name: name, factory: factory, capacity: int32(o.mailbox.capacity)}
	st := cellState(o.mailbox.policy, o.drain)
	if o.restart == supervisor.Temporary {
		st |= stTemporary
	}
	if root && laneable(o.significant, o.health) {
		st |= stRootName
	}
	c.state.Store(st) // one locked instruction for the Spec's settings, not one each
	if o.throughput != defaultThroughput {
		c.rareOf().throughput = int32(o.throughput)
	}
	if o.sys != nil {
		c.sys.Store(o.sys)
	}
	c.setLogger(o.logger)
	spec := supervisor.Spec{
		// The cell is the Source: two method values (New, Dispose) would
		// be two allocations more per actor, kept as long as it is.
		Name: name, Source: c,
		Restart: o.restart, Shutdown: o.shutdown, StartTimeout: o.startTimeout,
		Significant: o.significant, Health: o.health, Kind: Kind,
	}
	var err error
	switch {
	case name == "":
		err = fmt.Errorf("%w: empty name", ErrInvalidSpec)
	case strings.Contains(name, supervisor.PathSeparator):
		// The separator of paths in observers, metrics and Lookup; the
		// supervisor refuses it too, but the Ref should say so at once.
		err = fmt.Errorf("%w: name contains the path separator %q", ErrInvalidSpec, supervisor.PathSeparator)
	case factory == nil:
		err = fmt.Errorf("%w: nil factory", ErrInvalidSpec)
	case o.mailbox.err != nil:
		err = o.mailbox.err
	case o.err != nil:
		err = o.err
	}
	if err != nil {
		err = fmt.Errorf("actor %q: %w", name, err)
		c.fail(err)
		spec.Source, spec.Dispose = nil, c.dispose
		spec.New = func() supervisor.Child { return failedChild{err} }
	}
	return spec, Ref[M]{c}, err
}

// fail stops the cell for good before it ever ran.
func (c *cell[M]) fail(err error) {
	c.mu.Lock()
	if c.lastErr() == nil {
		c.noteEnd(err)
	}
	c.mu.Unlock()
	c.dispose(err)
}

// Spawn adds an actor to sup and returns its Ref. While sup runs, the actor
// has started (PreStart done) when Spawn returns; before sup starts, it is
// recorded and starts with sup.
//
// The actor belongs to the System whose tree sup is in (see System): under
// a System's root, or with WithSystem, its name is registered at once, so
// that a duplicate is an error here (wrapping ErrDuplicateName) and Lookup
// finds it even before the System starts; under a supervisor deeper in the
// tree it joins when it first starts, which, while that supervisor runs,
// is before Spawn returns.
func Spawn[M any](sup *supervisor.Supervisor, name string, factory func() Actor[M], opts ...Option) (Ref[M], error) {
	return spawn(sup, nil, name, factory, opts)
}

// spawn is Spawn, with sys as if WithSystem(sys) came after opts.
func spawn[M any](sup *supervisor.Supervisor, sys *System, name string, factory func() Actor[M], opts []Option) (Ref[M], error) {
	if sup == nil {
		return Ref[M]{}, fmt.Errorf("actor %q: %w: nil supervisor", name, ErrInvalidSpec)
	}
	spec, ref, err := newSpecIn(sys, sys != nil && sys.root == sup, name, factory, opts)
	if err != nil {
		return Ref[M]{}, err
	}
	if ref.c.sys.Load() == nil {
		if sys := systemOf(sup); sys != nil {
			ref.c.sys.Store(sys) // spawned under a System's root
		}
	}
	if s := ref.c.sys.Load(); s != nil && s.root == sup {
		// Under its own System's root: on the lane, the root's table
		// alone holds the name (one registration, not two).
		if ref, ok, err := spawnOnLane(s, &spec, ref); ok {
			return ref, err
		}
	}
	if err := ref.c.registerNew(); err != nil {
		err = fmt.Errorf("actor %q: %w", name, err)
		ref.c.fail(err)
		return Ref[M]{}, err
	}
	if err := sup.StartChild(spec); err != nil {
		// The supervisor disposed of the spec if it got as far as
		// starting it; if it refused it outright, nothing will.
		ref.c.fail(err)
		return Ref[M]{}, err
	}
	return ref, nil
}

// spawnOnLane starts an actor of s under s's root on the root's lane,
// its name held by the root's table alone (stRootName), where Lookup
// and Names find it. It reports false if the lane could not take it
// (the root does not run, say): then nothing was done.
func spawnOnLane[M any](s *System, spec *supervisor.Spec, ref Ref[M]) (Ref[M], bool, error) {
	c := ref.c
	if !laneable(spec.Significant, spec.Health) || spec.New != nil || spec.Dispose != nil {
		c.state.And(^stRootName)
		return Ref[M]{}, false, nil // not for the lane (the lane refuses the first two)
	}
	if c.state.Load()&stRootName == 0 {
		c.state.Or(stRootName) // SpawnIn's cell has it from newSpecIn
	}
	ls := hook.LaneSpec{
		Name: spec.Name, Source: spec.Source, Restart: int(spec.Restart),
		Shutdown: time.Duration(spec.Shutdown), StartTimeout: spec.StartTimeout, Kind: spec.Kind,
	}
	handled, err := hook.StartLaneChild(s.root, ls, s.guard)
	if !handled {
		c.state.And(^stRootName)
		return Ref[M]{}, false, nil
	}
	if err != nil {
		c.fail(err)
		return Ref[M]{}, true, err
	}
	return ref, true, nil
}

// laneable reports whether a spec with these settings may take a
// supervisor's lane, which refuses significant and health-checked children.
func laneable(significant bool, health supervisor.HealthPolicy) bool {
	return !significant && health == (supervisor.HealthPolicy{})
}

// SpawnIn spawns an actor under sys's root supervisor, as a member of sys:
// Spawn(sys.Root(), ...) in one word that also reports a nil System. The
// root is OneForOne unless WithRootStrategy says otherwise, so a spawn
// there, once the System runs, takes the supervisor's lane (see "Many
// short-lived actors" in the package documentation): the way to spawn
// many actors.
func SpawnIn[M any](sys *System, name string, factory func() Actor[M], opts ...Option) (Ref[M], error) {
	if sys == nil {
		return Ref[M]{}, fmt.Errorf("actor %q: %w: nil System", name, ErrInvalidSpec)
	}
	return spawn(sys.root, sys, name, factory, opts)
}
