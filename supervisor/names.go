package supervisor

import (
	"hash/maphash"
	"time"

	"github.com/airssys/rt/internal/hook"
)

// nameTable is a family's children by name (family.byName), guarded by the
// family's mu.
//
// It is an open-addressing hash table of the children themselves: a slot
// is the child's pointer (8 bytes) and a control byte, 7 bits of the
// name's hash, so that probing reads the control bytes and compares a
// name only when those bits match. A supervisor may hold 100,000 dynamic
// children: a Go map keyed by the name's hash (16-byte slots plus a
// control byte, at its load) took 23 bytes per child, this table 12 at
// 100,000 (BENCHMARKS.md, seventh pass, idle2). Names whose hashes clash
// simply probe further: the name decides, not the hash.
//
// Probing is linear from the hash's slot and ends at an empty slot; the
// table keeps at least one slot in eight empty (free counts what is left),
// counting removed children's slots (tombstones) as taken until the table
// is rebuilt without them. A rebuild starts when an insertion would take
// the last free slot (into arrays twice the size, or the same size when
// tombstones were the cause) and when a large table has emptied (see
// shrink). The slots are not all moved at once: a child's slot in the new
// arrays needs its name hashed again, a cache miss or two per child, and
// moving 500,000 children at once held the family's lock for 150 ms.
// Instead every insertion and removal moves the next moveBatch children
// from the old arrays, which lookups search as well until they are empty.
type nameTable struct {
	seed   maphash.Seed
	ctrl   []uint8             // per slot: ctrlEmpty, ctrlDeleted, or ctrlFull with 7 bits of the hash
	slots  []*child            // the child in each full slot; nil otherwise
	n      int                 // children in ctrl and slots
	free   int                 // empty slots an insertion may still take before a rebuild
	old    *oldSlots           // the arrays being moved into ctrl and slots; nil when none
	hashFn func(string) uint64 // nil: maphash with seed; tests force clashes with it
	peak   int                 // the most children the table has held since it was last rebuilt smaller
}

// oldSlots are a name table's previous arrays while their children move
// to the new ones. A moved or removed child leaves a tombstone, so that
// the probes of the children still there go on past it.
type oldSlots struct {
	ctrl  []uint8
	slots []*child
	n     int // children still here
	next  int // the next slot to move
}

// The control bytes of a slot.
const (
	ctrlEmpty   uint8 = 0
	ctrlDeleted uint8 = 1    // a removed child's slot: probing goes on past it
	ctrlFull    uint8 = 0x80 // | the hash's top 7 bits
)

// moveBatch is how many children an insertion or removal moves from the
// old arrays during a rebuild: a few microseconds at most, and the move
// is over long before the new arrays fill.
const moveBatch = 16

// shrinkMin is the peak from which a name table (and the actor package's
// registry) is rebuilt smaller once its entries fall under a quarter of
// the peak. Below it the memory at stake is at most about 300 KB, and a
// lower one makes steady churn pay: the spawn benchmark's table swings
// between about 1,000 and 7,000 children, and with 1024 it was copied and
// grew back 50 times in 200,000 spawns (+26 B per spawn). A rebuild of n
// entries follows at least 3n removals, so it costs a removal O(1)
// amortised.
const shrinkMin = 1 << 14

// len is how many children the table holds.
func (t *nameTable) len() int {
	if t.old != nil {
		return t.n + t.old.n
	}
	return t.n
}

// shrink rebuilds the table at the size of what it holds once its entries
// have fallen under a quarter of a large peak: the old arrays, sized for
// the peak, go back to the heap once their children have moved.
func (t *nameTable) shrink() {
	l := t.len()
	if t.peak < shrinkMin || l >= t.peak/4 {
		return
	}
	t.rebuild(tableCap(l))
	t.peak = l
}

// tableCap is the size of a table rebuilt to hold n children and then
// take as many again before it needs another rebuild: the smallest power
// of two, at least 8, of which n is at most half.
func tableCap(n int) int {
	c := 8
	for c < 2*n {
		c <<= 1
	}
	return c
}

// rebuild starts moving every child into fresh arrays of size c, a power
// of two at least twice what the table holds (tombstones are left
// behind). A move still under way is finished first.
func (t *nameTable) rebuild(c int) {
	for t.old != nil {
		t.move(len(t.old.ctrl))
	}
	if t.n > 0 {
		t.old = &oldSlots{ctrl: t.ctrl, slots: t.slots, n: t.n}
	}
	t.ctrl, t.slots, t.n = make([]uint8, c), make([]*child, c), 0
	t.free = c - c/8
}

// move moves up to budget children from the old arrays into the new
// ones, and lets the old arrays go once they are empty.
func (t *nameTable) move(budget int) {
	o := t.old
	for ; budget > 0 && o.n > 0; o.next++ {
		if k := o.ctrl[o.next]; k >= ctrlFull {
			c := o.slots[o.next]
			o.ctrl[o.next], o.slots[o.next] = ctrlDeleted, nil
			o.n--
			t.place(c, t.hash(c.spec.Name))
			budget--
		}
	}
	if o.n == 0 {
		t.old = nil
	}
}

func newNameTable() nameTable {
	return nameTable{seed: maphash.MakeSeed()}
}

func (t *nameTable) hash(name string) uint64 {
	if t.hashFn != nil {
		return t.hashFn(name)
	}
	return maphash.String(t.seed, name)
}

// ctrlOf is the control byte of a full slot whose name hashes to h.
func ctrlOf(h uint64) uint8 { return ctrlFull | uint8(h>>57) }

// probe returns the slot in ctrl and slots of the child named name, whose
// hash is h, or -1.
func probe(ctrl []uint8, slots []*child, name string, h uint64) int {
	if len(ctrl) == 0 {
		return -1
	}
	mask, k := len(ctrl)-1, ctrlOf(h)
	for i := int(h) & mask; ; i = (i + 1) & mask {
		switch ctrl[i] {
		case ctrlEmpty:
			return -1
		case k:
			if slots[i].spec.Name == name {
				return i
			}
		}
	}
}

// find returns the child named name, whose hash is h, or nil.
func (t *nameTable) find(name string, h uint64) *child {
	if i := probe(t.ctrl, t.slots, name, h); i >= 0 {
		return t.slots[i]
	}
	if o := t.old; o != nil {
		if i := probe(o.ctrl, o.slots, name, h); i >= 0 {
			return o.slots[i]
		}
	}
	return nil
}

// get returns the child named name, or nil.
func (t *nameTable) get(name string) *child {
	return t.find(name, t.hash(name))
}

// add enters c under its name, which must be free (see get).
func (t *nameTable) add(c *child) {
	t.insert(c, t.hash(c.spec.Name))
}

// reserve enters c under its name if the name is free, and otherwise
// returns the child that holds it: get and add with the name hashed once
// (a lane start does both for every child).
func (t *nameTable) reserve(c *child) (holder *child) {
	h := t.hash(c.spec.Name)
	if old := t.find(c.spec.Name, h); old != nil {
		return old
	}
	t.insert(c, h)
	return nil
}

// insert enters c, whose name hashes to h and is not in the table.
func (t *nameTable) insert(c *child, h uint64) {
	if t.free == 0 {
		t.rebuild(max(len(t.ctrl), tableCap(t.len()+1)))
	}
	if t.old != nil {
		t.move(moveBatch)
	}
	t.place(c, h)
	if l := t.len(); l > t.peak {
		t.peak = l
	}
}

// place puts c, whose name hashes to h, in the first slot of its probe in
// the new arrays that holds no child. There is one: free > 0.
func (t *nameTable) place(c *child, h uint64) {
	mask := len(t.ctrl) - 1
	i := int(h) & mask
	for t.ctrl[i] >= ctrlFull {
		i = (i + 1) & mask
	}
	if t.ctrl[i] == ctrlEmpty {
		t.free--
	}
	t.ctrl[i], t.slots[i] = ctrlOf(h), c
	t.n++
}

// remove takes c's name out of the table if c holds it.
func (t *nameTable) remove(c *child) {
	h := t.hash(c.spec.Name)
	if !t.removeNew(c, h) && t.old != nil {
		o := t.old
		if i := probe(o.ctrl, o.slots, c.spec.Name, h); i >= 0 && o.slots[i] == c {
			o.ctrl[i], o.slots[i] = ctrlDeleted, nil
			o.n--
		}
	}
	if t.old != nil {
		t.move(moveBatch)
	}
	if t.peak >= shrinkMin {
		t.shrink()
	}
}

// removeNew takes c out of the new arrays, and reports whether it was
// there.
func (t *nameTable) removeNew(c *child, h uint64) bool {
	if t.n == 0 {
		return false
	}
	mask, k := len(t.ctrl)-1, ctrlOf(h)
	i := int(h) & mask
	for t.ctrl[i] != k || t.slots[i] != c {
		if t.ctrl[i] == ctrlEmpty {
			return false
		}
		i = (i + 1) & mask
	}
	// A tombstone: a probe may pass here to a child further on. Unless
	// the next slot is empty: then nothing further on is reached through
	// this slot, nor through the tombstones right before it, and they are
	// empty again.
	t.ctrl[i], t.slots[i] = ctrlDeleted, nil
	t.n--
	if t.ctrl[(i+1)&mask] == ctrlEmpty {
		for t.ctrl[i] == ctrlDeleted {
			t.ctrl[i] = ctrlEmpty
			t.free++
			i = (i - 1) & mask
		}
	}
	return true
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
	for i, k := range t.ctrl {
		if k >= ctrlFull {
			f(t.slots[i])
		}
	}
	if o := t.old; o != nil {
		for i, k := range o.ctrl {
			if k >= ctrlFull {
				f(o.slots[i])
			}
		}
	}
}
