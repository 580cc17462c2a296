package supervisor

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airssys/rt/health"
)

// child is a supervisor's record of one spec and its current incarnation.
// Records form an intrusive list in start order so that removing one, and
// walking the rest after one (RestForOne), cost nothing per sibling.
type child struct {
	spec       childSpec // its cold part holds the effective restart policy
	prev, next *child

	inc   *incarnation
	since int64      // UnixNano when the current incarnation started; 0 when none
	seq   uint64     // start order, across the ordered list and the lane
	rare  *childRare // nil until the child restarts, fails, is a supervisor, is health-checked, ...
	st    uint8      // its ChildState, a byte: it shares a word with lane (see state)
	lane  bool       // on the lane (lane.go), not in the ordered list; guarded by the family's mu

	// The first incarnation lives inside the record: every child starts
	// at least once, so this saves an allocation and its header. The
	// record is kept small because a supervisor may hold 100,000 of them.
	first incarnation
}

// childRare is what a child needs once something happens to it beyond
// starting and ending quietly: an idle child on the lane never gets one,
// which keeps its record (with its first incarnation inside) in the
// 160-byte size class rather than 256 (TestChildRecordStaysSmall).
type childRare struct {
	restarts    int
	lastErr     error
	sub         *Supervisor // set once New has returned a supervisor
	job         *restartJob // pending restart this child belongs to
	poll        *healthPoll // nil until the child is health-checked
	consecutive int32       // consecutive restarts, for backoff
	terminated  bool        // stopped by TerminateChild
}

// noRare is what rd returns for a child without a rare part: never written.
var noRare childRare

// rd is c's rare part for reading: all zero when it has none.
func (c *child) rd() *childRare {
	if c.rare == nil {
		return &noRare
	}
	return c.rare
}

// rw is c's rare part for writing, made on first use.
func (c *child) rw() *childRare {
	if c.rare == nil {
		c.rare = &childRare{}
	}
	return c.rare
}

// setLastErr records err as c's last error without making a rare part for
// a nil one.
func (c *child) setLastErr(err error) {
	if err != nil || c.rare != nil {
		c.rw().lastErr = err
	}
}

// state is c's ChildState, kept in a byte so that it shares a word with
// c.lane: the record of an idle child stays in the 160-byte size class.
func (c *child) state() ChildState { return ChildState(c.st) }

func (c *child) setState(s ChildState) { c.st = uint8(s) }

func (c *child) setSince(t time.Time) { c.since = t.UnixNano() }

func (c *child) sinceTime() time.Time {
	if c.since == 0 {
		return time.Time{}
	}
	return time.Unix(0, c.since)
}

func (c *child) health() health.Status {
	if c.rd().poll == nil {
		return healthyStatus
	}
	return c.rd().poll.status
}

// childSpec is a child's own copy of its Spec, compact: a supervisor may
// hold 100,000 of them. The fields most children leave at their zero value
// live behind one pointer that stays nil for them.
type childSpec struct {
	Name string
	src  Source // Spec.Source, or New and Dispose wrapped (see sourceOf)
	cold *coldSpec
}

// sourceOf is the Source of s: its own, or its New and Dispose as one. A
// New alone is a func in an interface, which allocates nothing.
func sourceOf(s *Spec) Source {
	switch {
	case s.Source != nil:
		return s.Source
	case s.Dispose == nil:
		return newOnly(s.New)
	}
	return &funcSource{newFn: s.New, dispose: s.Dispose}
}

// newOnly is the Source of a Spec with a New and no Dispose.
type newOnly func() Child

func (f newOnly) New() Child  { return f() }
func (newOnly) Dispose(error) {}

// funcSource is the Source of a Spec with a New and a Dispose.
type funcSource struct {
	newFn   func() Child
	dispose func(reason error)
}

func (f *funcSource) New() Child           { return f.newFn() }
func (f *funcSource) Dispose(reason error) { f.dispose(reason) }

// hasDispose reports whether the spec's owner wants to hear of its end
// (a Dispose or a Source).
func (s *childSpec) hasDispose() bool {
	_, plain := s.src.(newOnly)
	return !plain
}

type coldSpec struct {
	restart      RestartPolicy // effective: the supervisor's default resolved
	shutdown     ShutdownPolicy
	startTimeout time.Duration
	health       HealthPolicy
	significant  bool
	kind         string
	observable   any // never interned: see compact
}

// colds interns coldSpecs, so that a pool of similar children (a batch, a
// thousand actors) shares one instead of holding one each. Programs have
// few distinct settings; past maxColds distinct ones, children get their
// own rather than the table growing without bound.
var (
	colds     sync.Map // coldSpec -> *coldSpec
	coldCount atomic.Int32
	// lastCold is the coldSpec interned last: a program spawning many
	// children of one kind asks for the same one again and again, and
	// finds it here without boxing a coldSpec into a map key (an
	// allocation per child) or hashing it.
	lastCold atomic.Pointer[coldSpec]
)

const maxColds = 1024

func compact(s *Spec, restart RestartPolicy) childSpec {
	cs := childSpec{Name: s.Name, src: sourceOf(s)}
	cold := coldSpec{restart: restart, shutdown: s.Shutdown, startTimeout: s.StartTimeout, health: s.Health,
		significant: s.Significant, kind: s.Kind, observable: s.Observable}
	if s.Observable != nil {
		// The child's own value: shared by nobody, and the table would keep
		// it (an output tail, say) alive for good. It may also be of a type
		// that cannot be a map key.
		cs.cold = own(cold)
		return cs
	}
	if last := lastCold.Load(); last != nil && *last == cold {
		cs.cold = last
		return cs
	}
	cs.cold = intern(cold)
	return cs
}

// own returns a coldSpec of the child's own.
func own(cold coldSpec) *coldSpec { return &cold }

// intern returns the shared coldSpec equal to cold, made if need be; the
// slow path of compact, apart so that its fast path does not move cold to
// the heap.
//
//go:noinline
func intern(cold coldSpec) *coldSpec {
	if shared, ok := colds.Load(cold); ok {
		p := shared.(*coldSpec)
		lastCold.Store(p)
		return p
	}
	if coldCount.Load() >= maxColds {
		return own(cold)
	}
	shared, loaded := colds.LoadOrStore(cold, own(cold))
	if !loaded {
		coldCount.Add(1)
	}
	p := shared.(*coldSpec)
	lastCold.Store(p)
	return p
}

func (s *childSpec) shutdownPolicy() ShutdownPolicy {
	if s.cold == nil {
		return 0
	}
	return s.cold.shutdown
}

func (s *childSpec) startTimeout() time.Duration {
	if s.cold == nil {
		return 0
	}
	return s.cold.startTimeout
}

func (s *childSpec) health() HealthPolicy {
	if s.cold == nil {
		return HealthPolicy{}
	}
	return s.cold.health
}

func (s *childSpec) significant() bool { return s.cold != nil && s.cold.significant }

func (s *childSpec) observable() any {
	if s.cold == nil {
		return nil
	}
	return s.cold.observable
}

func (s *childSpec) kind() string {
	if s.cold == nil {
		return ""
	}
	return s.cold.kind
}

// restart is the child's effective restart policy. It lives in the
// interned cold part of the spec, shared by children alike: one word less
// in every child record, which a supervisor may hold 100,000 of.
func (c *child) restart() RestartPolicy { return c.spec.cold.restart }

// public rebuilds the Spec (restart is the effective policy).
func (c *child) public() Spec {
	s := c.spec
	spec := Spec{Name: s.Name, Restart: c.restart(), Shutdown: s.shutdownPolicy(),
		StartTimeout: s.startTimeout(), Health: s.health(), Significant: s.significant(), Kind: s.kind(),
		Observable: s.observable()}
	switch src := s.src.(type) {
	case newOnly:
		spec.New = src
	case *funcSource:
		spec.New, spec.Dispose = src.newFn, src.dispose
	default:
		spec.Source = src
	}
	return spec
}

// incarnation is one run of a child, from New to exit. err is written by
// whoever reports the exit, before ended is set.
type incarnation struct {
	c      *child
	incCtx // with flags (incExited and the others: one word for them and the ctx's) and lane
	inst   Child
	err    error
}

// The incarnation's bits of incCtx.flags.
const (
	incExited    = 1 << iota // the exit was reported (first report wins)
	incEnded                 // err is written
	incAbandoned             // Start failed or timed out: never Serve
	incCancelled             // the supervisor asked it to stop (written by the loop)
)

// cancelled reports whether the supervisor asked the incarnation to stop.
func (inc *incarnation) cancelled() bool { return inc.flags.Load()&incCancelled != 0 }

// hasEnded reports whether the incarnation's exit, err, is written.
func (inc *incarnation) hasEnded() bool { return inc.flags.Load()&incEnded != 0 }

func (c *child) shutdown() ShutdownPolicy {
	if p := c.spec.shutdownPolicy(); p != 0 {
		return p
	}
	if c.rd().sub != nil {
		return Infinity
	}
	return DefaultWorkerShutdown
}

func (c *child) info() ChildInfo {
	ci := ChildInfo{
		Name: c.spec.Name, State: c.state(), Restarts: c.rd().restarts, IsSupervisor: c.rd().sub != nil,
		LastErr: c.rd().lastErr, Health: c.health(), Since: c.sinceTime(), Restart: c.restart(),
		Shutdown: c.shutdown(), Supervisor: c.rd().sub, Observable: c.spec.observable(),
	}
	if c.inc != nil {
		ci.Instance = c.inc.inst
	}
	switch {
	case c.rd().sub != nil:
		ci.Kind = "supervisor"
	case c.spec.kind() != "":
		ci.Kind = c.spec.kind()
	default:
		ci.Kind = "worker"
	}
	return ci
}

type family struct {
	owner *Supervisor
	chain              // the ordered list: loop-owned while running
	size  atomic.Int64 // children in both lists, readable by callers sizing a snapshot buffer
	seq   atomic.Uint64

	// mu guards byName, which children on the lane (lane.go) enter and
	// leave without the control loop, and the lane itself.
	mu     sync.Mutex
	byName nameTable
	lane   lane
}

func (f *family) init(owner *Supervisor) {
	f.owner = owner
	f.byName = newNameTable()
}

// append links c, whose name admit has reserved, at the end of the
// ordered list: it is the newest child.
func (f *family) append(c *child) {
	c.seq = f.seq.Add(1)
	f.insertBefore(c, nil)
	f.size.Add(1)
}

func (f *family) remove(c *child) {
	f.unlink(c)
	if c.rd().sub != nil {
		release(f.owner, c.rd().sub)
	}
	f.mu.Lock()
	f.byName.remove(c)
	f.mu.Unlock()
	f.size.Add(-1)
}

// lookup finds the child named name for the control loop, taking it off
// the lane if it is there: the loop owns whatever it touches. A child
// still starting on the lane is not found yet.
func (f *family) lookup(name string) *child {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.byName.get(name)
	if c == nil || c.lane && c.state() == ChildStarting {
		return nil
	}
	f.claimLocked(c)
	return c
}

// infos describes the children into buf, which callers allocate off the
// control goroutine so that a large snapshot costs the loop only copying.
// Children on the lane are merged in by start order.
func (f *family) infos(buf []ChildInfo) []ChildInfo {
	out := buf[:0]
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.lane.head
	for c := f.head; c != nil; c = c.next {
		for ; l != nil && l.seq < c.seq; l = l.next {
			out = append(out, l.info())
		}
		out = append(out, c.info())
	}
	for ; l != nil; l = l.next {
		out = append(out, l.info())
	}
	return out
}

func (f *family) counts() ChildCounts {
	var n ChildCounts
	for c := f.head; c != nil; c = c.next {
		n.Specs++
		if c.inc != nil {
			n.Active++
		}
		if c.rd().sub != nil {
			n.Supervisors++
		} else {
			n.Workers++
		}
	}
	f.mu.Lock()
	n.Specs += f.lane.n // lane children are running workers
	n.Active += f.lane.n
	n.Workers += f.lane.n
	f.mu.Unlock()
	return n
}

// dispose removes nothing; it tells c's owner (and, for a supervisor, its
// whole subtree) that the spec is gone for good. It is never called with a
// supervisor's mutex held: a Dispose hook may call back into the tree.
func dispose(c *child) { disposeFor(c, c.rd().lastErr) }

// disposeFor is dispose with the reason given: the lane's reaper passes the
// incarnation's error rather than store it in the record it removes, which
// would make a rare part for every child that ends with one.
func disposeFor(c *child, reason error) {
	if c.spec.hasDispose() {
		c.spec.src.Dispose(reason)
	}
	if sub := c.rd().sub; sub != nil {
		sub.disposeAll()
	}
}

// takeGone returns every spec for disposal at the end of a tree, to be
// disposed once the caller has let go of the mutex. Specs with a Dispose
// hook are dropped, since their owners cannot run again; plain specs are
// kept so the supervisor can be started again.
func (f *family) takeGone() []*child {
	gone := make([]*child, 0, f.n)
	for c := f.head; c != nil; {
		next := c.next
		gone = append(gone, c)
		if c.spec.hasDispose() {
			f.remove(c)
		}
		c = next
	}
	return gone
}

func disposeEach(gone []*child) {
	for _, c := range gone {
		dispose(c)
	}
}

// newChild validates spec against s and builds its record. (spec is a
// pointer: a Spec is some 150 bytes, and a spawn passes it along several
// calls.)
func newChild(s *Supervisor, spec *Spec) (*child, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("supervisor %s: child %q: %w: "+format, append([]any{s.where(), spec.Name, ErrInvalidSpec}, args...)...)
	}
	if err := checkName(spec.Name); err != nil {
		return nil, bad("%v", err)
	}
	switch {
	case spec.Source != nil && (spec.New != nil || spec.Dispose != nil):
		return nil, bad("a Source with New or Dispose (the Source stands for both)")
	case spec.New == nil && spec.Source == nil:
		return nil, bad("nil New")
	case spec.Restart < DefaultRestart || spec.Restart > Temporary:
		return nil, bad("restart policy %v", spec.Restart)
	case spec.Shutdown < 0 && spec.Shutdown != BrutalKill && spec.Shutdown != Infinity:
		return nil, bad("shutdown policy %v (Graceful needs a positive duration)", spec.Shutdown)
	case spec.StartTimeout < 0:
		return nil, bad("negative start timeout %v", spec.StartTimeout)
	case spec.Health.Interval < 0 || spec.Health.Timeout < 0 || spec.Health.UnhealthyThreshold < 0:
		return nil, bad("negative health policy %+v", spec.Health)
	case spec.Health.Interval == 0 && spec.Health != (HealthPolicy{}):
		return nil, bad("health policy %+v without an Interval: no check would ever run", spec.Health)
	}
	restart := spec.Restart
	if restart == DefaultRestart {
		restart = s.restart
	}
	c := &child{spec: compact(spec, restart), st: uint8(ChildStopped)}
	if spec.Significant {
		if restart == Permanent {
			return nil, bad("a significant child must be Transient or Temporary")
		}
		if s.cfg.autoShutdown == Never {
			return nil, bad("significant child under AutoShutdown Never")
		}
	}
	return c, nil
}

// offline answers a call while the supervisor is not running; s.mu is
// held. A deleted spec is returned for disposal after unlocking.
func (f *family) offline(s *Supervisor, m *call) (rep reply, gone *child) {
	stopped := func() reply {
		return reply{err: fmt.Errorf("supervisor %s: %w", s.where(), ErrStopped)}
	}
	switch m.op {
	case opWhich:
		return reply{infos: f.infos(m.buf)}, nil
	case opCount:
		return reply{counts: f.counts()}, nil
	}
	if s.phase != idle {
		return stopped(), nil
	}
	switch m.op {
	case opStartChild:
		cs, err := f.admit(s, m.specs)
		if err != nil {
			return reply{err: err}, nil
		}
		for _, c := range cs {
			f.append(c)
		}
		return reply{}, nil
	case opTerminate, opDelete:
		c := f.lookup(m.name)
		if c == nil {
			return reply{err: fmt.Errorf("supervisor %s: child %q: %w", s.where(), m.name, ErrNotFound)}, nil
		}
		if m.op == opDelete {
			f.remove(c)
			return reply{}, c
		}
		return reply{}, nil
	}
	return stopped(), nil
}

// admit validates a batch of specs (every spec valid, every name new) and
// reserves their names, all in one step, so that a child starting on the
// lane meanwhile cannot take one of them.
func (f *family) admit(s *Supervisor, specs []Spec) ([]*child, error) {
	var one [1]*child
	cs := one[:0]
	if len(specs) > 1 {
		cs = make([]*child, 0, len(specs))
	}
	for i := range specs {
		spec := &specs[i]
		c, err := newChild(s, spec)
		if err != nil {
			return nil, err
		}
		if sub := spec.sup; sub != nil {
			c.rw().sub = sub // claimed by StartChildren
		}
		cs = append(cs, c)
	}
	var seen map[string]*child
	if len(cs) > 1 {
		seen = make(map[string]*child, len(cs))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range cs {
		name := c.spec.Name
		old := f.byName.get(name)
		if old == nil && seen != nil {
			old = seen[name]
			seen[name] = c
		}
		if old != nil {
			sentinel := ErrAlreadyPresent
			if old.lane || old.inc != nil { // a lane child's fields are its starter's until it runs
				sentinel = ErrAlreadyStarted
			}
			return nil, fmt.Errorf("supervisor %s: child %q: %w", s.where(), name, sentinel)
		}
	}
	for _, c := range cs {
		f.byName.add(c)
	}
	return cs, nil
}

// PathSeparator joins supervisor and child names into paths ("root/web/db"):
// in Event.Supervisor, observers, metrics and actor lookups. Names may not
// contain it, nor be empty, so that every path names one place in a tree.
const PathSeparator = "/"

// checkName reports why name cannot name a child or a supervisor.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case strings.Contains(name, PathSeparator):
		return fmt.Errorf("name %q contains the path separator %q", name, PathSeparator)
	}
	return nil
}
