package actor

// Adversarial tests of the mailbox's fast paths (mailbox.go: the unbounded
// inbox's segment reuse, the bounded ring) through real actors: many
// senders, bursts, a consumer that crashes and is restarted, a stop while
// senders run. What they check is what a user relies on: nothing lost or
// duplicated, FIFO per sender, the counters exact once quiet.

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/airssys/rt/internal/hook"
	"github.com/airssys/rt/supervisor"
)

// seqLog records, per sender, the sequence numbers an actor was handed.
type seqLog struct {
	mu   sync.Mutex
	seqs [][]int
	all  chan struct{}
	want int
	n    int
}

func newSeqLog(senders, total int) *seqLog {
	return &seqLog{seqs: make([][]int, senders), all: make(chan struct{}), want: total}
}

func (l *seqLog) add(m [2]int) {
	l.mu.Lock()
	l.seqs[m[0]] = append(l.seqs[m[0]], m[1])
	l.n++
	if l.n == l.want {
		close(l.all)
	}
	l.mu.Unlock()
}

// wait waits for the expected number of messages; the bound only turns a
// hang into a failure.
func (l *seqLog) wait(t *testing.T) {
	t.Helper()
	select {
	case <-l.all:
	case <-time.After(20 * time.Second):
		l.mu.Lock()
		defer l.mu.Unlock()
		t.Fatalf("handed %d messages of %d", l.n, l.want)
	}
}

// inOrder checks that sender p's messages came in order, without gaps or
// repeats, where kept(p, i) says whether message i should have come.
func (l *seqLog) inOrder(t *testing.T, each int, kept func(p, i int) bool) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for p, got := range l.seqs {
		k := 0
		for i := range each {
			if !kept(p, i) {
				continue
			}
			if k >= len(got) || got[k] != i {
				have := "nothing"
				if k < len(got) {
					have = fmt.Sprint(got[k])
				}
				t.Fatalf("sender %d: message %d of its kept ones is %s, want %d", p, k, have, i)
			}
			k++
		}
		if k != len(got) {
			t.Fatalf("sender %d: %d messages handed, want %d", p, len(got), k)
		}
	}
}

// TestUnboundedMailboxCrashingConsumer sends from several goroutines, in
// bursts, to an unbounded actor that crashes (by error and by panic) on
// some messages: each restart puts the batch in hand back at the head of
// the inbox, whose segments are reused meanwhile. Every message reaches
// an incarnation exactly once, in order per sender; the crashing ones are
// dead letters, and the counters add up once quiet. It would catch a
// segment reused while a sender or the consumer can still reach it, a
// stamp mistaken for a written slot, and a put-back that reorders.
func TestUnboundedMailboxCrashingConsumer(t *testing.T) {
	for round := range 4 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			senders, each := 4, 6000
			if round == 3 {
				// More senders than threads, and threads than processors:
				// senders are preempted between claiming a slot and
				// writing it, while the consumer reclaims segments.
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(8))
				senders, each = 16, 1500
			}
			crashes := func(p, i int) bool { return (i+p+round)%97 == 13 }
			panics := func(p, i int) bool { return (i+p+round)%193 == 50 }
			sup := newSup(t, supervisor.OneForOne, supervisor.WithIntensity(1<<30, time.Second))
			log := newSeqLog(senders, senders*each)
			ref, err := Spawn(sup, "sink", func() Actor[[2]int] {
				return Func[[2]int](func(_ *Context[[2]int], m [2]int) error {
					log.add(m)
					if panics(m[0], m[1]) {
						panic("audit")
					}
					if crashes(m[0], m[1]) {
						return errBoom
					}
					return nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for p := range senders {
				wg.Go(func() {
					for i := range each {
						if err := ref.Send([2]int{p, i}); err != nil {
							t.Errorf("Send: %v", err)
							return
						}
						if i%(50+p*37) == 0 {
							runtime.Gosched() // bursts of different lengths
						}
					}
				})
			}
			wg.Wait()
			log.wait(t)
			log.inOrder(t, each, func(int, int) bool { return true })
			dead := 0
			for p := range senders {
				for i := range each {
					if crashes(p, i) || panics(p, i) {
						dead++
					}
				}
			}
			// The log saw the last message inside Receive; it counts as
			// processed (or, crashing, as a dead letter) only once Receive
			// has returned, a moment later.
			st := ref.Stats()
			for deadline := time.Now().Add(10 * time.Second); st.Processed+st.DeadLetters < uint64(senders*each) && time.Now().Before(deadline); st = ref.Stats() {
				time.Sleep(time.Millisecond)
			}
			if st.MailboxLen != 0 || st.Processed+st.DeadLetters != uint64(senders*each) || int(st.DeadLetters) != dead {
				t.Fatalf("stats %+v, want %d processed and %d dead letters", st, senders*each-dead, dead)
			}
		})
	}
}

// TestBoundedPoliciesWithManySenders drives each overflow policy of a
// small bounded mailbox from several senders at once, with a slow
// consumer: Block delivers everything, Fail and DropNewest lose exactly
// the messages they say they lose, DropOldest keeps the newest; in every
// case what arrives is in order per sender, and sent = processed + dead
// letters + refused.
func TestBoundedPoliciesWithManySenders(t *testing.T) {
	for _, policy := range []Overflow{Block, DropNewest, DropOldest, Fail} {
		t.Run(policy.String(), func(t *testing.T) {
			const senders, each = 4, 3000
			sup := newSup(t, supervisor.OneForOne)
			var mu sync.Mutex
			seqs := make([][]int, senders)
			ref, err := Spawn(sup, "sink", func() Actor[[2]int] {
				return Func[[2]int](func(_ *Context[[2]int], m [2]int) error {
					mu.Lock()
					seqs[m[0]] = append(seqs[m[0]], m[1])
					mu.Unlock()
					if m[1]%64 == 0 {
						runtime.Gosched() // slow now and then: the box fills
					}
					return nil
				})
			}, WithMailbox(Bounded(8, policy)))
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			refused := make([]int, senders)
			for p := range senders {
				wg.Go(func() {
					for i := range each {
						err := ref.Send([2]int{p, i})
						switch {
						case err == nil:
						case policy == Fail && errors.Is(err, ErrMailboxFull):
							refused[p]++
						default:
							t.Errorf("Send under %v: %v", policy, err)
							return
						}
					}
				})
			}
			wg.Wait()
			sent := uint64(senders * each)
			var st Stats
			// Wait for the consumer to drain: it is not blocked. A deadline,
			// not a count of sleeps: a starved machine stretches the drain.
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				st = ref.Stats()
				if st.MailboxLen == 0 && !st.Running || st.Processed+st.DeadLetters+uint64(sum(refused)) == sent {
					break
				}
			}
			total := 0
			mu.Lock()
			for p, got := range seqs {
				for k := 1; k < len(got); k++ {
					if got[k] <= got[k-1] {
						t.Fatalf("sender %d: %d after %d", p, got[k], got[k-1])
					}
				}
				total += len(got)
			}
			mu.Unlock()
			if st.Processed != uint64(total) || st.Processed+st.DeadLetters+uint64(sum(refused)) != sent || st.MailboxLen != 0 {
				t.Fatalf("stats %+v, refused %d, handed %d, sent %d", st, sum(refused), total, sent)
			}
			if policy == Block && total != int(sent) {
				t.Fatalf("Block delivered %d of %d", total, sent)
			}
		})
	}
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// TestStopWhileSendersRun stops an unbounded actor for good while several
// senders send to it: every Send that succeeded is either handled or a
// dead letter, never both and never neither, and what was handled is in
// order per sender. It would catch a message stranded in a reused
// segment, or counted twice, by the drain at stop.
func TestStopWhileSendersRun(t *testing.T) {
	for round := range 5 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			const senders, each = 4, 4000
			sup := newSup(t, supervisor.OneForOne)
			var mu sync.Mutex
			seqs := make([][]int, senders)
			ref, err := Spawn(sup, "sink", func() Actor[[2]int] {
				return Func[[2]int](func(_ *Context[[2]int], m [2]int) error {
					mu.Lock()
					seqs[m[0]] = append(seqs[m[0]], m[1])
					mu.Unlock()
					return nil
				})
			}, WithRestart(supervisor.Temporary))
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			accepted := make([]int, senders)
			for p := range senders {
				wg.Go(func() {
					for i := range each {
						if err := ref.Send([2]int{p, i}); err == nil {
							accepted[p]++
						} else if !errors.Is(err, ErrStopped) {
							t.Errorf("Send: %v", err)
						}
						if i == 1000*(round%4)+p {
							runtime.Gosched()
						}
					}
				})
			}
			for range 200 * round {
				runtime.Gosched()
			}
			if err := sup.TerminateChild("sink"); err != nil && !errors.Is(err, supervisor.ErrNotFound) {
				t.Fatal(err)
			}
			wg.Wait()
			<-ref.Done()
			st := ref.Stats()
			mu.Lock()
			total := 0
			for p, got := range seqs {
				for k := 1; k < len(got); k++ {
					if got[k] <= got[k-1] {
						t.Fatalf("sender %d: %d after %d", p, got[k], got[k-1])
					}
				}
				total += len(got)
			}
			mu.Unlock()
			// A Send refused with ErrStopped is a dead letter too (Send's
			// doc): every message sent is handled or a dead letter.
			if st.Processed != uint64(total) || st.Processed+st.DeadLetters != senders*each || total > sum(accepted) {
				t.Fatalf("stats %+v, handed %d, accepted %d", st, total, sum(accepted))
			}
		})
	}
}

// TestObserverCannotStopAnActorThroughItsInstance: StopInline (the stop
// request a supervisor delivers when it cancels an incarnation, see
// supervisor.ChildInfo.Instance) is out of reach of code outside this
// module, which cannot name its hook.Token; and called on a running
// actor's instance from inside it, it does nothing: the actor keeps
// running and handling messages, and a real stop afterwards still stops
// it.
func TestObserverCannotStopAnActorThroughItsInstance(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne)
	got := make(chan int, 4)
	ref, err := Spawn(sup, "a", func() Actor[int] {
		return Func[int](func(_ *Context[int], m int) error { got <- m; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = ref.Send(1)
	<-got
	var stopped bool
	for _, ci := range sup.WhichChildren() {
		if _, ok := ci.Instance.(interface{ StopInline() }); ok {
			t.Fatal("an actor's instance has a StopInline that code outside the module can call")
		}
		if s, ok := ci.Instance.(interface{ StopInline(hook.Token) }); ok {
			s.StopInline(hook.Token{})
			stopped = true
		}
	}
	if !stopped {
		t.Fatal("no instance with StopInline: the test no longer tests anything")
	}
	_ = ref.Send(2)
	if m := <-got; m != 2 {
		t.Fatalf("got %d", m)
	}
	if st := ref.Stats(); !st.Running || st.Stopped {
		t.Fatalf("stats %+v after an observer's StopInline", st)
	}
	if err := sup.TerminateChild("a"); err != nil {
		t.Fatal(err)
	}
	if st := ref.Stats(); st.Running {
		t.Fatalf("stats %+v after TerminateChild", st)
	}
}

// TestStopRequestRacesOwnCrash terminates an actor while it crashes on a
// message of its own, then restarts it, over and over: the stop request
// (the first incarnation's, inside the cell, and later ones) meets an
// incarnation that may be ending on its own. Every message is handled or
// a dead letter, TerminateChild and RestartChild give their documented
// answers, and the actor ends stopped.
func TestStopRequestRacesOwnCrash(t *testing.T) {
	sup := newSup(t, supervisor.OneForOne, supervisor.WithIntensity(1<<30, time.Second))
	ref, err := Spawn(sup, "a", func() Actor[int] {
		return Func[int](func(_ *Context[int], m int) error {
			if m%2 == 1 {
				return errBoom
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 300
	sent := 0
	for i := range rounds {
		for k := range 3 {
			if err := ref.Send(2*i + k%2); err == nil {
				sent++
			}
		}
		if i%3 == 0 {
			runtime.Gosched()
		}
		if err := sup.TerminateChild("a"); err != nil {
			t.Fatalf("round %d: TerminateChild = %v", i, err)
		}
		if st := ref.Stats(); st.Running {
			t.Fatalf("round %d: running after TerminateChild: %+v", i, st)
		}
		if err := sup.RestartChild("a"); err != nil {
			t.Fatalf("round %d: RestartChild = %v", i, err)
		}
	}
	if err := sup.TerminateChild("a"); err != nil {
		t.Fatal(err)
	}
	st := ref.Stats()
	if st.Running || st.MailboxLen+int(st.Processed)+int(st.DeadLetters) != sent {
		t.Fatalf("stats %+v, sent %d", st, sent)
	}
}
