package supervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// victimMode says how a victim's incarnations end once stopped.
type victimMode struct {
	kill        bool          // implements Killer
	afterCancel time.Duration // ends this long after its ctx is cancelled; <0: not on its own
	afterKill   time.Duration // ends this long after Kill; <0: not even then
}

// victims makes the incarnations of one child and records their lives,
// with times relative to t0, in one journal.
type victims struct {
	mode    victimMode
	t0      time.Time
	release chan struct{} // closed: every incarnation still running ends
	starts  chan int      // incarnation numbers, as they start serving

	mu            sync.Mutex
	n, live, peak int
	kills         int
	log           []string
}

func newVictims(mode victimMode) *victims {
	return &victims{mode: mode, t0: time.Now(), release: make(chan struct{}), starts: make(chan int, 16)}
}

func (vs *victims) add(format string, args ...any) {
	vs.log = append(vs.log, fmt.Sprintf(format, args...)+" @"+time.Since(vs.t0).String())
}

// mark starts the journal afresh, with times from now.
func (vs *victims) mark() {
	vs.mu.Lock()
	vs.t0, vs.log = time.Now(), nil
	vs.mu.Unlock()
}

func (vs *victims) journal() []string {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	return slices.Clone(vs.log)
}

func (vs *victims) newChild() Child {
	vs.mu.Lock()
	vs.n++
	v := &victim{vs: vs, n: vs.n, killed: make(chan struct{})}
	vs.mu.Unlock()
	if vs.mode.kill {
		return &killableVictim{v}
	}
	return v
}

type victim struct {
	vs     *victims
	n      int
	ctx    context.Context // guarded by vs.mu
	killed chan struct{}
}

// killableVictim is a victim with Kill.
type killableVictim struct{ *victim }

func (v *killableVictim) Kill() {
	vs := v.vs
	vs.mu.Lock()
	vs.kills++
	vs.add("kill %d cancelled=%v", v.n, v.ctx != nil && v.ctx.Err() != nil)
	vs.mu.Unlock()
	select {
	case <-v.killed:
	default:
		close(v.killed)
	}
}

func (v *victim) Serve(ctx context.Context) error {
	vs := v.vs
	vs.mu.Lock()
	v.ctx = ctx
	vs.live++
	vs.peak = max(vs.peak, vs.live)
	vs.add("start %d", v.n)
	vs.mu.Unlock()
	vs.starts <- v.n
	defer func() {
		vs.mu.Lock()
		vs.live--
		vs.add("end %d", v.n)
		vs.mu.Unlock()
	}()
	select {
	case <-ctx.Done():
	case <-v.killed:
	}
	var onItsOwn <-chan time.Time
	if vs.mode.afterCancel >= 0 {
		onItsOwn = time.After(vs.mode.afterCancel)
	}
	select {
	case <-onItsOwn:
	case <-vs.release:
	case <-v.killed:
		if vs.mode.afterKill < 0 {
			<-vs.release
		} else {
			time.Sleep(vs.mode.afterKill)
		}
	}
	return nil
}

// killCase is one shutdown policy against one kind of child, with what a
// stop of its first incarnation must do, from the moment the stop begins.
type killCase struct {
	name  string
	pol   ShutdownPolicy
	mode  victimMode
	took  time.Duration // until the stop returns (TerminateChild, a bystander's stop)
	clear time.Duration // until the first incarnation has ended or been abandoned: the next may start
	stop  EventKind     // what the stop reports
	late  bool          // reported abandoned only when the supervisor gives up waiting for it
	log   []string      // the victim's journal until the next incarnation starts
}

const (
	hour   = time.Hour
	grace  = 2 * time.Second
	dying  = 100 * time.Millisecond
	never  = -1
	stuck  = -1 // afterCancel: ignores its ctx
	inTime = 0
)

var killCases = []killCase{
	{"Graceful/NoKill", Graceful(grace), victimMode{afterCancel: stuck}, grace, grace,
		EventChildAbandoned, false, nil},
	{"Graceful/KillEnds", Graceful(grace), victimMode{kill: true, afterCancel: stuck, afterKill: dying}, grace + dying, grace + dying,
		EventChildStopped, false, []string{"kill 1 cancelled=true @2s", "end 1 @2.1s"}},
	{"Graceful/KillIgnored", Graceful(grace), victimMode{kill: true, afterCancel: stuck, afterKill: never}, grace + KillTimeout, grace + KillTimeout,
		EventChildAbandoned, false, []string{"kill 1 cancelled=true @2s"}},
	{"Graceful/KillNotNeeded", Graceful(grace), victimMode{kill: true, afterCancel: inTime}, 0, 0,
		EventChildStopped, false, []string{"end 1 @0s"}},
	{"BrutalKill/NoKill", BrutalKill, victimMode{afterCancel: stuck}, 0, KillTimeout,
		EventChildStopped, true, nil},
	{"BrutalKill/NoKillSlow", BrutalKill, victimMode{afterCancel: time.Second}, 0, time.Second,
		EventChildStopped, false, []string{"end 1 @1s"}},
	{"BrutalKill/NoKillPrompt", BrutalKill, victimMode{afterCancel: inTime}, 0, 0,
		EventChildStopped, false, []string{"end 1 @0s"}},
	{"BrutalKill/KillEnds", BrutalKill, victimMode{kill: true, afterCancel: stuck, afterKill: dying}, dying, dying,
		EventChildStopped, false, []string{"kill 1 cancelled=false @0s", "end 1 @100ms"}},
	{"BrutalKill/KillIgnored", BrutalKill, victimMode{kill: true, afterCancel: stuck, afterKill: never}, KillTimeout, KillTimeout,
		EventChildAbandoned, false, []string{"kill 1 cancelled=false @0s"}},
	{"Infinity/NoKill", Infinity, victimMode{afterCancel: stuck}, hour, hour,
		EventChildStopped, false, []string{"end 1 @1h0m0s"}},
	{"Infinity/Kill", Infinity, victimMode{kill: true, afterCancel: stuck, afterKill: dying}, hour, hour,
		EventChildStopped, false, []string{"end 1 @1h0m0s"}},
}

func (kc killCase) abandoned() bool { return kc.stop == EventChildAbandoned || kc.late }

// stopKinds are v's events from the stop until the next incarnation may
// start.
func (kc killCase) stopKinds() []EventKind {
	kinds := []EventKind{kc.stop}
	if kc.late {
		kinds = append(kinds, EventChildAbandoned)
	}
	return kinds
}

// killRig runs the victim "v" (and a sibling "f" that fails on demand)
// under a supervisor, and checks what a case promises.
type killRig struct {
	t  *testing.T
	kc killCase
	vs *victims
	r  *rig
	ev eventLog
	s  *Supervisor
}

// newKillRig starts a supervisor with children named in order; "v" is the
// victim, any other name a rig worker. The victim's incarnations end an
// hour in, if nothing ended them before: Infinity's stop returns then.
func newKillRig(t *testing.T, kc killCase, strategy Strategy, order ...string) *killRig {
	k := &killRig{t: t, kc: kc, vs: newVictims(kc.mode), r: newRig()}
	k.s = New("root", strategy, Permanent, quiet, WithEventHandler(k.ev.handler))
	for _, name := range order {
		spec := k.r.spec(name, Permanent)
		if name == "v" {
			spec = Spec{Name: "v", Shutdown: kc.pol, New: k.vs.newChild}
		}
		if err := k.s.StartChild(spec); err != nil {
			t.Fatal(err)
		}
	}
	mustStart(t, k.s)
	<-k.vs.starts
	time.AfterFunc(hour, k.releaseAll)
	synctest.Wait()
	k.ev.mu.Lock()
	k.ev.ev = nil
	k.ev.mu.Unlock()
	k.vs.mark()
	return k
}

func (k *killRig) releaseAll() {
	select {
	case <-k.vs.release:
	default:
		close(k.vs.release)
	}
}

// since checks how long an operation took.
func (k *killRig) since(op string, t0 time.Time, want time.Duration) {
	k.t.Helper()
	if got := time.Since(t0); got != want {
		k.t.Errorf("%s took %v, want %v", op, got, want)
	}
}

// check compares the victim's journal and events with the case, plus what
// followed them.
func (k *killRig) check(moreLog []string, moreKinds ...EventKind) {
	k.t.Helper()
	synctest.Wait()
	wantLog := append(slices.Clone(k.kc.log), moreLog...)
	if got := k.vs.journal(); !slices.Equal(got, wantLog) {
		k.t.Errorf("journal\n got  %q\n want %q", got, wantLog)
	}
	wantKinds := append(k.kc.stopKinds(), moreKinds...)
	if got := k.ev.kinds("v"); !slices.Equal(got, wantKinds) {
		k.t.Errorf("events of v %v, want %v", got, wantKinds)
	}
	k.vs.mu.Lock()
	peak, kills := k.vs.peak, k.vs.kills
	k.vs.mu.Unlock()
	if peak > 1 && !k.kc.abandoned() {
		k.t.Errorf("%d incarnations ran at once, and none was reported abandoned", peak)
	}
	if kills > 1 {
		k.t.Errorf("Kill called %d times", kills)
	}
}

// finish lets any incarnation still running end, and stops the supervisor.
func (k *killRig) finish() {
	k.t.Helper()
	k.releaseAll()
	synctest.Wait()
	mustStop(k.t, k.s)
}

func startedAt(d time.Duration) []string { return []string{"start 2 @" + d.String()} }

// TerminateChild stops the victim per its policy; RestartChild right after
// starts the next incarnation only once the first has ended or been
// reported abandoned.
func TestKillerTerminateThenRestart(t *testing.T) {
	for _, kc := range killCases {
		t.Run(kc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				k := newKillRig(t, kc, OneForOne, "v")
				t0 := time.Now()
				if err := k.s.TerminateChild("v"); err != nil {
					t.Fatal(err)
				}
				k.since("TerminateChild", t0, kc.took)
				if err := k.s.RestartChild("v"); err != nil {
					t.Fatal(err)
				}
				k.since("TerminateChild+RestartChild", t0, kc.clear)
				k.check(startedAt(kc.clear), EventChildStarted)
				k.finish()
			})
		})
	}
}

// Stop returns once every incarnation has ended or been reported
// abandoned: no goroutine outlives it unreported.
func TestKillerStop(t *testing.T) {
	for _, kc := range killCases {
		t.Run(kc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				k := newKillRig(t, kc, OneForOne, "v")
				t0 := time.Now()
				mustStop(t, k.s)
				k.since("Stop", t0, kc.clear)
				k.check(nil)
				k.releaseAll()
			})
		})
	}
}

// A bystander of a group restart is stopped per its policy, and its next
// incarnation starts only once the old one has ended or been reported
// abandoned.
func TestKillerGroupRestartBystander(t *testing.T) {
	for _, strategy := range []Strategy{OneForAll, RestForOne} {
		for _, kc := range killCases {
			t.Run(strategy.String()+"/"+kc.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					order := []string{"v", "f"}
					if strategy == RestForOne {
						order = []string{"f", "v"}
					}
					k := newKillRig(t, kc, strategy, order...)
					t0 := time.Now()
					k.r.crash("f", errBoom)
					if n := <-k.vs.starts; n != 2 {
						t.Fatalf("incarnation %d started", n)
					}
					k.since("restart", t0, kc.clear)
					k.check(startedAt(kc.clear), EventChildRestarted)
					k.finish()
				})
			})
		}
	}
}

// A Kill that panics neither crashes the supervisor nor goes unreported:
// the stop's event carries the panic.
func TestKillerPanicIsReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ev eventLog
		s := New("root", OneForOne, Permanent, quiet, WithEventHandler(ev.handler))
		if err := s.StartChild(Spec{Name: "p", Shutdown: BrutalKill, New: func() Child { return panickyKiller{} }}); err != nil {
			t.Fatal(err)
		}
		mustStart(t, s)
		if err := s.TerminateChild("p"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		e, ok := ev.find(EventChildStopped)
		var pe *PanicError
		if !ok || !errors.As(e.Err, &pe) || pe.Value != "kill failed" {
			t.Fatalf("stop event %+v", e)
		}
		mustStop(t, s)
	})
}

type panickyKiller struct{}

func (panickyKiller) Serve(ctx context.Context) error { <-ctx.Done(); return nil }
func (panickyKiller) Kill()                           { panic("kill failed") }

// A BrutalKill'd child without Kill that ignored its cancellation used to
// outlive Stop silently: Stop now waits up to KillTimeout and reports it.
func TestRegressionBrutalKillStragglerReportedAtStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ev eventLog
		release := make(chan struct{})
		s := New("root", OneForOne, Permanent, quiet, WithEventHandler(ev.handler))
		err := s.Child("straggler").ShutdownPolicy(BrutalKill).Spawn(ChildFunc(func(ctx context.Context) error {
			<-ctx.Done()
			<-release
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		mustStart(t, s)
		t0 := time.Now()
		mustStop(t, s)
		if d := time.Since(t0); d != KillTimeout {
			t.Errorf("Stop took %v, want %v", d, KillTimeout)
		}
		if kinds := ev.kinds("straggler"); !slices.Equal(kinds, []EventKind{EventChildStarted, EventChildStopped, EventChildAbandoned}) {
			t.Errorf("events %v", kinds)
		}
		close(release)
	})
}
