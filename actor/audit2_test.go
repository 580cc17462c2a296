package actor

// Adversarial tests of this session's hot-path changes, through real
// actors under real supervisors (audit2):
//
//   - the exit reported through the incarnation's ctx (LaunchCtx and
//     ExitChild) and the spawn path's single lock: every strategy and
//     restart policy, crashes by error, by panic and by ErrShutdown, lane
//     children (no PreStart) and control-loop children (PreStart), Stop
//     racing crashes: each incarnation's end reported once (PostStop once
//     per launched incarnation, one child_failed per crash), events per
//     child in a valid order, Done closed, names released, no goroutine
//     left (goleak in TestMain);
//   - the activation's park and wake: no message lost when it arrives as
//     the actor goes idle, never two Receives of one actor at once, a stop
//     or crash while the actor is idle;
//   - names: concurrent spawns of one name, exactly one wins; a name is
//     free again once its actor has stopped for good.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airssys/rt/supervisor"
)

// a2Msg is what the audit's actors are sent.
type a2Msg struct {
	op    int // a2Ping, a2Err, a2Panic, a2Shut
	reply chan<- int
}

const (
	a2Ping = iota
	a2Err
	a2Panic
	a2Shut
)

// a2Track counts what the incarnations of one actor do.
type a2Track struct {
	made      atomic.Int64 // factory calls
	preStarts atomic.Int64
	postStops atomic.Int64
	inReceive atomic.Int32 // Receives running now: never more than one
	overlap   atomic.Int64 // Receives that found another one running
	live      atomic.Int32 // incarnations between PreStart (or first use) and PostStop
	liveMax   atomic.Int32
}

type a2Actor struct {
	tr *a2Track
}

type a2PreActor struct{ a2Actor }

func (a *a2PreActor) PreStart(*Context[a2Msg]) error {
	a.tr.preStarts.Add(1)
	if n := a.tr.live.Add(1); n > a.tr.liveMax.Load() {
		a.tr.liveMax.Store(n)
	}
	return nil
}

func (a *a2Actor) Receive(_ *Context[a2Msg], m a2Msg) error {
	if a.tr.inReceive.Add(1) != 1 {
		a.tr.overlap.Add(1)
	}
	defer a.tr.inReceive.Add(-1)
	switch m.op {
	case a2Err:
		return errBoom
	case a2Panic:
		panic("audit2 boom")
	case a2Shut:
		return supervisor.ErrShutdown
	}
	if m.reply != nil {
		m.reply <- 1
	}
	return nil
}

func (a *a2Actor) PostStop(*Context[a2Msg]) {
	a.tr.postStops.Add(1)
	a.tr.live.Add(-1)
}

func (tr *a2Track) factory(withPreStart bool) func() Actor[a2Msg] {
	return func() Actor[a2Msg] {
		tr.made.Add(1)
		if withPreStart {
			return &a2PreActor{a2Actor{tr}}
		}
		return &a2Actor{tr}
	}
}

// a2Events records a supervisor's events and checks, as they come, that
// each child's follow a valid order: an incarnation starts only when none
// runs, ends once, and a removed spec is not touched again unless added
// anew.
type a2Events struct {
	mu      sync.Mutex
	state   map[string]int // a2None, a2Up, a2Down, a2Gone
	counts  map[string]map[supervisor.EventKind]int
	bad     []string
	stopped chan struct{}
}

const (
	a2None = iota
	a2Up
	a2Down
	a2Gone
)

func newA2Events() *a2Events {
	return &a2Events{
		state:   map[string]int{},
		counts:  map[string]map[supervisor.EventKind]int{},
		stopped: make(chan struct{}),
	}
}

func (e *a2Events) handle(ev supervisor.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ev.Child == "" {
		if ev.Kind == supervisor.EventSupervisorStopped {
			select {
			case <-e.stopped:
				e.bad = append(e.bad, "supervisor_stopped twice")
			default:
				close(e.stopped)
			}
		}
		return
	}
	if e.counts[ev.Child] == nil {
		e.counts[ev.Child] = map[supervisor.EventKind]int{}
	}
	e.counts[ev.Child][ev.Kind]++
	st := e.state[ev.Child]
	next := st
	ok := true
	switch ev.Kind {
	case supervisor.EventChildStarted, supervisor.EventChildRestarted:
		ok, next = st != a2Up, a2Up
	case supervisor.EventChildExited, supervisor.EventChildFailed, supervisor.EventChildStopped, supervisor.EventChildAbandoned:
		ok, next = st == a2Up, a2Down
	case supervisor.EventChildStartFailed:
		ok, next = st != a2Up, a2Down
	case supervisor.EventChildRestartScheduled:
		ok = st == a2Down
	case supervisor.EventChildRemoved:
		ok, next = st == a2Down || st == a2None, a2Gone
	}
	if !ok {
		e.bad = append(e.bad, fmt.Sprintf("%s: %v in state %d", ev.Child, ev.Kind, st))
	}
	e.state[ev.Child] = next
}

// await waits until child has had an event of one of kinds.
func (e *a2Events) await(t *testing.T, child string, kinds ...supervisor.EventKind) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, k := range kinds {
			if e.count(child, k) > 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: none of %v came", child, kinds)
		}
		runtime.Gosched()
	}
}

func (e *a2Events) count(child string, k supervisor.EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counts[child][k]
}

// check fails t if an event came out of order or a child is still up
// after the supervisor stopped.
func (e *a2Events) check(t *testing.T) {
	t.Helper()
	select {
	case <-e.stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("no supervisor_stopped event")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, b := range e.bad {
		t.Error("event order:", b)
	}
	for name, st := range e.state {
		if st == a2Up {
			t.Errorf("%s: still up after supervisor_stopped", name)
		}
	}
}

// a2Wait waits for a reply, the bound only turning a hang into a failure.
func a2Wait(t *testing.T, ch <-chan int, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("no reply: %s", what)
	}
}

func a2Ask(t *testing.T, ref Ref[a2Msg], what string) {
	t.Helper()
	ch := make(chan int, 1)
	if err := ref.Send(a2Msg{op: a2Ping, reply: ch}); err != nil {
		t.Fatalf("%s: ping: %v", what, err)
	}
	a2Wait(t, ch, what)
}

// TestAudit2CrashMatrix runs every strategy and restart policy against
// crashes by error, panic and ErrShutdown, with lane children (no
// PreStart: started on the caller's goroutine under OneForOne) and
// children the control loop starts (PreStart). It catches an exit
// reported twice or not at all through the ctx (ExitChild), a PostStop
// missed or doubled, two incarnations of one actor alive at once, a
// bystander of a group restart not restarted, events out of order, and a
// name not released when the System ends.
func TestAudit2CrashMatrix(t *testing.T) {
	strategies := []supervisor.Strategy{supervisor.OneForOne, supervisor.OneForAll, supervisor.RestForOne}
	policies := []supervisor.RestartPolicy{supervisor.Permanent, supervisor.Transient, supervisor.Temporary}
	modes := []int{a2Err, a2Panic, a2Shut}
	for _, st := range strategies {
		for _, pol := range policies {
			for _, mode := range modes {
				for _, pre := range []bool{false, true} {
					name := fmt.Sprintf("%v/%v/mode%d/prestart=%v", st, pol, mode, pre)
					t.Run(name, func(t *testing.T) { a2CrashCase(t, st, pol, mode, pre) })
				}
			}
		}
	}
}

func a2CrashCase(t *testing.T, st supervisor.Strategy, pol supervisor.RestartPolicy, mode int, pre bool) {
	ev := newA2Events()
	sys := NewSystem("a2", WithRootStrategy(st), WithSystemLogger(quiet),
		WithSupervisorOptions(supervisor.WithIntensity(1000, time.Second), supervisor.WithEventHandler(ev.handle)))
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	const n = 3
	names := [n]string{"a0", "a1", "a2"}
	var tr [n]a2Track
	var refs [n]Ref[a2Msg]
	for i := range n {
		var err error
		refs[i], err = Spawn(sys.Root(), names[i], tr[i].factory(pre), WithRestart(pol))
		if err != nil {
			t.Fatal(err)
		}
	}
	restarts := pol == supervisor.Permanent || pol == supervisor.Transient && mode != a2Shut
	rounds := 1
	if restarts {
		rounds = 4
	}
	target := refs[1]
	for r := range rounds {
		if err := target.Send(a2Msg{op: mode}); err != nil {
			t.Fatal(err)
		}
		if !restarts {
			ev.await(t, "a1", supervisor.EventChildExited, supervisor.EventChildFailed)
			if pol == supervisor.Temporary {
				select {
				case <-target.Done():
				case <-time.After(10 * time.Second):
					t.Fatal("a temporary actor that exited is not done")
				}
			} else {
				select {
				case <-target.Done():
					t.Fatal("a transient's normal exit stopped it for good")
				default:
				}
			}
			break
		}
		// The ping waits behind the crash and is handled by the next
		// incarnation (the mailbox survives restarts); bystanders answer
		// once they run again.
		for i := range n {
			a2Ask(t, refs[i], fmt.Sprintf("round %d actor %d", r, i))
		}
	}
	if err := sys.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ev.check(t)
	// The crashing message is a dead letter, once; ErrShutdown's counts
	// as handled.
	wantDead := uint64(0)
	if mode != a2Shut {
		wantDead = uint64(rounds)
	}
	if got := sys.DeadLetters().Count(); got != wantDead {
		t.Errorf("dead letters: %d, want %d", got, wantDead)
	}
	for i := range n {
		select {
		case <-refs[i].Done():
		default:
			t.Errorf("%s: Done not closed after Shutdown", names[i])
		}
		if err := refs[i].Err(); !errors.Is(err, ErrStopped) {
			t.Errorf("%s: Err = %v, want ErrStopped", names[i], err)
		}
		if err := refs[i].Send(a2Msg{}); !errors.Is(err, ErrStopped) {
			t.Errorf("%s: Send after Shutdown = %v", names[i], err)
		}
		if _, err := Lookup[a2Msg](sys, names[i]); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: Lookup after Shutdown = %v", names[i], err)
		}
		launched := ev.count(names[i], supervisor.EventChildStarted) + ev.count(names[i], supervisor.EventChildRestarted)
		if got := tr[i].postStops.Load(); got != int64(launched) {
			t.Errorf("%s: %d PostStops for %d launched incarnations", names[i], got, launched)
		}
		if pre && tr[i].preStarts.Load() != tr[i].postStops.Load() {
			t.Errorf("%s: %d PreStarts, %d PostStops", names[i], tr[i].preStarts.Load(), tr[i].postStops.Load())
		}
		if pre && tr[i].liveMax.Load() > 1 {
			t.Errorf("%s: %d incarnations alive at once", names[i], tr[i].liveMax.Load())
		}
		if tr[i].overlap.Load() != 0 {
			t.Errorf("%s: %d Receives overlapped another", names[i], tr[i].overlap.Load())
		}
	}
	// One end reported per crash, by the right kind.
	wantFailed, wantExited := 0, 0
	if mode == a2Shut {
		wantExited = rounds
	} else {
		wantFailed = rounds
	}
	if got := ev.count("a1", supervisor.EventChildFailed); got != wantFailed {
		t.Errorf("a1: %d child_failed, want %d", got, wantFailed)
	}
	if got := ev.count("a1", supervisor.EventChildExited); got != wantExited {
		t.Errorf("a1: %d child_exited, want %d", got, wantExited)
	}
	if restarts {
		if got := ev.count("a1", supervisor.EventChildRestarted); got != rounds {
			t.Errorf("a1: %d child_restarted, want %d", got, rounds)
		}
		want := map[supervisor.Strategy][2]int{
			supervisor.OneForOne:  {0, 0},
			supervisor.OneForAll:  {rounds, rounds},
			supervisor.RestForOne: {0, rounds},
		}[st]
		for j, i := range []int{0, 2} {
			if got := ev.count(names[i], supervisor.EventChildRestarted); got != want[j] {
				t.Errorf("%s: %d child_restarted, want %d", names[i], got, want[j])
			}
		}
	}
	if pol == supervisor.Temporary {
		if got := ev.count("a1", supervisor.EventChildRemoved); got != 1 {
			t.Errorf("a1: %d child_removed, want 1", got)
		}
	}
}

// TestAudit2StopRacesCrashes stops a System while its actors crash (by
// error, panic and ErrShutdown, in turn) as fast as senders can make
// them: a crash report and the stop meet at every point. It catches a
// Stop that hangs or returns before an incarnation has ended, an exit
// reported twice, a PostStop missed or doubled, Done not closed, a name
// kept, and a goroutine left behind (goleak).
func TestAudit2StopRacesCrashes(t *testing.T) {
	for iter := range 30 {
		for _, st := range []supervisor.Strategy{supervisor.OneForOne, supervisor.OneForAll, supervisor.RestForOne} {
			a2StopRace(t, iter, st)
		}
	}
}

func a2StopRace(t *testing.T, iter int, st supervisor.Strategy) {
	ev := newA2Events()
	sys := NewSystem("a2", WithRootStrategy(st), WithSystemLogger(quiet),
		WithSupervisorOptions(supervisor.WithIntensity(1_000_000, time.Second), supervisor.WithEventHandler(ev.handle)))
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	const n = 4
	var tr [n]a2Track
	var refs [n]Ref[a2Msg]
	pols := [n]supervisor.RestartPolicy{supervisor.Permanent, supervisor.Transient, supervisor.Temporary, supervisor.Permanent}
	for i := range n {
		var err error
		refs[i], err = Spawn(sys.Root(), fmt.Sprint("c", i), tr[i].factory(i%2 == 1), WithRestart(pols[i]))
		if err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			for k := 0; ; k++ {
				op := []int{a2Err, a2Ping, a2Panic, a2Ping, a2Shut}[(k+i)%5]
				if err := refs[i].Send(a2Msg{op: op}); err != nil {
					if !errors.Is(err, ErrStopped) {
						t.Errorf("c%d: Send: %v", i, err)
					}
					return
				}
				if k%8 == 0 {
					runtime.Gosched()
				}
			}
		})
	}
	close(start)
	for range iter % 7 {
		runtime.Gosched()
	}
	done := make(chan error, 1)
	go func() { done <- sys.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("iteration %d %v: Shutdown hangs", iter, st)
	}
	wg.Wait()
	ev.check(t)
	for i := range n {
		name := fmt.Sprint("c", i)
		select {
		case <-refs[i].Done():
		default:
			t.Errorf("%s: Done not closed", name)
		}
		if err := refs[i].Err(); !errors.Is(err, ErrStopped) {
			t.Errorf("%s: Err = %v", name, err)
		}
		if _, err := Lookup[a2Msg](sys, name); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: Lookup after Shutdown = %v", name, err)
		}
		launched := ev.count(name, supervisor.EventChildStarted) + ev.count(name, supervisor.EventChildRestarted)
		if got := tr[i].postStops.Load(); got != int64(launched) {
			t.Errorf("iteration %d %v %s: %d PostStops for %d launched incarnations", iter, st, name, got, launched)
		}
		if i%2 == 1 && tr[i].preStarts.Load() != tr[i].postStops.Load() {
			t.Errorf("%s: %d PreStarts, %d PostStops", name, tr[i].preStarts.Load(), tr[i].postStops.Load())
		}
		if tr[i].liveMax.Load() > 1 {
			t.Errorf("%s: %d incarnations alive at once", name, tr[i].liveMax.Load())
		}
		if tr[i].overlap.Load() != 0 {
			t.Errorf("%s: %d Receives overlapped another", name, tr[i].overlap.Load())
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// TestAudit2SpawnNameRace spawns one name from many goroutines at once,
// on the lane (no PreStart) and through the control loop (PreStart): one
// wins, the others are refused with a clear error; once the winner has
// stopped for good (a Temporary actor returning ErrShutdown) the name is
// free again. It catches the spawn path's single lock letting two cells
// claim one name, or a name never released.
func TestAudit2SpawnNameRace(t *testing.T) {
	sys := NewSystem("a2", WithSystemLogger(quiet))
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := sys.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	const racers = 8
	for round := range 60 {
		pre := round%2 == 1
		var tr a2Track
		var wins atomic.Int32
		var winner Ref[a2Msg]
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range racers {
			wg.Go(func() {
				<-start
				ref, err := Spawn(sys.Root(), "x", tr.factory(pre), WithRestart(supervisor.Temporary))
				if err == nil {
					wins.Add(1)
					winner = ref
					return
				}
				if !errors.Is(err, supervisor.ErrAlreadyStarted) && !errors.Is(err, supervisor.ErrAlreadyPresent) &&
					!errors.Is(err, ErrDuplicateName) {
					t.Errorf("round %d: losing Spawn: %v", round, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d spawns of one name won", round, wins.Load())
		}
		a2Ask(t, winner, "winner")
		got, err := Lookup[a2Msg](sys, "x")
		if err != nil || got != winner {
			t.Fatalf("round %d: Lookup = %v, %v; want the winner", round, got, err)
		}
		if err := winner.Send(a2Msg{op: a2Shut}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-winner.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: the temporary actor did not stop", round)
		}
		// Done closes once the actor has stopped for good; the name may
		// be released by the supervisor a moment later, but not never.
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := Lookup[a2Msg](sys, "x"); errors.Is(err, ErrNotFound) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: name still registered after Done", round)
			}
			runtime.Gosched()
		}
		if tr.postStops.Load() != 1 {
			t.Fatalf("round %d: %d PostStops, want 1", round, tr.postStops.Load())
		}
		if tr.overlap.Load() != 0 {
			t.Fatal("Receives overlapped")
		}
	}
}

// TestAudit2NoLostWakeup sends to actors that keep going idle: senders
// that pause (yield) between messages, so each message is likely to meet
// an activation that is just parking, lingering or gone; one actor of
// four crashes on some of its messages. It catches a lost wake-up (a
// message queued while the activation decides to park, never handled), a
// second activation (two Receives at once), and a message handled twice
// or out of order per sender.
func TestAudit2NoLostWakeup(t *testing.T) {
	const (
		actors  = 4
		senders = 3
		each    = 3000
	)
	sup := newSup(t, supervisor.OneForOne, supervisor.WithIntensity(1_000_000, time.Second))
	type msg struct {
		from, seq int
		crash     bool
	}
	var (
		mu      sync.Mutex
		next    [actors][senders]int
		bad     []string
		handled atomic.Int64
		overlap atomic.Int64
		busy    [actors]atomic.Int32
		all     = make(chan struct{})
	)
	total := int64(actors * senders * each)
	refs := make([]Ref[msg], actors)
	for a := range actors {
		f := func() Actor[msg] {
			return Func[msg](func(_ *Context[msg], m msg) error {
				if busy[a].Add(1) != 1 {
					overlap.Add(1)
				}
				defer busy[a].Add(-1)
				mu.Lock()
				if next[a][m.from] != m.seq {
					bad = append(bad, fmt.Sprintf("actor %d sender %d: got %d, want %d", a, m.from, m.seq, next[a][m.from]))
				}
				next[a][m.from] = m.seq + 1
				mu.Unlock()
				if handled.Add(1) == total {
					close(all)
				}
				if m.crash {
					return errBoom // handled, then a crash: the next message goes to the next incarnation
				}
				return nil
			})
		}
		var err error
		if refs[a], err = Spawn(sup, fmt.Sprint("w", a), f); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range each {
				for a := range actors {
					m := msg{from: s, seq: i, crash: a == 0 && i%97 == 13}
					if err := refs[a].Send(m); err != nil {
						t.Errorf("send: %v", err)
						return
					}
				}
				if i%(s+2) == 0 {
					runtime.Gosched() // let the actors drain and go idle
				}
			}
		})
	}
	wg.Wait()
	select {
	case <-all:
	case <-time.After(20 * time.Second):
		t.Fatalf("handled %d of %d messages: a wake-up was lost", handled.Load(), total)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, b := range bad {
		t.Error(b)
	}
	if overlap.Load() != 0 {
		t.Errorf("%d Receives ran beside another of the same actor", overlap.Load())
	}
}

// TestAudit2PingPongThenStop runs two actors that answer each other, the
// pattern whose park/wake the scheduler's linger serves, then crashes one
// while both are idle or lingering, and stops them while they are parked
// or mid-exchange. It catches a lost wake-up in the hand-off (the exchange
// stalls), and a crash or stop that an idle or lingering activation does
// not see.
func TestAudit2PingPongThenStop(t *testing.T) {
	const (
		rounds = 2000
		after  = 1 << 20 // from here on, an exchange that runs until Stop
	)
	for round := range 20 {
		sup := idleSup("pp", supervisor.OneForOne, supervisor.WithIntensity(1000, time.Second))
		if err := sup.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		var pong Ref[int]
		var count atomic.Int64 // messages pong was handed
		ping, err := Spawn(sup, "ping", func() Actor[int] {
			return Func[int](func(_ *Context[int], n int) error {
				switch {
				case n == rounds:
					close(done)
					return nil
				case n < rounds, n >= after:
					return pong.Send(n + 1)
				}
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		pong, err = Spawn(sup, "pong", func() Actor[int] {
			return Func[int](func(_ *Context[int], n int) error {
				count.Add(1)
				switch {
				case n < 0:
					return errBoom
				case n <= rounds, n >= after:
					return ping.Send(n)
				}
				return nil // a lone message: no answer
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := ping.Send(0); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: ping-pong stalled after %d of %d exchanges", round, count.Load(), rounds)
		}
		// Both idle or lingering now: the crash must be seen, and the
		// restarted incarnation must take the message behind it.
		before := count.Load()
		if err := pong.Send(-1); err != nil {
			t.Fatal(err)
		}
		if err := pong.Send(rounds + 1); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for count.Load() < before+2 {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: pong handled %d of the 2 messages after the exchange", round, count.Load()-before)
			}
			runtime.Gosched()
		}
		if round%2 == 0 {
			_ = ping.Send(after) // stop while an exchange runs
		}
		stopped := make(chan error, 1)
		go func() { stopped <- sup.Stop() }()
		select {
		case err := <-stopped:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: Stop hangs", round)
		}
		for _, d := range []<-chan struct{}{ping.Done(), pong.Done()} {
			select {
			case <-d:
			default:
				t.Fatal("Done not closed after Stop")
			}
		}
	}
}

// TestAudit2SpawnsRaceShutdown spawns actors from several goroutines
// while the System shuts down, on the lane (no PreStart) and through the
// control loop (PreStart). A spawn either succeeds, and the actor is then
// stopped for good by the shutdown, or fails; either way nothing is kept:
// no name left registered, every launched incarnation's PostStop run once,
// Done closed for every actor that was spawned, no goroutine left (goleak).
// It catches the spawn path's single lock and the lane's Dispose on stop
// (a spec refused after New ran) leaking a cell, a name or an incarnation.
func TestAudit2SpawnsRaceShutdown(t *testing.T) {
	for round := range 40 {
		sys := NewSystem("a2", WithSystemLogger(quiet))
		if err := sys.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		const spawners, each = 4, 40
		var tr [spawners]a2Track
		var wg sync.WaitGroup
		var okRefs [spawners][]Ref[a2Msg]
		start := make(chan struct{})
		for g := range spawners {
			wg.Go(func() {
				<-start
				for i := range each {
					ref, err := Spawn(sys.Root(), fmt.Sprintf("s%d-%d", g, i), tr[g].factory(g%2 == 1))
					if err != nil {
						if !errors.Is(err, ErrStopped) {
							t.Errorf("spawn during shutdown: %v", err)
						}
						continue
					}
					okRefs[g] = append(okRefs[g], ref)
					_ = ref.Send(a2Msg{op: a2Ping})
				}
			})
		}
		close(start)
		for range round % 9 {
			runtime.Gosched()
		}
		if err := sys.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if names := sys.Names(); len(names) != 0 {
			t.Fatalf("round %d: names still registered after Shutdown: %v", round, names)
		}
		for g := range spawners {
			for _, ref := range okRefs[g] {
				select {
				case <-ref.Done():
				default:
					t.Fatalf("round %d: %s not done after Shutdown", round, ref.Name())
				}
			}
			// Every incarnation launched ended with its PostStop; none is
			// left running.
			if tr[g].postStops.Load() < int64(len(okRefs[g])) {
				t.Fatalf("round %d: %d PostStops for %d spawned actors", round, tr[g].postStops.Load(), len(okRefs[g]))
			}
			if g%2 == 1 && tr[g].preStarts.Load() != tr[g].postStops.Load() {
				t.Fatalf("round %d: %d PreStarts, %d PostStops", round, tr[g].preStarts.Load(), tr[g].postStops.Load())
			}
			if tr[g].live.Load() != 0 && g%2 == 1 {
				t.Fatalf("round %d: %d incarnations still alive", round, tr[g].live.Load())
			}
		}
	}
}

// TestAudit2GroupRestartsWithConcurrentCrashes makes several actors of a
// OneForAll or RestForOne group crash at the same moment, round after
// round, so that crash reports arrive while a group restart is stopping
// and starting their siblings. It catches an exit reported twice or lost
// (an incarnation whose own crash meets the supervisor's stop: exactly one
// end event, one PostStop), two incarnations of one actor alive at once,
// and a group left partly down (every actor must answer after each round).
func TestAudit2GroupRestartsWithConcurrentCrashes(t *testing.T) {
	for _, st := range []supervisor.Strategy{supervisor.OneForAll, supervisor.RestForOne} {
		t.Run(st.String(), func(t *testing.T) {
			ev := newA2Events()
			sys := NewSystem("a2", WithRootStrategy(st), WithSystemLogger(quiet),
				WithSupervisorOptions(supervisor.WithIntensity(1_000_000, time.Second), supervisor.WithEventHandler(ev.handle)))
			if err := sys.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			const n = 24
			var tr [n]a2Track
			var refs [n]Ref[a2Msg]
			for i := range n {
				var err error
				refs[i], err = Spawn(sys.Root(), fmt.Sprint("g", i), tr[i].factory(i%3 != 0))
				if err != nil {
					t.Fatal(err)
				}
			}
			for round := range 12 {
				var wg sync.WaitGroup
				for k := range 3 {
					i := (round*7 + k*5) % n
					op := []int{a2Err, a2Panic, a2Shut}[(round+k)%3]
					wg.Go(func() { _ = refs[i].Send(a2Msg{op: op}) })
				}
				wg.Wait()
				for i := range n {
					a2Ask(t, refs[i], fmt.Sprintf("round %d actor %d", round, i))
				}
			}
			if err := sys.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			ev.check(t)
			for i := range n {
				name := fmt.Sprint("g", i)
				launched := ev.count(name, supervisor.EventChildStarted) + ev.count(name, supervisor.EventChildRestarted)
				ended := ev.count(name, supervisor.EventChildExited) + ev.count(name, supervisor.EventChildFailed) +
					ev.count(name, supervisor.EventChildStopped) + ev.count(name, supervisor.EventChildAbandoned)
				if launched != ended {
					t.Errorf("%s: %d incarnations launched, %d ends reported", name, launched, ended)
				}
				if got := tr[i].postStops.Load(); got != int64(launched) {
					t.Errorf("%s: %d PostStops for %d launched incarnations", name, got, launched)
				}
				if tr[i].liveMax.Load() > 1 || tr[i].overlap.Load() != 0 {
					t.Errorf("%s: %d incarnations alive at once, %d overlapping Receives", name, tr[i].liveMax.Load(), tr[i].overlap.Load())
				}
			}
		})
	}
}

// TestAudit2DynamicAPIOnActors drives one actor, on the lane and through
// the loop, through the dynamic API while messages keep coming:
// TerminateChild (stopped, not for good: messages queue), RestartChild
// (the queue is delivered), a Transient's normal exit then RestartChild,
// and DeleteChild (stopped for good: Done, name released, queued messages
// dead letters). It catches an exit report or Dispose lost or doubled on
// these paths, and a name kept after the spec is gone.
func TestAudit2DynamicAPIOnActors(t *testing.T) {
	for _, pre := range []bool{false, true} {
		ev := newA2Events()
		sys := NewSystem("a2", WithSystemLogger(quiet), WithSupervisorOptions(supervisor.WithEventHandler(ev.handle)))
		if err := sys.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		var tr a2Track
		ref, err := Spawn(sys.Root(), "d", tr.factory(pre), WithRestart(supervisor.Transient))
		if err != nil {
			t.Fatal(err)
		}
		root := sys.Root()
		a2Ask(t, ref, "first")
		if err := root.TerminateChild("d"); err != nil {
			t.Fatal(err)
		}
		reply := make(chan int, 1)
		if err := ref.Send(a2Msg{op: a2Ping, reply: reply}); err != nil {
			t.Fatalf("pre=%v: Send to a terminated (not deleted) actor: %v", pre, err)
		}
		if err := root.RestartChild("d"); err != nil {
			t.Fatal(err)
		}
		a2Wait(t, reply, "the message queued while terminated")
		if err := ref.Send(a2Msg{op: a2Shut}); err != nil {
			t.Fatal(err)
		}
		ev.await(t, "d", supervisor.EventChildExited)
		if err := root.RestartChild("d"); err != nil {
			t.Fatalf("pre=%v: RestartChild after a transient's normal exit: %v", pre, err)
		}
		a2Ask(t, ref, "after the second restart")
		if err := root.TerminateChild("d"); err != nil {
			t.Fatal(err)
		}
		if err := ref.Send(a2Msg{op: a2Ping}); err != nil {
			t.Fatal(err)
		}
		if err := root.DeleteChild("d"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ref.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("pre=%v: Done not closed after DeleteChild", pre)
		}
		if _, err := Lookup[a2Msg](sys, "d"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("pre=%v: Lookup after DeleteChild = %v", pre, err)
		}
		if got := sys.DeadLetters().Count(); got != 1 {
			t.Fatalf("pre=%v: %d dead letters, want 1 (queued at DeleteChild)", pre, got)
		}
		// The name is free again, in the supervisor and in the System.
		ref2, err := Spawn(root, "d", tr.factory(pre))
		if err != nil {
			t.Fatalf("pre=%v: Spawn of a deleted name: %v", pre, err)
		}
		a2Ask(t, ref2, "the new actor of that name")
		if err := sys.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		ev.check(t)
		launched := ev.count("d", supervisor.EventChildStarted) + ev.count("d", supervisor.EventChildRestarted)
		if got := tr.postStops.Load(); got != int64(launched) {
			t.Fatalf("pre=%v: %d PostStops for %d launched incarnations", pre, got, launched)
		}
		if launched != 4 {
			t.Fatalf("pre=%v: %d incarnations launched, want 4", pre, launched)
		}
	}
}

// TestAudit2BlockedSendersMeetCrashesAndStop fills a Bounded(4, Block)
// mailbox from several senders using SendContext with no deadline, while
// the actor crashes now and then (restarted: the mailbox survives) and
// finally its System shuts down, with and without WithDrainOnStop. Every
// SendContext must return (ErrStopped once the actor has stopped for
// good), and every message a SendContext accepted must be handled or be a
// dead letter: nothing lost silently. It catches a Block sender left
// waiting for room that never comes, and a message dropped between the
// mailbox, a crashing incarnation and the stop.
func TestAudit2BlockedSendersMeetCrashesAndStop(t *testing.T) {
	for round := range 20 {
		drain := round%2 == 1
		sys := NewSystem("a2", WithSystemLogger(quiet),
			WithSupervisorOptions(supervisor.WithIntensity(1_000_000, time.Second)))
		if err := sys.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		var handled, crashes, refused atomic.Int64
		opts := []Option{WithMailbox(Bounded(4, Block))}
		if drain {
			opts = append(opts, WithDrainOnStop())
		}
		ref, err := Spawn(sys.Root(), "b", func() Actor[int] {
			return Func[int](func(_ *Context[int], n int) error {
				handled.Add(1)
				if n%13 == 0 {
					crashes.Add(1)
					return errBoom // handled (counted), and a dead letter
				}
				runtime.Gosched()
				return nil
			})
		}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		var accepted atomic.Int64
		var wg sync.WaitGroup
		for s := range 3 {
			wg.Go(func() {
				for i := 1; ; i++ {
					err := ref.SendContext(context.Background(), s*1_000_000+i)
					if err != nil {
						if !errors.Is(err, ErrStopped) {
							t.Errorf("SendContext: %v", err)
						}
						refused.Add(1) // a dead letter too
						return
					}
					accepted.Add(1)
				}
			})
		}
		for handled.Load() < int64(20+round) {
			runtime.Gosched()
		}
		if err := sys.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		sent := make(chan struct{})
		go func() { wg.Wait(); close(sent) }()
		select {
		case <-sent:
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: a Block sender still waits after Shutdown", round)
		}
		// Each message went one way: handled, or a dead letter, or both
		// when its Receive crashed; a refused send is a dead letter too.
		dead := int64(sys.DeadLetters().Count())
		if handled.Load()+dead-crashes.Load() != accepted.Load()+refused.Load() {
			t.Fatalf("round %d drain=%v: %d accepted + %d refused, but %d handled + %d dead letters - %d crashes",
				round, drain, accepted.Load(), refused.Load(), handled.Load(), dead, crashes.Load())
		}
	}
}
