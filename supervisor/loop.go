package supervisor

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// op names a call to the control loop.
type op int

const (
	opStartChild op = iota + 1
	opTerminate
	opRestart
	opDelete
	opWhich
	opCount
	opStop
	opInfo
	opExit       // an incarnation ended
	opRestartDue // a restart job's delay is over
	opHealthDue  // time to check a child's health
	opHealthDone // a health check finished (or timed out)
)

// msg is everything the control loop receives. One small flat struct
// keeps the hot messages (exits) free of interface boxing and cheap to
// queue; calls carry their arguments behind a pointer.
type msg struct {
	op    op
	inc   *incarnation
	job   *restartJob
	check *healthResult
	call  *call
}

// call is a request from the public API, answered on reply.
type call struct {
	op    op
	name  string
	specs []Spec
	one   [1]Spec     // backs specs for StartChild: one allocation per call
	buf   []ChildInfo // room for a snapshot, allocated by the caller

	// The answer, handed over by a WaitGroup rather than a channel: it
	// lives inside the call, so a call costs one allocation.
	rep  reply
	done sync.WaitGroup
}

// answer hands the reply to the waiting caller.
func (c *call) answer(rep reply) {
	c.rep = rep
	c.done.Done()
}

type reply struct {
	err    error
	infos  []ChildInfo
	counts ChildCounts
	info   *Info
}

// run is one life of a supervisor, from Start to its end.
type run struct {
	s       *Supervisor
	in      *inbox
	ctx     context.Context // the ctx given to Start: its end stops the run
	base    context.Context // children's contexts derive from it, uncancelled
	started chan error
	done    chan struct{}

	f         *family
	intensity intensity
	timer     *time.Timer               // reused for start timeouts and graceful stops
	jobs      map[*restartJob]struct{}  // pending restarts, to stop their timers at the end
	checks    map[*healthCheck]struct{} // health checks whose goroutine still runs
	ending    bool
	finalErr  error
	startedAt time.Time
	path      string
}

func newRun(s *Supervisor, ctx context.Context) *run {
	return &run{
		s: s, in: newInbox(), ctx: ctx, base: context.WithoutCancel(ctx),
		started: make(chan error, 1), done: s.done, f: &s.children,
		intensity: intensity{max: s.cfg.maxRestarts, period: s.cfg.period},
		jobs:      make(map[*restartJob]struct{}),
		checks:    make(map[*healthCheck]struct{}),
		path:      s.path,
	}
}

func (r *run) main() {
	r.startedAt = time.Now()
	if err := r.startAll(); err != nil {
		r.finish(err)
		r.started <- err
		return
	}
	r.emit(Event{Kind: EventSupervisorStarted})
	r.started <- nil
	ctxDone := r.ctx.Done()
	for !r.ending {
		select {
		case <-r.in.signal:
			batch := r.in.take()
			for i := range batch {
				r.handle(batch[i])
				if r.ending {
					r.deferred(batch[i+1:])
					break
				}
			}
			r.in.recycle(batch)
		case <-ctxDone:
			r.shutdown(nil)
		}
	}
	r.finish(r.finalErr)
}

// deferred holds messages that arrived in the same batch as the end; they
// are answered by finish like any other late message.
func (r *run) deferred(rest []msg) {
	for _, m := range rest {
		r.in.mu.Lock()
		r.in.q = append(r.in.q, m)
		r.in.mu.Unlock()
	}
}

// finish ends the run: every child has stopped by now.
func (r *run) finish(err error) {
	s := r.s
	r.awaitChecks()
	if r.timer != nil {
		r.timer.Stop()
	}
	for job := range r.jobs {
		if job.timer != nil {
			job.timer.Stop()
		}
	}
	r.emit(Event{Kind: EventSupervisorStopped, Err: err})
	late := r.in.close()
	s.mu.Lock()
	var gone []*child
	if s.parent == nil || s.dispose {
		s.dispose = false
		gone = s.children.takeGone()
	}
	s.phase, s.err = ended, err
	onEnd := s.onEnd
	s.onEnd = nil
	var answers []func()
	for _, m := range late {
		if m.call != nil {
			rep, deleted := s.children.offline(s, m.call)
			if deleted != nil {
				gone = append(gone, deleted)
			}
			c := m.call
			answers = append(answers, func() { c.answer(rep) })
		}
	}
	s.mu.Unlock()
	disposeEach(gone)
	for _, answer := range answers {
		answer()
	}
	close(r.done)
	if onEnd != nil {
		onEnd(err)
	}
}

func (r *run) handle(m msg) {
	switch m.op {
	case opExit:
		r.onExit(m.inc)
	case opRestartDue:
		r.runJob(m.job)
	case opHealthDue:
		r.checkHealth(m.inc)
	case opHealthDone:
		if m.check.returned {
			delete(r.checks, m.check.chk)
		}
		r.onHealth(m.check.chk, m.check.status)
	case opStop:
		r.shutdown(nil)
	default:
		m.call.answer(r.call(m.call))
	}
}

func (r *run) errf(name string, sentinel error) error {
	return fmt.Errorf("supervisor %s: child %q: %w", r.s.name, name, sentinel)
}

// call answers the public API while running.
func (r *run) call(m *call) reply {
	switch m.op {
	case opWhich:
		return reply{infos: r.f.infos(m.buf)}
	case opCount:
		return reply{counts: r.f.counts()}
	case opInfo:
		info := r.info(m.buf)
		return reply{info: &info}
	case opStartChild:
		return reply{err: r.startChildren(m.specs)}
	}
	c := r.f.byName[m.name]
	if c == nil {
		return reply{err: r.errf(m.name, ErrNotFound)}
	}
	switch m.op {
	case opTerminate:
		r.terminate(c)
		return reply{}
	case opRestart, opDelete:
		switch {
		case c.inc != nil:
			return reply{err: r.errf(m.name, ErrRunning)}
		case c.job != nil:
			return reply{err: r.errf(m.name, ErrRestarting)}
		}
		if m.op == opDelete {
			r.remove(c)
			return reply{}
		}
		c.terminated = false
		if err := r.startChild(c, false); err != nil {
			return reply{err: err}
		}
		return reply{}
	}
	return reply{err: fmt.Errorf("supervisor %s: unknown call %d", r.s.name, m.op)}
}

// startAll starts the recorded specs in order; on a failure it stops the
// ones it started, newest first.
func (r *run) startAll() error {
	for c := r.f.head; c != nil; c = c.next {
		c.terminated = false
		if err := r.startChild(c, false); err != nil {
			for p := c.prev; p != nil; p = p.prev {
				r.stopChild(p)
			}
			return err
		}
	}
	return nil
}

// startChildren adds specs while running: all or nothing.
func (r *run) startChildren(specs []Spec) error {
	cs, err := r.f.admit(r.s, specs)
	if err != nil {
		return err
	}
	for i, c := range cs {
		r.f.append(c)
		if err := r.startChild(c, false); err != nil {
			for j := i; j >= 0; j-- {
				if j < i {
					r.stopChild(cs[j])
				}
				r.f.remove(cs[j])
				r.emit(Event{Kind: EventChildRemoved, Child: cs[j].spec.Name})
				dispose(cs[j])
			}
			return err
		}
	}
	return nil
}

// remove drops a stopped child's spec for good.
func (r *run) remove(c *child) {
	r.f.remove(c)
	r.emit(Event{Kind: EventChildRemoved, Child: c.spec.Name, Restarts: c.restarts})
	dispose(c)
}

// startChild runs New, then Start (bounded by a timer), then launches the
// incarnation. On failure the child is left stopped with LastErr set.
func (r *run) startChild(c *child, restarted bool) (err error) {
	c.state = ChildStarting
	defer func() {
		if err != nil {
			c.state, c.inc, c.lastErr = ChildStopped, nil, err
			r.emit(Event{Kind: EventChildStartFailed, Child: c.spec.Name, Err: err, Restarts: c.restarts})
			err = fmt.Errorf("supervisor %s: start child %q: %w", r.s.name, c.spec.Name, err)
		}
	}()
	inst, err := callNew(c.spec.New)
	if err != nil {
		return err
	}
	if sub, ok := inst.(*Supervisor); ok {
		if sub == r.s {
			return fmt.Errorf("%w: a supervisor cannot supervise itself", ErrInvalidSpec)
		}
		c.sub = sub
		sub.attach(r.s, c.spec.Name)
	}
	// The first incarnation lives inside the child record: one allocation
	// less on every start; restarts allocate their own so that a late exit
	// report of an earlier one stays distinguishable.
	inc := &c.first
	if inc.inst != nil {
		inc = new(incarnation)
	}
	*inc = incarnation{c: c, inst: inst, incCtx: incCtx{base: r.base}}
	ctx, cancel := context.Context(&inc.incCtx), inc.cancel
	c.inc = inc
	launcher, isLauncher := inst.(Launcher)
	if starter, ok := inst.(Starter); ok {
		ack := make(chan error, 1)
		go inc.startThenServe(r, starter, ack, !isLauncher)
		if err := r.awaitStart(c, ack); err != nil {
			inc.startAbandoned.Store(true)
			cancel()
			return err
		}
	} else if !isLauncher {
		go inc.serve(r)
	}
	if isLauncher {
		if err := callLaunch(launcher, ctx, inc.exitFunc(r)); err != nil {
			cancel()
			return err
		}
	}
	c.state = ChildRunning
	c.setSince(time.Now())
	kind := EventChildStarted
	if restarted {
		kind = EventChildRestarted
	}
	r.emit(Event{Kind: kind, Child: c.spec.Name, Restarts: c.restarts})
	if c.poll != nil && c.poll.status.State != healthyStatus.State {
		// A fresh incarnation is presumed healthy; say so, or observers
		// that follow events would keep showing the old verdict.
		c.poll.status = healthyStatus
		r.emit(Event{Kind: EventHealthChanged, Child: c.spec.Name, Health: healthyStatus, Restarts: c.restarts})
	}
	r.startPolling(c)
	return nil
}

func (r *run) awaitStart(c *child, ack chan error) error {
	d := c.spec.startTimeout()
	if d == 0 {
		d = DefaultStartTimeout
	}
	t := r.resetTimer(d)
	select {
	case err := <-ack:
		t.Stop()
		return err
	case <-t.C:
		return fmt.Errorf("%w after %v", ErrStartTimeout, d)
	}
}

func (r *run) resetTimer(d time.Duration) *time.Timer {
	if r.timer == nil {
		r.timer = time.NewTimer(d)
	} else {
		r.timer.Reset(d)
	}
	return r.timer
}

func callNew(newFn func() Child) (c Child, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	c = newFn()
	if c == nil {
		return nil, fmt.Errorf("%w: New returned nil", ErrInvalidSpec)
	}
	return c, nil
}

func callLaunch(l Launcher, ctx context.Context, exit func(error)) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	l.Launch(ctx, exit)
	return nil
}

func (inc *incarnation) exitFunc(r *run) func(error) {
	return func(err error) { inc.exit(r, err) }
}

// exit records the end of the incarnation; only the first call counts.
func (inc *incarnation) exit(r *run, err error) {
	if !inc.exited.CompareAndSwap(false, true) {
		return
	}
	inc.err = err
	inc.ended.Store(true)
	r.in.push(msg{op: opExit, inc: inc})
}

// serve runs a goroutine child. The recover lives here rather than in a
// helper so that each of what may be 100,000 parked goroutines has one
// frame less for the garbage collector to walk.
func (inc *incarnation) serve(r *run) {
	var err error
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
		inc.exit(r, err)
	}()
	err = inc.inst.Serve(&inc.incCtx)
}

func (inc *incarnation) startThenServe(r *run, st Starter, ack chan<- error, serve bool) {
	err := safeStart(st, &inc.incCtx)
	ack <- err
	if testHookAfterStart != nil {
		testHookAfterStart()
	}
	if err != nil || !serve || inc.startAbandoned.Load() {
		// A failed or timed-out start: the supervisor has given up on
		// this incarnation and expects no exit. (Not inc.Err(): the
		// supervisor may already be stopping a child that started well.)
		return
	}
	inc.serve(r)
}

// testHookAfterStart lets a test hold a child's goroutine between its
// Start acknowledgement and Serve, where a stop can slip in.
var testHookAfterStart func()

func safeStart(st Starter, ctx context.Context) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return st.Start(ctx)
}

// isNormal applies the exit-reason rules.
func isNormal(inc *incarnation) bool {
	return inc.err == nil || inc.cancelled || errors.Is(inc.err, ErrShutdown)
}

// onExit handles an incarnation that ended on its own.
func (r *run) onExit(inc *incarnation) {
	c := inc.c
	if c.inc != inc {
		return // stopped by the supervisor already, or abandoned
	}
	r.stopPolling(c)
	inc.cancel()
	ranFor := c.ranFor()
	c.inc, c.since = nil, 0
	c.lastErr = inc.err
	normal := isNormal(inc)
	if normal {
		r.emit(Event{Kind: EventChildExited, Child: c.spec.Name, Err: inc.err, Restarts: c.restarts})
	} else {
		r.emit(Event{Kind: EventChildFailed, Child: c.spec.Name, Err: inc.err, Restarts: c.restarts})
	}
	r.afterExit(c, inc.err, normal, ranFor)
}

// afterExit applies c's restart policy to an exit the supervisor did not
// ask for (a return from Serve, or a health-check failure).
func (r *run) afterExit(c *child, err error, normal bool, ranFor time.Duration) {
	switch {
	case c.restart == Temporary:
		c.state = ChildStopped
		r.remove(c)
		r.significantExit(c)
	case c.restart == Transient && normal:
		c.state = ChildStopped
		r.significantExit(c)
	default:
		r.restart(c, err, ranFor)
	}
}

// significantExit ends the supervisor when a significant child's own exit
// calls for it (AutoShutdown).
func (r *run) significantExit(c *child) {
	if !c.spec.significant() {
		return
	}
	switch r.s.cfg.autoShutdown {
	case AnySignificant:
	case AllSignificant:
		for o := r.f.head; o != nil; o = o.next {
			if o != c && o.spec.significant() && (o.inc != nil || o.job != nil) {
				return
			}
		}
	default:
		return
	}
	r.emit(Event{Kind: EventAutoShutdown, Child: c.spec.Name})
	r.shutdown(nil)
}

// terminate stops a child by API: no restart, no auto-shutdown.
func (r *run) terminate(c *child) {
	r.stopChild(c)
	c.terminated = true
	if c.restart == Temporary {
		r.remove(c)
	}
}

// stopChild stops c per its ShutdownPolicy and cancels any pending restart.
// It waits on the child alone: calls and other exits wait in the inbox.
func (r *run) stopChild(c *child) {
	if c.job != nil {
		c.job = nil
	}
	inc := c.inc
	if inc == nil {
		c.state = ChildStopped
		return
	}
	c.state = ChildStopping
	r.stopPolling(c)
	inc.cancelled = true
	inc.cancel()
	abandoned := false
	switch pol := c.shutdown(); {
	case pol == BrutalKill:
	case pol == Infinity:
		r.awaitExit(inc, nil)
	default:
		if !inc.ended.Load() {
			t := r.resetTimer(time.Duration(pol))
			abandoned = !r.awaitExit(inc, t.C)
			t.Stop()
		}
	}
	c.inc, c.since, c.state = nil, 0, ChildStopped
	if abandoned {
		r.emit(Event{Kind: EventChildAbandoned, Child: c.spec.Name, Restarts: c.restarts,
			Err: fmt.Errorf("still running %v after cancel", time.Duration(c.shutdown()))})
	} else {
		r.emit(Event{Kind: EventChildStopped, Child: c.spec.Name, Restarts: c.restarts})
	}
}

// awaitExit waits until inc has exited, or timeout fires (false). Exits
// arrive through the inbox, so it watches the inbox's signal without taking
// the messages, which the loop handles afterwards as usual; it re-arms the
// signal for them. This spares every incarnation a channel of its own.
func (r *run) awaitExit(inc *incarnation, timeout <-chan time.Time) bool {
	defer r.in.rearm()
	for !inc.ended.Load() {
		select {
		case <-r.in.signal:
		case <-timeout:
			return inc.ended.Load()
		}
	}
	return true
}

// shutdown stops every child, newest first, and ends the run with err.
func (r *run) shutdown(err error) {
	for c := r.f.tail; c != nil; c = c.prev {
		r.stopChild(c)
	}
	r.ending, r.finalErr = true, err
}

// emit stamps an event and hands it to the dispatchers that want it: the
// logger of this supervisor, and the handlers of it and its ancestors.
func (r *run) emit(e Event) {
	s := r.s
	lvl := e.LogLevel()
	logger := s.logger()
	if !logger.Enabled(context.Background(), lvl) {
		logger = nil
	}
	var wantsHandler bool
	for p := s; p != nil && !wantsHandler; p = p.parent {
		wantsHandler = p.cfg.handler != nil || p.subs.Load() != nil && len(*p.subs.Load()) > 0
	}
	if logger == nil && !wantsHandler {
		return
	}
	e.Time = time.Now()
	e.Supervisor = r.path
	if logger != nil && s.cfg.handler == nil {
		s.events.push(dispatchItem{e: e, logger: logger})
	}
	for p := s; p != nil; p = p.parent {
		if p.cfg.handler != nil {
			it := dispatchItem{e: e, handler: p.cfg.handler}
			if p == s {
				it.logger = logger
			}
			p.events.push(it)
		}
		if subs := p.subs.Load(); subs != nil {
			for _, sub := range *subs {
				sub.events.push(dispatchItem{e: e, handler: sub.fn})
			}
		}
	}
}
