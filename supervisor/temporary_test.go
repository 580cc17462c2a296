package supervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestRegressionTemporaryGoneWhenSupervisorEnds checks that a Temporary
// child stopped by its supervisor's end does not come back when the
// supervisor is started again, whichever way it ended and was started
// again: its stop was an exit, and a Temporary spec is removed on any
// exit. It used to stay as a stopped spec, started again by the next
// Start: New ran twice. Plain children (with a Start step, run by the
// control loop) and children on the lane are checked alike, and so is
// each Dispose hook (once), WhichChildren, CountChildren and Info (which
// the observer's tree is built from).
func TestRegressionTemporaryGoneWhenSupervisorEnds(t *testing.T) {
	// Each way builds a tree holding sub (OneForOne, so that it has a
	// lane), returns the top-level supervisor to start, and a function
	// that ends sub and has it started again.
	ways := []struct {
		name  string
		build func(r *rig, cancel func()) (top, sub *Supervisor, again func(t *testing.T))
	}{
		{"parent OneForAll restarts it with a sibling", func(r *rig, cancel func()) (*Supervisor, *Supervisor, func(*testing.T)) {
			root := New("root", OneForAll, Permanent, quiet)
			sub := New("sub", OneForOne, Permanent)
			mustAdd(root, r.spec("w", Permanent))
			mustAddSupervisor(root, sub)
			return root, sub, func(*testing.T) { r.crash("w", errBoom) }
		}},
		{"parent RestForOne restarts it after a sibling", func(r *rig, cancel func()) (*Supervisor, *Supervisor, func(*testing.T)) {
			root := New("root", RestForOne, Permanent, quiet)
			sub := New("sub", OneForOne, Permanent)
			mustAdd(root, r.spec("w", Permanent))
			mustAddSupervisor(root, sub)
			return root, sub, func(*testing.T) { r.crash("w", errBoom) }
		}},
		{"parent OneForOne restarts it after it gave up", func(r *rig, cancel func()) (*Supervisor, *Supervisor, func(*testing.T)) {
			root := New("root", OneForOne, Permanent, quiet)
			sub := New("sub", OneForOne, Permanent, WithIntensity(0, time.Second))
			mustAddSupervisor(root, sub)
			return root, sub, func(*testing.T) { r.crash("p", errBoom) }
		}},
		{"parent restarts it after its AutoShutdown", func(r *rig, cancel func()) (*Supervisor, *Supervisor, func(*testing.T)) {
			root := New("root", OneForOne, Permanent, quiet)
			sub := New("sub", OneForOne, Permanent, WithAutoShutdown(AnySignificant))
			sig := r.spec("sig", Transient)
			sig.Significant = true
			mustAdd(sub, sig)
			mustAddSupervisor(root, sub)
			return root, sub, func(*testing.T) { r.crash("sig", nil) }
		}},
		{"Stop then Start", func(r *rig, cancel func()) (*Supervisor, *Supervisor, func(*testing.T)) {
			sub := New("sub", OneForOne, Permanent, quiet)
			return sub, sub, func(t *testing.T) {
				mustStop(t, sub)
				mustStart(t, sub)
			}
		}},
		{"its ctx ends, then Start", func(r *rig, cancel func()) (*Supervisor, *Supervisor, func(*testing.T)) {
			sub := New("sub", OneForOne, Permanent, quiet)
			return sub, sub, func(t *testing.T) {
				cancel()
				<-sub.Done()
				_ = sub.Stop() // waits for its hooks and handlers
				mustStart(t, sub)
			}
		}},
	}
	for _, way := range ways {
		t.Run(way.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig()
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				top, sub, again := way.build(r, cancel)
				var disposed atomic.Int32
				temp := r.spec("t", Temporary) // a Start step: run by the control loop
				temp.Dispose = func(error) { disposed.Add(1) }
				mustAdd(sub, r.spec("p", Permanent))
				mustAdd(sub, temp)
				if err := top.Start(ctx); err != nil {
					t.Fatal(err)
				}
				const lane = 5
				for i := range lane { // started while running, on the lane
					spec := r.launcherSpec(fmt.Sprint("l", i), Temporary)
					spec.Dispose = func(error) { disposed.Add(1) }
					if err := sub.StartChild(spec); err != nil {
						t.Fatal(err)
					}
				}
				if got := sub.CountChildren().Specs; got != len(kept(sub))+1+lane {
					t.Fatalf("before: %d specs: %v", got, names(sub))
				}
				want := kept(sub)
				r.j.take()
				again(t)
				synctest.Wait()
				for _, e := range r.j.take() {
					if name, ok := strings.CutPrefix(e, "start "); ok && (name == "t" || name[0] == 'l') {
						t.Errorf("Temporary child %s started again", name)
					}
				}
				if got := names(sub); !slices.Equal(got, want) {
					t.Errorf("WhichChildren after: %v, want %v", got, want)
				}
				var infos []string
				for _, ci := range sub.Info().Children {
					infos = append(infos, ci.Name)
				}
				if !slices.Equal(infos, want) {
					t.Errorf("Info after: %v, want %v", infos, want)
				}
				if n := sub.CountChildren(); n.Specs != len(want) || n.Active != len(want) {
					t.Errorf("CountChildren after: %+v, want %d specs, all active", n, len(want))
				}
				if n := disposed.Load(); n != 1+lane {
					t.Errorf("%d Dispose hooks ran, want %d", n, 1+lane)
				}
				mustStop(t, top)
			})
		})
	}
}

// TestRegressionTemporaryGoneAfterFailedStart checks the same for a start
// that fails: the Temporary children it started before the failure are
// stopped, which is their exit, and the next Start does not start them.
func TestRegressionTemporaryGoneAfterFailedStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		s := New("root", OneForOne, Permanent, quiet)
		mustAdd(s, r.spec("t", Temporary))
		mustAdd(s, r.spec("b", Permanent))
		r.failStarts("b", errBoom)
		if err := s.Start(context.Background()); !errors.Is(err, errBoom) {
			t.Fatalf("Start = %v, want %v", err, errBoom)
		}
		r.j.expect(t, "start t", "startfail b", "stop t")
		if got := names(s); !slices.Equal(got, []string{"b"}) {
			t.Fatalf("after the failed start: %v, want [b]", got)
		}
		mustStart(t, s)
		r.j.expect(t, "start b")
		mustStop(t, s)
	})
}

// kept names sub's children that are not Temporary, in start order.
func kept(sub *Supervisor) []string {
	var out []string
	for _, ci := range sub.WhichChildren() {
		if ci.Restart != Temporary {
			out = append(out, ci.Name)
		}
	}
	return out
}

func mustAdd(s *Supervisor, spec Spec) {
	if err := s.StartChild(spec); err != nil {
		panic(err)
	}
}

func mustAddSupervisor(parent, sub *Supervisor) {
	if err := parent.AddSupervisor(sub); err != nil {
		panic(err)
	}
}

// TestTemporaryLaneExitsRaceTheSupervisorsRestart ends half of many
// Temporary lane children on their own while a parent's group restart
// stops their supervisor: each is disposed exactly once, by whichever of
// the reaper and the shutdown takes it, and none is started again.
func TestTemporaryLaneExitsRaceTheSupervisorsRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig()
		root := New("root", OneForAll, Permanent, quiet)
		sub := New("sub", OneForOne, Permanent)
		mustAdd(root, r.spec("w", Permanent))
		mustAddSupervisor(root, sub)
		mustStart(t, root)
		const n = 200
		var made, disposed [n]atomic.Int32
		jobs := make([]*oneJob, n)
		for i := range n {
			jobs[i] = &oneJob{done: make(chan error, 1)}
			err := sub.StartChild(Spec{Name: fmt.Sprint("j", i), Restart: Temporary,
				New:     func() Child { made[i].Add(1); return jobs[i] },
				Dispose: func(error) { disposed[i].Add(1) }})
			if err != nil {
				t.Fatal(err)
			}
		}
		go func() {
			for i := 0; i < n; i += 2 {
				jobs[i].done <- nil
			}
		}()
		r.crash("w", errBoom)
		synctest.Wait()
		for i := range n {
			if m, d := made[i].Load(), disposed[i].Load(); m != 1 || d != 1 {
				t.Errorf("j%d: made %d times, disposed %d times", i, m, d)
			}
		}
		if got := names(sub); len(got) != 0 {
			t.Errorf("sub holds %v", got)
		}
		mustStop(t, root)
	})
}
