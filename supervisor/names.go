package supervisor

import (
	"time"

	"github.com/airssys/rt/internal/hook"
	"github.com/airssys/rt/internal/nametab"
)

// nameTable is a family's children by name (family.byName), guarded by the
// family's mu: the open-addressing table of internal/nametab with a child's
// pointer in each slot (8 bytes and a control byte: 12 bytes per child at
// 100,000, where a Go map keyed by the name's hash took 23; BENCHMARKS.md,
// seventh pass, idle2). A child's name is its spec's.
type nameTable struct {
	t nametab.Table[*child]
}

func newNameTable() nameTable {
	return nameTable{t: nametab.New(childName)}
}

// childName is the name a child is entered under.
func childName(c *child) string { return c.spec.Name }

// len is how many children the table holds.
func (t *nameTable) len() int { return t.t.Len() }

// get returns the child named name, or nil.
func (t *nameTable) get(name string) *child {
	c, _ := t.t.Get(name)
	return c
}

// add enters c under its name, which must be free (see get).
func (t *nameTable) add(c *child) { t.t.Add(c.spec.Name, c) }

// reserve enters c under its name if the name is free, and otherwise
// returns the child that holds it: get and add with the name hashed once
// (a lane start does both for every child).
func (t *nameTable) reserve(c *child) (holder *child) {
	holder, _ = t.t.Claim(c.spec.Name, c)
	return holder
}

// remove takes c's name out of the table if c holds it.
func (t *nameTable) remove(c *child) { t.t.Remove(c.spec.Name, c) }

// each calls f for every child in the table.
func (t *nameTable) each(f func(*child)) { t.t.Each(f) }

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
