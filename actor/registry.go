package actor

import "hash/maphash"

// registry is a System's names: the registered actor of each name.
//
// It is keyed by a 64-bit hash of the name, not by the name itself, so that
// an entry is 24 bytes instead of 32: a System may hold 100,000 actors, and
// a Go map's slots cost about 1.5 times their size at its usual load (35
// bytes per actor instead of 52, measured). The name is checked against
// the member's own, and a name whose hash another name holds already goes
// to clash, keyed by name (two names share a hash about once in 2^64
// pairs, so clash is almost always nil).
//
// A Go map never gives back the memory of its peak size, so after a burst
// of named actors has come and gone the registry is copied into a fresh
// map once its entries fall under a quarter of a peak of at least
// shrinkMin (see shrink).
type registry struct {
	seed   maphash.Seed
	byHash map[uint64]member
	clash  map[string]member
	hashFn func(string) uint64 // nil: maphash with seed; tests force clashes with it
	peak   int                 // the most entries byHash has held since it was made
}

// shrinkMin is the peak from which the registry shrinks (the supervisor's
// name table's, for the same reasons): below it the memory at stake is at
// most about 400 KB, and steady churn under it pays no copies. A copy of
// n entries follows at least 3n removals, so it costs a removal O(1)
// amortised; the one removal that makes it pays for copying under peak/4
// entries.
const shrinkMin = 1 << 14

// grew notes byHash's size after an entry went in.
func (r *registry) grew() {
	if l := len(r.byHash); l > r.peak {
		r.peak = l
	}
}

// shrink copies byHash into a fresh map once its entries have fallen under
// a quarter of a large peak: the old map's memory, sized for the peak,
// goes back to the heap.
func (r *registry) shrink() {
	l := len(r.byHash)
	if r.peak < shrinkMin || l >= r.peak/4 {
		return
	}
	fresh := make(map[uint64]member, l)
	for h, m := range r.byHash {
		fresh[h] = m
	}
	r.byHash, r.peak = fresh, l
}

func newRegistry() registry {
	return registry{seed: maphash.MakeSeed(), byHash: make(map[uint64]member)}
}

func (r *registry) hash(name string) uint64 {
	if r.hashFn != nil {
		return r.hashFn(name)
	}
	return maphash.String(r.seed, name)
}

// get returns the member registered under name.
func (r *registry) get(name string) (member, bool) {
	if m, ok := r.byHash[r.hash(name)]; ok && m.regName() == name {
		return m, true
	}
	m, ok := r.clash[name]
	return m, ok
}

// add registers m under name, which must be free (see get).
func (r *registry) add(name string, m member) {
	h := r.hash(name)
	if _, taken := r.byHash[h]; !taken {
		r.byHash[h] = m
		r.grew()
		return
	}
	if r.clash == nil {
		r.clash = make(map[string]member)
	}
	r.clash[name] = m
}

// claim registers m under name if the name is free, and otherwise
// returns the member that holds it: get and add with the name hashed once
// (every spawn of a named actor does both).
func (r *registry) claim(name string, m member) (holder member) {
	h := r.hash(name)
	old, taken := r.byHash[h]
	if taken && old.regName() == name {
		return old
	}
	if old, ok := r.clash[name]; ok {
		return old
	}
	if !taken {
		r.byHash[h] = m
		r.grew()
		return nil
	}
	if r.clash == nil {
		r.clash = make(map[string]member)
	}
	r.clash[name] = m
	return nil
}

// remove unregisters name if m holds it.
func (r *registry) remove(name string, m member) {
	h := r.hash(name)
	if r.byHash[h] == m {
		delete(r.byHash, h)
		if r.peak >= shrinkMin {
			r.shrink()
		}
		return
	}
	if r.clash[name] == m {
		delete(r.clash, name)
	}
}

func (r *registry) len() int { return len(r.byHash) + len(r.clash) }

// each calls f for every member.
func (r *registry) each(f func(member)) {
	for _, m := range r.byHash {
		f(m)
	}
	for _, m := range r.clash {
		f(m)
	}
}
