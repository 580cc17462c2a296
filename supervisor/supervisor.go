package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Supervisor starts, watches and restarts its children. Its state is owned
// by one control goroutine while it runs; every method is safe for
// concurrent use and talks to that goroutine by message.
type Supervisor struct {
	name     string
	strategy Strategy
	restart  RestartPolicy
	cfg      config

	mu       sync.Mutex
	phase    phase
	run      *run // the current run; nil before the first Start
	done     chan struct{}
	err      error  // final error of the last run
	children family // owned by the loop while running, by mu otherwise
	onEnd    func(error)
	dispose  bool // dispose all specs when the current run ends

	// Set by a parent when it launches this supervisor as its child.
	parent *Supervisor
	path   string
	owner  *Supervisor // the parent whose spec holds this supervisor; guarded by owners

	events    dispatcher
	disposals disposer                      // Dispose hooks of specs the supervisor removed on its own
	subs      atomic.Pointer[[]*subscriber] // copy-on-write: emit reads without a lock
	subMu     sync.Mutex
}

type subscriber struct {
	fn     func(Event)
	events dispatcher
}

// Subscribe calls fn for every later event of this supervisor and of the
// supervisors below it, like WithEventHandler, until cancel is called.
// Each subscriber has its own delivery goroutine (started by its first
// event, kept while the supervisor runs), so a slow one delays only itself.
// A panic in fn is logged at Error with its stack, and later events are
// still delivered. cancel waits until fn is no
// longer running (or at once when called from fn itself); fn is not
// called after cancel returns. A restart's events may reach fn a message
// (at most a millisecond) late, as with WithEventHandler.
func (s *Supervisor) Subscribe(fn func(Event)) (cancel func()) {
	if fn == nil {
		return func() {}
	}
	sub := &subscriber{fn: fn, events: dispatcher{owner: s, handler: fn}}
	s.subMu.Lock()
	old := s.subs.Load()
	var next []*subscriber
	if old != nil {
		next = append(next, (*old)...)
	}
	next = append(next, sub)
	s.subs.Store(&next)
	s.subMu.Unlock()
	s.subscribed(sub)
	var once sync.Once
	return func() {
		once.Do(func() {
			s.subMu.Lock()
			cur := *s.subs.Load()
			next := make([]*subscriber, 0, len(cur))
			for _, o := range cur {
				if o != sub {
					next = append(next, o)
				}
			}
			s.subs.Store(&next)
			s.subMu.Unlock()
			sub.unsubscribed()
		})
	}
}

type phase int

const (
	idle phase = iota
	running
	ended
)

// New returns a supervisor that has not started. restart is the default
// policy of its children, and its own policy when added to a parent. An
// invalid option (or strategy or policy) is reported by Start as
// ErrInvalidOption, and an empty name or one containing PathSeparator as
// ErrInvalidSpec (AddSupervisor reports it too); New never panics.
func New(name string, strategy Strategy, restart RestartPolicy, opts ...Option) *Supervisor {
	s := &Supervisor{name: name, strategy: strategy, restart: restart, cfg: defaultConfig(), path: name}
	if err := checkName(name); err != nil {
		// A name is not an option, but New has no error to return: Start
		// reports it, as it does invalid options.
		s.cfg.err = fmt.Errorf("%w: supervisor name: %v", ErrInvalidSpec, err)
	}
	for _, o := range opts {
		if o != nil {
			o(&s.cfg)
		}
	}
	if strategy < OneForOne || strategy > RestForOne {
		s.cfg.fail("strategy %v", strategy)
	}
	if restart < DefaultRestart || restart > Temporary {
		s.cfg.fail("restart policy %v", restart)
	}
	if s.restart == DefaultRestart {
		s.restart = Permanent
	}
	s.children.init(s)
	s.done = make(chan struct{})
	s.events.owner, s.events.handler = s, s.cfg.handler
	return s
}

// Name returns the name given to New.
func (s *Supervisor) Name() string { return s.name }

// Path returns the supervisor's place in its tree, "root/web".
func (s *Supervisor) Path() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.path
}

// Strategy returns the supervisor's restart strategy.
func (s *Supervisor) Strategy() Strategy { return s.strategy }

// Intensity returns the maximum restarts allowed within the period.
func (s *Supervisor) Intensity() (maxRestarts int, period time.Duration) {
	return s.cfg.maxRestarts, s.cfg.period
}

// Start starts the children in order, then supervises them in the
// background until ctx is done or Stop is called. If a child fails to start,
// the ones started before it are stopped in reverse order and Start returns
// an error naming it; nothing is left running. A supervisor that has ended
// can be started again: it starts the specs it still holds, which are not
// the Temporary ones (the end of a run, a failed Start's included, stops
// them, and a Temporary spec is removed on any exit). Start on a
// running supervisor returns ErrAlreadyStarted; of concurrent calls, one
// starts it.
func (s *Supervisor) Start(ctx context.Context) error {
	if err := s.ownerRuns(); err != nil {
		return err
	}
	r, err := s.begin(ctx, nil, "")
	if err != nil {
		return err
	}
	go r.main()
	return <-r.started
}

// begin makes s running with a new run, checking and starting under one
// lock so that concurrent Start and Serve calls cannot both start it.
// parent is the supervisor that runs s as its child named name, or nil for
// a top-level start.
func (s *Supervisor) begin(ctx context.Context, parent *Supervisor, name string) (*run, error) {
	path := s.name
	if parent != nil {
		path = parent.Path() + PathSeparator + name // before locking s: locks go down the tree
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.beginLocked(ctx, parent, path)
}

// beginLocked is begin with s.mu held.
func (s *Supervisor) beginLocked(ctx context.Context, parent *Supervisor, path string) (*run, error) {
	if ctx == nil {
		return nil, fmt.Errorf("supervisor %s: %w: nil context", s.where(), ErrInvalidOption)
	}
	if s.cfg.err != nil {
		return nil, fmt.Errorf("supervisor %s: %w", s.where(), s.cfg.err)
	}
	if s.phase == running {
		if s.parent != nil {
			return nil, fmt.Errorf("supervisor %s: %w: run by %s", s.where(), ErrAlreadyStarted, s.parent.where())
		}
		return nil, fmt.Errorf("supervisor %s: %w", s.where(), ErrAlreadyStarted)
	}
	if s.phase == ended {
		s.done = make(chan struct{})
		s.err = nil
	}
	s.parent, s.path = parent, path
	r := newRun(s, ctx)
	s.run, s.phase = r, running
	s.openEvents(true)
	return r, nil
}

// Serve starts the supervisor if it is not running, then blocks until it
// ends, returning its final error (nil after an orderly end). When ctx is
// done the supervisor shuts down as Stop does. Serve (and Start) on a
// supervisor whose parent runs returns ErrAlreadyStarted at once: the
// parent owns its runs (it would restart what Serve's ctx stopped).
func (s *Supervisor) Serve(ctx context.Context) error {
	if ctx == nil {
		return fmt.Errorf("supervisor %s: %w: nil context", s.where(), ErrInvalidOption)
	}
	if err := s.ownerRuns(); err != nil {
		return err
	}
	s.mu.Lock()
	var r *run
	if s.phase != running || s.parent != nil {
		// Check and start in one step: of concurrent callers one starts
		// the run and the others wait for it.
		var err error
		if r, err = s.beginLocked(ctx, nil, s.name); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	done := s.done
	s.mu.Unlock()
	if r != nil {
		go r.main()
		if err := <-r.started; err != nil {
			return err
		}
	}
	select {
	case <-done:
		s.drainEvents()
	case <-ctx.Done():
		_ = s.Stop()
	}
	return s.Err()
}

// launch lets a parent run this supervisor without a goroutine of its own:
// exit receives the final error when run r, begun by the parent, ends. It
// is not exported: a second caller would take the parent's exit report.
func (s *Supervisor) launch(r *run, exit func(error)) {
	s.mu.Lock()
	if s.run != r || s.phase != running {
		err := s.err
		s.mu.Unlock()
		exit(err)
		return
	}
	s.onEnd = exit
	s.mu.Unlock()
}

// Stop shuts the supervisor down in order (children stop one at a time,
// newest first), waits for it to end, for its event handlers to have its
// events and for its Dispose hooks to have run, and returns its final
// error. It is idempotent; on a supervisor that has ended by itself it
// waits for the handlers and hooks and returns the final error; on one
// that never started it returns nil.
func (s *Supervisor) Stop() error {
	s.mu.Lock()
	r, ph := s.run, s.phase
	s.mu.Unlock()
	if ph != running {
		if ph == ended {
			// A run that ended by itself (it gave up, or its ctx ended)
			// may still be delivering its last events: Stop waits for
			// them as it does after stopping a run.
			s.drainEvents()
		}
		return s.Err()
	}
	r.in.push(msg{op: opStop})
	<-r.done
	s.drainEvents()
	return s.Err()
}

// drainEvents waits until the events of this tree have been delivered, and
// its Dispose hooks have run, so that no goroutine of the library outlives
// Stop or Serve. It is not done
// by the run itself: a handler that calls Stop, on this supervisor or on
// any other of the tree, would then wait for its own delivery.
func (s *Supervisor) drainEvents() { s.drainTree(onDeliverer()) }

// drainTree is drainEvents, told once for the whole tree whether the
// caller is a handler (whose own delivery cannot be waited for).
func (s *Supervisor) drainTree(inHandler bool) {
	s.disposals.drain()
	s.drainLane()
	if !inHandler {
		s.events.drain()
		if subs := s.subs.Load(); subs != nil {
			for _, sub := range *subs {
				sub.events.drain()
			}
		}
	}
	s.mu.Lock()
	var subs []*Supervisor
	if s.phase != running {
		for c := s.children.head; c != nil; c = c.next {
			if c.rd().sub != nil {
				subs = append(subs, c.rd().sub)
			}
		}
	}
	s.mu.Unlock()
	for _, sub := range subs {
		sub.drainTree(inHandler)
	}
}

// Done is closed when the current (or next) run of the supervisor ends:
// every child has stopped. Events of its last moments may still be in
// delivery to handlers, and Dispose hooks of children it removed on its
// own may still run; Stop and Serve also wait for those.
func (s *Supervisor) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

// Err returns the final error of the last run once Done is closed: nil
// after an orderly end, an error wrapping ErrIntensityExceeded after giving
// up, or the start failure.
func (s *Supervisor) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// disposeAll tells every spec it is gone for good (the tree ended, or the
// spec of this supervisor was disposed by its parent).
func (s *Supervisor) disposeAll() {
	s.mu.Lock()
	if s.phase == running {
		s.dispose = true
		s.mu.Unlock()
		return
	}
	gone := s.children.takeGone()
	s.mu.Unlock()
	disposeEach(gone)
}

// logger is the nearest configured logger up the tree, or slog.Default.
func (s *Supervisor) logger() *slog.Logger {
	for p := s; p != nil; p = p.parent {
		if p.cfg.logger != nil {
			return p.cfg.logger
		}
	}
	return slog.Default()
}

// request sends a call to the control loop, or runs it under the mutex
// when the supervisor is not running.
func (s *Supervisor) request(c *call) reply {
	s.mu.Lock()
	if s.phase != running {
		rep, deleted := s.children.offline(s, c)
		s.mu.Unlock()
		if deleted != nil {
			dispose(deleted)
		}
		return rep
	}
	r := s.run
	c.done.Add(1)
	ok := r.in.push(msg{op: c.op, call: c})
	s.mu.Unlock()
	if !ok {
		return reply{err: fmt.Errorf("supervisor %s: %w", s.where(), ErrStopped)}
	}
	c.done.Wait()
	disposeEach(c.rep.gone)
	c.rep.gone = nil
	return c.rep
}

// StartChild adds a child. Before Start it validates and records the spec;
// while running it starts the child at once and returns when its Start has
// completed or failed (a child that fails to start is not kept). On a
// running OneForOne supervisor, a child without a Start step is started on
// the caller's goroutine, without a trip through the supervisor's (see
// "Many dynamic children: the lane" in the package documentation): that is
// how spawning many actors stays cheap.
func (s *Supervisor) StartChild(spec Spec) error {
	handled, made, err := s.startLane(&spec, nil)
	if handled {
		return err
	}
	return s.startMade(&spec, made)
}

// startMade is StartChild through the control loop, with what New made
// on the lane, if it ran there.
func (s *Supervisor) startMade(spec *Spec, made Child) error {
	c := &call{op: opStartChild, made: made}
	c.one[0] = *spec
	c.specs = c.one[:]
	err := s.startChildren(c)
	if c.made != nil && errors.Is(err, ErrStopped) {
		// New ran on the lane, and the supervisor stopped before its
		// control goroutine took what New made: dispose of it, as the
		// lane does when the stop comes during New.
		if src := sourceOf(spec); src != nil {
			if _, plain := src.(newOnly); !plain {
				src.Dispose(err)
			}
		}
	}
	return err
}

// StartChildren adds several children as one operation, in order: all are
// validated first, and if one fails to start, the ones started with it are
// stopped and removed, so the batch is all or nothing. It costs one round
// trip to the supervisor however many specs it carries.
func (s *Supervisor) StartChildren(specs ...Spec) error {
	return s.startChildren(&call{op: opStartChild, specs: specs})
}

func (s *Supervisor) startChildren(c *call) error {
	claimed, err := s.claimSpecs(c.specs)
	if err != nil {
		return err
	}
	if err := s.request(c).err; err != nil {
		s.releaseAll(claimed)
		return err
	}
	return nil
}

// TerminateChild stops a child without restarting it and keeps its spec
// (a Temporary child's spec is removed). It is idempotent and returns once
// the child has stopped or been abandoned per its ShutdownPolicy. A child
// waiting for a restart has the restart cancelled. Before Start it changes
// nothing (the child is not running, and Start starts every spec held: use
// DeleteChild to drop one); once the supervisor has ended it returns
// ErrStopped.
func (s *Supervisor) TerminateChild(name string) error {
	return s.request(&call{op: opTerminate, name: name}).err
}

// RestartChild starts a stopped child again (one terminated by
// TerminateChild, a Transient child after a normal exit) and returns its
// Start error; after a failure the child stays stopped. It does not count
// toward the restart intensity. It returns an error wrapping ErrRunning
// for a running child, ErrRestarting for one waiting for an automatic
// restart, ErrNotFound for an unknown name, and ErrStopped when the
// supervisor is not running (before Start too: Start starts its children).
func (s *Supervisor) RestartChild(name string) error {
	return s.request(&call{op: opRestart, name: name}).err
}

// DeleteChild removes the spec of a stopped child; its Dispose hook, if
// any, has run when DeleteChild returns. It returns an error wrapping
// ErrRunning for a running child (TerminateChild it first), ErrRestarting
// for one waiting for an automatic restart, ErrNotFound for an unknown
// name, and ErrStopped once the supervisor has ended.
func (s *Supervisor) DeleteChild(name string) error {
	return s.request(&call{op: opDelete, name: name}).err
}

// WhichChildren describes every child, in start order.
func (s *Supervisor) WhichChildren() []ChildInfo {
	return s.request(&call{op: opWhich, buf: s.snapshotBuf()}).infos
}

// snapshotBuf allocates room for describing every child, with slack for
// children added meanwhile, on the caller's goroutine rather than the loop's.
func (s *Supervisor) snapshotBuf() []ChildInfo {
	n := s.children.size.Load()
	return make([]ChildInfo, 0, n+n/8+4)
}

// CountChildren counts the children by kind and activity.
func (s *Supervisor) CountChildren() ChildCounts {
	return s.request(&call{op: opCount}).counts
}
