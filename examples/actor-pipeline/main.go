// Command actor-pipeline shows a RestForOne supervisor of actors linked by
// broker topics, and what happens to queued messages when a stage crashes.
//
//	go run ./examples/actor-pipeline
//
// Four actors run under one RestForOne supervisor, in this order:
//
//	audit   counts what goes through every topic
//	parse   lines  → orders   ("7,tea,2" → Order{ID: 7, Item: "tea", Qty: 2})
//	enrich  orders → priced   (looks the price up in a catalogue)
//	store   priced → a table that outlives the actors
//
// No stage holds another's Ref: each publishes to a topic and subscribes to
// the one before it, so a stage neither knows nor cares who listens.
//
// Twelve lines are published before the stages start, so they all wait in
// parse's mailbox. Line 7 is poison: it has too few fields, and parse, which
// trusts its input, panics on it. RestForOne then stops the stages started
// after parse (store, then enrich), and starts parse, enrich and store
// again; audit, started before parse, is not touched.
//
// Nothing queued is lost. A mailbox belongs to the actor, not to an
// incarnation: the five lines behind the poison wait in parse's mailbox and
// go to the fresh parse; whatever enrich and store had queued waits for
// their fresh incarnations; and the subscriptions hold Refs, which stay the
// same across restarts. Only the poison line is lost: it is a dead letter,
// and the program subscribes to dead letters to show it. The store then
// holds every order but number 7.
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
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/broker"
	"github.com/airssys/rt/observe"
	"github.com/airssys/rt/supervisor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "actor-pipeline:", err)
		os.Exit(1)
	}
}

// input is what the pipeline reads: id,item,quantity. Line 7 is poison.
var input = []string{
	"1,tea,2", "2,cake,1", "3,coffee,3", "4,bun,4", "5,tea,1", "6,coffee,2",
	"7,tea", // poison: no quantity
	"8,cake,2", "9,bun,1", "10,tea,3", "11,coffee,1", "12,cake,5",
}

// catalogue is enrich's price list, in cents.
var catalogue = map[string]int{"tea": 250, "cake": 400, "coffee": 300, "bun": 150}

// Order is a parsed line.
type Order struct {
	ID   int
	Item string
	Qty  int
}

// Priced is an order with its price.
type Priced struct {
	Order
	Cents int
}

// topics are the links between the stages.
type topics struct {
	lines  *broker.Topic[string]
	orders *broker.Topic[Order]
	priced *broker.Topic[Priced]
}

func run(ctx context.Context, w io.Writer) error {
	// The narrator tells what the supervisor does, in order with the lines
	// of the stages and of run.
	out := observe.NewNarrator(w)

	// The event handler tells what the supervisor does about failures.
	// Starts are routine, and the stop at the end is not the story: quiet
	// turns it off before the shutdown.
	var quiet atomic.Bool
	storeBack := make(chan struct{})
	var storeBackOnce sync.Once
	sys := actor.NewSystem("pipeline",
		actor.WithRootStrategy(supervisor.RestForOne),
		actor.WithSystemLogger(slog.New(slog.DiscardHandler)), // the narrator says it all
		actor.WithSupervisorOptions(supervisor.WithEventHandler(func(e supervisor.Event) {
			if quiet.Load() || e.Kind == supervisor.EventChildStarted || e.Kind == supervisor.EventSupervisorStarted {
				return
			}
			out.Event(e)
			if e.Kind == supervisor.EventChildRestarted && e.Child == "store" {
				storeBackOnce.Do(func() { close(storeBack) })
			}
		})),
	)
	// Dead letters are delivered on a goroutine of their own; run prints
	// them once the pipeline is through. The send never blocks: a
	// subscriber must not hold up the letters behind it.
	letters := make(chan actor.DeadLetter, 16)
	stopLetters := sys.DeadLetters().Subscribe(func(dl actor.DeadLetter) {
		select {
		case letters <- dl:
		default:
		}
	})
	defer stopLetters()

	b := broker.New()
	defer b.Close()
	t, err := openTopics(b)
	if err != nil {
		return err
	}
	db := newTable(len(input) - 1)
	audit, err := spawnStages(sys, t, db, out)
	if err != nil {
		return err
	}

	out.Printf("actor-pipeline: a RestForOne supervisor over audit → parse → enrich → store,")
	out.Printf("linked by the broker topics lines → orders → priced.")
	out.Printf("Watch for: parse crashes on line 7 and restarts with enrich and store, the")
	out.Printf("stages after it; audit, before it, is untouched; no other line is lost.")
	out.Printf("Each line indented with the supervisor's name is the supervisor telling what it did.")

	// Published before the stages start: all twelve wait in parse's mailbox
	// (and audit's).
	for _, line := range input {
		if err := t.lines.Publish(ctx, line); err != nil {
			return err
		}
	}
	out.Printf("\nPublished %d lines to %q; now starting the stages.", len(input), t.lines.Name())
	if err := sys.Start(ctx); err != nil {
		return err
	}

	err = func() error {
		timeout := time.NewTimer(waitLimit)
		defer timeout.Stop()
		var dead []actor.DeadLetter
		full, back := db.full, storeBack
		for full != nil || back != nil || len(dead) == 0 {
			select {
			case <-full:
				full = nil
			case <-back:
				back = nil
			case dl := <-letters:
				dead = append(dead, dl)
			case <-timeout.C:
				return fmt.Errorf("the pipeline did not get through the input within %v", waitLimit)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		// Anything else undelivered would have arrived with the poison.
	drain:
		for {
			select {
			case dl := <-letters:
				dead = append(dead, dl)
			default:
				break drain
			}
		}

		out.Printf("\nDead letters (subscribed on the System):")
		for _, dl := range dead {
			out.Printf("  to %s: %q (%v)", dl.Target, dl.Message, dl.Reason)
		}
		ids, cents := db.contents()
		out.Printf("\nStored orders, in order: %v; %d of %d lines, revenue %d.%02d.",
			ids, len(ids), len(input), cents/100, cents%100)
		// store holding every order does not mean audit has heard the last
		// of them yet: enrich publishes to store first, and parse may still
		// be delivering the last order to audit after enrich has priced it
		// (a topic delivers to its subscribers one after the other). Ask
		// until audit has heard everything every topic published, and until
		// the broker has counted those deliveries.
		var counts map[string]int
		for {
			// An Ask always gets a deadline: an answer that cannot come
			// must not hang the program.
			askCtx, cancel := context.WithTimeout(ctx, waitLimit)
			c, err := actor.Ask(askCtx, audit, func(r actor.Reply[map[string]int]) auditMsg { return countsQuery{r} })
			cancel()
			if err != nil {
				return err
			}
			counts = c
			if counts["priced"] == len(ids) && settled(b.Stats(), counts) {
				break
			}
			select {
			case <-timeout.C:
				return fmt.Errorf("audit did not hear every priced order within %v", waitLimit)
			default:
				runtime.Gosched()
			}
		}
		out.Printf("audit heard: %d lines, %d orders, %d priced.", counts["lines"], counts["orders"], counts["priced"])
		out.Printf("\nTopics, from broker.Stats:\n%s", topicTable(b.Stats()))
		out.Printf("\nRestarts, from WhichChildren:\n%s", table(sys.Root().WhichChildren()))

		if len(dead) != 1 || len(ids) != len(input)-1 {
			return fmt.Errorf("%d dead letters and %d stored orders; want 1 and %d", len(dead), len(ids), len(input)-1)
		}
		return nil
	}()

	out.Printf("\nShutting down.")
	quiet.Store(true)
	stopLetters()
	if stopErr := sys.Shutdown(ctx); err == nil {
		err = stopErr
	}
	return err
}

func openTopics(b *broker.Broker) (topics, error) {
	lines, err1 := broker.Open[string](b, "lines")
	orders, err2 := broker.Open[Order](b, "orders")
	priced, err3 := broker.Open[Priced](b, "priced")
	return topics{lines, orders, priced}, errors.Join(err1, err2, err3)
}

// spawnStages adds the stages to sys's root in dependency order, which
// RestForOne relies on, and subscribes each to its input.
func spawnStages(sys *actor.System, t topics, db *orderTable, out *observe.Narrator) (actor.Ref[auditMsg], error) {
	audit, err := actor.SpawnIn(sys, "audit", func() actor.Actor[auditMsg] { return &auditor{counts: map[string]int{}} })
	if err != nil {
		return audit, err
	}
	parser, err := actor.SpawnIn(sys, "parse", func() actor.Actor[string] { return &parse{out: t.orders, log: out} })
	if err != nil {
		return audit, err
	}
	enricher, err := actor.SpawnIn(sys, "enrich", func() actor.Actor[Order] { return &enrich{out: t.priced} })
	if err != nil {
		return audit, err
	}
	storer, err := actor.SpawnIn(sys, "store", func() actor.Actor[Priced] { return &store{db: db} })
	if err != nil {
		return audit, err
	}

	_, err1 := t.lines.Subscribe(parser)
	_, err2 := t.orders.Subscribe(enricher)
	_, err3 := t.priced.Subscribe(storer)
	// audit takes all three through adapters: its message type is a sum.
	_, err4 := broker.Subscribe(t.lines, audit, func(string) auditMsg { return heard{"lines"} })
	_, err5 := broker.Subscribe(t.orders, audit, func(Order) auditMsg { return heard{"orders"} })
	_, err6 := broker.Subscribe(t.priced, audit, func(Priced) auditMsg { return heard{"priced"} })
	return audit, errors.Join(err1, err2, err3, err4, err5, err6)
}

// passOn is the ctx the stages publish with. Not the incarnation's: a
// stage stopped as a bystander while it publishes must still pass on the
// message in hand, or it would be lost. The topics' subscribers have
// unbounded mailboxes, so Publish never waits and needs no deadline.
func passOn(c context.Context) context.Context { return context.WithoutCancel(c) }

// parse turns lines into orders. It trusts its input: a line without a
// quantity makes it panic, which is a crash for its supervisor.
type parse struct {
	out *broker.Topic[Order]
	log *observe.Narrator
	// current is the line in hand, kept until it is passed on, so that
	// PostStop can tell a crash from a stop and name the culprit.
	current string
}

func (p *parse) Receive(c *actor.Context[string], line string) error {
	p.current = line
	f := strings.Split(line, ",")
	id, err := strconv.Atoi(f[0])
	if err != nil {
		return err
	}
	qty, err := strconv.Atoi(f[2]) // the poison line has no f[2]: index out of range
	if err != nil {
		return err
	}
	p.current = ""
	return p.out.Publish(passOn(c.Context()), Order{ID: id, Item: f[1], Qty: qty})
}

// PostStop runs at the end of every incarnation, after its last Receive
// and before the supervisor hears of it.
func (p *parse) PostStop(c *actor.Context[string]) {
	if p.current != "" {
		p.log.Printf("  parse: crashed on %q, with %d lines queued behind it for the next parse",
			p.current, c.Self().Stats().MailboxLen)
	}
}

// enrich prices orders.
type enrich struct{ out *broker.Topic[Priced] }

func (e *enrich) Receive(c *actor.Context[Order], o Order) error {
	unit, ok := catalogue[o.Item]
	if !ok {
		return fmt.Errorf("order %d: no price for %q", o.ID, o.Item)
	}
	return e.out.Publish(passOn(c.Context()), Priced{Order: o, Cents: unit * o.Qty})
}

// store writes priced orders to the table.
type store struct{ db *orderTable }

func (s *store) Receive(_ *actor.Context[Priced], p Priced) error {
	s.db.insert(p)
	return nil
}

// auditMsg is what audit takes: news from a topic, or a question.
type auditMsg interface{ isAuditMsg() }

type heard struct{ topic string }

type countsQuery struct{ reply actor.Reply[map[string]int] }

func (heard) isAuditMsg()       {}
func (countsQuery) isAuditMsg() {}

// auditor counts messages per topic.
type auditor struct{ counts map[string]int }

func (a *auditor) Receive(_ *actor.Context[auditMsg], msg auditMsg) error {
	switch m := msg.(type) {
	case heard:
		a.counts[m.topic]++
	case countsQuery:
		m.reply.Send(maps.Clone(a.counts)) // a copy: the map stays this actor's
	}
	return nil
}

// orderTable is the store's database: it outlives the store's incarnations.
type orderTable struct {
	mu   sync.Mutex
	rows []Priced
	want int
	full chan struct{} // closed when want rows are in
}

func newTable(want int) *orderTable { return &orderTable{want: want, full: make(chan struct{})} }

func (t *orderTable) insert(p Priced) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rows = append(t.rows, p)
	if len(t.rows) == t.want {
		close(t.full)
	}
}

// contents returns the order ids in insertion order and the revenue.
func (t *orderTable) contents() (ids []int, cents int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range t.rows {
		ids = append(ids, r.ID)
		cents += r.Cents
	}
	return ids, cents
}

// prices is how many deliveries the priced topic has counted.
// settled reports whether every topic has delivered all it published to
// both its subscribers (a stage and audit) and audit has counted it all.
func settled(stats []broker.TopicStats, heard map[string]int) bool {
	for _, s := range stats {
		if s.Delivered != 2*s.Published || uint64(heard[s.Name]) != s.Published {
			return false
		}
	}
	return len(stats) == 3
}

func topicTable(stats []broker.TopicStats) string {
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	for _, s := range stats {
		fmt.Fprintf(tw, "  %s\tpublished=%d\tdelivered=%d\tdropped=%d\n", s.Name, s.Published, s.Delivered, s.Dropped)
	}
	_ = tw.Flush() // a strings.Builder does not fail
	return strings.TrimSuffix(sb.String(), "\n")
}
