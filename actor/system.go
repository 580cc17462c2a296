package actor

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"unsafe"
	"weak"

	"github.com/airssys/rt/internal/hook"
	"github.com/airssys/rt/supervisor"
)

// System is a home for actors: a root supervisor to run them under, a
// registry of their names, and their dead letters.
//
// An actor belongs to the System whose tree it is spawned into, with
// nothing more to say: Spawn(sys.Root(), ...) (or SpawnIn), or Spawn,
// Spec and StartChild on any supervisor below the root, however deep,
// including one added to the tree after the actor was spawned under it.
// Its name is registered there (Lookup finds it), its dead letters go to
// the System's, and it logs through the System's logger. An actor spawned
// under the root joins at once; one below it joins when it first starts
// (at Start, or before Spawn returns if its supervisor runs), so until
// then Lookup does not find it, a taken name is a start failure wrapping
// ErrDuplicateName, and its dead letters (a full mailbox dropping messages
// sent before the start) go to DefaultDeadLetters.
// Membership is fixed at the first start: an actor that first starts in
// no System's tree belongs to none. The tree is known from the ctx that
// System.Start gives the root, so start a System with Start, not through
// its Root. WithSystem names a System explicitly instead.
type System struct {
	name   string
	root   *supervisor.Supervisor
	dead   DeadLetters
	logger *slog.Logger

	mu     sync.RWMutex
	names  registry
	phase  systemPhase
	ran    bool          // Start succeeded: the root has a run for Shutdown to stop
	starts chan struct{} // closed when Start returns
	live   bool          // counted in systemsLive
	cancel context.CancelFunc
	// rootNames: some actor's name has been held by the root's table
	// alone (stRootName); set under mu (read-locked will do), never
	// cleared. Until then names are checked against the registry only.
	rootNames atomic.Bool
	// laneFree: rootNames is set, the registry is empty and the System
	// has not ended, so that laneGuard has nothing to check under mu.
	// Written under mu (read-locked will do: it is computed from what
	// only the write lock changes), by refreshLocked.
	laneFree atomic.Bool
	guard    func(name string, holder any) error // laneGuard, made once
}

// member is a registered actor, whatever its message type (a *cell[M]).
type member interface {
	dispose(reason error)
	stopErr() error
	messageType() reflect.Type
	regName() string // the name it is registered under
	// rootOf returns the System whose root's table alone holds its name
	// (see stRootName), or nil.
	rootOf() *System
}

func (c *cell[M]) messageType() reflect.Type { return reflect.TypeFor[M]() }

func (c *cell[M]) rootOf() *System {
	if c.state.Load()&stRootName == 0 {
		return nil
	}
	return c.sys.Load()
}

// rootMember returns src as a member of s whose name the root's table
// alone holds, or nil.
func (s *System) rootMember(src any) member {
	if m, ok := src.(member); ok && m.rootOf() == s {
		return m
	}
	return nil
}

func (c *cell[M]) regName() string { return c.name }

type systemPhase int

const (
	systemIdle systemPhase = iota
	systemRunning
	systemEnded
)

// SystemOption configures a System at NewSystem.
type SystemOption func(*systemConfig)

type systemConfig struct {
	strategy supervisor.Strategy
	restart  supervisor.RestartPolicy
	supOpts  []supervisor.Option
	logger   *slog.Logger
}

// WithRootStrategy sets the root supervisor's strategy (default OneForOne).
func WithRootStrategy(s supervisor.Strategy) SystemOption {
	return func(c *systemConfig) { c.strategy = s }
}

// WithRootRestart sets the root supervisor's default restart policy for
// its children (default Permanent).
func WithRootRestart(p supervisor.RestartPolicy) SystemOption {
	return func(c *systemConfig) { c.restart = p }
}

// WithSupervisorOptions passes options to the root supervisor: intensity,
// backoff, event handlers and so on.
func WithSupervisorOptions(opts ...supervisor.Option) SystemOption {
	return func(c *systemConfig) { c.supOpts = append(c.supOpts, opts...) }
}

// WithSystemLogger sets the logger of the root supervisor and of the
// System's actors (default slog.Default()).
func WithSystemLogger(l *slog.Logger) SystemOption {
	return func(c *systemConfig) { c.logger = l }
}

// NewSystem returns a System that has not started. Its root supervisor is
// named name; invalid options surface as an error from Start, never a
// panic.
func NewSystem(name string, opts ...SystemOption) *System {
	cfg := systemConfig{strategy: supervisor.OneForOne, restart: supervisor.Permanent}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	supOpts := cfg.supOpts
	if cfg.logger != nil {
		supOpts = append(supOpts[:len(supOpts):len(supOpts)], supervisor.WithLogger(cfg.logger))
	}
	s := &System{
		name:   name,
		root:   supervisor.New(name, cfg.strategy, cfg.restart, supOpts...),
		logger: cfg.logger,
		names:  newRegistry(),
	}
	s.dead.logger = cfg.logger
	s.guard = s.laneGuard
	registerRoot(s)
	return s
}

// Name returns the System's name, which is also its root supervisor's.
func (s *System) Name() string { return s.name }

// Root returns the root supervisor, to add actors, plain children and
// sub-supervisors to.
func (s *System) Root() *supervisor.Supervisor { return s.root }

// DeadLetters returns the dead letters of the System's actors.
func (s *System) DeadLetters() *DeadLetters { return &s.dead }

// Logger returns the System's logger.
func (s *System) Logger() *slog.Logger {
	if s.logger == nil {
		return slog.Default()
	}
	return s.logger
}

// Start starts the root supervisor and with it the actors spawned so far,
// in order. The System runs until Shutdown, or until ctx is done. A System
// runs once: Start after the end returns an error wrapping
// supervisor.ErrStopped.
func (s *System) Start(ctx context.Context) error {
	if ctx == nil {
		return fmt.Errorf("system %q: %w: nil context", s.name, supervisor.ErrInvalidOption)
	}
	s.mu.Lock()
	if s.phase == systemRunning && s.ended() {
		s.phase = systemEnded // the root gave up, or its ctx ended
		s.refreshLocked()
	}
	switch s.phase {
	case systemRunning:
		s.mu.Unlock()
		return fmt.Errorf("system %q: %w", s.name, supervisor.ErrAlreadyStarted)
	case systemEnded:
		s.mu.Unlock()
		return fmt.Errorf("system %q: %w", s.name, supervisor.ErrStopped)
	}
	// The root ends when ctx does; Shutdown stops it with Stop and then
	// releases this ctx.
	rctx, cancel := context.WithCancel(ctx)
	rctx = context.WithValue(rctx, systemKey{}, s) // actors in the tree join s
	s.phase, s.cancel, s.live = systemRunning, cancel, true
	s.starts = make(chan struct{})
	defer close(s.starts)
	systemsLive.Add(1)
	s.mu.Unlock()
	if err := s.root.Start(rctx); err != nil {
		cancel()
		s.mu.Lock()
		s.phase = systemEnded
		s.refreshLocked()
		s.mu.Unlock()
		s.notLive()
		return fmt.Errorf("system %q: %w", s.name, err)
	}
	s.mu.Lock()
	s.ran = true
	s.mu.Unlock()
	return nil
}

// Shutdown stops the System in order (the root stops its children newest
// first, each per its shutdown policy) and waits for the end, including the
// delivery of the tree's last events to its event handlers and
// subscribers. It returns the root's final error: nil after an orderly end,
// or why the root had given up before. If ctx ends first it returns an
// error wrapping ctx.Err() and the shutdown goes on in the background.
//
// Shutdown is idempotent, and prompt when there is nothing to stop: on a
// System that never started it stops its actors for good and returns nil;
// after a Start that failed (which left nothing running and said why) it
// returns nil; a later call returns what the first one did, or nil. During
// a Start it waits for the Start to return, then stops what it started.
func (s *System) Shutdown(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	s.mu.Lock()
	phase, cancel, ran, starts := s.phase, s.cancel, s.ran, s.starts
	s.phase = systemEnded
	s.refreshLocked()
	var never []member
	if phase == systemIdle {
		s.names.each(func(m member) { never = append(never, m) })
	}
	s.mu.Unlock()
	if phase == systemIdle {
		for _, m := range never {
			m.dispose(nil)
		}
		return nil
	}
	if !ran && phase == systemRunning {
		// A Start under way: wait for it, then stop what it started.
		select {
		case <-starts:
		case <-ctx.Done():
			cancel() // the root ends by itself once it has started
			return fmt.Errorf("system %q: shutdown: %w", s.name, ctx.Err())
		}
		s.mu.Lock()
		ran = s.ran
		s.mu.Unlock()
	}
	if !ran {
		// A failed Start: nothing runs, and Start said why.
		if cancel != nil {
			cancel()
		}
		s.notLive()
		return nil
	}
	// Stop rather than cancelling the root's ctx: Stop also waits for the
	// event handlers, which an end by ctx leaves running.
	stop := func() error {
		err := s.root.Stop()
		cancel()
		s.notLive()
		if err != nil {
			return fmt.Errorf("system %q: %w", s.name, err)
		}
		return nil
	}
	if ctx.Done() == nil {
		return stop() // no way to give up: no goroutine needed
	}
	res := make(chan error, 1)
	go func() { res <- stop() }()
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		return fmt.Errorf("system %q: shutdown: %w", s.name, ctx.Err())
	}
}

// notLive takes s out of systemsLive, once.
func (s *System) notLive() {
	s.mu.Lock()
	live := s.live
	s.live = false
	s.mu.Unlock()
	if live {
		systemsLive.Add(-1)
	}
}

func (s *System) ended() bool {
	select {
	case <-s.root.Done():
		return true
	default:
		return false
	}
}

// Done is closed when the System's root supervisor has ended.
func (s *System) Done() <-chan struct{} { return s.root.Done() }

// Names returns the names of the registered actors, sorted.
func (s *System) Names() []string {
	s.mu.RLock()
	out := make([]string, 0, s.names.len())
	s.names.each(func(m member) { out = append(out, m.regName()) })
	s.mu.RUnlock()
	if s.rootNames.Load() {
		var held []member // the root's lock is no place for a cell's
		hook.EachChildSource(s.root, func(src any) {
			if m := s.rootMember(src); m != nil {
				held = append(held, m)
			}
		})
		for _, m := range held {
			if m.stopErr() == nil {
				out = append(out, m.regName())
			}
		}
	}
	sort.Strings(out)
	// The registry and the root's table are read one after the other: a
	// name freed in one and taken in the other meanwhile is read twice
	// (a name is in one place at any moment, so once is right).
	return slices.Compact(out)
}

func (s *System) register(name string, m member) error {
	s.mu.Lock()
	if !s.rootNames.Load() {
		defer s.mu.Unlock()
		return s.claimLocked(name, m)
	}
	s.mu.Unlock()
	// The root's table may hold the name: check it and claim under its
	// lock, which a spawn on the lane holds while it checks the registry
	// (laneGuard), so that of two such spawns one sees the other.
	return hook.WithChildNames(s.root, func(source func(string) any) error {
		if h := s.rootMember(source(name)); h != nil && h != m {
			return fmt.Errorf("system %q: %w", s.name, ErrDuplicateName)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.claimLocked(name, m)
	})
}

// claimLocked registers m under name; s.mu is held.
func (s *System) claimLocked(name string, m member) error {
	if s.phase == systemEnded {
		return fmt.Errorf("system %q: %w", s.name, supervisor.ErrStopped)
	}
	if s.names.claim(name, m) != nil {
		return fmt.Errorf("system %q: %w", s.name, ErrDuplicateName)
	}
	s.refreshLocked()
	return nil
}

// refreshLocked recomputes laneFree; s.mu is held, read-locked at least.
func (s *System) refreshLocked() {
	s.laneFree.Store(s.rootNames.Load() && s.names.len() == 0 && s.phase != systemEnded)
}

// laneGuard is the check a spawn on the root's lane makes, under the
// lock of the root's name table, before the name is the actor's (see
// hook.StartLaneGuarded): the errors register would have returned for
// it, wrapped as Spawn wraps them. holder is the Source of the root's
// child that holds the name, if one does.
func (s *System) laneGuard(name string, holder any) error {
	if s.rootMember(holder) != nil {
		return fmt.Errorf("actor %q: system %q: %w", name, s.name, ErrDuplicateName)
	}
	if s.laneFree.Load() {
		return nil // nothing in the registry to clash with, and running
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.rootNames.Load() {
		s.rootNames.Store(true) // under mu: see register
		s.refreshLocked()
	}
	if s.phase == systemEnded {
		return fmt.Errorf("actor %q: system %q: %w", name, s.name, supervisor.ErrStopped)
	}
	if _, taken := s.names.get(name); taken {
		return fmt.Errorf("actor %q: system %q: %w", name, s.name, ErrDuplicateName)
	}
	return nil
}

func (s *System) unregister(name string, m member) {
	s.mu.Lock()
	s.names.remove(name, m)
	s.refreshLocked()
	s.mu.Unlock()
}

// lookupHint says why a name may be missing, when the System's phase
// suggests a likely reason.
func lookupHint(phase systemPhase) string {
	switch phase {
	case systemIdle:
		return " (the System has not started: actors spawned under its root are registered at once, " +
			"those below other supervisors when they first start)"
	case systemEnded:
		return " (the System has shut down)"
	}
	return ""
}

// Lookup returns the Ref of the actor registered in s under name. It fails
// with ErrNotFound when there is none (or it has stopped for good), and with
// ErrWrongType when its message type is not M. It never panics.
func Lookup[M any](s *System, name string) (Ref[M], error) {
	if s == nil {
		return Ref[M]{}, fmt.Errorf("actor %q: %w: nil System", name, ErrNotFound)
	}
	s.mu.RLock()
	m, ok := s.names.get(name)
	phase := s.phase
	s.mu.RUnlock()
	if !ok && s.rootNames.Load() {
		m = s.rootMember(hook.ChildSource(s.root, name))
		ok = m != nil
	}
	if !ok || m.stopErr() != nil {
		return Ref[M]{}, fmt.Errorf("system %q: actor %q: %w%s", s.name, name, ErrNotFound, lookupHint(phase))
	}
	c, ok := m.(*cell[M])
	if !ok {
		return Ref[M]{}, fmt.Errorf("system %q: actor %q takes %v, not %v: %w",
			s.name, name, m.messageType(), reflect.TypeFor[M](), ErrWrongType)
	}
	return Ref[M]{c}, nil
}

// Membership by tree.
//
// An actor belongs to the System whose tree it is spawned into. The tree
// is known at two moments: at Spawn, when the supervisor is a System's
// root (systemOf), and at the actor's first start, whose ctx carries the
// System that started the tree (System.Start puts it there, and every
// supervisor below passes its values on). An actor that first starts in
// no System's tree belongs to none for good.

// systemKey is the ctx key under which System.Start puts the System.
type systemKey struct{}

// systemsLive counts the Systems that have started and not been shut
// down. While it is zero no actor can be starting in a System's tree, and
// first starts skip the ctx lookup and the start goroutine it needs. It
// may overcount (a System whose root ended by itself and was never shut
// down), which costs only that goroutine.
var systemsLive atomic.Int64

// roots maps the address of every System's root supervisor to the System,
// held weakly: the map must keep neither alive, and a lookup must not
// allocate (Spawn asks for every actor).
var roots sync.Map // uintptr -> weak.Pointer[System]

func registerRoot(s *System) {
	key, val := uintptr(unsafe.Pointer(s.root)), weak.Make(s)
	roots.Store(key, val)
	// Only this System's entry: a later root may reuse the address.
	runtime.AddCleanup(s, func(k uintptr) { roots.CompareAndDelete(k, val) }, key)
}

// systemOf returns the System whose root sup is, or nil.
func systemOf(sup *supervisor.Supervisor) *System {
	v, ok := roots.Load(uintptr(unsafe.Pointer(sup)))
	if !ok {
		return nil
	}
	if s := v.(weak.Pointer[System]).Value(); s != nil && s.root == sup {
		return s
	}
	return nil
}

// join makes the actor a member of the System in ctx (the ctx of its
// start) if it has none yet, and registers its name there; a taken name
// fails the start with ErrDuplicateName.
func (c *cell[M]) join(ctx context.Context) error {
	if c.sys.Load() == nil {
		sys, _ := ctx.Value(systemKey{}).(*System)
		if sys == nil {
			return nil
		}
		c.sys.CompareAndSwap(nil, sys)
	}
	return c.register()
}
