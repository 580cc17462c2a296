package actor

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/airssys/rt/health"
	"github.com/airssys/rt/supervisor"
)

// hooked counts the hooks of every incarnation: lives[i] is incarnation
// i+1's record.
type hooked struct {
	mu       sync.Mutex
	lives    []*life
	preErr   func(inc int) error
	receive  func(inc int, ctx *Context[int], m int) error
	received chan int
}

type life struct{ preStarts, postStops int }

type hookedActor struct {
	h   *hooked
	inc int
}

func newHooked() *hooked { return &hooked{received: make(chan int, 100)} }

func (h *hooked) factory() Actor[int] {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lives = append(h.lives, &life{})
	return &hookedActor{h: h, inc: len(h.lives)}
}

func (a *hookedActor) PreStart(*Context[int]) error {
	a.h.mu.Lock()
	a.h.lives[a.inc-1].preStarts++
	a.h.mu.Unlock()
	if a.h.preErr != nil {
		return a.h.preErr(a.inc)
	}
	return nil
}

func (a *hookedActor) PostStop(*Context[int]) {
	a.h.mu.Lock()
	a.h.lives[a.inc-1].postStops++
	a.h.mu.Unlock()
}

func (a *hookedActor) Receive(ctx *Context[int], m int) error {
	a.h.received <- a.inc
	if a.h.receive != nil {
		return a.h.receive(a.inc, ctx, m)
	}
	return nil
}

func (h *hooked) snapshot() []life {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]life, len(h.lives))
	for i, l := range h.lives {
		out[i] = *l
	}
	return out
}

func TestPreStartFailureIsAStartFailure(t *testing.T) {
	errPre := errors.New("no database")
	h := newHooked()
	h.preErr = func(int) error { return errPre }
	sup := newSup(t, supervisor.OneForOne)
	_, err := Spawn(sup, "a", h.factory)
	if !errors.Is(err, errPre) {
		t.Fatalf("Spawn: %v", err)
	}
	if l := h.snapshot(); len(l) != 1 || l[0] != (life{preStarts: 1}) {
		t.Fatalf("lives %+v: no PostStop after a failed PreStart", l)
	}
	// Through Spec, before the supervisor starts: Start fails, and the
	// Ref says why.
	sup2 := idleSup("s2", supervisor.OneForOne)
	spec, ref := Spec("b", h.factory)
	_ = sup2.StartChild(spec)
	if err := sup2.Start(context.Background()); !errors.Is(err, errPre) {
		t.Fatalf("Start: %v", err)
	}
	<-ref.Done()
	if err := ref.Err(); !errors.Is(err, errPre) || !errors.Is(err, ErrStopped) {
		t.Fatalf("Err: %v", err)
	}
}

func TestPreStartFailureOnRestartEscalates(t *testing.T) {
	errPre := errors.New("cannot reconnect")
	h := newHooked()
	h.preErr = func(inc int) error {
		if inc > 1 {
			return errPre
		}
		return nil
	}
	h.receive = func(int, *Context[int], int) error { return errBoom }
	sup := idleSup("s", supervisor.OneForOne, supervisor.WithIntensity(2, time.Minute))
	ref, _ := Spawn(sup, "a", h.factory)
	_ = sup.Start(context.Background())
	_ = ref.Send(1)
	<-sup.Done()
	if err := sup.Err(); !errors.Is(err, supervisor.ErrIntensityExceeded) || !errors.Is(err, errPre) {
		t.Fatalf("supervisor: %v", err)
	}
	<-ref.Done()
	if err := ref.Err(); !errors.Is(err, errPre) {
		t.Fatalf("Err: %v", err)
	}
	l := h.snapshot()
	if len(l) != 3 || l[0] != (life{1, 1}) || l[1] != (life{1, 0}) || l[2] != (life{1, 0}) {
		t.Fatalf("lives %+v", l)
	}
}

func TestPostStopOncePerIncarnation(t *testing.T) {
	h := newHooked()
	h.receive = func(inc int, _ *Context[int], m int) error {
		switch m {
		case 1:
			return errBoom
		case 2:
			return supervisor.ErrShutdown
		case 3:
			panic("bug")
		}
		return nil
	}
	sup := idleSup("s", supervisor.OneForOne, supervisor.WithIntensity(100, time.Minute))
	ref, _ := Spawn(sup, "a", h.factory)
	_ = sup.Start(context.Background())
	for _, m := range []int{1, 2, 3} { // three endings, each restarted
		_ = ref.Send(m)
		<-h.received
	}
	_ = ref.Send(0)
	<-h.received // incarnation 4 runs
	crashInstance(t, sup, "a", errBoom)
	_ = ref.Send(0)
	<-h.received // incarnation 5 runs
	if err := sup.TerminateChild("a"); err != nil {
		t.Fatal(err)
	}
	_ = sup.RestartChild("a") // incarnation 6
	_ = sup.Stop()
	<-ref.Done()
	l := h.snapshot()
	if len(l) != 6 {
		t.Fatalf("%d incarnations, want 6", len(l))
	}
	for i, x := range l {
		if x != (life{1, 1}) {
			t.Fatalf("incarnation %d: %+v", i+1, x)
		}
	}
}

// crashInstance injects a failure as an operator would, through the
// instance the supervisor reports.
func crashInstance(t *testing.T, sup *supervisor.Supervisor, name string, err error) {
	t.Helper()
	for _, ci := range sup.WhichChildren() {
		if ci.Name == name {
			c, ok := ci.Instance.(interface{ Crash(error) })
			if !ok {
				t.Fatalf("instance %T has no Crash", ci.Instance)
			}
			c.Crash(err)
			return
		}
	}
	t.Fatalf("no child %q", name)
}

func TestStartTimeoutStillCallsPostStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHooked()
		h.preErr = func(inc int) error {
			time.Sleep(2 * time.Second) // slower than the StartTimeout; then succeeds
			return nil
		}
		sup := newSup(t, supervisor.OneForOne)
		_, err := Spawn(sup, "slow", h.factory, WithStartTimeout(time.Second))
		if !errors.Is(err, supervisor.ErrStartTimeout) {
			t.Fatalf("Spawn: %v", err)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if l := h.snapshot(); len(l) != 1 || l[0] != (life{1, 1}) {
			t.Fatalf("lives %+v", l)
		}
	})
}

// starts counts the incarnations of plain ChildFunc children.
func plainChild(starts *atomic.Int32, failOnce *atomic.Bool) func() supervisor.Child {
	return func() supervisor.Child {
		starts.Add(1)
		return supervisor.ChildFunc(func(ctx context.Context) error {
			if failOnce != nil && failOnce.CompareAndSwap(true, false) {
				return errBoom
			}
			<-ctx.Done()
			return nil
		})
	}
}

func TestStrategiesWithMixedChildren(t *testing.T) {
	// Children in start order: actor "a", plain ChildFunc "plain", actor "c".
	cases := []struct {
		strategy  supervisor.Strategy
		crash     string   // the child that fails
		restarted []string // the children the strategy restarts
	}{
		{supervisor.OneForOne, "a", []string{"a"}},
		{supervisor.OneForOne, "plain", []string{"plain"}},
		{supervisor.OneForAll, "a", []string{"a", "plain", "c"}},
		{supervisor.OneForAll, "plain", []string{"a", "plain", "c"}},
		{supervisor.RestForOne, "a", []string{"a", "plain", "c"}},
		{supervisor.RestForOne, "plain", []string{"plain", "c"}},
	}
	for _, tc := range cases {
		t.Run(tc.strategy.String()+"/"+tc.crash, func(t *testing.T) {
			events := make(chan supervisor.Event, 100)
			sup := idleSup("s", tc.strategy, supervisor.WithEventHandler(func(e supervisor.Event) { events <- e }))
			a := newProbe(func(inc int, _ *Context[int], m int) error {
				if m < 0 {
					return errBoom
				}
				return nil
			})
			c := newProbe[int](nil)
			refA, _ := Spawn(sup, "a", a.factory)
			var plainStarts atomic.Int32
			var fail atomic.Bool
			_ = sup.StartChild(supervisor.Spec{Name: "plain", New: plainChild(&plainStarts, &fail)})
			refC, _ := Spawn(sup, "c", c.factory)
			if err := sup.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer sup.Stop()
			manual := 0
			if tc.crash == "a" {
				_ = refA.Send(-1)
			} else {
				_ = sup.TerminateChild("plain")
				fail.Store(true)
				_ = sup.RestartChild("plain") // starts, fails at once: the strategy applies
				manual = 1
			}
			// Messages sent to c meanwhile are all delivered, in order,
			// whether or not c is restarted.
			for i := range 100 {
				_ = refC.Send(i)
			}
			for i := range 100 {
				if d := c.next(t); d.msg != i {
					t.Fatalf("c got %+v, want %d", d, i)
				}
			}
			waitRestarted(events, tc.restarted)
			want := map[string]int{"a": 1, "plain": 1 + manual, "c": 1}
			for _, name := range tc.restarted {
				want[name]++
			}
			got := map[string]int{"a": a.incarnations(), "plain": int(plainStarts.Load()), "c": c.incarnations()}
			for name := range want {
				if got[name] != want[name] {
					t.Fatalf("incarnations %v, want %v", got, want)
				}
			}
		})
	}
}

// waitRestarted waits for an automatic restart of each named child.
func waitRestarted(events <-chan supervisor.Event, names []string) {
	left := map[string]bool{}
	for _, n := range names {
		left[n] = true
	}
	for e := range events {
		if e.Kind == supervisor.EventChildRestarted {
			delete(left, e.Child)
			if len(left) == 0 {
				return
			}
		}
	}
}

func TestEscalationThroughIntensity(t *testing.T) {
	parent := idleSup("parent", supervisor.OneForOne, supervisor.WithIntensity(10, time.Minute))
	child := idleSup("child", supervisor.OneForOne, supervisor.WithIntensity(1, time.Minute))
	p := newProbe(func(inc int, _ *Context[int], m int) error {
		if m < 0 {
			return errBoom
		}
		return nil
	})
	ref, _ := Spawn(child, "a", p.factory)
	_ = parent.AddSupervisor(child)
	if err := parent.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer parent.Stop()
	_ = ref.Send(-1) // restart 1: within the child's intensity
	_ = ref.Send(-1) // restart 2: too many, the child supervisor gives up
	_ = ref.Send(7)  // delivered after the parent restarts the child supervisor
	for d := p.next(t); d.msg != 7; d = p.next(t) {
	}
	if p.incarnations() != 3 {
		t.Fatalf("%d incarnations", p.incarnations())
	}
	var childInfo supervisor.ChildInfo
	for _, ci := range parent.WhichChildren() {
		if ci.Name == "child" {
			childInfo = ci
		}
	}
	if childInfo.Restarts != 1 || !errors.Is(childInfo.LastErr, supervisor.ErrIntensityExceeded) {
		t.Fatalf("child supervisor: %+v", childInfo)
	}
	select {
	case <-ref.Done():
		t.Fatal("stopped for good although its supervisor was restarted")
	default:
	}
}

func TestQueueKeptWhileSupervisorRestartedByParent(t *testing.T) {
	parent := idleSup("parent", supervisor.OneForOne)
	child := idleSup("child", supervisor.OneForOne, supervisor.WithIntensity(0, time.Minute))
	entered := make(chan struct{}, 1)
	p := newProbe(func(inc int, ctx *Context[int], m int) error {
		if m == 0 && inc == 1 {
			entered <- struct{}{}
			<-ctx.Context().Done() // busy until the child supervisor stops it
		}
		return nil
	})
	ref, _ := Spawn(child, "a", p.factory)
	var plainStarts atomic.Int32
	var fail atomic.Bool
	_ = child.StartChild(supervisor.Spec{Name: "plain", New: plainChild(&plainStarts, &fail)})
	_ = parent.AddSupervisor(child)
	if err := parent.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer parent.Stop()
	_ = ref.Send(0)
	<-entered
	for i := 1; i <= 5; i++ {
		_ = ref.Send(i) // queued behind 0
	}
	_ = child.TerminateChild("plain")
	fail.Store(true)
	_ = child.RestartChild("plain") // fails at once: intensity 0, the child supervisor ends, the parent restarts it
	for i := 0; i <= 5; i++ {
		d := p.next(t)
		if d.msg != i || (i > 0 && d.inc != 2) {
			t.Fatalf("delivery %+v, want message %d (incarnation 2 after 0)", d, i)
		}
	}
}

func TestTemporaryBystanderOfGroupRestartStopsForGood(t *testing.T) {
	sys := NewSystem("sys", WithRootStrategy(supervisor.OneForAll), WithSystemLogger(quiet))
	letters := collect(t, sys.DeadLetters())
	crashy, _ := SpawnIn(sys, "crashy", func() Actor[int] {
		return Func[int](func(*Context[int], int) error { return errBoom })
	})
	entered := make(chan struct{})
	temp, _ := SpawnIn(sys, "temp", func() Actor[int] {
		return Func[int](func(ctx *Context[int], m int) error {
			if m == 0 {
				close(entered)
				<-ctx.Context().Done()
			}
			return nil
		})
	}, WithRestart(supervisor.Temporary))
	_ = sys.Start(context.Background())
	defer sys.Shutdown(context.Background())
	_ = temp.Send(0)
	<-entered
	_ = temp.Send(1)
	_ = crashy.Send(1)
	<-temp.Done()
	if err := temp.Err(); !errors.Is(err, ErrStopped) || errors.Is(err, errBoom) {
		t.Fatalf("Err: %v", err)
	}
	seen := map[any]bool{}
	for len(seen) < 2 {
		dl := <-letters
		seen[dl.Target+":"+itoa(dl.Message.(int))] = true
	}
	if !seen["temp:1"] || !seen["crashy:1"] {
		t.Fatalf("dead letters %v", seen)
	}
	if _, err := Lookup[int](sys, "temp"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup after stop: %v", err)
	}
}

func TestTransientNormalExitKeepsMailbox(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne)
	release := make(chan struct{})
	p := newProbe(func(inc int, _ *Context[int], m int) error {
		if m == 0 {
			<-release
			return supervisor.ErrShutdown
		}
		return nil
	})
	ref, _ := Spawn(sup, "a", p.factory, WithRestart(supervisor.Transient))
	for i := range 4 {
		_ = ref.Send(i)
	}
	close(release)
	p.next(t)
	for sup.WhichChildren()[0].State != supervisor.ChildStopped {
		runtime.Gosched() // the exit reaches the supervisor
	}
	_ = ref.Send(4)
	if n := ref.Stats().MailboxLen; n != 4 {
		t.Fatalf("%d queued", n)
	}
	if err := sup.RestartChild("a"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		if d := p.next(t); d.msg != i || d.inc != 2 {
			t.Fatalf("%+v", d)
		}
	}
}

func TestDeleteChildStopsForGood(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne)
	ref, _ := Spawn(sup, "a", func() Actor[int] { return Func[int](func(*Context[int], int) error { return nil }) })
	_ = sup.TerminateChild("a")
	select {
	case <-ref.Done():
		t.Fatal("terminated is not stopped for good")
	default:
	}
	_ = ref.Send(1)
	if err := sup.DeleteChild("a"); err != nil {
		t.Fatal(err)
	}
	<-ref.Done()
	if st := ref.Stats(); st.DeadLetters != 1 || !st.Stopped {
		t.Fatalf("stats %+v", st)
	}
}

func TestInstanceObservability(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne)
	g := make(chan struct{})
	entered := make(chan struct{}, 1)
	p := newProbe(func(inc int, _ *Context[int], m int) error {
		if m == 0 && inc == 1 {
			entered <- struct{}{}
			<-g
		}
		return nil
	})
	ref, _ := Spawn(sup, "a", p.factory, WithMailbox(Bounded(1, DropNewest)))
	_ = ref.Send(0)
	<-entered
	_ = ref.Send(1)
	_ = ref.Send(2) // dropped
	type observable interface {
		MailboxLen() int
		Processed() uint64
		DeadLetterCount() uint64
		Crash(error)
	}
	inst, ok := sup.WhichChildren()[0].Instance.(observable)
	if !ok {
		t.Fatalf("instance %T is not observable", sup.WhichChildren()[0].Instance)
	}
	if inst.MailboxLen() != 1 || inst.DeadLetterCount() != 1 || inst.Processed() != 0 {
		t.Fatalf("len %d dead %d processed %d", inst.MailboxLen(), inst.DeadLetterCount(), inst.Processed())
	}
	close(g)
	p.next(t)
	p.next(t)
	// Crash an idle actor: it fails at once and is restarted.
	errInjected := errors.New("operator says so")
	inst.Crash(errInjected)
	for {
		ci := sup.WhichChildren()[0]
		if ci.Restarts == 1 && ci.State == supervisor.ChildRunning {
			if !errors.Is(ci.LastErr, errInjected) {
				t.Fatalf("LastErr %v", ci.LastErr)
			}
			break
		}
		runtime.Gosched()
	}
	if inst.Processed() != 2 || p.incarnations() != 2 {
		t.Fatalf("processed %d, incarnations %d", inst.Processed(), p.incarnations())
	}
	inst.Crash(errInjected) // an ended incarnation: nothing happens
	_ = ref.Send(3)
	if d := p.next(t); d.inc != 2 {
		t.Fatalf("%+v", d)
	}
}

type sickly struct{ healthy bool }

func (s *sickly) Receive(*Context[int], int) error { return nil }
func (s *sickly) CheckHealth(context.Context) health.Status {
	if s.healthy {
		return health.Healthy()
	}
	return health.Unhealthy("always")
}

func TestHealthChecksReachTheActor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sup := newSup(t, supervisor.OneForOne)
		var made atomic.Int32
		_, err := Spawn(sup, "sick", func() Actor[int] {
			return &sickly{healthy: made.Add(1) > 1}
		}, WithHealth(supervisor.HealthPolicy{Interval: time.Second, UnhealthyThreshold: 2}))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2*time.Second + time.Millisecond)
		synctest.Wait()
		if made.Load() != 2 {
			t.Fatalf("%d incarnations, want a restart after 2 unhealthy checks", made.Load())
		}
	})
}

func TestServeWithoutSupervisor(t *testing.T) {
	p := newProbe[int](nil)
	spec, ref := Spec("solo", p.factory)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- spec.Source.New().Serve(ctx) }() // an actor's Spec has a Source, not a New
	_ = ref.Send(1)
	if d := p.next(t); d.msg != 1 {
		t.Fatalf("%+v", d)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	spec.Source.Dispose(nil)
	<-ref.Done()
}

func TestSpecInTwoSupervisors(t *testing.T) {
	spec, _ := Spec("a", func() Actor[int] { return Func[int](func(*Context[int], int) error { return nil }) })
	s1, s2 := newSup(t, supervisor.OneForOne), newSup(t, supervisor.OneForOne)
	if err := s1.StartChild(spec); err != nil {
		t.Fatal(err)
	}
	if err := s2.StartChild(spec); !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("second supervisor: %v", err)
	}
}

func TestBusyActorYields(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	sup := newSup(t, supervisor.OneForOne)
	var busyCount atomic.Int64
	busy, _ := Spawn(sup, "busy", func() Actor[int] {
		return Func[int](func(ctx *Context[int], _ int) error {
			busyCount.Add(1)
			return ctx.Self().Send(0) // never idle
		})
	})
	_ = busy.Send(0)
	for busyCount.Load() < 1000 {
		runtime.Gosched()
	}
	handledAt := make(chan int64, 1)
	other, _ := Spawn(sup, "other", func() Actor[int] {
		return Func[int](func(*Context[int], int) error { handledAt <- busyCount.Load(); return nil })
	})
	sentAt := busyCount.Load()
	_ = other.Send(1)
	if n := <-handledAt - sentAt; n > 10*defaultThroughput {
		t.Fatalf("the busy actor handled %d messages before the other got its turn", n)
	}
}

func TestHundredThousandActors(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 actors")
	}
	const n, wave = 100_000, 1000 // waves keep -race under its goroutine limit
	sup := idleSup("many", supervisor.OneForOne)
	var handled sync.WaitGroup
	factory := func() Actor[int] {
		return Func[int](func(*Context[int], int) error { handled.Done(); return nil })
	}
	refs := make([]Ref[int], n)
	for i := range refs {
		spec, ref := Spec(itoa(i), factory)
		refs[i] = ref
		if err := sup.StartChild(spec); err != nil {
			t.Fatal(err)
		}
	}
	if err := sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := sup.CountChildren(); c.Active != n {
		t.Fatalf("%d running", c.Active)
	}
	for start := 0; start < n; start += wave {
		handled.Add(wave)
		for _, r := range refs[start : start+wave] {
			_ = r.Send(1)
		}
		handled.Wait()
	}
	if err := sup.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, r := range refs {
		<-r.Done()
		if st := r.Stats(); st.Processed != 1 {
			t.Fatalf("%s: %+v", r, st)
		}
	}
	goleak.VerifyNone(t, goleak.IgnoreCurrent())
}

func TestPostStopBeforeTheSupervisorSeesTheExit(t *testing.T) {
	h := newHooked()
	h.receive = func(int, *Context[int], int) error { return errBoom }
	seen := make(chan []life, 10)
	sup := idleSup("s", supervisor.OneForOne, supervisor.WithIntensity(10, time.Minute),
		supervisor.WithEventHandler(func(e supervisor.Event) {
			if e.Kind == supervisor.EventChildFailed {
				seen <- h.snapshot()
			}
		}))
	ref, _ := Spawn(sup, "a", h.factory)
	_ = sup.Start(context.Background())
	defer sup.Stop()
	for i := range 3 {
		_ = ref.Send(i)
		lives := <-seen
		if lives[i].postStops != 1 {
			t.Fatalf("failure %d reported before PostStop: %+v", i+1, lives)
		}
	}
}

func TestDuplicateSiblingWithoutSystem(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne)
	if _, err := Spawn(sup, "a", noop[int]); err != nil {
		t.Fatal(err)
	}
	if _, err := Spawn(sup, "a", noop[int]); !errors.Is(err, supervisor.ErrAlreadyStarted) {
		t.Fatalf("duplicate sibling: %v", err)
	}
}

type panickyStop struct{ crash bool }

func (p *panickyStop) Receive(*Context[int], int) error {
	if p.crash {
		return errBoom
	}
	return supervisor.ErrShutdown
}
func (p *panickyStop) PostStop(*Context[int]) { panic("cleanup bug") }

func TestPostStopPanic(t *testing.T) {
	// After a normal end, a panicking PostStop makes the end a failure;
	// after a crash, the crash stays the reason.
	for _, crash := range []bool{false, true} {
		sup := newSup(t, supervisor.OneForOne)
		ref, _ := Spawn(sup, "a", func() Actor[int] { return &panickyStop{crash: crash} },
			WithRestart(supervisor.Transient))
		_ = ref.Send(1)
		for sup.WhichChildren()[0].Restarts == 0 {
			runtime.Gosched()
		}
		lastErr := sup.WhichChildren()[0].LastErr
		var pe *supervisor.PanicError
		if crash && (!errors.Is(lastErr, errBoom) || errors.As(lastErr, &pe)) {
			t.Fatalf("after a crash: %v", lastErr)
		}
		if !crash && !errors.As(lastErr, &pe) {
			t.Fatalf("after a normal end: %v", lastErr)
		}
	}
}

type checkedStarter struct{ sickly }

func (*checkedStarter) PreStart(*Context[int]) error { return nil }

func TestPreStartAndHealthTogether(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sup := newSup(t, supervisor.OneForOne)
		var made atomic.Int32
		_, err := Spawn(sup, "both", func() Actor[int] {
			return &checkedStarter{sickly{healthy: made.Add(1) > 1}}
		}, WithHealth(supervisor.HealthPolicy{Interval: time.Second, UnhealthyThreshold: 1}))
		if err != nil {
			t.Fatal(err)
		}
		inst := sup.WhichChildren()[0].Instance
		if _, ok := inst.(supervisor.Starter); !ok {
			t.Fatalf("%T is not a Starter", inst)
		}
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if made.Load() != 2 {
			t.Fatalf("%d incarnations", made.Load())
		}
	})
}

func TestNoStartGoroutineWithoutPreStart(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne)
	_, _ = Spawn(sup, "plain", noop[int])
	if _, ok := sup.WhichChildren()[0].Instance.(supervisor.Starter); ok {
		t.Fatal("an actor without PreStart is a Starter: its start would cost a goroutine")
	}
}

func TestSignificantActorEndsItsSupervisor(t *testing.T) {
	sup := idleSup("s", supervisor.OneForOne, supervisor.WithAutoShutdown(supervisor.AnySignificant))
	ref, err := Spawn(sup, "main", func() Actor[int] {
		return Func[int](func(*Context[int], int) error { return supervisor.ErrShutdown })
	}, WithRestart(supervisor.Transient), WithSignificant())
	if err != nil {
		t.Fatal(err)
	}
	_ = sup.Start(context.Background())
	_ = ref.Send(1)
	<-sup.Done()
	<-ref.Done()
	if sup.Err() != nil {
		t.Fatalf("auto shutdown: %v", sup.Err())
	}
}

// An incarnation whose Receive ignores its ctx outlives its Graceful
// timeout: the supervisor abandons it. Its mailbox is the actor's, so the
// next incarnation takes over once that Receive returns; if the actor is
// removed meanwhile, what the abandoned one still held becomes dead letters.
func TestAbandonedIncarnation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := NewSystem("sys", WithSystemLogger(quiet))
		letters := collect(t, sys.DeadLetters())
		release := make(chan struct{})
		entered := make(chan struct{}, 2)
		p := newProbe(func(inc int, _ *Context[int], m int) error {
			if m == 0 && inc == 1 {
				entered <- struct{}{}
				<-release // ignores its ctx
			}
			return nil
		})
		ref, _ := SpawnIn(sys, "stuck", p.factory, WithShutdown(supervisor.Graceful(time.Second)))
		for i := range 4 {
			_ = ref.Send(i) // taken as one batch when the actor starts
		}
		_ = sys.Start(context.Background())
		<-entered
		start := time.Now()
		if err := sys.Root().TerminateChild("stuck"); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) != time.Second {
			t.Fatalf("terminate took %v", time.Since(start))
		}
		if err := sys.Root().RestartChild("stuck"); err != nil {
			t.Fatal(err)
		}
		_ = ref.Send(4)
		synctest.Wait()
		if d := p.incarnations(); d != 2 {
			t.Fatalf("%d incarnations", d)
		}
		close(release) // the abandoned Receive returns; incarnation 2 gets the rest
		if d := p.next(t); d.msg != 0 || d.inc != 1 {
			t.Fatalf("%+v", d)
		}
		for i := 1; i <= 4; i++ {
			if d := p.next(t); d.msg != i || d.inc != 2 {
				t.Fatalf("%+v, want %d to incarnation 2", d, i)
			}
		}
		_ = sys.Shutdown(context.Background())
		select {
		case dl := <-letters:
			t.Fatalf("dead letter %+v", dl)
		default:
		}
		if st := p.stops(); len(st) != 2 || st[0] != 1 || st[1] != 2 {
			t.Fatalf("PostStop calls %v, want the abandoned one first", st)
		}
	})
}

func TestAbandonedIncarnationOfARemovedActor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := NewSystem("sys", WithSystemLogger(quiet))
		letters := collect(t, sys.DeadLetters())
		release := make(chan struct{})
		entered := make(chan struct{})
		ref, _ := SpawnIn(sys, "stuck", func() Actor[int] {
			return Func[int](func(_ *Context[int], m int) error {
				if m == 0 {
					close(entered)
					<-release
				}
				return nil
			})
		}, WithShutdown(supervisor.Graceful(time.Second)), WithRestart(supervisor.Temporary))
		for i := range 4 {
			_ = ref.Send(i)
		}
		_ = sys.Start(context.Background())
		<-entered
		_ = ref.Send(4) // queued behind the batch in hand (1..3)
		_ = sys.Root().TerminateChild("stuck")
		<-ref.Done() // Temporary: removed, stopped for good, while Receive(0) still runs
		if dl := <-letters; dl.Message != 4 {
			t.Fatalf("dead letter %+v", dl)
		}
		close(release)
		got := map[any]bool{}
		for range 3 {
			dl := <-letters
			if !errors.Is(dl.Reason, ErrStopped) {
				t.Fatalf("%+v", dl)
			}
			got[dl.Message] = true
		}
		if !got[1] || !got[2] || !got[3] {
			t.Fatalf("dead letters %v, want the batch in hand 1..3", got)
		}
		_ = sys.Shutdown(context.Background())
	})
}

// BrutalKill: the supervisor cancels and starts the next incarnation
// without waiting for the previous one to end. Every incarnation still gets
// its PostStop, one at a time.
func TestBrutalKillRestartsStillPostStop(t *testing.T) {
	const rounds = 200
	h := newHooked()
	h.received = make(chan int, rounds)
	sup := newSup(t, supervisor.OneForOne)
	ref, err := Spawn(sup, "brutal", h.factory, WithShutdown(supervisor.BrutalKill))
	if err != nil {
		t.Fatal(err)
	}
	for i := range rounds {
		_ = ref.Send(i)
		if err := sup.TerminateChild("brutal"); err != nil {
			t.Fatal(err)
		}
		if err := sup.RestartChild("brutal"); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	if err := sup.TerminateChild("brutal"); err != nil {
		t.Fatal(err)
	}
	_ = sup.DeleteChild("brutal")
	<-ref.Done()
	for {
		done := true
		for i, l := range h.snapshot() {
			if l.postStops > 1 || l.preStarts != 1 {
				t.Fatalf("incarnation %d: %+v", i+1, l)
			}
			done = done && l.postStops == 1
		}
		if done {
			break
		}
		runtime.Gosched() // the last PostStops run after the brutal stops returned
	}
	if n := len(h.snapshot()); n != rounds+1 {
		t.Fatalf("%d incarnations", n)
	}
}

// slowPostStop's PostStop blocks until release is closed.
type slowPostStop struct {
	stopping chan struct{}
	release  chan struct{}
}

func (a *slowPostStop) Receive(*Context[int], int) error { return nil }
func (a *slowPostStop) PostStop(*Context[int]) {
	close(a.stopping)
	<-a.release
}

// An idle actor is stopped on the supervisor's own goroutine when its end
// runs no code of the user's; a PostStop is user code and may block, so it
// runs on a goroutine of the actor's, and the supervisor's Graceful timeout
// still bounds the stop. (Had the stop run PostStop inline, TerminateChild
// would never return.)
func TestStopRunsPostStopOffTheSupervisor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := NewSystem("sys", WithSystemLogger(quiet))
		a := &slowPostStop{stopping: make(chan struct{}), release: make(chan struct{})}
		_, err := SpawnIn(sys, "slow", func() Actor[int] { return a },
			WithShutdown(supervisor.Graceful(time.Second)), WithRestart(supervisor.Temporary))
		if err != nil {
			t.Fatal(err)
		}
		_ = sys.Start(context.Background())
		synctest.Wait() // idle
		start := time.Now()
		if err := sys.Root().TerminateChild("slow"); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("terminate took %v, want the Graceful timeout", d)
		}
		<-a.stopping
		close(a.release)
		_ = sys.Shutdown(context.Background())
	})
}

// Stopping an idle actor with nothing to run at its end (no PostStop, no
// mailbox to drain) ends it on the supervisor's goroutine at once, with or
// without WithDrainOnStop; what is sent afterwards waits for the next
// incarnation.
func TestStopIdleActorIsImmediate(t *testing.T) {
	for _, drain := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			sys := NewSystem("sys", WithSystemLogger(quiet))
			var got []int
			var mu sync.Mutex
			gate := make(chan struct{})
			opts := []Option{}
			if drain {
				opts = append(opts, WithDrainOnStop())
			}
			ref, err := SpawnIn(sys, "idle", func() Actor[int] {
				return Func[int](func(_ *Context[int], m int) error {
					<-gate
					mu.Lock()
					got = append(got, m)
					mu.Unlock()
					return nil
				})
			}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			_ = sys.Start(context.Background())
			synctest.Wait()
			close(gate)
			start := time.Now()
			if err := sys.Root().TerminateChild("idle"); err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				_ = ref.Send(i) // stopped: they wait in the mailbox
			}
			if d := time.Since(start); d != 0 {
				t.Fatalf("stopping an idle actor took %v", d)
			}
			if err := sys.Root().RestartChild("idle"); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			mu.Lock()
			if len(got) != 3 {
				t.Fatalf("drain=%v: got %v", drain, got)
			}
			mu.Unlock()
			_ = sys.Shutdown(context.Background())
		})
	}
}
