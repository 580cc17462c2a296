package actor

import (
	"testing"
	"testing/synctest"

	"github.com/airssys/rt/supervisor"
)

// A lingering activation looks at its mailbox without the lock
// (stillQuiet), which sees only the lock-free inbox: a message put back at
// the head while it lingers (as Requeue does) must still be found by the
// look under the lock that ends the linger, not wait for the next send.
// (Checked to fail when the linger goes idle on stillQuiet's word and
// run's second look ignores the head.)
func TestLingerFindsMessagesPutBackAtTheHead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sup := newSup(t, supervisor.OneForOne)
		got := make(chan int, 2)
		ref, err := Spawn(sup, "requeue", func() Actor[int] {
			return Func[int](func(ctx *Context[int], n int) error {
				got <- n
				if n == 1 {
					// Requeue's hunk without its schedule, which does
					// nothing while this activation owns the cell.
					cl := ctx.cell
					cl.mu.Lock()
					cl.ringLocked().pushFront(2)
					cl.mu.Unlock()
				}
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := ref.Send(1); err != nil {
			t.Fatal(err)
		}
		for _, want := range []int{1, 2} {
			if n := <-got; n != want {
				t.Fatalf("got message %d, want %d", n, want)
			}
		}
	})
}
