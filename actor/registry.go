package actor

import "github.com/airssys/rt/internal/nametab"

// registry is a System's names: the registered actor of each name, guarded
// by the System's lock. It is the open-addressing table of
// internal/nametab (the supervisor's name table's too) with a member in
// each slot (a 16-byte interface and a control byte): about 22 bytes per
// registered actor at 100,000, where the Go map keyed by the name's hash
// it replaced took 35. Names whose hashes clash probe further: the name
// decides, not the hash.
type registry struct {
	t nametab.Table[member]
}

func newRegistry() registry {
	return registry{t: nametab.New(member.regName)}
}

func (r *registry) len() int { return r.t.Len() }

// get returns the member registered under name.
func (r *registry) get(name string) (member, bool) { return r.t.Get(name) }

// add registers m under name, which must be free (see get).
func (r *registry) add(name string, m member) { r.t.Add(name, m) }

// claim registers m under name if the name is free, and otherwise
// returns the member that holds it: get and add with the name hashed once
// (every spawn of a named actor does both).
func (r *registry) claim(name string, m member) (holder member) {
	holder, _ = r.t.Claim(name, m)
	return holder
}

// remove unregisters name if m holds it.
func (r *registry) remove(name string, m member) { r.t.Remove(name, m) }

// each calls f for every member.
func (r *registry) each(f func(member)) { r.t.Each(f) }
