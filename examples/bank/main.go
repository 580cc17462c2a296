// Command bank shows request/reply between actors with actor.Ask, and a
// OneForAll pair of actors whose states must agree.
//
//	go run ./examples/bank
//
// Two actors run under one OneForAll supervisor:
//
//	ledger    writes every movement of money to the journal, which stands
//	          for a file: it outlives the actors.
//	accounts  keeps the balances in memory and answers clients at once.
//
// Clients talk to accounts only, with actor.Ask. A transfer is checked and
// applied by accounts, which then passes it on, reply slot and all, to the
// ledger; the ledger writes it to the journal and answers the client. So
// accounts never waits for the disk, and the two actors' states are one
// thing: balances are the journal, summed up.
//
// That is why they are restarted together. If the ledger cannot write a
// transfer that accounts has already applied, the balances in accounts are
// ahead of the journal; restarting the ledger alone would leave them so.
// OneForAll restarts both, and accounts rebuilds its balances from the
// journal in PreStart. If accounts crashes, its state is lost anyway, and
// the rule is the same: both start again from the journal.
//
// The program injects both faults: the journal's disk fails once, and
// accounts panics halfway through a transfer. It tells what the supervisor
// does in plain words (observe.Narrator), shows the dead letters (the requests that were being handled when
// each actor crashed), then checks that the balances in accounts are the
// journal's and that no money was made or lost.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/observe"
	"github.com/airssys/rt/supervisor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bank:", err)
		os.Exit(1)
	}
}

// askLimit bounds a client's wait for an answer. A request whose handler
// crashes does not need it: Ask fails at once with the crash, as
// gen_server:call does. The deadline is for an answer that never comes
// from a running actor: short, so that the program would show it quickly,
// yet ample for an answer, which takes microseconds.
const askLimit = 500 * time.Millisecond

// Refusals, which accounts answers with Reply.Fail: errors for the
// client, not crashes.
var (
	ErrInsufficientFunds = errors.New("insufficient funds")
	ErrBadAmount         = errors.New("amount must be positive")
)

// errDiskUnavailable is the injected fault of the journal.
var errDiskUnavailable = errors.New("disk unavailable")

// Entry is one movement of money in the journal. A deposit has no From.
type Entry struct {
	Seq      int
	From, To string
	Amount   int
}

// Receipt is the answer to a deposit or a transfer: where the journal has it.
type Receipt struct{ Seq int }

// journal is the ledger's durable log. It outlives the actors, as a file
// would, and can be told to fail its next write.
type journal struct {
	mu        sync.Mutex
	entries   []Entry
	failWrite bool
}

func (j *journal) append(e Entry) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.failWrite {
		j.failWrite = false
		return fmt.Errorf("journal: write entry %d: %w", e.Seq, errDiskUnavailable)
	}
	j.entries = append(j.entries, e)
	return nil
}

func (j *journal) read() []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.entries)
}

func (j *journal) failNextWrite() {
	j.mu.Lock()
	j.failWrite = true
	j.mu.Unlock()
}

// replay sums the journal up into balances.
func replay(entries []Entry) map[string]int {
	b := map[string]int{}
	for _, e := range entries {
		if e.From != "" {
			b[e.From] -= e.Amount
		}
		b[e.To] += e.Amount
	}
	return b
}

// The ledger's messages.
type ledgerMsg interface{ isLedgerMsg() }

// post asks the ledger to write e and to answer reply, which belongs to
// the client that asked accounts.
type post struct {
	e     Entry
	reply actor.Reply[Receipt]
}

type readJournal struct{ reply actor.Reply[[]Entry] }

func (post) isLedgerMsg()        {}
func (readJournal) isLedgerMsg() {}

func (p post) String() string { return "post of " + movement(p.e.From, p.e.To, p.e.Amount) }

// ledger writes the journal. Its one piece of state is the next sequence
// number, which PreStart recovers from the journal.
type ledger struct {
	j    *journal
	next int
}

func (l *ledger) PreStart(*actor.Context[ledgerMsg]) error {
	l.next = len(l.j.read()) + 1
	return nil
}

func (l *ledger) Receive(_ *actor.Context[ledgerMsg], msg ledgerMsg) error {
	switch m := msg.(type) {
	case post:
		m.e.Seq = l.next
		if err := l.j.append(m.e); err != nil {
			// A ledger that cannot write must not carry on as if it
			// could: tell the client, then crash, so that the pair
			// restarts from what the journal holds.
			m.reply.Fail(err)
			return err
		}
		l.next++
		m.reply.Send(Receipt{Seq: m.e.Seq})
	case readJournal:
		m.reply.Send(l.j.read())
	}
	return nil
}

// The messages of accounts: what clients ask.
type accountsMsg interface{ isAccountsMsg() }

type deposit struct {
	account string
	amount  int
	reply   actor.Reply[Receipt]
}

type transfer struct {
	from, to string
	amount   int
	reply    actor.Reply[Receipt]
}

type balances struct{ reply actor.Reply[map[string]int] }

func (deposit) isAccountsMsg()  {}
func (transfer) isAccountsMsg() {}
func (balances) isAccountsMsg() {}

func (t transfer) String() string { return movement(t.from, t.to, t.amount) }

// accounts holds the balances, rebuilt from the journal by every
// incarnation.
type accounts struct {
	ledger   actor.Ref[ledgerMsg]
	balances map[string]int
	// crashMidTransfer is the injected bug: the next transfer panics
	// between its debit and its credit.
	crashMidTransfer *atomic.Bool
}

// PreStart asks the ledger for the journal. The ledger started first and
// handles requests in order, so the answer includes every post queued
// before it, even one sent by an incarnation of accounts that has crashed.
func (a *accounts) PreStart(c *actor.Context[accountsMsg]) error {
	ctx, cancel := context.WithTimeout(c.Context(), time.Second)
	defer cancel()
	entries, err := actor.Ask(ctx, a.ledger, func(r actor.Reply[[]Entry]) ledgerMsg { return readJournal{r} })
	if err != nil {
		return fmt.Errorf("rebuild from the journal: %w", err)
	}
	a.balances = replay(entries)
	return nil
}

func (a *accounts) Receive(_ *actor.Context[accountsMsg], msg accountsMsg) error {
	switch m := msg.(type) {
	case deposit:
		if m.amount <= 0 {
			m.reply.Fail(ErrBadAmount)
			return nil
		}
		a.balances[m.account] += m.amount
		return a.ledger.Send(post{Entry{To: m.account, Amount: m.amount}, m.reply})
	case transfer:
		if m.amount <= 0 {
			m.reply.Fail(ErrBadAmount)
			return nil
		}
		if has := a.balances[m.from]; has < m.amount {
			m.reply.Fail(fmt.Errorf("%w: %s has %d", ErrInsufficientFunds, m.from, has))
			return nil
		}
		a.balances[m.from] -= m.amount
		if a.crashMidTransfer.CompareAndSwap(true, false) {
			panic("bug between the debit and the credit")
		}
		a.balances[m.to] += m.amount
		// Applied before it is written: if the ledger fails to write it,
		// OneForAll restarts accounts too, and the journal wins.
		return a.ledger.Send(post{Entry{From: m.from, To: m.to, Amount: m.amount}, m.reply})
	case balances:
		m.reply.Send(maps.Clone(a.balances)) // a copy: the map stays this actor's
	}
	return nil
}

// bank is the program's side of things: the actors, and what it prints.
type bank struct {
	out      *observe.Narrator
	journal  *journal
	ledger   actor.Ref[ledgerMsg]
	accounts actor.Ref[accountsMsg]
	events   chan supervisor.Event
	letters  chan actor.DeadLetter
	crash    atomic.Bool
}

func run(ctx context.Context, w io.Writer) error {
	b := &bank{
		out:     observe.NewNarrator(w),
		journal: &journal{},
		events:  make(chan supervisor.Event, 64),
		letters: make(chan actor.DeadLetter, 16),
	}
	// The handler and the dead-letter subscriber pass what they get on to
	// run, which prints it where it belongs in the story. Their sends never
	// block: a handler must not hold up what comes after.
	sys := actor.NewSystem("bank",
		actor.WithRootStrategy(supervisor.OneForAll),
		actor.WithSystemLogger(slog.New(slog.DiscardHandler)),
		actor.WithSupervisorOptions(supervisor.WithEventHandler(func(e supervisor.Event) {
			select {
			case b.events <- e:
			default:
			}
		})),
	)
	stopLetters := sys.DeadLetters().Subscribe(func(dl actor.DeadLetter) {
		select {
		case b.letters <- dl:
		default:
		}
	})
	defer stopLetters()

	// The ledger first: accounts needs it to start, and OneForAll starts
	// them in this order every time.
	var err error
	b.ledger, err = actor.SpawnIn(sys, "ledger", func() actor.Actor[ledgerMsg] { return &ledger{j: b.journal} })
	if err != nil {
		return err
	}
	b.accounts, err = actor.SpawnIn(sys, "accounts", func() actor.Actor[accountsMsg] {
		return &accounts{ledger: b.ledger, crashMidTransfer: &b.crash}
	})
	if err != nil {
		return err
	}
	if err := sys.Start(ctx); err != nil {
		return err
	}
	err = b.story(ctx)
	stopLetters()
	if stopErr := sys.Shutdown(ctx); err == nil {
		err = stopErr
	}
	return err
}

func (b *bank) story(ctx context.Context) error {
	p := b.out.Printf
	p("bank: a ledger and an accounts actor under one OneForAll supervisor.")
	p("accounts applies each transfer and passes it on to the ledger, which writes")
	p("the journal and answers the client. Watch for: whichever crashes, both restart")
	p("and accounts rebuilds its balances from the journal.")

	p("\nDeposits and transfers, each an actor.Ask to accounts:")
	b.deposit(ctx, "alice", 100)
	b.deposit(ctx, "bob", 50)
	b.deposit(ctx, "carol", 20)
	b.transfer(ctx, "alice", "bob", 30)
	b.transfer(ctx, "bob", "carol", 25)
	b.transfer(ctx, "carol", "alice", 500)
	b.transfer(ctx, "alice", "bob", 0)
	if err := b.printBalances(ctx); err != nil {
		return err
	}

	p("\nFault 1: the journal's disk fails on the next write.")
	b.journal.failNextWrite()
	b.transfer(ctx, "alice", "carol", 10)
	if err := b.aftermath(ctx, 1); err != nil {
		return err
	}
	p("  accounts had applied that transfer; rebuilt from the journal, it has not:")
	if err := b.printBalances(ctx); err != nil {
		return err
	}

	p("\nFault 2: accounts panics halfway through the next transfer, after the debit.")
	before, err := b.balances(ctx)
	if err != nil {
		return err
	}
	b.crash.Store(true)
	b.transfer(ctx, "bob", "alice", 5)
	if err := b.aftermath(ctx, 2); err != nil {
		return err
	}
	p("  Ask failed at once with the crash, so the client looks: did the money move?")
	bal, err := b.balances(ctx)
	if err != nil {
		return err
	}
	p("  balances: %s", format(bal))
	if bal["bob"] == before["bob"] {
		p("  It did not: the half-done transfer died with the incarnation. The client retries.")
		b.transfer(ctx, "bob", "alice", 5)
	} else {
		p("  It did: the client does not retry.")
	}

	p("\nChecking consistency:")
	return b.verify(ctx)
}

// deposit and transfer ask accounts and print the answer.
func (b *bank) deposit(ctx context.Context, account string, amount int) {
	b.ask(ctx, movement("", account, amount), func(r actor.Reply[Receipt]) accountsMsg {
		return deposit{account, amount, r}
	})
}

func (b *bank) transfer(ctx context.Context, from, to string, amount int) {
	b.ask(ctx, movement(from, to, amount), func(r actor.Reply[Receipt]) accountsMsg {
		return transfer{from, to, amount, r}
	})
}

func (b *bank) ask(ctx context.Context, what string, build func(actor.Reply[Receipt]) accountsMsg) {
	ctx, cancel := context.WithTimeout(ctx, askLimit)
	defer cancel()
	r, err := actor.Ask(ctx, b.accounts, build)
	switch {
	case err == nil:
		b.out.Printf("  %-26s ok, journal entry %d", what, r.Seq)
	case errors.Is(err, context.DeadlineExceeded):
		b.out.Printf("  %-26s no answer within %v", what, askLimit)
	case errors.Is(err, ErrInsufficientFunds), errors.Is(err, ErrBadAmount):
		b.out.Printf("  %-26s refused: %v", what, err)
	default:
		b.out.Printf("  %-26s failed: %v", what, err)
	}
}

func movement(from, to string, amount int) string {
	if from == "" {
		return fmt.Sprintf("deposit %d to %s", amount, to)
	}
	return fmt.Sprintf("transfer %d %s→%s", amount, from, to)
}

// aftermath tells the supervisor's events until accounts is back for the
// n-th time, then the dead letter the crash made.
func (b *bank) aftermath(ctx context.Context, n int) error {
	timeout := time.NewTimer(waitLimit)
	defer timeout.Stop()
	for {
		select {
		case e := <-b.events:
			if e.Kind == supervisor.EventChildStarted || e.Kind == supervisor.EventSupervisorStarted {
				continue // the first start: routine
			}
			b.out.Event(e)
			if e.Kind != supervisor.EventChildRestarted || e.Child != "accounts" || e.Restarts != n {
				continue
			}
			select {
			case dl := <-b.letters:
				b.out.Printf("  dead letter to %s: %v (%v)", dl.Target, dl.Message, dl.Reason)
				return nil
			case <-timeout.C:
				return fmt.Errorf("no dead letter within %v", waitLimit)
			}
		case <-timeout.C:
			return fmt.Errorf("accounts was not restarted within %v", waitLimit)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *bank) balances(ctx context.Context) (map[string]int, error) {
	ctx, cancel := context.WithTimeout(ctx, askLimit)
	defer cancel()
	return actor.Ask(ctx, b.accounts, func(r actor.Reply[map[string]int]) accountsMsg { return balances{r} })
}

func (b *bank) printBalances(ctx context.Context) error {
	bal, err := b.balances(ctx)
	if err != nil {
		return err
	}
	b.out.Printf("  balances: %s", format(bal))
	return nil
}

// verify compares what accounts says with the journal, as read by the
// ledger, and checks that money was neither made nor lost.
func (b *bank) verify(ctx context.Context) error {
	fromAccounts, err := b.balances(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, askLimit)
	defer cancel()
	entries, err := actor.Ask(ctx, b.ledger, func(r actor.Reply[[]Entry]) ledgerMsg { return readJournal{r} })
	if err != nil {
		return err
	}
	fromJournal := replay(entries)
	deposited, held := 0, 0
	for _, e := range entries {
		if e.From == "" {
			deposited += e.Amount
		}
	}
	for _, v := range fromAccounts {
		held += v
	}
	b.out.Printf("  %-26s %s", "accounts:", format(fromAccounts))
	b.out.Printf("  %-26s %s", fmt.Sprintf("the journal (%d entries):", len(entries)), format(fromJournal))
	b.out.Printf("  deposited %d, held %d", deposited, held)
	if !maps.Equal(fromAccounts, fromJournal) || deposited != held {
		return errors.New("inconsistent: accounts and the journal disagree")
	}
	b.out.Printf("Consistent after both faults.")
	return nil
}

// format renders balances sorted by name.
func format(bal map[string]int) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(bal)) {
		parts = append(parts, fmt.Sprintf("%s=%d", name, bal[name]))
	}
	return strings.Join(parts, " ")
}
