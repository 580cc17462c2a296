// Command http-workers shows a OneForOne supervisor: a pool of independent
// request handlers where one crashing disturbs no other.
//
//	go run ./examples/http-workers
//
// The pool is built in one call, sup.Children("worker", n).SpawnBatch(...),
// and the workers take requests from one shared queue. The handler has a
// bug: it panics on a path with a bad percent-escape. Nobody guards against
// it; the supervisor recovers the panic as the worker's failure and starts a
// fresh worker in its place, while the others keep serving. The program
// tells what the supervisor does in plain words (observe.Narrator), how many
// requests were served, and each worker's restarts as WhichChildren reports
// them.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"time"

	"github.com/airssys/rt/observe"
	"github.com/airssys/rt/supervisor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// The pace of requests is for a human reader; the test runs without.
	if err := run(ctx, os.Stdout, 4, 40*time.Millisecond); err != nil {
		fmt.Fprintln(os.Stderr, "http-workers:", err)
		os.Exit(1)
	}
}

// paths are the requests, in the order they arrive; three are malformed.
var paths = []string{
	"/items/1", "/items/2", "/items/3", "/items/%zz", "/items/5", "/items/6",
	"/items/7", "/items/%8", "/items/9", "/items/10", "/items/%g1", "/items/12",
}

// run starts a pool of n workers, sends it the requests, one every pace,
// waits until every request is answered or has crashed its worker and that
// worker is back, and stops the pool.
func run(ctx context.Context, w io.Writer, n int, pace time.Duration) error {
	// The narrator tells every event of the supervisor, in order with the
	// program's own lines; tell also passes the events on, so that run can
	// wait for the restarts.
	out := observe.NewNarrator(w)
	events := make(chan supervisor.Event, 256)
	pool := supervisor.New("http-workers", supervisor.OneForOne, supervisor.Permanent,
		// Handlers hold no state worth keeping and restart in microseconds:
		// allow more restarts than the default 3 in 5s before giving up.
		supervisor.WithIntensity(10, time.Second),
		supervisor.WithLogger(slog.New(slog.DiscardHandler)), // the narrator says it all
		supervisor.WithEventHandler(tell(out, events)),
	)

	queue := make(chan request)
	err := pool.Children("worker", n).SpawnBatch(func() supervisor.Child {
		return &worker{queue: queue}
	})
	if err != nil {
		return err
	}

	out.Printf("http-workers: a OneForOne pool of %d workers serving %d requests.", n, len(paths))
	out.Printf("Watch for: a malformed request crashes one worker, and only that worker restarts.")
	out.Printf("Each indented line is the supervisor telling what it did.\n")
	if err := pool.Start(ctx); err != nil {
		return err
	}
	err = func() error {
		responses := make(chan string, len(paths))
		malformed := 0
		for _, path := range paths {
			if _, err := url.PathUnescape(path); err != nil {
				malformed++
			}
			if err := send(ctx, queue, request{path: path, reply: responses}); err != nil {
				return err
			}
			if err := sleep(ctx, pace); err != nil {
				return err
			}
		}
		// Done when every good request is answered and every crashed worker
		// is back: then the handler has printed all the pool has to say.
		timeout := time.NewTimer(waitLimit)
		defer timeout.Stop()
		served, restarted := 0, 0
		for served < len(paths)-malformed || restarted < malformed {
			select {
			case <-responses:
				served++
			case e := <-events:
				if e.Kind == supervisor.EventChildRestarted {
					restarted++
				}
			case <-timeout.C:
				return fmt.Errorf("the pool did not finish within %v", waitLimit)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		out.Printf("\nServed %d requests; %d malformed ones each crashed the worker that took it.", served, malformed)
		out.Printf("\nRestarts per worker, from WhichChildren:\n%s", table(pool.WhichChildren()))
		return nil
	}()

	out.Printf("\nStopping: workers stop newest first.")
	if stopErr := pool.Stop(); err == nil {
		err = stopErr
	}
	return err
}

type request struct {
	path  string
	reply chan<- string // buffered for every request: a reply never blocks
}

// worker is one incarnation of a pool member: a request handler.
type worker struct {
	queue <-chan request
}

// Serve handles requests until the pool stops it.
func (w *worker) Serve(ctx context.Context) error {
	for {
		select {
		case req := <-w.queue:
			req.reply <- handle(req.path)
		case <-ctx.Done():
			return nil
		}
	}
}

// handle answers a request. Its bug: it takes the path for well-formed and
// panics when it is not; the supervisor turns the panic into a failure.
func handle(path string) string {
	p, err := url.PathUnescape(path)
	if err != nil {
		panic(fmt.Sprintf("GET %s: %v", path, err))
	}
	return "200 OK " + p
}

// send queues a request for whichever worker is free.
func send(ctx context.Context, queue chan<- request, req request) error {
	timeout := time.NewTimer(waitLimit)
	defer timeout.Stop()
	select {
	case queue <- req:
		return nil
	case <-timeout.C:
		return fmt.Errorf("no worker took GET %s within %v", req.path, waitLimit)
	case <-ctx.Done():
		return ctx.Err()
	}
}
