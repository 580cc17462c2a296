package actor

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/airssys/rt/supervisor"
)

// gated spawns, in a new System, an actor that blocks in Receive on its
// first message until release is closed, so that later ones queue. It
// returns once the first message is in Receive.
type gatedActor struct {
	sys     *System
	ref     Ref[int]
	release chan struct{}
	got     chan int
	letters <-chan DeadLetter
}

func spawnGated(t *testing.T, opts ...Option) *gatedActor {
	t.Helper()
	g := &gatedActor{
		sys:     NewSystem("sys", WithSystemLogger(quiet)),
		release: make(chan struct{}),
		got:     make(chan int, 100),
	}
	g.letters = collect(t, g.sys.DeadLetters())
	first := make(chan struct{})
	var err error
	g.ref, err = SpawnIn(g.sys, "gated", func() Actor[int] {
		return Func[int](func(_ *Context[int], m int) error {
			if m == 0 {
				close(first)
				<-g.release
			}
			g.got <- m
			return nil
		})
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.sys.Shutdown(context.Background()) })
	if err := g.ref.Send(0); err != nil {
		t.Fatal(err)
	}
	<-first
	return g
}

func (g *gatedActor) expect(t *testing.T, want ...int) {
	t.Helper()
	for _, w := range want {
		if m := <-g.got; m != w {
			t.Fatalf("got message %d, want %d", m, w)
		}
	}
}

func TestBoundedBlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := spawnGated(t, WithMailbox(Bounded(2, Block)))
		_ = g.ref.Send(1)
		_ = g.ref.Send(2) // full: capacity counts queued messages only
		if n := g.ref.Stats().MailboxLen; n != 2 {
			t.Fatalf("MailboxLen %d", n)
		}
		sent := make(chan error, 1)
		go func() { sent <- g.ref.Send(3) }()
		synctest.Wait()
		select {
		case err := <-sent:
			t.Fatalf("Send returned %v on a full Block mailbox", err)
		default:
		}
		close(g.release)
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
		g.expect(t, 0, 1, 2, 3)
		if n := g.sys.DeadLetters().Count(); n != 0 {
			t.Fatalf("%d dead letters", n)
		}
	})
}

func TestBoundedBlockSendContextExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := spawnGated(t, WithMailbox(Bounded(1, Block)))
		_ = g.ref.Send(1)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		err := g.ref.SendContext(ctx, 2)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("SendContext: %v after %v", err, time.Since(start))
		}
		if g.sys.DeadLetters().Count() != 0 || g.ref.Stats().MailboxLen != 1 {
			t.Fatal("the expired message must be neither queued nor a dead letter")
		}
		// Room comes in time: SendContext succeeds.
		ctx2, cancel2 := context.WithTimeout(context.Background(), time.Minute)
		defer cancel2()
		go func() {
			time.Sleep(time.Second)
			close(g.release)
		}()
		if err := g.ref.SendContext(ctx2, 3); err != nil {
			t.Fatal(err)
		}
		g.expect(t, 0, 1, 3)
	})
}

func TestSendContextDoneAlready(t *testing.T) {
	g := spawnGated(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.ref.SendContext(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("SendContext: %v", err)
	}
	if g.ref.Stats().MailboxLen != 0 {
		t.Fatal("sent although ctx was done")
	}
	close(g.release)
}

func TestBoundedDropNewest(t *testing.T) {
	g := spawnGated(t, WithMailbox(Bounded(2, DropNewest)))
	_ = g.ref.Send(1)
	_ = g.ref.Send(2)
	if err := g.ref.Send(3); err != nil {
		t.Fatalf("Send: %v", err)
	}
	dl := <-g.letters
	if dl.Message != 3 || dl.Target != "gated" || !errors.Is(dl.Reason, ErrMailboxFull) {
		t.Fatalf("dead letter %+v", dl)
	}
	close(g.release)
	g.expect(t, 0, 1, 2)
	if st := g.ref.Stats(); st.DeadLetters != 1 || g.sys.DeadLetters().Count() != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBoundedDropOldest(t *testing.T) {
	g := spawnGated(t, WithMailbox(Bounded(2, DropOldest)))
	_ = g.ref.Send(1)
	_ = g.ref.Send(2)
	if err := g.ref.Send(3); err != nil {
		t.Fatalf("Send: %v", err)
	}
	dl := <-g.letters
	if dl.Message != 1 || !errors.Is(dl.Reason, ErrMailboxFull) {
		t.Fatalf("dead letter %+v", dl)
	}
	close(g.release)
	g.expect(t, 0, 2, 3)
	if st := g.ref.Stats(); st.DeadLetters != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBoundedFail(t *testing.T) {
	g := spawnGated(t, WithMailbox(Bounded(2, Fail)))
	_ = g.ref.Send(1)
	_ = g.ref.Send(2)
	if err := g.ref.Send(3); !errors.Is(err, ErrMailboxFull) {
		t.Fatalf("Send: %v", err)
	}
	if g.sys.DeadLetters().Count() != 0 {
		t.Fatal("a refused message is not a dead letter")
	}
	close(g.release)
	g.expect(t, 0, 1, 2)
	if err := g.ref.Send(4); err != nil {
		t.Fatalf("Send after room: %v", err)
	}
	g.expect(t, 4)
}

func TestBlockedSenderSeesStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := NewSystem("sys", WithSystemLogger(quiet))
		letters := collect(t, sys.DeadLetters())
		entered := make(chan struct{})
		ref, _ := SpawnIn(sys, "a", func() Actor[int] {
			return Func[int](func(ctx *Context[int], m int) error {
				close(entered)
				<-ctx.Context().Done()
				return nil
			})
		}, WithMailbox(Bounded(1, Block)), WithRestart(supervisor.Temporary))
		_ = sys.Start(context.Background())
		_ = ref.Send(0)
		<-entered
		_ = ref.Send(1)
		sent := make(chan error, 1)
		go func() { sent <- ref.Send(2) }()
		synctest.Wait()
		if err := sys.Root().TerminateChild("a"); err != nil { // Temporary: removed, stopped for good
			t.Fatal(err)
		}
		if err := <-sent; !errors.Is(err, ErrStopped) {
			t.Fatalf("blocked Send: %v", err)
		}
		got := map[any]bool{}
		for range 2 {
			dl := <-letters
			if !errors.Is(dl.Reason, ErrStopped) {
				t.Fatalf("dead letter %+v", dl)
			}
			got[dl.Message] = true
		}
		if !got[1] || !got[2] {
			t.Fatalf("dead letters %v, want 1 (queued) and 2 (sent after)", got)
		}
		_ = sys.Shutdown(context.Background())
	})
}

func TestMailboxSurvivesRestart(t *testing.T) {
	sys := NewSystem("sys", WithSystemLogger(quiet))
	letters := collect(t, sys.DeadLetters())
	release := make(chan struct{})
	p := newProbe(func(inc int, _ *Context[int], m int) error {
		if m == 0 {
			<-release
		}
		if m == 3 && inc == 1 {
			return errBoom
		}
		return nil
	})
	ref, err := SpawnIn(sys, "a", p.factory)
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer sys.Shutdown(context.Background())
	for i := range 10 {
		_ = ref.Send(i)
	}
	close(release) // 1..9 are queued behind 0
	for i := range 10 {
		d := p.next(t)
		wantInc := 1
		if i > 3 {
			wantInc = 2
		}
		if d.msg != i || d.inc != wantInc {
			t.Fatalf("delivery %d: %+v, want incarnation %d", i, d, wantInc)
		}
	}
	dl := <-letters
	if dl.Message != 3 || !errors.Is(dl.Reason, errBoom) {
		t.Fatalf("dead letter %+v", dl)
	}
	if st := p.stops(); len(st) != 1 || st[0] != 1 {
		t.Fatalf("PostStop calls %v", st)
	}
	awaitProcessed(t, ref, 9)
	if st := ref.Stats(); st.Processed != 9 || st.DeadLetters != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// stopWithQueue gets an actor busy on message 0 until it is asked to stop,
// with 1..3 queued behind, then terminates it.
func stopWithQueue(t *testing.T, opts ...Option) (*supervisor.Supervisor, Ref[int], *probe[int]) {
	sup := newSup(t, supervisor.OneForOne)
	entered := make(chan struct{})
	p := newProbe(func(inc int, ctx *Context[int], m int) error {
		if m == 0 {
			close(entered)
			<-ctx.Context().Done()
		}
		return nil
	})
	ref, err := Spawn(sup, "a", p.factory, opts...)
	if err != nil {
		t.Fatal(err)
	}
	_ = ref.Send(0)
	<-entered
	for i := 1; i <= 3; i++ {
		_ = ref.Send(i)
	}
	if err := sup.TerminateChild("a"); err != nil {
		t.Fatal(err)
	}
	return sup, ref, p
}

func TestStopDrainsNothingByDefault(t *testing.T) {
	sup, ref, p := stopWithQueue(t)
	if d := p.next(t); d.msg != 0 {
		t.Fatalf("got %+v", d)
	}
	if n := ref.Stats().MailboxLen; n != 3 {
		t.Fatalf("%d queued after stop, want 3", n)
	}
	_ = ref.Send(4) // queues while terminated
	if err := sup.RestartChild("a"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		if d := p.next(t); d.msg != i || d.inc != 2 {
			t.Fatalf("after restart: %+v", d)
		}
	}
}

func TestStopDrainsWhenAsked(t *testing.T) {
	_, ref, p := stopWithQueue(t, WithDrainOnStop())
	for i := 0; i <= 3; i++ {
		if d := p.next(t); d.msg != i || d.inc != 1 {
			t.Fatalf("got %+v", d)
		}
	}
	if n := ref.Stats().MailboxLen; n != 0 {
		t.Fatalf("%d queued after a draining stop", n)
	}
	if st := p.stops(); len(st) != 1 {
		t.Fatalf("PostStop %v", st)
	}
}

func TestQueuedMessagesAreDeadLettersWhenStoppedForGood(t *testing.T) {
	sys := NewSystem("sys", WithSystemLogger(quiet))
	letters := collect(t, sys.DeadLetters())
	release := make(chan struct{})
	ref, _ := SpawnIn(sys, "a", func() Actor[int] {
		return Func[int](func(_ *Context[int], m int) error {
			<-release
			return supervisor.ErrShutdown
		})
	}, WithRestart(supervisor.Temporary))
	_ = sys.Start(context.Background())
	defer sys.Shutdown(context.Background())
	for i := range 4 {
		_ = ref.Send(i)
	}
	close(release)
	<-ref.Done()
	for i := 1; i <= 3; i++ {
		dl := <-letters
		if dl.Message != i || !errors.Is(dl.Reason, ErrStopped) {
			t.Fatalf("dead letter %+v", dl)
		}
	}
	if err := ref.Send(9); !errors.Is(err, ErrStopped) {
		t.Fatalf("Send after stop: %v", err)
	}
	if dl := <-letters; dl.Message != 9 || !errors.Is(dl.Reason, ErrStopped) {
		t.Fatalf("dead letter %+v", dl)
	}
	if st := ref.Stats(); st.DeadLetters != 4 || !st.Stopped || st.Running {
		t.Fatalf("stats %+v", st)
	}
}

func TestRing(t *testing.T) {
	var r ring[int]
	next, want := 0, 0
	for round := range 50 {
		for range round % 7 {
			r.push(next, 0)
			next++
		}
		for range round % 5 {
			if m, ok := r.pop(); ok {
				if m != want {
					t.Fatalf("pop %d, want %d", m, want)
				}
				want++
			}
		}
	}
	r.pushFront(want - 1)
	if m, _ := r.pop(); m != want-1 {
		t.Fatal("pushFront")
	}
	rest := r.takeAll()
	for _, m := range rest {
		if m != want {
			t.Fatalf("takeAll %d, want %d", m, want)
		}
		want++
	}
	if want != next || r.len() != 0 {
		t.Fatalf("lost messages: %d of %d", want, next)
	}
	// A drained large buffer is released; a bounded one never outgrows its limit.
	for i := range 5000 {
		r.push(i, 0)
	}
	for r.len() > 0 {
		r.pop()
	}
	if r.buf == nil {
		t.Fatal("released the buffer on a pop")
	}
	r.shrink() // well used since the last shrink: kept
	if r.buf == nil {
		t.Fatal("released a buffer that was just full")
	}
	r.push(1, 0)
	r.pop()
	r.shrink() // barely used: released
	if r.buf != nil {
		t.Fatalf("kept a buffer of %d after draining", len(r.buf))
	}
	for i := range 5 {
		r.push(i, 5)
	}
	if len(r.buf) != 5 {
		t.Fatalf("bounded buffer of %d for limit 5", len(r.buf))
	}
}

// Messages queued before the start are taken as one batch; a stop or an
// injected crash while the first is in Receive must put the rest back, in
// order, for the next incarnation.
func TestBatchInHandGoesBackOnStop(t *testing.T) {
	for _, how := range []string{"stop", "crash"} {
		t.Run(how, func(t *testing.T) {
			sup := idleSup("s", supervisor.OneForOne)
			entered := make(chan struct{})
			release := make(chan struct{})
			p := newProbe(func(inc int, ctx *Context[int], m int) error {
				if m == 0 {
					close(entered)
					if how == "stop" {
						<-ctx.Context().Done()
					} else {
						<-release
					}
				}
				return nil
			})
			ref, _ := Spawn(sup, "a", p.factory)
			for i := range 10 {
				_ = ref.Send(i)
			}
			_ = sup.Start(context.Background())
			defer sup.Stop()
			<-entered
			if n := ref.Stats().MailboxLen; n != 9 {
				t.Fatalf("MailboxLen %d with 9 in hand", n)
			}
			if how == "stop" {
				_ = sup.TerminateChild("a")
				if n := ref.Stats().MailboxLen; n != 9 {
					t.Fatalf("MailboxLen %d after stop", n)
				}
				_ = sup.RestartChild("a")
			} else {
				crashInstance(t, sup, "a", errBoom)
				close(release)
			}
			if d := p.next(t); d.msg != 0 || d.inc != 1 {
				t.Fatalf("%+v", d)
			}
			for i := 1; i < 10; i++ {
				if d := p.next(t); d.msg != i || d.inc != 2 {
					t.Fatalf("delivery %+v, want %d to incarnation 2", d, i)
				}
			}
		})
	}
}

func TestDeepMailboxSendersStillDeliverEverything(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne)
	const producers, each = 4, 3 * 4096
	var got [producers]int
	done := make(chan struct{})
	total := 0
	ref, _ := Spawn(sup, "sink", func() Actor[[2]int] {
		return Func[[2]int](func(_ *Context[[2]int], m [2]int) error {
			if m[1] != got[m[0]] {
				t.Errorf("producer %d: got %d, want %d", m[0], m[1], got[m[0]])
			}
			got[m[0]]++
			if total++; total == producers*each {
				close(done)
			}
			return nil
		})
	})
	for p := range producers {
		go func() {
			for i := range each {
				_ = ref.Send([2]int{p, i})
			}
		}()
	}
	<-done
}

// The unbounded mailbox's lock-free queue, alone: messages come out in
// order, in batches, across segments of every size, and its length is
// exact at every step.
func TestInboxOrderAndLength(t *testing.T) {
	var c cell[int]
	if c.inReady() || c.inPopInto(make([]int, 4), -1) != 0 || c.inLen() != 0 {
		t.Fatal("a fresh inbox is not empty")
	}
	next, want := 0, 0
	buf := make([]int, batchMax)
	for _, burst := range []int{1, 2, 3, 70, 5000, 1, 300} {
		for range burst {
			c.inPush(next)
			next++
		}
		if got := c.inLen(); got != next-want {
			t.Fatalf("inLen %d, want %d", got, next-want)
		}
		for c.inReady() {
			n := c.inPopInto(buf, -1)
			for _, m := range buf[:n] {
				if m != want {
					t.Fatalf("got %d, want %d", m, want)
				}
				want++
			}
		}
		if want != next || c.inLen() != 0 {
			t.Fatalf("took %d of %d, inLen %d", want, next, c.inLen())
		}
	}
	for s := c.first.Load(); s != nil; s = s.next.Load() {
		if len(s.slots) > segMax {
			t.Fatalf("segment of %d slots", len(s.slots))
		}
	}
}

// takeInSenderOrder consumes senders*each messages [sender, i] from c's
// inbox, in batches as the activation does, and fails the test unless each
// sender's come out once each, in its order.
func takeInSenderOrder(t *testing.T, c *cell[[2]int], senders, each int) {
	t.Helper()
	next := make([]int, senders)
	buf := make([][2]int, batchMax)
	for taken := 0; taken < senders*each; {
		c.mu.Lock()
		n := c.inPopInto(buf, -1)
		c.mu.Unlock()
		for _, m := range buf[:n] {
			if m[1] != next[m[0]] {
				t.Fatalf("sender %d: got %d, want %d", m[0], m[1], next[m[0]])
			}
			next[m[0]]++
		}
		taken += n
		if n == 0 {
			runtime.Gosched()
		}
	}
}

// Concurrent senders to the lock-free queue: each sender's messages come
// out in its order, none is lost or repeated, and the consumer taking
// batches meanwhile sees a length that never goes below what it has yet
// to take.
func TestInboxConcurrentSenders(t *testing.T) {
	var c cell[[2]int]
	const senders, each = 4, 20000
	var wg sync.WaitGroup
	for p := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				c.inPush([2]int{p, i})
			}
		}()
	}
	takeInSenderOrder(t, &c, senders, each)
	wg.Wait()
	if c.inLen() != 0 || c.inReady() {
		t.Fatalf("inLen %d after taking everything", c.inLen())
	}
}

// MailboxLen is exact with concurrent senders to a busy actor: once every
// Send has returned, it counts every message queued.
func TestMailboxLenExactWithConcurrentSenders(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne)
	const senders, each = 4, 2500
	first, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	n := 0
	ref, err := Spawn(sup, "a", func() Actor[int] {
		return Func[int](func(_ *Context[int], m int) error {
			if m == -1 {
				close(first)
				<-release
			}
			if n++; n == senders*each+1 {
				close(done)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = ref.Send(-1)
	<-first
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_ = ref.Send(i)
			}
		}()
	}
	wg.Wait()
	if n := ref.Stats().MailboxLen; n != senders*each {
		t.Fatalf("MailboxLen %d, want %d", n, senders*each)
	}
	close(release)
	<-done
	if n := ref.Stats().MailboxLen; n != 0 {
		t.Fatalf("MailboxLen %d once all are handled", n)
	}
}

// Senders racing with the actor's stop for good: every message sent is
// either handled or a dead letter, never lost in the lock-free queue
// between dispose's last look and the sender's push.
func TestSendRacingStopLosesNothing(t *testing.T) {
	for range 20 {
		sys := NewSystem("sys", WithSystemLogger(quiet))
		var handled atomic.Int64
		ref, err := SpawnIn(sys, "a", func() Actor[int] {
			return Func[int](func(*Context[int], int) error { handled.Add(1); return nil })
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := sys.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		const senders, each = 4, 500
		var wg sync.WaitGroup
		for range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					_ = ref.Send(i)
				}
			}()
		}
		if err := sys.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		// Dead letters are counted before Send returns, and by dispose
		// before Shutdown does.
		dead := int64(sys.DeadLetters().Count())
		if got := handled.Load() + dead; got != senders*each {
			t.Fatalf("handled %d + dead letters %d = %d, want %d", handled.Load(), dead, got, senders*each)
		}
	}
}

// Every idle actor carries a cell with its first incarnation inside: it
// stays in the 176-byte size class (the cell's own fields in 112 bytes,
// the incarnation in 64), with what most actors never use (watchers,
// Done's channel, a logger, the last error, Block waiters, dead-letter
// counts) behind c.rare, and the senders' and the activation's hot words
// at least a cache line apart.
func TestCellStaysSmall(t *testing.T) {
	var c cell[int]
	// 192 is a size class, and a multiple of 64: the allocator then puts
	// every cell at the start of a cache line, which the layout counts on.
	if size := unsafe.Sizeof(c); size != 192 {
		t.Errorf("cell[int] is %d bytes, want 192", size)
	}
	if size := unsafe.Sizeof(c.inc0); size > 64 {
		t.Errorf("incarnation[int] is %d bytes, want at most 64", size)
	}
	line := func(off uintptr) uintptr { return off / 64 }
	senders := line(unsafe.Offsetof(c.tail))
	shared := line(unsafe.Offsetof(c.state))
	activation := line(unsafe.Offsetof(c.tally))
	if senders == shared || shared == activation || senders == activation {
		t.Errorf("tail, state and tally share a cache line (lines %d, %d, %d)", senders, shared, activation)
	}
	for name, off := range map[string]uintptr{
		"last": unsafe.Offsetof(c.last), "name": unsafe.Offsetof(c.name),
		"sys": unsafe.Offsetof(c.sys), "factory": unsafe.Offsetof(c.factory),
	} {
		if line(off) != senders {
			t.Errorf("%s is off the senders' line", name)
		}
	}
	for name, off := range map[string]uintptr{
		"rare": unsafe.Offsetof(c.rare), "head": unsafe.Offsetof(c.head),
		"first": unsafe.Offsetof(c.first), "mu": unsafe.Offsetof(c.mu),
		"q": unsafe.Offsetof(c.q), "inc": unsafe.Offsetof(c.inc),
		"inc0.cx.cell": unsafe.Offsetof(c.inc0),
	} {
		if line(off) != shared {
			t.Errorf("%s is off the shared line", name)
		}
	}
	// The rest of the first incarnation, which the activation reads for
	// every message, shares the activation's line.
	inc0 := unsafe.Offsetof(c.inc0)
	if second, end := inc0+unsafe.Sizeof(c.inc0.cx.cell), inc0+unsafe.Sizeof(c.inc0)-1; line(second) != activation || line(end) != activation {
		t.Errorf("inc0 is off the activation's line")
	}
}

// The cell's layout by cache line (TestCellStaysSmall) holds only if every
// cell starts on a line: allocated on its own, in a size class that is a
// multiple of 64, not inside a larger object.
func TestCellStartsOnACacheLine(t *testing.T) {
	sup := idleSup("lines", supervisor.OneForOne)
	for i := range 8 {
		ref, err := Spawn(sup, "a"+strconv.Itoa(i), func() Actor[int] {
			return Func[int](func(*Context[int], int) error { return nil })
		})
		if err != nil {
			t.Fatal(err)
		}
		if off := uintptr(unsafe.Pointer(ref.c)) % 64; off != 0 {
			t.Fatalf("cell %d starts %d bytes into a cache line", i, off)
		}
	}
}

// Steady traffic through the lock-free queue allocates nothing: the
// segments the consumer leaves are reused once no sender can reach them.
func TestInboxReusesSegments(t *testing.T) {
	var c cell[int]
	buf := make([]int, batchMax)
	next, want := 0, 0
	step := func() {
		for range 3 {
			c.inPush(next)
			next++
		}
		for c.inReady() {
			for _, m := range buf[:c.inPopInto(buf, -1)] {
				if m != want {
					t.Fatalf("got %d, want %d", m, want)
				}
				want++
			}
		}
	}
	for range 10 * segMax {
		step() // the segments grow to their steady size
	}
	steady := func() {
		for range 10 * segMax {
			step()
		}
	}
	if n := testing.AllocsPerRun(1, steady); n != 0 {
		t.Fatalf("%v allocations for %d messages in steady traffic, want 0", n, 30*segMax)
	}
	if c.inLen() != 0 {
		t.Fatalf("inLen %d", c.inLen())
	}
}

// Concurrent senders while the consumer keeps the backlog short, so that
// segments are reused while senders race for slots (and, under -race,
// that no sender touches a reused segment unsynchronised): every message
// comes out once, in each sender's order.
func TestInboxReuseWithConcurrentSenders(t *testing.T) {
	var c cell[[2]int]
	const senders, each, backlog = 4, 50000, 100
	var wg sync.WaitGroup
	for p := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				c.inPush([2]int{p, i})
				for c.inLen() > backlog {
					runtime.Gosched()
				}
			}
		}()
	}
	takeInSenderOrder(t, &c, senders, each)
	wg.Wait()
	if c.inLen() != 0 || c.inReady() {
		t.Fatalf("inLen %d after taking everything", c.inLen())
	}
}

// The activation waits for a sender that has claimed the oldest slot and
// not yet written it, rather than take the mailbox for empty: awaitWriter
// says there is nothing to wait for in an empty inbox, gives up on a slot
// that stays unwritten, and sees the message once it is written.
func TestInboxAwaitsAWriter(t *testing.T) {
	var c cell[int]
	buf := make([]int, batchMax)
	for i := range 10 {
		c.inPush(i)
	}
	c.inPopInto(buf, -1)
	if c.awaitWriter() {
		t.Fatal("awaitWriter on an empty inbox")
	}
	i := c.tail.Add(1) - 1 // a sender claims the next slot...
	if c.awaitWriter() || c.inLen() != 1 {
		t.Fatalf("awaitWriter with the slot unwritten, inLen %d", c.inLen())
	}
	c.inWrite(i, 42) // ...and writes it
	if !c.awaitWriter() {
		t.Fatal("awaitWriter does not see the written slot")
	}
	if n := c.inPopInto(buf, -1); n != 1 || buf[0] != 42 {
		t.Fatalf("took %v", buf[:n])
	}
}

// A flooded actor, whose mailbox stays deeper than deepAbove, yields less
// often than one that keeps up (what it would yield to is mostly its own
// senders), but still yields: on one processor, the other goroutines get
// a turn at least every deepYieldEvery of its turns.
func TestDeepActorYieldsLessButYields(t *testing.T) {
	for _, mb := range []Mailbox{Unbounded(), Bounded(4*deepAbove, Fail)} {
		t.Run(mb.String(), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			sup := newSup(t, supervisor.OneForOne)
			var handled atomic.Int64
			busy, err := Spawn(sup, "busy", func() Actor[int] {
				return Func[int](func(ctx *Context[int], _ int) error {
					handled.Add(1)
					return ctx.Self().Send(0) // the mailbox stays as deep as it was made
				})
			}, WithMailbox(mb))
			if err != nil {
				t.Fatal(err)
			}
			for range 2 * deepAbove {
				_ = busy.Send(0)
			}
			// Messages handled between two turns of this goroutine. The
			// median, not the largest: on a loaded machine the runtime
			// now and then runs the activation twice or three times
			// before this goroutine (a preemption, the collector), which
			// says nothing of how often the activation yields.
			turns := make([]int64, 0, 51)
			last := handled.Load()
			for range cap(turns) {
				runtime.Gosched()
				now := handled.Load()
				turns = append(turns, now-last)
				last = now
			}
			slices.Sort(turns)
			median := turns[len(turns)/2]
			if limit := int64(2 * deepYieldEvery * defaultThroughput); median > limit || median <= defaultThroughput {
				t.Fatalf("the flooded actor handled %d messages per turn (median; all: %v), want more than %d and at most %d",
					median, turns, defaultThroughput, limit)
			}
		})
	}
}

// A bounded mailbox's senders claim room without a lock: with several of
// them racing to a busy actor, the mailbox never holds more than its
// capacity (counting the batch the activation has taken), Block senders
// wait while it is full, and every message arrives once, each sender's in
// the order sent.
func TestBoundedConcurrentSendersKeepCapacityAndOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const capacity, senders, each = 8, 4, 300
		release := make(chan struct{})
		var over atomic.Int64 // the largest MailboxLen seen above capacity
		var ref Ref[int]
		next := make([]int, senders)
		var bad atomic.Value
		handled := 0
		done := make(chan struct{})
		sys := NewSystem("sys", WithSystemLogger(quiet))
		ref, err := SpawnIn(sys, "b", func() Actor[int] {
			return Func[int](func(_ *Context[int], m int) error {
				if m < 0 {
					<-release
					return nil
				}
				// The fake clock moves once every sender is blocked:
				// they have taken whatever room there was.
				time.Sleep(time.Millisecond)
				if n := ref.Stats().MailboxLen; n > capacity {
					over.Store(int64(n))
				}
				s, i := m/each, m%each
				if i != next[s] {
					bad.Store(m)
				}
				next[s] = i + 1
				if handled++; handled == senders*each {
					close(done)
				}
				return nil
			})
		}, WithMailbox(Bounded(capacity, Block)))
		if err != nil {
			t.Fatal(err)
		}
		if err := sys.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sys.Shutdown(context.Background()) }()
		_ = ref.Send(-1) // holds the actor in Receive
		synctest.Wait()
		var wg sync.WaitGroup
		for s := range senders {
			wg.Go(func() {
				for i := range each {
					if err := ref.Send(s*each + i); err != nil {
						t.Errorf("Send: %v", err)
					}
				}
			})
		}
		synctest.Wait() // every sender blocked on the full mailbox
		if n := ref.Stats().MailboxLen; n != capacity {
			t.Fatalf("MailboxLen %d with the actor held, want the capacity %d", n, capacity)
		}
		close(release)
		wg.Wait()
		<-done
		if m := bad.Load(); m != nil {
			t.Fatalf("message %v out of its sender's order", m)
		}
		if n := over.Load(); n != 0 {
			t.Fatalf("MailboxLen %d seen, above the capacity %d", n, capacity)
		}
		if n := sys.DeadLetters().Count(); n != 0 {
			t.Fatalf("%d dead letters", n)
		}
	})
}

// DropOldest with senders racing on a full mailbox: every Send succeeds,
// the mailbox keeps the newest, and each message is either handled or a
// dead letter that says the mailbox was full; none is lost.
func TestBoundedDropOldestConcurrentSenders(t *testing.T) {
	const capacity, senders, each = 4, 4, 200
	g := spawnGated(t, WithMailbox(Bounded(capacity, DropOldest)))
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range each {
				if err := g.ref.Send(1 + s*each + i); err != nil {
					t.Errorf("Send: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if n := g.ref.Stats().MailboxLen; n != capacity {
		t.Fatalf("MailboxLen %d, want %d", n, capacity)
	}
	dropped := 0
	for range senders*each - capacity {
		dl := <-g.letters
		if !errors.Is(dl.Reason, ErrMailboxFull) {
			t.Fatalf("dead letter %+v", dl)
		}
		dropped++
	}
	close(g.release)
	<-g.got // the first, held
	for range capacity {
		<-g.got
	}
	if st := g.ref.Stats(); st.DeadLetters != uint64(dropped) || st.MailboxLen != 0 {
		t.Fatalf("stats %+v after %d dropped", st, dropped)
	}
}

// Block senders waiting on a full mailbox get room in the order they
// came, each message moved in for its sender as room frees (not a race
// among all of them for each slot); one whose SendContext expires leaves
// the line without its message being queued or dead-lettered, and a stop
// refuses the rest.
func TestBoundedBlockSendersInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := spawnGated(t, WithMailbox(Bounded(1, Block)))
		_ = g.ref.Send(1) // full
		sent := make(chan error, 8)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		for _, m := range []int{10, 20, 30, 40} {
			go func() {
				if m == 20 {
					sent <- g.ref.SendContext(ctx, m) // expires while waiting
					return
				}
				sent <- g.ref.Send(m)
			}()
			synctest.Wait() // m waits behind the ones before it
		}
		time.Sleep(time.Second)
		if err := <-sent; !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("SendContext: %v", err)
		}
		if n := g.ref.Stats().MailboxLen; n != 1 {
			t.Fatalf("MailboxLen %d, want 1", n)
		}
		close(g.release)
		for range 3 {
			if err := <-sent; err != nil {
				t.Fatal(err)
			}
		}
		g.expect(t, 0, 1, 10, 30, 40)
		if n := g.sys.DeadLetters().Count(); n != 0 {
			t.Fatalf("%d dead letters", n)
		}
	})
}
