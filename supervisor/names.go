package supervisor

import (
	"hash/maphash"
	"time"

	"github.com/airssys/rt/internal/hook"
)

// nameTable is a family's children by name (family.byName), guarded by the
// family's mu.
//
// It is keyed by a 64-bit hash of the name rather than by the name, so that
// a slot is 16 bytes instead of 24: a supervisor may hold 100,000 dynamic
// children, and a Go map's slots cost about 1.5 times their size at its
// usual load. The name is checked against the child's own; a name whose
// hash another name holds already goes to clash, keyed by name (two names
// share a 64-bit hash about once in 2^64 pairs, so clash is almost always
// nil). The actor package's System registry does the same.
//
// A Go map never gives back the memory of its peak size, so after a burst
// of dynamic children has come and gone the table is copied into a fresh
// map (see shrink).
type nameTable struct {
	seed   maphash.Seed
	byHash map[uint64]*child
	clash  map[string]*child
	hashFn func(string) uint64 // nil: maphash with seed; tests force clashes with it
	peak   int                 // the most entries byHash has held since it was made
}

// shrinkMin is the peak from which a name table (and the actor package's
// registry) is copied into a fresh map once its entries fall under a
// quarter of the peak. Below it the memory at stake is at most about
// 300 KB, and a lower one makes steady churn pay: the spawn benchmark's
// table swings between about 1,000 and 7,000 children, and with 1024 it
// was copied and grew back 50 times in 200,000 spawns (+26 B per spawn).
// A copy of n entries follows at least 3n removals, so it costs a removal
// O(1) amortised; the one removal that makes it pays for copying under
// peak/4 entries, under the family's lock: about 1 ms after a peak of
// 100,000, the time of some 300 spawns (BenchmarkNameTableShrink).
const shrinkMin = 1 << 14

// grew notes byHash's size after an entry went in.
func (t *nameTable) grew() {
	if l := len(t.byHash); l > t.peak {
		t.peak = l
	}
}

// shrink copies byHash into a fresh map once its entries have fallen under
// a quarter of a large peak: the old map's memory, sized for the peak,
// goes back to the heap.
func (t *nameTable) shrink() {
	l := len(t.byHash)
	if t.peak < shrinkMin || l >= t.peak/4 {
		return
	}
	fresh := make(map[uint64]*child, l)
	for h, c := range t.byHash {
		fresh[h] = c
	}
	t.byHash, t.peak = fresh, l
}

func newNameTable() nameTable {
	return nameTable{seed: maphash.MakeSeed(), byHash: make(map[uint64]*child)}
}

func (t *nameTable) hash(name string) uint64 {
	if t.hashFn != nil {
		return t.hashFn(name)
	}
	return maphash.String(t.seed, name)
}

// get returns the child named name, or nil.
func (t *nameTable) get(name string) *child {
	if c := t.byHash[t.hash(name)]; c != nil && c.spec.Name == name {
		return c
	}
	if t.clash == nil {
		return nil
	}
	return t.clash[name]
}

// add enters c under its name, which must be free (see get).
func (t *nameTable) add(c *child) {
	h := t.hash(c.spec.Name)
	if _, taken := t.byHash[h]; !taken {
		t.byHash[h] = c
		t.grew()
		return
	}
	if t.clash == nil {
		t.clash = make(map[string]*child)
	}
	t.clash[c.spec.Name] = c
}

// reserve enters c under its name if the name is free, and otherwise
// returns the child that holds it: get and add with the name hashed once
// (a lane start does both for every child).
func (t *nameTable) reserve(c *child) (holder *child) {
	name := c.spec.Name
	h := t.hash(name)
	old, taken := t.byHash[h]
	if taken && old.spec.Name == name {
		return old
	}
	if t.clash != nil {
		if old := t.clash[name]; old != nil {
			return old
		}
	}
	if !taken {
		t.byHash[h] = c
		t.grew()
		return nil
	}
	if t.clash == nil {
		t.clash = make(map[string]*child)
	}
	t.clash[name] = c
	return nil
}

// remove takes c's name out of the table if c holds it.
func (t *nameTable) remove(c *child) {
	h := t.hash(c.spec.Name)
	if t.byHash[h] == c {
		delete(t.byHash, h)
		if t.peak >= shrinkMin {
			t.shrink()
		}
		return
	}
	if t.clash != nil && t.clash[c.spec.Name] == c {
		delete(t.clash, c.spec.Name)
	}
}

// startLaneChild is for the actor package, through hook.StartLaneChild: it
// starts spec on the lane if it can, as StartChild does, calling guard
// under the lock of the name table with the Source of the child holding
// spec's name (nil if none) before the start takes the name; guard's error
// fails the start, unchanged. It reports whether it handled the start; if
// not, nothing was done and the name is not held. An actor System
// registers the name of an actor spawned under its root so, in this table
// alone.
func (s *Supervisor) startLaneChild(spec *Spec, guard func(name string, holder any) error) (handled bool, err error) {
	handled, made, err := s.startLane(spec, guard)
	if handled {
		return true, err
	}
	if made != nil {
		// New ran, and made a child the loop must start (a Starter): not
		// an actor's, whose Source makes Launchers only. Finish as
		// StartChild does rather than lose it.
		return true, s.startMade(spec, made)
	}
	return false, nil
}

// startLaneSpec is startLaneChild for the spec of an actor, as the actor
// package gives it: the record is made straight from the few fields such a
// spec sets, without a Spec, its checks of fields it cannot set, or the
// comparison of a whole coldSpec per spawn (an actor spawn on the lane is
// the path a program takes a million times). A spec the fast checks do
// not pass takes startLaneChild, which reports it as StartChild would.
func (s *Supervisor) startLaneSpec(ls *hook.LaneSpec, guard func(name string, holder any) error) (handled bool, err error) {
	f := &s.children
	r := f.lane.open.Load()
	src, _ := ls.Source.(Source)
	restart, shutdown := RestartPolicy(ls.Restart), ShutdownPolicy(ls.Shutdown)
	if r == nil || src == nil || restart < DefaultRestart || restart > Temporary ||
		shutdown < 0 && shutdown != BrutalKill && shutdown != Infinity ||
		ls.StartTimeout < 0 || checkName(ls.Name) != nil {
		spec := laneSpec(ls, src)
		return s.startLaneChild(&spec, guard)
	}
	if restart == DefaultRestart {
		restart = s.restart
	}
	c := &child{spec: childSpec{Name: ls.Name, src: src, cold: s.laneCold(restart, shutdown, ls.StartTimeout, ls.Kind)},
		st: uint8(ChildStopped)}
	handled, made, err := s.startLaneRecord(r, c, guard)
	if handled {
		return true, err
	}
	if made != nil {
		spec := laneSpec(ls, src)
		return true, s.startMade(&spec, made) // as startLaneChild does
	}
	return false, nil
}

// laneSpec is the Spec ls stands for.
func laneSpec(ls *hook.LaneSpec, src Source) Spec {
	return Spec{
		Name: ls.Name, Source: src, Restart: RestartPolicy(ls.Restart),
		Shutdown: ShutdownPolicy(ls.Shutdown), StartTimeout: ls.StartTimeout, Kind: ls.Kind,
	}
}

// laneCold is the coldSpec of an actor's spec with these settings (the
// rest zero): the one the supervisor's lane spawns used last if it
// matches, as it does for every spawn of a program spawning many actors
// of one kind, or the interned one.
func (s *Supervisor) laneCold(restart RestartPolicy, shutdown ShutdownPolicy, startTimeout time.Duration, kind string) *coldSpec {
	if c := s.children.lane.cold.Load(); c != nil && c.restart == restart && c.shutdown == shutdown &&
		c.startTimeout == startTimeout && c.kind == kind {
		return c
	}
	spec := Spec{Shutdown: shutdown, StartTimeout: startTimeout, Kind: kind}
	c := compact(&spec, restart).cold
	s.children.lane.cold.Store(c)
	return c
}

// The actor package's view of a System root's names (see hook).
func init() {
	hook.StartLaneChild = func(sup any, ls hook.LaneSpec, guard func(name string, holder any) error) (bool, error) {
		return sup.(*Supervisor).startLaneSpec(&ls, guard)
	}
	hook.ChildSource = func(sup any, name string) any {
		f := &sup.(*Supervisor).children
		f.mu.Lock()
		defer f.mu.Unlock()
		if c := f.byName.get(name); c != nil {
			return c.spec.src
		}
		return nil
	}
	hook.EachChildSource = func(sup any, fn func(src any)) {
		f := &sup.(*Supervisor).children
		f.mu.Lock()
		defer f.mu.Unlock()
		f.byName.each(func(c *child) {
			if c.spec.src != nil {
				fn(c.spec.src)
			}
		})
	}
	hook.WithChildNames = func(sup any, fn func(source func(name string) any) error) error {
		f := &sup.(*Supervisor).children
		f.mu.Lock()
		defer f.mu.Unlock()
		return fn(func(name string) any {
			if c := f.byName.get(name); c != nil {
				return c.spec.src
			}
			return nil
		})
	}
}

// each calls f for every child in the table.
func (t *nameTable) each(f func(*child)) {
	for _, c := range t.byHash {
		f(c)
	}
	for _, c := range t.clash {
		f(c)
	}
}
