package supervisor

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/airssys/rt/internal/hook"
)

// The children's contexts honour context.AfterFunc's contract: f runs
// once after cancellation, stop reports whether it prevented that, and
// derived contexts are cancelled with them.
func TestIncarnationContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type key struct{}
		base := context.WithValue(context.Background(), key{}, "v")
		c := &incCtx{r: &run{base: context.WithoutCancel(base)}}
		if c.Value(key{}) != "v" || c.Err() != nil {
			t.Fatal("values or err")
		}
		if _, ok := c.Deadline(); ok {
			t.Fatal("deadline")
		}
		ran := make(chan string, 4)
		stop1 := c.AfterFunc(func() { ran <- "first" })
		stop2 := context.AfterFunc(c, func() { ran <- "second" })
		stop3 := c.AfterFunc(func() { ran <- "third" })
		if !stop3() || stop3() {
			t.Fatal("stop3 must report true once")
		}
		child, cancelChild := context.WithCancel(c)
		defer cancelChild()
		c.cancel()
		c.cancel() // idempotent
		<-child.Done()
		synctest.Wait()
		close(ran)
		got := map[string]bool{}
		for s := range ran {
			got[s] = true
		}
		if !got["first"] || !got["second"] || got["third"] || len(got) != 2 {
			t.Fatalf("ran %v", got)
		}
		if stop1() || stop2() {
			t.Fatal("stop after run must report false")
		}
		if c.Err() != context.Canceled {
			t.Fatal(c.Err())
		}
		select {
		case <-c.Done():
		default:
			t.Fatal("Done not closed")
		}
		late := make(chan struct{})
		if c.AfterFunc(func() { close(late) })() {
			t.Fatal("stop on a done context")
		}
		<-late

		// A stopped first registration frees nothing for the next one to
		// be mistaken for it.
		d := &incCtx{r: &run{base: context.Background()}}
		s1 := d.AfterFunc(func() { t.Error("stopped func ran") })
		if !s1() {
			t.Fatal("stop first")
		}
		ok := make(chan struct{})
		_ = d.AfterFunc(func() { close(ok) })
		if s1() {
			t.Fatal("second stop of the first registration must be false")
		}
		d.cancel()
		<-ok
	})
}

// A function registered with afterFuncInline runs on the goroutine that
// cancels, before cancel returns; only the first registration may be
// inline, and one made after the cancel runs as AfterFunc's do.
func TestIncarnationContextInline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &incCtx{r: &run{base: context.Background()}}
		ran := false
		_ = c.afterFuncInline(func() { ran = true }) // no lock: same goroutine, or the race detector says so
		later := make(chan struct{})
		_ = c.afterFuncInline(func() { close(later) }) // second: not inline
		c.cancel()
		if !ran {
			t.Fatal("the inline function did not run before cancel returned")
		}
		<-later
		late := make(chan struct{})
		if c.afterFuncInline(func() { close(late) })() {
			t.Fatal("stop on a done context")
		}
		<-late

		// Stopped before the cancel, it never runs.
		d := &incCtx{r: &run{base: context.Background()}}
		stop := d.afterFuncInline(func() { t.Error("stopped func ran") })
		if !stop() || stop() {
			t.Fatal("stop must report true once")
		}
		d.cancel()
	})
}

// onCancelInline takes the inline slot as afterFuncInline does, without a
// stop function: StopOnCancelInline undoes it once; a taken slot or a done
// context refuses the registration instead of falling back.
func TestIncarnationContextOnCancelInline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &incCtx{r: &run{base: context.Background()}}
		ran := false
		if !c.onCancelInline(func() { ran = true }) {
			t.Fatal("the empty slot was refused")
		}
		if c.onCancelInline(func() { t.Error("refused func ran") }) {
			t.Fatal("a taken slot was given twice")
		}
		c.cancel()
		if !ran {
			t.Fatal("the inline function did not run before cancel returned")
		}
		if c.StopOnCancelInline(hook.Token{}) {
			t.Fatal("stop after the function ran must be false")
		}
		if c.onCancelInline(func() { t.Error("func registered on a done context ran") }) {
			t.Fatal("a done context took a registration")
		}

		d := &incCtx{r: &run{base: context.Background()}}
		if !d.onCancelInline(func() { t.Error("stopped func ran") }) {
			t.Fatal("the empty slot was refused")
		}
		if !d.StopOnCancelInline(hook.Token{}) || d.StopOnCancelInline(hook.Token{}) {
			t.Fatal("stop must report true once")
		}
		if d.onCancelInline(func() { t.Error("slot reused after a stop") }) {
			t.Fatal("the slot was given again after a stop")
		}
		d.cancel()
	})
}

// stopCounter is a child that counts StopInline calls.
type stopCounter struct {
	ChildFunc
	stops int
}

func (s *stopCounter) StopInline(hook.Token) { s.stops++ }

// OnCancelStopChild puts the child itself in the inline slot: cancelling
// the incarnation calls its StopInline before cancel returns, once; a
// later AfterFunc does not take the slot, and StopOnCancelInline undoes
// the registration.
func TestIncarnationContextStopChild(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kid := &stopCounter{}
		inc := &incarnation{inst: kid, incCtx: incCtx{r: &run{base: context.Background()}}}
		if !inc.OnCancelStopChild(hook.Token{}) || inc.OnCancelStopChild(hook.Token{}) {
			t.Fatal("the slot must be given once")
		}
		later := make(chan struct{})
		_ = inc.AfterFunc(func() { close(later) })
		inc.cancel()
		if kid.stops != 1 {
			t.Fatalf("StopInline called %d times before cancel returned, want 1", kid.stops)
		}
		<-later
		inc.cancel()
		if kid.stops != 1 || inc.StopOnCancelInline(hook.Token{}) {
			t.Fatal("a second cancel told the child again, or the stop still found it registered")
		}

		kid2 := &stopCounter{}
		inc2 := &incarnation{inst: kid2, incCtx: incCtx{r: &run{base: context.Background()}}}
		if !inc2.OnCancelStopChild(hook.Token{}) || !inc2.StopOnCancelInline(hook.Token{}) || inc2.StopOnCancelInline(hook.Token{}) {
			t.Fatal("stop must report true once")
		}
		inc2.cancel()
		if kid2.stops != 0 {
			t.Fatal("a stopped registration told the child")
		}
	})
}
