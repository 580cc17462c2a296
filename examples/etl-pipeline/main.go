// Command etl-pipeline shows a RestForOne supervisor: a pipeline of
// extract → transform → load, where each stage depends on the ones started
// before it.
//
//	go run ./examples/etl-pipeline
//
// extract reads rows from a source and hands them to transform; transform
// parses them into records on an output channel of its own, made afresh by
// each incarnation; load reads the records from the channel of the
// transform that was running when load started, and stores them.
//
// So when transform restarts, the load that reads its old channel would wait
// forever: load must restart too. extract does not depend on transform and
// keeps its place in the source. That is RestForOne: a failed child restarts
// with every child started after it, and no child started before it.
//
// Two rows are bad in ways the stages do not guard against: they let it
// crash. Row 5 does not parse, so transform fails (and load restarts with
// it); row 9 breaks a database constraint, so load fails and, being the
// last stage, restarts alone. The program tells what the supervisor does in
// plain words (observe.Narrator), then shows the rows that reached the
// store and WhichChildren's restart counts: extract never restarts.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airssys/rt/observe"
	"github.com/airssys/rt/supervisor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// The pace of extract is for a human reader; the test runs without.
	if err := run(ctx, os.Stdout, 40*time.Millisecond); err != nil {
		fmt.Fprintln(os.Stderr, "etl-pipeline:", err)
		os.Exit(1)
	}
}

// source is the table extract reads: name and amount.
var source = []string{
	"alice,42", "bob,17", "carol,8", "dave,23",
	"erin,4x", // row 5: not a number
	"frank,15", "grace,16", "heidi,99",
	"ivan,-3", // row 9: a negative amount, which the store rejects
	"judy,5", "mallory,12", "oscar,7",
}

// run runs the pipeline until every row has gone through it, extracting
// one row every pace.
func run(ctx context.Context, w io.Writer, pace time.Duration) error {
	// The narrator tells every event of the supervisor, in order with the
	// program's own lines; tell also passes the events on, so that run can
	// wait for the pipeline's recovery.
	out := observe.NewNarrator(w)
	events := make(chan supervisor.Event, 256)
	sup := supervisor.New("etl-pipeline", supervisor.RestForOne, supervisor.Permanent,
		supervisor.WithLogger(slog.New(slog.DiscardHandler)), // the narrator says it all
		supervisor.WithEventHandler(tell(out, events)),
	)

	p := &pipeline{rows: make(chan row), pace: pace, store: newStore(len(source))}
	// Start order is dependency order: RestForOne relies on it.
	for _, stage := range []struct {
		name string
		new  func() supervisor.Child
	}{
		{"extract", func() supervisor.Child { return &extract{p: p} }},
		{"transform", func() supervisor.Child { return &transform{p: p} }},
		{"load", func() supervisor.Child { return &load{p: p} }},
	} {
		if err := sup.Child(stage.name).SpawnFunc(stage.new); err != nil {
			return err
		}
	}

	out.Printf("etl-pipeline: a RestForOne supervisor over extract → transform → load.")
	out.Printf("Watch for: transform fails on row 5 and restarts with load, not extract;")
	out.Printf("load fails on row 9 and, the last stage, restarts alone.")
	out.Printf("Each indented line is the supervisor telling what it did.\n")
	if err := sup.Start(ctx); err != nil {
		return err
	}
	err := func() error {
		// The pipeline is done when the store has the last row and load has
		// come back from its own failure (before that row reached it).
		timeout := time.NewTimer(waitLimit)
		defer timeout.Stop()
		stored, loadBack := p.store.full, events
		for stored != nil || loadBack != nil {
			select {
			case <-stored:
				stored = nil
			case e := <-loadBack:
				if e.Kind == supervisor.EventChildRestarted && e.Child == "load" && e.Restarts == 2 {
					loadBack = nil
				}
			case <-timeout.C:
				return fmt.Errorf("the pipeline did not drain the source within %v", waitLimit)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		loaded, lost := p.store.rows()
		out.Printf("\nLoaded rows %v; lost %v, each with the stage that crashed on it.", loaded, lost)
		out.Printf("\nRestarts per stage, from WhichChildren:\n%s", table(sup.WhichChildren()))
		return nil
	}()

	out.Printf("\nStopping: stages stop newest first.")
	if stopErr := sup.Stop(); err == nil {
		err = stopErr
	}
	return err
}

// pipeline is what the stages share. It outlives their incarnations.
type pipeline struct {
	rows   chan row     // extract → transform
	offset atomic.Int64 // rows of the source handed to transform: extract resumes there
	// records is the output channel of the running transform; load takes
	// it when it starts.
	records atomic.Pointer[chan record]
	store   *store
	pace    time.Duration
}

type row struct {
	n    int // 1-based row number in the source
	text string
}

type record struct {
	row    int
	name   string
	amount int
}

// extract hands the source's rows to transform, one every pace, then waits
// for more (there are none in this example).
type extract struct{ p *pipeline }

// Serve reads the source from the committed offset.
func (x *extract) Serve(ctx context.Context) error {
	for {
		i := int(x.p.offset.Load())
		if i == len(source) {
			<-ctx.Done()
			return nil
		}
		select {
		case x.p.rows <- row{n: i + 1, text: source[i]}:
			x.p.offset.Add(1) // committed only once transform has the row
		case <-ctx.Done():
			return nil
		}
		if x.p.pace > 0 {
			select {
			case <-time.After(x.p.pace):
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// transform parses rows into records.
type transform struct {
	p   *pipeline
	out chan record
}

// Start makes this incarnation's output channel and publishes it. Start
// completes before any later sibling starts, so the load started after it
// finds the channel.
func (t *transform) Start(context.Context) error {
	t.out = make(chan record)
	t.p.records.Store(&t.out)
	return nil
}

// Serve parses rows until one does not parse: then it crashes.
func (t *transform) Serve(ctx context.Context) error {
	for {
		var r row
		select {
		case r = <-t.p.rows:
		case <-ctx.Done():
			return nil
		}
		name, amount, _ := strings.Cut(r.text, ",")
		n, err := strconv.Atoi(amount)
		if err != nil {
			return fmt.Errorf("row %d %q: %w", r.n, r.text, err)
		}
		select {
		case t.out <- record{row: r.n, name: name, amount: n}:
		case <-ctx.Done():
			return nil
		}
	}
}

// load stores the records of the transform that was running when it started.
type load struct {
	p  *pipeline
	in <-chan record
}

// Start takes the output channel of the running transform.
func (l *load) Start(context.Context) error {
	l.in = *l.p.records.Load()
	return nil
}

// Serve stores records until the store rejects one: then it crashes.
func (l *load) Serve(ctx context.Context) error {
	for {
		select {
		case rec := <-l.in:
			if err := l.p.store.insert(rec); err != nil {
				return err
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// store is the destination table.
type store struct {
	mu     sync.Mutex
	loaded []int // row numbers, in load order
	last   int   // the source's last row number
	full   chan struct{}
}

func newStore(last int) *store { return &store{last: last, full: make(chan struct{})} }

var errConstraint = errors.New(`violates check constraint "amount >= 0"`)

// insert stores a record; full is closed once the last row is in.
func (s *store) insert(r record) error {
	if r.amount < 0 {
		return fmt.Errorf("insert row %d: amount %d %w", r.row, r.amount, errConstraint)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loaded = append(s.loaded, r.row)
	if r.row == s.last {
		close(s.full)
	}
	return nil
}

// rows returns the rows stored, and the rows of the source that are not.
func (s *store) rows() (loaded, lost []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := make(map[int]bool, len(s.loaded))
	for _, n := range s.loaded {
		in[n] = true
	}
	for n := 1; n <= s.last; n++ {
		if !in[n] {
			lost = append(lost, n)
		}
	}
	return append([]int(nil), s.loaded...), lost
}
