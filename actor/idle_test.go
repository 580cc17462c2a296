package actor

import (
	"context"
	"testing"

	"github.com/airssys/rt/internal/hook"
	"github.com/airssys/rt/supervisor"
)

// An actor launched by a supervisor reports its end through the ctx it was
// launched with (LaunchCtx): no exit function is made for its incarnation,
// which would stay with each idle actor (16 bytes) and needed a field of
// the incarnation besides. Its first and its restarted incarnations alike
// then keep no rare part, and the restart still reaches the supervisor.
func TestSupervisedIncarnationKeepsNoExitFunction(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne)
	p := newProbe(func(_ int, _ *Context[int], msg int) error {
		if msg < 0 {
			return errBoom
		}
		return nil
	})
	spec, ref := Spec("a", p.factory)
	if err := sup.StartChild(spec); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		c := ref.c
		c.mu.Lock()
		inc := c.inc
		c.mu.Unlock()
		if inc == nil {
			t.Fatalf("%s: no incarnation", when)
		}
		if inc.marks&markExitCtx == 0 || inc.rare != nil {
			t.Errorf("%s: marks %b, rare %+v: want the exit reported through the ctx and no rare part", when, inc.marks, inc.rare)
		}
	}
	_ = ref.Send(1)
	p.next(t)
	check("first incarnation")
	_ = ref.Send(-1) // fails: the supervisor restarts the actor
	p.next(t)
	_ = ref.Send(2)
	if d := p.next(t); d.msg != 2 || d.inc != 2 {
		t.Fatalf("after the crash: %+v, want 2 handled by the second incarnation", d)
	}
	check("restarted incarnation")
}

// The settings a Spec fixes share the cell's state word (and, for a
// throughput other than the default, its rare part): each reads back as
// set, whatever the others, and an actor with the defaults gets no rare
// part for them.
func TestCellSettingsPacked(t *testing.T) {
	for _, policy := range []Overflow{Block, DropNewest, DropOldest, Fail} {
		for _, drain := range []bool{false, true} {
			for _, throughput := range []int{defaultThroughput, 1, 1 << 20} {
				opts := []Option{WithMailbox(Bounded(4, policy)), WithThroughput(throughput)}
				if drain {
					opts = append(opts, WithDrainOnStop())
				}
				_, ref, err := newSpec("a", noop[int], opts)
				if err != nil {
					t.Fatal(err)
				}
				c := ref.c
				if c.policy() != policy || c.drain() != drain || c.throughput() != throughput {
					t.Errorf("set %v, %v, %d: read %v, %v, %d", policy, drain, throughput, c.policy(), c.drain(), c.throughput())
				}
				if got := ref.Mailbox(); got != Bounded(4, policy) {
					t.Errorf("Mailbox() = %v, want %v", got, Bounded(4, policy))
				}
				if (c.rare.Load() != nil) != (throughput != defaultThroughput) {
					t.Errorf("throughput %d: rare part %v", throughput, c.rare.Load())
				}
				c.mu.Lock()
				c.state.Or(stLaunched | stRegistered)
				c.stopLocked(nil)
				c.mu.Unlock()
				if !c.stopped() || !c.launchedLocked() || !c.registeredLocked() || c.policy() != policy || c.drain() != drain {
					t.Errorf("after the flags: stopped %v launched %v registered %v policy %v drain %v",
						c.stopped(), c.launchedLocked(), c.registeredLocked(), c.policy(), c.drain())
				}
			}
		}
	}
}

// LaunchCtx with a ctx that takes no exit report launches nothing and says
// so, and the incarnation can still be launched with an exit function.
func TestLaunchCtxRefusesAPlainContext(t *testing.T) {
	spec, ref, err := newSpec("a", noop[int], nil)
	if err != nil {
		t.Fatal(err)
	}
	var inc *incarnation[int]
	switch ch := spec.Source.New().(type) {
	case *incarnation[int]:
		inc = ch
	case starting[int]: // a System of another test is live: the actor may join it
		inc = ch.incarnation
	default:
		t.Fatalf("New returned a %T", ch)
	}
	if inc.LaunchCtx(hook.Token{}, context.Background()) {
		t.Fatal("LaunchCtx took a context.Background()")
	}
	if inc.launched || inc.marks&markExitCtx != 0 || ref.c.inc != nil {
		t.Fatalf("refused, yet launched %v, marks %b, current %v", inc.launched, inc.marks, ref.c.inc)
	}
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan error, 1)
	inc.Launch(ctx, func(err error) { exited <- err })
	cancel()
	if err := <-exited; err != nil {
		t.Fatalf("exit after cancel: %v", err)
	}
	spec.Source.Dispose(nil)
	<-ref.Done()
}
