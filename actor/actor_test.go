package actor

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/airssys/rt/supervisor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.DiscardHandler)

var errBoom = errors.New("boom")

// newSup starts a quiet supervisor that the test stops at its end.
func newSup(t testing.TB, strategy supervisor.Strategy, opts ...supervisor.Option) *supervisor.Supervisor {
	t.Helper()
	sup := idleSup("test", strategy, opts...)
	if err := sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sup.Stop() })
	return sup
}

func idleSup(name string, strategy supervisor.Strategy, opts ...supervisor.Option) *supervisor.Supervisor {
	opts = append([]supervisor.Option{supervisor.WithLogger(quiet)}, opts...)
	return supervisor.New(name, strategy, supervisor.Permanent, opts...)
}

// probe records what the incarnations of one actor do. Each incarnation is
// numbered from 1 in the order the factory made it.
type probe[M any] struct {
	mu         sync.Mutex
	made       int
	got        []delivery[M]
	postStops  []int
	deliveries chan delivery[M]
	// onReceive decides what an incarnation does with a message.
	onReceive func(inc int, ctx *Context[M], msg M) error
}

type delivery[M any] struct {
	inc int
	msg M
}

func newProbe[M any](onReceive func(inc int, ctx *Context[M], msg M) error) *probe[M] {
	return &probe[M]{deliveries: make(chan delivery[M], 1024), onReceive: onReceive}
}

type probeActor[M any] struct {
	p   *probe[M]
	inc int
}

func (p *probe[M]) factory() Actor[M] {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.made++
	return &probeActor[M]{p: p, inc: p.made}
}

func (a *probeActor[M]) Receive(ctx *Context[M], msg M) error {
	var err error
	if a.p.onReceive != nil {
		err = a.p.onReceive(a.inc, ctx, msg)
	}
	a.p.mu.Lock()
	a.p.got = append(a.p.got, delivery[M]{a.inc, msg})
	a.p.mu.Unlock()
	a.p.deliveries <- delivery[M]{a.inc, msg}
	return err
}

func (a *probeActor[M]) PostStop(*Context[M]) {
	a.p.mu.Lock()
	a.p.postStops = append(a.p.postStops, a.inc)
	a.p.mu.Unlock()
}

func (p *probe[M]) next(t testing.TB) delivery[M] {
	t.Helper()
	return <-p.deliveries
}

func (p *probe[M]) stops() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.postStops...)
}

// awaitProcessed waits until ref's Processed reaches n. A probe's
// delivery is seen inside Receive; the message counts as processed only
// once Receive has returned, a moment later.
func awaitProcessed[M any](t testing.TB, ref Ref[M], n uint64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ref.Stats().Processed < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("processed %d, want %d", ref.Stats().Processed, n)
		}
	}
}

func (p *probe[M]) incarnations() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.made
}

// collect subscribes to d and returns a channel of its letters.
func collect(t testing.TB, d *DeadLetters) <-chan DeadLetter {
	ch := make(chan DeadLetter, 1024)
	cancel := d.Subscribe(func(dl DeadLetter) { ch <- dl })
	t.Cleanup(cancel)
	return ch
}

func TestSendReceiveInOrder(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne)
	p := newProbe[int](nil)
	ref, err := Spawn(sup, "a", p.factory)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if err := ref.Send(i); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 1000 {
		if d := p.next(t); d.msg != i || d.inc != 1 {
			t.Fatalf("delivery %d: got %+v", i, d)
		}
	}
	awaitProcessed(t, ref, 1000)
	if st := ref.Stats(); st.Processed != 1000 || st.MailboxLen != 0 || !st.Running || st.Name != "a" {
		t.Fatalf("stats %+v", st)
	}
}

func TestMessagesBeforeStartWait(t *testing.T) {
	sup := idleSup("late", supervisor.OneForOne)
	p := newProbe[string](nil)
	ref, err := Spawn(sup, "a", p.factory)
	if err != nil {
		t.Fatal(err)
	}
	_ = ref.Send("x")
	_ = ref.Send("y")
	if n := ref.Stats().MailboxLen; n != 2 {
		t.Fatalf("queued %d before start, want 2", n)
	}
	if err := sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer sup.Stop()
	if a, b := p.next(t), p.next(t); a.msg != "x" || b.msg != "y" {
		t.Fatalf("got %v %v", a, b)
	}
}

func TestContext(t *testing.T) {
	sys := NewSystem("sys", WithSystemLogger(quiet))
	type seen struct {
		self   Ref[int]
		sys    *System
		name   string
		logger bool
		ctxErr error
	}
	got := make(chan seen, 1)
	stopped := make(chan error, 1)
	ref, err := SpawnIn(sys, "ctx", func() Actor[int] {
		return Func[int](func(ctx *Context[int], _ int) error {
			got <- seen{ctx.Self(), ctx.System(), ctx.Name(), ctx.Logger() != nil, ctx.Context().Err()}
			go func() {
				<-ctx.Context().Done()
				stopped <- ctx.Context().Err()
			}()
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = ref.Send(1)
	s := <-got
	if s.self != ref || s.sys != sys || s.name != "ctx" || !s.logger || s.ctxErr != nil {
		t.Fatalf("context: %+v", s)
	}
	if err := sys.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-stopped; !errors.Is(err, context.Canceled) {
		t.Fatalf("incarnation ctx after stop: %v", err)
	}
}

type recordHandler struct {
	slog.Handler
	attrs chan []slog.Attr
}

func (h recordHandler) WithAttrs(as []slog.Attr) slog.Handler { h.attrs <- as; return h }

func TestWithLogger(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne)
	h := recordHandler{Handler: slog.DiscardHandler, attrs: make(chan []slog.Attr, 1)}
	logged := make(chan struct{})
	ref, _ := Spawn(sup, "chatty", func() Actor[int] {
		return Func[int](func(ctx *Context[int], _ int) error {
			ctx.Logger().Info("hello")
			close(logged)
			return nil
		})
	}, WithLogger(slog.New(h)))
	_ = ref.Send(1)
	<-logged
	as := <-h.attrs
	if len(as) != 1 || as[0].Key != "actor" || as[0].Value.String() != "chatty" {
		t.Fatalf("logger attrs %v", as)
	}
}

func TestContextWithoutSystem(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne)
	got := make(chan *System, 1)
	ref, _ := Spawn(sup, "a", func() Actor[int] {
		return Func[int](func(ctx *Context[int], _ int) error { got <- ctx.System(); return nil })
	})
	_ = ref.Send(1)
	if s := <-got; s != nil {
		t.Fatalf("System() = %v, want nil", s)
	}
}

func TestRefIsComparableAndStable(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne)
	selves := make(chan Ref[int], 2)
	ref, _ := Spawn(sup, "a", func() Actor[int] {
		return Func[int](func(ctx *Context[int], crash int) error {
			selves <- ctx.Self()
			if crash == 1 {
				return errBoom
			}
			return nil
		})
	})
	_ = ref.Send(1)
	_ = ref.Send(0)
	a, b := <-selves, <-selves
	if a != ref || b != ref {
		t.Fatal("Self differs from the Ref across a restart")
	}
	m := map[Ref[int]]bool{ref: true}
	if !m[a] {
		t.Fatal("Ref not usable as a map key")
	}
	if ref.String() != "actor(a)" {
		t.Fatalf("String() = %q", ref.String())
	}
}

func TestZeroRef(t *testing.T) {
	var r Ref[int]
	if err := r.Send(1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Send: %v", err)
	}
	if err := r.SendContext(context.Background(), 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SendContext: %v", err)
	}
	select {
	case <-r.Done():
	default:
		t.Fatal("Done of the zero Ref is not closed")
	}
	if !errors.Is(r.Err(), ErrNotFound) || r.Name() != "" || r.Stats() != (Stats{}) {
		t.Fatal("zero Ref accessors")
	}
	fired := make(chan error, 1)
	r.Watch(func(err error) { fired <- err })
	if err := <-fired; !errors.Is(err, ErrNotFound) {
		t.Fatalf("Watch: %v", err)
	}
	if _, err := Ask(context.Background(), r, func(Reply[int]) int { return 0 }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Ask: %v", err)
	}
}

func TestPanicInReceiveIsACrash(t *testing.T) {
	sys := NewSystem("sys", WithSystemLogger(quiet))
	letters := collect(t, sys.DeadLetters())
	p := newProbe(func(inc int, _ *Context[string], msg string) error {
		if msg == "panic" {
			panic("kaboom")
		}
		return nil
	})
	ref, _ := SpawnIn(sys, "a", p.factory)
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer sys.Shutdown(context.Background())
	_ = ref.Send("panic")
	_ = ref.Send("after")
	dl := <-letters
	var pe *supervisor.PanicError
	if dl.Message != "panic" || !errors.As(dl.Reason, &pe) || pe.Value != "kaboom" {
		t.Fatalf("dead letter %+v", dl)
	}
	if d := p.next(t); d.msg != "after" || d.inc != 2 {
		t.Fatalf("after the panic: %+v", d)
	}
}

func TestShutdownFromReceiveCountsAsHandled(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne)
	var made atomic.Int32
	seen := make(chan Stats, 1)
	ref, _ := Spawn(sup, "a", func() Actor[int] {
		made.Add(1)
		return Func[int](func(c *Context[int], n int) error {
			switch n {
			case 1:
				return supervisor.ErrShutdown
			case 3:
				// 1 and 2 are accounted for by now: a message is counted
				// before the next one is received.
				seen <- c.Self().Stats()
			}
			return nil
		})
	}) // Permanent: restarted after a normal exit too
	_ = ref.Send(1)
	_ = ref.Send(2)
	_ = ref.Send(3)
	if st := <-seen; st.Processed != 2 || st.DeadLetters != 0 || made.Load() != 2 {
		t.Fatalf("stats %+v, made %d", st, made.Load())
	}
}

// Found by examples/actor-pipeline: messages an activation had taken out in
// one batch still counted as queued after they were handled, so MailboxLen
// overstated the backlog by up to a batch.
func TestRegressionMailboxLenDuringABatch(t *testing.T) {
	sup := idleSup("batch", supervisor.OneForOne)
	var seen []int
	all := make(chan struct{})
	ref, err := Spawn(sup, "a", func() Actor[int] {
		return Func[int](func(c *Context[int], msg int) error {
			seen = append(seen, c.Self().Stats().MailboxLen)
			if msg == 11 {
				close(all)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		_ = ref.Send(i)
	}
	if err := sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-all
	if err := sup.Stop(); err != nil {
		t.Fatal(err)
	}
	for i, n := range seen {
		if n != 11-i {
			t.Fatalf("in Receive of message %d, MailboxLen = %d, want %d (all: %v)", i, n, 11-i, seen)
		}
	}
	if len(seen) != 12 {
		t.Fatalf("handled %d", len(seen))
	}
}

func TestSpecKind(t *testing.T) {
	spec, _ := Spec("k", func() Actor[int] { return Func[int](func(*Context[int], int) error { return nil }) })
	if spec.Kind != Kind {
		t.Fatalf("Kind %q", spec.Kind)
	}
}

func TestRefMailbox(t *testing.T) {
	spec, ref := Spec("m", func() Actor[int] { return Func[int](func(*Context[int], int) error { return nil }) },
		WithMailbox(Bounded(8, Block)))
	_ = spec
	if mb := ref.Mailbox(); mb.Capacity() != 8 || mb.Policy() != Block {
		t.Fatalf("%v", mb)
	}
	if mb := (Ref[int]{}).Mailbox(); mb.Capacity() != 0 {
		t.Fatalf("zero Ref: %v", mb)
	}
}
