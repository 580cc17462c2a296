package supervisor

// Which supervisor a sub-supervisor belongs to. A supervisor is one node of
// one tree: it may be the child of one spec of one parent, and never its
// own ancestor. Claims are checked before anything is recorded, so a
// refused AddSupervisor changes nothing: no re-parenting, no disposal mark.

import (
	"fmt"
	"sync"
)

// owners guards every Supervisor.owner. Ownership changes rarely (adding
// and removing sub-supervisors), and one lock for the whole forest makes
// the cycle check, which walks several supervisors, a single step. No
// other lock is taken while it is held.
var owners sync.Mutex

// claim makes parent the owner of sub, for a spec being added to parent
// (fresh: sub must belong to no one yet) or for an incarnation starting
// (sub may already be parent's, through its spec).
func claim(parent, sub *Supervisor, fresh bool) error {
	owners.Lock()
	defer owners.Unlock()
	for p := parent; p != nil; p = p.owner {
		if p == sub {
			if p == parent {
				return fmt.Errorf("%w: a supervisor cannot supervise itself", ErrInvalidSpec)
			}
			return fmt.Errorf("%w: supervisor %s is an ancestor of %s: adding it would make a cycle",
				ErrInvalidSpec, sub.pathLocked(), parent.pathLocked())
		}
	}
	switch {
	case sub.owner == nil:
		sub.owner = parent
	case sub.owner != parent || fresh:
		return fmt.Errorf("%w: supervisor %s already belongs to %s", ErrAlreadyPresent, sub.pathLocked(), sub.owner.pathLocked())
	}
	return nil
}

// where names s in error texts as events name it: by its path in the tree
// it belongs to ("root/web"), known as soon as it is added to a parent.
func (s *Supervisor) where() string {
	owners.Lock()
	defer owners.Unlock()
	return s.pathLocked()
}

// pathLocked is where with owners held.
func (s *Supervisor) pathLocked() string {
	path := s.name
	for p := s.owner; p != nil; p = p.owner {
		path = p.name + PathSeparator + path
	}
	return path
}

// release ends parent's ownership of sub, when the spec holding it is
// removed; sub may then be added elsewhere or run on its own.
func release(parent, sub *Supervisor) {
	owners.Lock()
	if sub.owner == parent {
		sub.owner = nil
	}
	owners.Unlock()
}

// running reports whether s runs now.
func (s *Supervisor) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.phase == running
}

// claimSpecs claims the supervisors that specs carry (AddSupervisor,
// SpawnChild of a *Supervisor) for s before the specs are recorded, and
// returns them, for releaseAll if the specs are not recorded after all. A
// supervisor that runs, or belongs to any supervisor already, is refused.
// Specs without a supervisor, the common case, cost a loop and nothing else.
func (s *Supervisor) claimSpecs(specs []Spec) (claimed []*Supervisor, err error) {
	for _, spec := range specs {
		sub := spec.sup
		if sub == nil {
			continue
		}
		if sub != s && sub.running() {
			err = fmt.Errorf("supervisor %s: child %q: %w: supervisor %s runs already",
				s.where(), spec.Name, ErrAlreadyStarted, sub.where())
		} else if cerr := claim(s, sub, true); cerr != nil {
			err = fmt.Errorf("supervisor %s: child %q: %w", s.where(), spec.Name, cerr)
		}
		if err != nil {
			s.releaseAll(claimed)
			return nil, err
		}
		claimed = append(claimed, sub)
	}
	return claimed, nil
}

// releaseAll undoes claimSpecs.
func (s *Supervisor) releaseAll(claimed []*Supervisor) {
	for _, sub := range claimed {
		release(s, sub)
	}
}

// ownerRuns refuses a top-level start of s while the parent that holds
// its spec runs: that parent starts, restarts and stops s, and would meet
// ErrAlreadyStarted at its next start of it.
func (s *Supervisor) ownerRuns() error {
	owners.Lock()
	owner := s.owner
	owners.Unlock()
	if owner != nil && owner.running() {
		return fmt.Errorf("supervisor %s: %w: it belongs to %s, which runs", s.where(), ErrAlreadyStarted, owner.where())
	}
	return nil
}
