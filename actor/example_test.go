package actor_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/supervisor"
)

var quiet = slog.New(slog.DiscardHandler)

// A counter actor: its state is a field, and it crashes on a bad message.
// The restarted counter is a fresh value, and the messages queued behind
// the bad one reach it.
type Counter struct{ n int }

func (c *Counter) Receive(_ *actor.Context[int], delta int) error {
	if delta < 0 {
		return errors.New("negative delta")
	}
	c.n += delta
	fmt.Println("count", c.n)
	return nil
}

func Example() {
	sup := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent, supervisor.WithLogger(quiet))
	counter, err := actor.Spawn(sup, "counter", func() actor.Actor[int] { return &Counter{} })
	if err != nil {
		panic(err)
	}
	for _, d := range []int{1, 2, -1, 5} {
		_ = counter.Send(d) // queued until the supervisor starts
	}
	_ = sup.Start(context.Background())
	_ = counter.Send(0) // goes behind the others
	for counter.Stats().Processed < 4 {
		time.Sleep(time.Millisecond)
	}
	_ = sup.Stop()
	<-counter.Done()
	fmt.Println(counter.Err())
	// Output:
	// count 1
	// count 3
	// count 5
	// count 5
	// actor "counter": stopped
}

// Func adapts a function; Spec places the actor under any supervisor.
func ExampleSpec() {
	done := make(chan struct{})
	spec, greeter := actor.Spec("greeter", func() actor.Actor[string] {
		return actor.Func[string](func(ctx *actor.Context[string], name string) error {
			fmt.Printf("%s greets %s\n", ctx.Name(), name)
			close(done)
			return nil
		})
	}, actor.WithRestart(supervisor.Transient))
	sup := supervisor.New("root", supervisor.OneForAll, supervisor.Permanent)
	_ = sup.StartChild(spec)
	_ = sup.Start(context.Background())
	defer sup.Stop()
	_ = greeter.Send("Ada")
	<-done
	// Output: greeter greets Ada
}

// A request/reply protocol: the request carries a Reply, Ask waits for it.
type AccountMsg interface{ accountMsg() }

type Deposit struct{ Amount int }

type Balance struct{ Reply actor.Reply[int] }

func (Deposit) accountMsg() {}
func (Balance) accountMsg() {}

type Account struct{ balance int }

func (a *Account) Receive(_ *actor.Context[AccountMsg], m AccountMsg) error {
	switch m := m.(type) {
	case Deposit:
		a.balance += m.Amount
	case Balance:
		m.Reply.Send(a.balance)
	}
	return nil
}

func ExampleAsk() {
	sup := supervisor.New("bank", supervisor.OneForOne, supervisor.Permanent)
	_ = sup.Start(context.Background())
	defer sup.Stop()
	acct, _ := actor.Spawn(sup, "acct", func() actor.Actor[AccountMsg] { return &Account{} })
	_ = acct.Send(Deposit{Amount: 30})
	_ = acct.Send(Deposit{Amount: 12})

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	balance, err := actor.Ask(ctx, acct, func(r actor.Reply[int]) AccountMsg { return Balance{Reply: r} })
	fmt.Println(balance, err)
	// Output: 42 <nil>
}

// Ask fails at once when the request is lost, here because the actor
// crashes on it, instead of waiting for its deadline: the error wraps the
// crash, and the supervisor restarts the actor as usual.
func ExampleAsk_crash() {
	sup := supervisor.New("bank", supervisor.OneForOne, supervisor.Permanent, supervisor.WithLogger(quiet))
	_ = sup.Start(context.Background())
	defer sup.Stop()
	errNoLedger := errors.New("ledger unavailable")
	acct, _ := actor.Spawn(sup, "acct", func() actor.Actor[AccountMsg] {
		return actor.Func[AccountMsg](func(_ *actor.Context[AccountMsg], m AccountMsg) error {
			return errNoLedger // a crash, before any answer
		})
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	_, err := actor.Ask(ctx, acct, func(r actor.Reply[int]) AccountMsg { return Balance{Reply: r} })
	fmt.Println(err)
	fmt.Println(errors.Is(err, actor.ErrNoReply), errors.Is(err, errNoLedger), errors.Is(err, context.DeadlineExceeded))
	// Output:
	// actor "acct": ask: request lost: actor ended without replying: ledger unavailable
	// true true false
}

// A System registers actors by name and collects their dead letters.
func ExampleSystem() {
	sys := actor.NewSystem("app", actor.WithSystemLogger(quiet))
	_, _ = actor.SpawnIn(sys, "acct", func() actor.Actor[AccountMsg] { return &Account{} })
	_ = sys.Start(context.Background())

	acct, err := actor.Lookup[AccountMsg](sys, "acct")
	fmt.Println(acct, err)
	_, err = actor.Lookup[string](sys, "acct")
	fmt.Println(errors.Is(err, actor.ErrWrongType))
	_, err = actor.Lookup[AccountMsg](sys, "nobody")
	fmt.Println(errors.Is(err, actor.ErrNotFound))

	fmt.Println(sys.Shutdown(context.Background()))
	_, err = actor.Lookup[AccountMsg](sys, "acct")
	fmt.Println(errors.Is(err, actor.ErrNotFound))
	// Output:
	// actor(acct) <nil>
	// true
	// true
	// <nil>
	// true
}

// An actor belongs to the System whose tree it is spawned into, however
// deep: no option needed. Lookup finds it, and a name is unique in the
// whole tree.
func ExampleSystem_tree() {
	sys := actor.NewSystem("app", actor.WithSystemLogger(quiet))
	accounts := supervisor.New("accounts", supervisor.OneForOne, supervisor.Permanent)
	_ = sys.Root().AddSupervisor(accounts)
	_, _ = actor.Spawn(accounts, "acct", func() actor.Actor[AccountMsg] { return &Account{} })
	_ = sys.Start(context.Background())
	defer sys.Shutdown(context.Background())

	acct, err := actor.Lookup[AccountMsg](sys, "acct")
	fmt.Println(acct, err)
	_, err = actor.Spawn(sys.Root(), "acct", func() actor.Actor[AccountMsg] { return &Account{} })
	fmt.Println(errors.Is(err, actor.ErrDuplicateName))
	// Output:
	// actor(acct) <nil>
	// true
}

// A bounded mailbox that keeps the newest messages: dropped ones become
// dead letters.
func ExampleBounded() {
	sys := actor.NewSystem("app", actor.WithSystemLogger(quiet))
	dropped := make(chan actor.DeadLetter, 10)
	cancel := sys.DeadLetters().Subscribe(func(dl actor.DeadLetter) { dropped <- dl })
	defer cancel()

	busy := make(chan struct{})
	ticks, _ := actor.SpawnIn(sys, "ticks", func() actor.Actor[int] {
		return actor.Func[int](func(_ *actor.Context[int], tick int) error {
			<-busy // slow consumer
			return nil
		})
	}, actor.WithMailbox(actor.Bounded(2, actor.DropOldest)))
	_ = sys.Start(context.Background())
	defer sys.Shutdown(context.Background())

	for tick := range 5 {
		_ = ticks.Send(tick)
		if tick == 0 {
			for ticks.Stats().MailboxLen > 0 { // wait until 0 is in Receive
				time.Sleep(time.Millisecond)
			}
		}
	}
	for range 2 {
		dl := <-dropped
		fmt.Println("dropped", dl.Message, errors.Is(dl.Reason, actor.ErrMailboxFull))
	}
	fmt.Println("queued", ticks.Stats().MailboxLen)
	close(busy)
	// Output:
	// dropped 1 true
	// dropped 2 true
	// queued 2
}

// Watch tells once when an actor stops for good, not when it restarts.
func ExampleRef_Watch() {
	sup := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent, supervisor.WithLogger(quiet))
	_ = sup.Start(context.Background())
	defer sup.Stop()
	job, _ := actor.Spawn(sup, "job", func() actor.Actor[string] {
		return actor.Func[string](func(_ *actor.Context[string], m string) error {
			return errors.New("failed on " + m)
		})
	}, actor.WithRestart(supervisor.Temporary))
	stopped := make(chan error)
	job.Watch(func(reason error) { stopped <- reason })
	_ = job.Send("input")
	fmt.Println(<-stopped)
	// Output: actor "job": stopped: failed on input
}

// Monitor delivers the news as a message to another actor.
func ExampleMonitor() {
	sup := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent)
	_ = sup.Start(context.Background())
	defer sup.Stop()
	done := make(chan struct{})
	watcher, _ := actor.Spawn(sup, "watcher", func() actor.Actor[string] {
		return actor.Func[string](func(_ *actor.Context[string], m string) error {
			fmt.Println(m)
			close(done)
			return nil
		})
	})
	worker, _ := actor.Spawn(sup, "worker", func() actor.Actor[int] {
		return actor.Func[int](func(*actor.Context[int], int) error { return supervisor.ErrShutdown })
	}, actor.WithRestart(supervisor.Transient))
	actor.Monitor(watcher, worker, func(reason error) string { return "worker down: " + reason.Error() })
	_ = worker.Send(1) // it stops itself; Transient: not restarted, but its spec stays
	_ = sup.TerminateChild("worker")
	_ = sup.DeleteChild("worker") // now it is gone for good
	<-done
	// Output: worker down: actor "worker": stopped
}

// Hooks: PreStart before the first message of each incarnation, PostStop
// after its last.
type Conn struct{ id int }

var conns int

func (c *Conn) PreStart(ctx *actor.Context[string]) error {
	conns++
	c.id = conns
	fmt.Println("open", c.id)
	return nil
}

func (c *Conn) Receive(_ *actor.Context[string], q string) error {
	if q == "bad" {
		return errors.New("protocol error")
	}
	fmt.Println("query", q, "on", c.id)
	return nil
}

func (c *Conn) PostStop(*actor.Context[string]) { fmt.Println("close", c.id) }

func ExamplePreStarter() {
	sup := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent, supervisor.WithLogger(quiet))
	_ = sup.Start(context.Background())
	conn, _ := actor.Spawn(sup, "conn", func() actor.Actor[string] { return &Conn{} })
	_ = conn.Send("a")
	_ = conn.Send("bad")
	_ = conn.Send("b")
	for conn.Stats().Processed < 2 {
		time.Sleep(time.Millisecond)
	}
	_ = sup.Stop()
	// Output:
	// open 1
	// query a on 1
	// close 1
	// open 2
	// query b on 2
	// close 2
}

// SendContext bounds the wait for room in a Block mailbox.
func ExampleRef_SendContext() {
	sup := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent)
	_ = sup.Start(context.Background())
	defer sup.Stop()
	busy := make(chan struct{})
	slow, _ := actor.Spawn(sup, "slow", func() actor.Actor[int] {
		return actor.Func[int](func(*actor.Context[int], int) error { <-busy; return nil })
	}, actor.WithMailbox(actor.Bounded(1, actor.Block)))
	_ = slow.Send(1) // in Receive
	for slow.Stats().MailboxLen > 0 {
		time.Sleep(time.Millisecond)
	}
	_ = slow.Send(2) // queued: the mailbox is full
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err := slow.SendContext(ctx, 3)
	fmt.Println(errors.Is(err, context.DeadlineExceeded))
	close(busy)
	// Output: true
}

// DeadLetters of actors outside any System.
func ExampleDefaultDeadLetters() {
	sup := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent)
	_ = sup.Start(context.Background())
	defer sup.Stop()
	once, _ := actor.Spawn(sup, "once", func() actor.Actor[int] {
		return actor.Func[int](func(*actor.Context[int], int) error { return supervisor.ErrShutdown })
	}, actor.WithRestart(supervisor.Temporary))
	_ = once.Send(1)
	<-once.Done()
	err := once.Send(2)
	fmt.Println(errors.Is(err, actor.ErrStopped), actor.DefaultDeadLetters().Count() > 0)
	// Output: true true
}

// Many short-lived actors: each is spawned for one job, handles one
// message and stops itself. Spawned Temporary under a running OneForOne
// supervisor (a System's root is one), each costs no trip through the
// supervisor's goroutine: it starts on the caller's goroutine, and is
// removed where it stops (see "Many dynamic children: the lane" in the
// supervisor package). Once its Done is closed, Lookup no longer finds it.
func ExampleSpawnIn_manyShortLived() {
	sys := actor.NewSystem("jobs", actor.WithSystemLogger(quiet))
	if err := sys.Start(context.Background()); err != nil {
		panic(err)
	}
	results := make(chan int, 100)
	square := func() actor.Actor[int] {
		return actor.Func[int](func(_ *actor.Context[int], n int) error {
			results <- n * n
			return supervisor.ErrShutdown // done: a normal end
		})
	}
	refs := make([]actor.Ref[int], 0, 100)
	for i := range 100 {
		ref, err := actor.SpawnIn(sys, fmt.Sprintf("job-%d", i), square, actor.WithRestart(supervisor.Temporary))
		if err != nil {
			panic(err)
		}
		_ = ref.Send(i)
		refs = append(refs, ref)
	}
	sum := 0
	for range 100 {
		sum += <-results
	}
	found := 0
	for _, ref := range refs {
		<-ref.Done()
		if _, err := actor.Lookup[int](sys, ref.Name()); err == nil {
			found++
		}
	}
	fmt.Println("sum of squares:", sum)
	fmt.Println("found by name:", found)
	_ = sys.Shutdown(context.Background())
	// Output:
	// sum of squares: 328350
	// found by name: 0
}
