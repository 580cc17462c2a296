package supervisor

import (
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"unsafe"
)

// TestChildRecordStaysSmall keeps a child's record, with its first
// incarnation inside, in the 160-byte size class: a supervisor may hold
// 100,000 idle children (issue 10.5), and the next class down the
// allocator has is 144, the next up 176. What few children need lives
// behind child.rare, and what few contexts need behind incCtx.rare; the
// contexts' locks are shared (ctxLocks).
func TestChildRecordStaysSmall(t *testing.T) {
	if size := unsafe.Sizeof(child{}); size > 160 {
		t.Errorf("child record is %d bytes, want at most 160", size)
	}
	if size := unsafe.Sizeof(incarnation{}); size > 64 {
		t.Errorf("incarnation is %d bytes, want at most 64", size)
	}
}

// TestCtxLocksSpread checks that the contexts of records allocated one
// after another (as a supervisor's 100,000 children are) spread over all
// of ctxLocks rather than a few of them.
func TestCtxLocksSpread(t *testing.T) {
	used := map[*sync.Mutex]int{}
	recs := make([]child, 4096)
	for i := range recs {
		used[recs[i].first.incCtx.mu()]++
	}
	if len(used) != len(ctxLocks) {
		t.Errorf("4096 records use %d of the %d locks", len(used), len(ctxLocks))
	}
	for _, n := range used {
		if n > 3*len(recs)/len(ctxLocks) {
			t.Errorf("a lock guards %d of 4096 records, want at most 3x the mean", n)
			break
		}
	}
}

// TestLaneChildHasNoRarePart checks that a child started on the lane and
// left idle, or ended without an error, never gets a rare part, that one
// which restarts or fails does, and that the shared zero rare part is
// never written.
func TestLaneChildHasNoRarePart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New("root", OneForOne, Temporary, quiet)
		mustStart(t, s)
		rareOf := func(name string) (*childRare, bool) {
			s.children.mu.Lock()
			defer s.children.mu.Unlock()
			c := s.children.byName.get(name)
			if c == nil {
				return nil, false
			}
			return c.rare, true
		}
		jobs := map[string]*oneJob{}
		for _, name := range []string{"idle", "quiet-end", "failing"} {
			j := &oneJob{done: make(chan error, 1)}
			jobs[name] = j
			if err := s.StartChild(Spec{Name: name, New: func() Child { return j }}); err != nil {
				t.Fatal(err)
			}
		}
		perm := &oneJob{done: make(chan error, 1)}
		if err := s.StartChild(Spec{Name: "restarted", Restart: Permanent, New: func() Child { return perm }}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		for _, name := range []string{"idle", "quiet-end", "failing", "restarted"} {
			if r, ok := rareOf(name); !ok || r != nil {
				t.Errorf("running child %s: rare part %v (found %v), want none", name, r, ok)
			}
		}
		jobs["quiet-end"].done <- nil
		jobs["failing"].done <- errors.New("boom")
		perm.done <- errors.New("boom")
		synctest.Wait()
		if _, ok := rareOf("quiet-end"); ok {
			t.Error("quiet-end still registered after its end")
		}
		if r, ok := rareOf("restarted"); !ok || r == nil || r.restarts != 1 || r.lastErr == nil {
			t.Errorf("restarted child: rare part %+v (found %v), want 1 restart and its error", r, ok)
		}
		if r, _ := rareOf("idle"); r != nil {
			t.Errorf("idle child got a rare part %+v", r)
		}
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
		if noRare != (childRare{}) {
			t.Errorf("the shared zero rare part was written: %+v", noRare)
		}
	})
}

// TestNameTableClashingNames runs children under names whose hashes all
// clash (the table's hash forced to one value) and under ordinary hashes:
// each name finds its own child, a name is refused while taken and free
// again once its child is gone, on the lane and through the loop.
func TestNameTableClashingNames(t *testing.T) {
	for _, clash := range []bool{true, false} {
		t.Run(map[bool]string{true: "clashing", false: "ordinary"}[clash], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := New("root", OneForOne, Temporary, quiet)
				if clash {
					s.children.byName.t.SetHash(func(string) uint64 { return 42 })
				}
				mustStart(t, s)
				jobs := map[string]*oneJob{}
				names := []string{"a", "b", "c", "d"}
				for _, name := range names {
					j := &oneJob{done: make(chan error, 1)}
					jobs[name] = j
					if err := s.StartChild(Spec{Name: name, New: func() Child { return j }}); err != nil {
						t.Fatal(err)
					}
					if err := s.StartChild(Spec{Name: name, New: func() Child { return j }}); !errors.Is(err, ErrAlreadyStarted) {
						t.Fatalf("second start of %s = %v, want ErrAlreadyStarted", name, err)
					}
				}
				// Through the loop: a Permanent child, and a lookup by name.
				perm := &oneJob{done: make(chan error, 1)}
				if err := s.StartChild(Spec{Name: "p", Restart: Permanent, New: func() Child { return perm }}); err != nil {
					t.Fatal(err)
				}
				if err := s.TerminateChild("b"); err != nil {
					t.Fatalf("TerminateChild(b) = %v", err)
				}
				jobs["a"].done <- nil // ends on its own: the lane's reaper removes it
				synctest.Wait()
				s.children.mu.Lock()
				for _, name := range []string{"c", "d", "p"} {
					if c := s.children.byName.get(name); c == nil || c.spec.Name != name {
						t.Errorf("get(%s) = %v", name, c)
					}
				}
				for _, name := range []string{"a", "b", "zz"} {
					if c := s.children.byName.get(name); c != nil {
						t.Errorf("get(%s) = child %s, want none", name, c.spec.Name)
					}
				}
				if clash && s.children.byName.t.Displaced() == 0 {
					t.Error("forced clashes all found their own slots: the probing past a clash went untested")
				}
				s.children.mu.Unlock()
				for _, name := range []string{"a", "b"} {
					j := &oneJob{done: make(chan error, 1)}
					if err := s.StartChild(Spec{Name: name, New: func() Child { return j }}); err != nil {
						t.Fatalf("restart of freed name %s = %v", name, err)
					}
				}
				if n := s.CountChildren(); n.Specs != 5 || n.Active != 5 {
					t.Errorf("CountChildren = %+v, want 5 running", n)
				}
				if err := s.Stop(); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}
