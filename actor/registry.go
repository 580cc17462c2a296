package actor

import "hash/maphash"

// registry is a System's names: the registered actor of each name.
//
// It is the supervisor package's name table (supervisor/names.go) with a
// member in each slot: an open-addressing hash table whose slot is the
// member (a 16-byte interface) and a control byte holding 7 bits of the
// name's hash, so that probing reads the control bytes and compares a
// name only when those bits match. A System may hold 100,000 actors: the
// Go map keyed by the name's hash it replaces took 35 bytes per actor,
// this table about 22 at 100,000. Names whose hashes clash probe further:
// the name decides, not the hash.
//
// Probing is linear from the hash's slot and ends at an empty slot; at
// least one slot in eight stays empty (free counts what is left), removed
// members' slots (tombstones) counting as taken until a rebuild drops
// them. A rebuild starts when an insertion would take the last free slot
// and when a large registry has emptied (see shrink); it moves
// moveBatch members per insertion or removal rather than all at once
// (each needs its name hashed again), and lookups search the old arrays
// too until they are empty.
type registry struct {
	seed   maphash.Seed
	ctrl   []uint8             // per slot: ctrlEmpty, ctrlDeleted, or ctrlFull with 7 bits of the hash
	slots  []member            // the member in each full slot; nil otherwise
	n      int                 // members in ctrl and slots
	free   int                 // empty slots an insertion may still take before a rebuild
	old    *oldSlots           // the arrays being moved into ctrl and slots; nil when none
	hashFn func(string) uint64 // nil: maphash with seed; tests force clashes with it
	peak   int                 // the most members the registry has held since it was last rebuilt smaller
}

// oldSlots are a registry's previous arrays while their members move to
// the new ones. A moved or removed member leaves a tombstone, so that the
// probes of the members still there go on past it.
type oldSlots struct {
	ctrl  []uint8
	slots []member
	n     int // members still here
	next  int // the next slot to move
}

// The control bytes of a slot.
const (
	ctrlEmpty   uint8 = 0
	ctrlDeleted uint8 = 1    // a removed member's slot: probing goes on past it
	ctrlFull    uint8 = 0x80 // | the hash's top 7 bits
)

// moveBatch is how many members an insertion or removal moves from the
// old arrays during a rebuild.
const moveBatch = 16

// shrinkMin is the peak from which the registry is rebuilt smaller once
// its members fall under a quarter of the peak (the supervisor's name
// table's, for the same reasons): below it the memory at stake is at most
// about 600 KB, and steady churn under it pays no rebuilds. A rebuild of n
// members follows at least 3n removals, so it costs a removal O(1)
// amortised.
const shrinkMin = 1 << 14

func newRegistry() registry {
	return registry{seed: maphash.MakeSeed()}
}

func (r *registry) hash(name string) uint64 {
	if r.hashFn != nil {
		return r.hashFn(name)
	}
	return maphash.String(r.seed, name)
}

// ctrlOf is the control byte of a full slot whose name hashes to h.
func ctrlOf(h uint64) uint8 { return ctrlFull | uint8(h>>57) }

// tableCap is the size of arrays rebuilt to hold n members and then take
// as many again before they need another rebuild: the smallest power of
// two, at least 8, of which n is at most half.
func tableCap(n int) int {
	c := 8
	for c < 2*n {
		c <<= 1
	}
	return c
}

func (r *registry) len() int {
	if r.old != nil {
		return r.n + r.old.n
	}
	return r.n
}

// shrink rebuilds the registry at the size of what it holds once its
// members have fallen under a quarter of a large peak.
func (r *registry) shrink() {
	l := r.len()
	if r.peak < shrinkMin || l >= r.peak/4 {
		return
	}
	r.rebuild(tableCap(l))
	r.peak = l
}

// rebuild starts moving every member into fresh arrays of size c, a power
// of two at least twice what the registry holds (tombstones are left
// behind). A move still under way is finished first.
func (r *registry) rebuild(c int) {
	for r.old != nil {
		r.move(len(r.old.ctrl))
	}
	if r.n > 0 {
		r.old = &oldSlots{ctrl: r.ctrl, slots: r.slots, n: r.n}
	}
	r.ctrl, r.slots, r.n = make([]uint8, c), make([]member, c), 0
	r.free = c - c/8
}

// move moves up to budget members from the old arrays into the new ones,
// and lets the old arrays go once they are empty.
func (r *registry) move(budget int) {
	o := r.old
	for ; budget > 0 && o.n > 0; o.next++ {
		if k := o.ctrl[o.next]; k >= ctrlFull {
			m := o.slots[o.next]
			o.ctrl[o.next], o.slots[o.next] = ctrlDeleted, nil
			o.n--
			r.place(m, r.hash(m.regName()))
			budget--
		}
	}
	if o.n == 0 {
		r.old = nil
	}
}

// regProbe returns the slot in ctrl and slots of the member registered as
// name, whose hash is h, or -1.
func regProbe(ctrl []uint8, slots []member, name string, h uint64) int {
	if len(ctrl) == 0 {
		return -1
	}
	mask, k := len(ctrl)-1, ctrlOf(h)
	for i := int(h) & mask; ; i = (i + 1) & mask {
		switch ctrl[i] {
		case ctrlEmpty:
			return -1
		case k:
			if slots[i].regName() == name {
				return i
			}
		}
	}
}

// find returns the member registered as name, whose hash is h.
func (r *registry) find(name string, h uint64) (member, bool) {
	if i := regProbe(r.ctrl, r.slots, name, h); i >= 0 {
		return r.slots[i], true
	}
	if o := r.old; o != nil {
		if i := regProbe(o.ctrl, o.slots, name, h); i >= 0 {
			return o.slots[i], true
		}
	}
	return nil, false
}

// get returns the member registered under name.
func (r *registry) get(name string) (member, bool) {
	return r.find(name, r.hash(name))
}

// add registers m under name, which must be free (see get).
func (r *registry) add(name string, m member) {
	r.insert(m, r.hash(name))
}

// claim registers m under name if the name is free, and otherwise
// returns the member that holds it: get and add with the name hashed once
// (every spawn of a named actor does both).
func (r *registry) claim(name string, m member) (holder member) {
	h := r.hash(name)
	if old, ok := r.find(name, h); ok {
		return old
	}
	r.insert(m, h)
	return nil
}

// insert enters m, whose name hashes to h and is not registered.
func (r *registry) insert(m member, h uint64) {
	if r.free == 0 {
		r.rebuild(max(len(r.ctrl), tableCap(r.len()+1)))
	}
	if r.old != nil {
		r.move(moveBatch)
	}
	r.place(m, h)
	if l := r.len(); l > r.peak {
		r.peak = l
	}
}

// place puts m, whose name hashes to h, in the first slot of its probe in
// the new arrays that holds no member. There is one: free > 0.
func (r *registry) place(m member, h uint64) {
	mask := len(r.ctrl) - 1
	i := int(h) & mask
	for r.ctrl[i] >= ctrlFull {
		i = (i + 1) & mask
	}
	if r.ctrl[i] == ctrlEmpty {
		r.free--
	}
	r.ctrl[i], r.slots[i] = ctrlOf(h), m
	r.n++
}

// remove unregisters name if m holds it.
func (r *registry) remove(name string, m member) {
	h := r.hash(name)
	if !r.removeNew(m, h) && r.old != nil {
		o := r.old
		if i := regProbe(o.ctrl, o.slots, name, h); i >= 0 && o.slots[i] == m {
			o.ctrl[i], o.slots[i] = ctrlDeleted, nil
			o.n--
		}
	}
	if r.old != nil {
		r.move(moveBatch)
	}
	if r.peak >= shrinkMin {
		r.shrink()
	}
}

// removeNew takes m out of the new arrays, and reports whether it was
// there.
func (r *registry) removeNew(m member, h uint64) bool {
	if r.n == 0 {
		return false
	}
	mask, k := len(r.ctrl)-1, ctrlOf(h)
	i := int(h) & mask
	for r.ctrl[i] != k || r.slots[i] != m {
		if r.ctrl[i] == ctrlEmpty {
			return false
		}
		i = (i + 1) & mask
	}
	// A tombstone, unless the next slot is empty: then nothing further on
	// is reached through this slot, nor through the tombstones right
	// before it, and they are empty again.
	r.ctrl[i], r.slots[i] = ctrlDeleted, nil
	r.n--
	if r.ctrl[(i+1)&mask] == ctrlEmpty {
		for r.ctrl[i] == ctrlDeleted {
			r.ctrl[i] = ctrlEmpty
			r.free++
			i = (i - 1) & mask
		}
	}
	return true
}

// each calls f for every member.
func (r *registry) each(f func(member)) {
	for i, k := range r.ctrl {
		if k >= ctrlFull {
			f(r.slots[i])
		}
	}
	if o := r.old; o != nil {
		for i, k := range o.ctrl {
			if k >= ctrlFull {
				f(o.slots[i])
			}
		}
	}
}
