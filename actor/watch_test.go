package actor

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/airssys/rt/supervisor"
)

func TestDoneAndErrAfterCrash(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne)
	ref, _ := Spawn(sup, "a", func() Actor[int] {
		return Func[int](func(*Context[int], int) error { return errBoom })
	}, WithRestart(supervisor.Temporary))
	if ref.Err() != nil {
		t.Fatal("Err before the end")
	}
	_ = ref.Send(1)
	<-ref.Done()
	err := ref.Err()
	if !errors.Is(err, ErrStopped) || !errors.Is(err, errBoom) {
		t.Fatalf("Err: %v", err)
	}
	if err.Error() != `actor "a": stopped: boom` {
		t.Fatalf("Err text: %q", err)
	}
}

func TestDoneAndErrAfterNormalStop(t *testing.T) {
	sup := idleSup("s", supervisor.OneForOne)
	p := newProbe(func(inc int, _ *Context[int], _ int) error {
		if inc == 1 {
			return errBoom // restarted: not the end
		}
		return nil
	})
	ref, _ := Spawn(sup, "a", p.factory)
	_ = sup.Start(context.Background())
	_ = ref.Send(1)
	_ = ref.Send(2)
	p.next(t)
	if d := p.next(t); d.inc != 2 {
		t.Fatalf("%+v", d)
	}
	_ = sup.Stop()
	<-ref.Done()
	if err := ref.Err(); !errors.Is(err, ErrStopped) || errors.Is(err, errBoom) {
		t.Fatalf("Err after an orderly stop: %v", err)
	}
}

func TestWatchOnceWithReason(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne)
	ref, _ := Spawn(sup, "a", func() Actor[int] {
		return Func[int](func(*Context[int], int) error { return errBoom })
	}, WithRestart(supervisor.Temporary))
	fired := make(chan error, 2)
	ref.Watch(func(err error) { fired <- err })
	cancelled := ref.Watch(func(error) { fired <- errors.New("cancelled watch fired") })
	if !cancelled() {
		t.Fatal("stop before the end reported false")
	}
	_ = ref.Send(1)
	if err := <-fired; !errors.Is(err, errBoom) || !errors.Is(err, ErrStopped) {
		t.Fatalf("watch: %v", err)
	}
	// After the end: at once.
	late := ref.Watch(func(err error) { fired <- err })
	if err := <-fired; !errors.Is(err, ErrStopped) {
		t.Fatalf("late watch: %v", err)
	}
	if late() {
		t.Fatal("stop after firing reported true")
	}
	select {
	case err := <-fired:
		t.Fatalf("extra call: %v", err)
	default:
	}
}

type down struct {
	who    string
	reason error
}

func TestMonitor(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne)
	worker, _ := Spawn(sup, "worker", func() Actor[int] {
		return Func[int](func(*Context[int], int) error { return supervisor.ErrShutdown })
	}, WithRestart(supervisor.Temporary))
	got := make(chan down, 1)
	watcher, _ := Spawn(sup, "watcher", func() Actor[down] {
		return Func[down](func(_ *Context[down], d down) error { got <- d; return nil })
	})
	Monitor(watcher, worker, func(reason error) down { return down{"worker", reason} })
	_ = worker.Send(1)
	d := <-got
	if d.who != "worker" || !errors.Is(d.reason, ErrStopped) {
		t.Fatalf("down message %+v", d)
	}
}

func TestRestartIsNotAStop(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne)
	p := newProbe(func(inc int, _ *Context[int], m int) error {
		if inc == 1 {
			return errBoom
		}
		return nil
	})
	ref, _ := Spawn(sup, "a", p.factory)
	_ = ref.Send(1)
	_ = ref.Send(2)
	p.next(t)
	if d := p.next(t); d.inc != 2 {
		t.Fatalf("%+v", d)
	}
	select {
	case <-ref.Done():
		t.Fatal("Done closed by a restart")
	default:
	}
}

func TestTopLevelEndIsForGood(t *testing.T) {
	sup := idleSup("top", supervisor.OneForOne)
	p := newProbe[int](nil)
	ref, _ := Spawn(sup, "a", p.factory)
	_ = sup.Start(context.Background())
	_ = sup.Stop()
	<-ref.Done()
	if err := sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer sup.Stop()
	if n := sup.CountChildren().Specs; n != 0 {
		t.Fatalf("restarted supervisor holds %d specs: the actor was revived", n)
	}
	if err := ref.Send(1); !errors.Is(err, ErrStopped) {
		t.Fatalf("Send: %v", err)
	}
}

// A Monitor notice to a full Block mailbox waits for room while the
// watcher lives, and becomes a dead letter when the watcher stops for good
// instead: no notice lost, no goroutine left waiting.
func TestMonitorNoticeToAFullBlockMailbox(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := NewSystem("sys", WithSystemLogger(quiet))
		letters := collect(t, sys.DeadLetters())
		gate := make(chan struct{})
		watcher, err := SpawnIn(sys, "watcher", func() Actor[string] {
			return Func[string](func(ctx *Context[string], _ string) error {
				select {
				case <-gate:
				case <-ctx.Context().Done():
				}
				return nil
			})
		}, WithMailbox(Bounded(1, Block)), WithRestart(supervisor.Temporary))
		if err != nil {
			t.Fatal(err)
		}
		target, err := SpawnIn(sys, "target", noop[int], WithRestart(supervisor.Temporary))
		if err != nil {
			t.Fatal(err)
		}
		if err := sys.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer sys.Shutdown(context.Background())
		_ = watcher.Send("busy")
		synctest.Wait()
		_ = watcher.Send("full")
		Monitor(watcher, target, func(error) string { return "down" })
		_ = sys.Root().TerminateChild("target")
		synctest.Wait() // the notice waits for room
		_ = sys.Root().TerminateChild("watcher")
		synctest.Wait()
		var got []string
		for len(letters) > 0 {
			dl := <-letters
			if !errors.Is(dl.Reason, ErrStopped) {
				t.Errorf("dead letter %+v, want a reason wrapping ErrStopped", dl)
			}
			got = append(got, dl.Message.(string))
		}
		if !slices.Contains(got, "down") {
			t.Fatalf("dead letters %v, want the notice among them", got)
		}
	})
}
