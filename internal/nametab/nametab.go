package nametab

import "hash/maphash"

// Table is an open-addressing hash table of entries that carry their own
// names (see the package doc). The zero Table is not usable: make one with
// New.
type Table[T comparable] struct {
	seed   maphash.Seed
	ctrl   []uint8             // per slot: ctrlEmpty, ctrlDeleted, or ctrlFull with 7 bits of the hash
	slots  []T                 // the entry in each full slot; the zero T otherwise
	n      int                 // entries in ctrl and slots
	free   int                 // empty slots an insertion may still take before a rebuild
	old    *oldSlots[T]        // the arrays being moved into ctrl and slots; nil when none
	nameOf func(T) string      // an entry's name: compared on a control byte's match, hashed again on a move
	hashFn func(string) uint64 // nil: maphash with seed; tests force clashes with it (SetHash)
	peak   int                 // the most entries the table has held since it was last rebuilt smaller
}

// oldSlots are a table's previous arrays while their entries move to the
// new ones. A moved or removed entry leaves a tombstone, so that the
// probes of the entries still there go on past it.
type oldSlots[T comparable] struct {
	ctrl  []uint8
	slots []T
	n     int // entries still here
	next  int // the next slot to move
}

// The control bytes of a slot.
const (
	ctrlEmpty   uint8 = 0
	ctrlDeleted uint8 = 1    // a removed entry's slot: probing goes on past it
	ctrlFull    uint8 = 0x80 // | the hash's top 7 bits
)

// moveBatch is how many entries an insertion or removal moves from the
// old arrays during a rebuild: a few microseconds at most, and the move
// is over long before the new arrays fill.
const moveBatch = 16

// ShrinkMin is the peak from which a table is rebuilt smaller once its
// entries fall under a quarter of the peak. Below it the memory at stake
// is at most a few hundred KB, and a lower one makes steady churn pay: the
// spawn benchmark's supervisor table swings between about 1,000 and 7,000
// children, and with 1024 it was copied and grew back 50 times in 200,000
// spawns (+26 B per spawn). A rebuild of n entries follows at least 3n
// removals, so it costs a removal O(1) amortised. The owners' tests bound
// what a table keeps after a burst with it.
const ShrinkMin = 1 << 14

// New returns an empty table whose entries' names nameOf reads, hashed
// with a seed of the table's own.
func New[T comparable](nameOf func(T) string) Table[T] {
	return Table[T]{seed: maphash.MakeSeed(), nameOf: nameOf}
}

// SetHash makes the table hash names with fn rather than maphash: tests
// force clashes with it, on an empty table.
func (t *Table[T]) SetHash(fn func(string) uint64) { t.hashFn = fn }

func (t *Table[T]) hash(name string) uint64 {
	if t.hashFn != nil {
		return t.hashFn(name)
	}
	return maphash.String(t.seed, name)
}

// ctrlOf is the control byte of a full slot whose name hashes to h.
func ctrlOf(h uint64) uint8 { return ctrlFull | uint8(h>>57) }

// SlotsFor is the size of arrays rebuilt to hold n entries and then take
// as many again before they need another rebuild: the smallest power of
// two, at least 8, of which n is at most half. Tests size the memory a
// table may keep with it.
func SlotsFor(n int) int {
	c := 8
	for c < 2*n {
		c <<= 1
	}
	return c
}

// Len is how many entries the table holds.
func (t *Table[T]) Len() int {
	if t.old != nil {
		return t.n + t.old.n
	}
	return t.n
}

// shrink rebuilds the table at the size of what it holds once its entries
// have fallen under a quarter of a large peak: the old arrays, sized for
// the peak, go back to the heap once their entries have moved.
func (t *Table[T]) shrink() {
	l := t.Len()
	if t.peak < ShrinkMin || l >= t.peak/4 {
		return
	}
	t.rebuild(SlotsFor(l))
	t.peak = l
}

// rebuild starts moving every entry into fresh arrays of size c, a power
// of two at least twice what the table holds (tombstones are left
// behind). A move still under way is finished first.
func (t *Table[T]) rebuild(c int) {
	for t.old != nil {
		t.move(len(t.old.ctrl))
	}
	if t.n > 0 {
		t.old = &oldSlots[T]{ctrl: t.ctrl, slots: t.slots, n: t.n}
	}
	t.ctrl, t.slots, t.n = make([]uint8, c), make([]T, c), 0
	t.free = c - c/8
}

// move moves up to budget entries from the old arrays into the new ones,
// and lets the old arrays go once they are empty.
func (t *Table[T]) move(budget int) {
	o := t.old
	var zero T
	for ; budget > 0 && o.n > 0; o.next++ {
		if k := o.ctrl[o.next]; k >= ctrlFull {
			v := o.slots[o.next]
			o.ctrl[o.next], o.slots[o.next] = ctrlDeleted, zero
			o.n--
			t.place(v, t.hash(t.nameOf(v)))
			budget--
		}
	}
	if o.n == 0 {
		t.old = nil
	}
}

// probe returns the slot in ctrl and slots of the entry named name, whose
// hash is h, or -1.
func probe[T comparable](ctrl []uint8, slots []T, nameOf func(T) string, name string, h uint64) int {
	if len(ctrl) == 0 {
		return -1
	}
	mask, k := len(ctrl)-1, ctrlOf(h)
	for i := int(h) & mask; ; i = (i + 1) & mask {
		switch ctrl[i] {
		case ctrlEmpty:
			return -1
		case k:
			if nameOf(slots[i]) == name {
				return i
			}
		}
	}
}

// find returns the entry named name, whose hash is h.
func (t *Table[T]) find(name string, h uint64) (T, bool) {
	if i := probe(t.ctrl, t.slots, t.nameOf, name, h); i >= 0 {
		return t.slots[i], true
	}
	if o := t.old; o != nil {
		if i := probe(o.ctrl, o.slots, t.nameOf, name, h); i >= 0 {
			return o.slots[i], true
		}
	}
	var zero T
	return zero, false
}

// Get returns the entry named name, and whether there is one.
func (t *Table[T]) Get(name string) (T, bool) {
	return t.find(name, t.hash(name))
}

// Add enters v under name, v's name, which must be free (see Get).
func (t *Table[T]) Add(name string, v T) {
	t.insert(v, t.hash(name))
}

// Claim enters v under name, v's name, if the name is free, and otherwise
// returns the entry that holds it and true: Get and Add with the name
// hashed once (every spawn of a named actor, every lane start does both).
func (t *Table[T]) Claim(name string, v T) (holder T, held bool) {
	h := t.hash(name)
	if old, ok := t.find(name, h); ok {
		return old, true
	}
	t.insert(v, h)
	return holder, false
}

// insert enters v, whose name hashes to h and is not in the table.
func (t *Table[T]) insert(v T, h uint64) {
	if t.free == 0 {
		t.rebuild(max(len(t.ctrl), SlotsFor(t.Len()+1)))
	}
	if t.old != nil {
		t.move(moveBatch)
	}
	t.place(v, h)
	if l := t.Len(); l > t.peak {
		t.peak = l
	}
}

// place puts v, whose name hashes to h, in the first slot of its probe in
// the new arrays that holds no entry. There is one: free > 0.
func (t *Table[T]) place(v T, h uint64) {
	mask := len(t.ctrl) - 1
	i := int(h) & mask
	for t.ctrl[i] >= ctrlFull {
		i = (i + 1) & mask
	}
	if t.ctrl[i] == ctrlEmpty {
		t.free--
	}
	t.ctrl[i], t.slots[i] = ctrlOf(h), v
	t.n++
}

// Remove takes name, v's name, out of the table if v holds it; another
// entry holding it stays.
func (t *Table[T]) Remove(name string, v T) {
	h := t.hash(name)
	if !t.removeNew(v, h) && t.old != nil {
		o := t.old
		if i := probe(o.ctrl, o.slots, t.nameOf, name, h); i >= 0 && o.slots[i] == v {
			var zero T
			o.ctrl[i], o.slots[i] = ctrlDeleted, zero
			o.n--
		}
	}
	if t.old != nil {
		t.move(moveBatch)
	}
	if t.peak >= ShrinkMin {
		t.shrink()
	}
}

// removeNew takes v out of the new arrays, and reports whether it was
// there.
func (t *Table[T]) removeNew(v T, h uint64) bool {
	if t.n == 0 {
		return false
	}
	mask, k := len(t.ctrl)-1, ctrlOf(h)
	i := int(h) & mask
	for t.ctrl[i] != k || t.slots[i] != v {
		if t.ctrl[i] == ctrlEmpty {
			return false
		}
		i = (i + 1) & mask
	}
	// A tombstone: a probe may pass here to an entry further on. Unless
	// the next slot is empty: then nothing further on is reached through
	// this slot, nor through the tombstones right before it, and they are
	// empty again.
	var zero T
	t.ctrl[i], t.slots[i] = ctrlDeleted, zero
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

// Each calls f for every entry, in no particular order. f must not change
// the table.
func (t *Table[T]) Each(f func(T)) {
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

// Displaced counts the entries of the new arrays not in the slot their
// hash points at: those a probe finds past a clash. Tests check with it
// that forced clashes were probed past.
func (t *Table[T]) Displaced() int {
	n, mask := 0, len(t.ctrl)-1
	for i, k := range t.ctrl {
		if k >= ctrlFull && int(t.hash(t.nameOf(t.slots[i])))&mask != i {
			n++
		}
	}
	return n
}
