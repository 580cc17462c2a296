package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/airssys/rt/health"
	"github.com/airssys/rt/internal/demo"
	"github.com/airssys/rt/observe"
	"github.com/airssys/rt/supervisor"
)

const demoSynopsis = `Usage: airssys demo [flags]

Runs a microservice's supervision tree (http-api OneForOne, business-logic
OneForAll, data-layer RestForOne, and two actors under notifications
OneForOne, all under a OneForAll root), injects random faults into it, tells
what the supervisors do about them, and serves the tree's live view. Open the
printed URL in a browser, or run "airssys tree URL"; interrupt (Ctrl-C) to
stop.
`

// tokenEnv names the environment variable that sets the fault-injection
// token of --control, so that it need not appear in a process listing.
const tokenEnv = "AIRSSYS_TOKEN"

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", demoSynopsis)
	addr := fs.String("addr", "127.0.0.1:0", "address to serve the live view on (port 0: any free port)")
	every := fs.Duration("fault-every", 2*time.Second, "mean time between random faults; 0 disables them")
	seed := fs.Uint64("seed", 0, "seed of the random faults; 0 picks one")
	control := fs.Bool("control", false, "enable the page's terminate/restart/crash buttons, protected by a bearer token\n(from $"+tokenEnv+", or generated and printed)")
	quiet := fs.Bool("quiet", false, "do not print the tree's events")
	pos, err := parseFlags(fs, args, stdout, stderr)
	switch {
	case err != nil:
	case len(pos) > 0:
		err = usageErrorf(stderr, "demo", "unexpected arguments: %q", pos)
	case *every < 0:
		err = usageErrorf(stderr, "demo", "--fault-every must not be negative, not %v", *every)
	}
	if err != nil {
		return exitCode(err, stderr, "demo")
	}
	if *seed == 0 {
		*seed = mrand.Uint64()
	}
	return exitCode(demoMain(ctx, demoConfig{
		addr: *addr, every: *every, seed: *seed, control: *control, quiet: *quiet,
	}, stdout), stderr, "demo")
}

type demoConfig struct {
	addr    string
	every   time.Duration
	seed    uint64
	control bool
	quiet   bool
}

func demoMain(ctx context.Context, cfg demoConfig, stdout io.Writer) error {
	out := &syncWriter{w: stdout}
	printer := observe.NewNarrator(out)
	if cfg.quiet {
		printer = observe.NewNarrator(io.Discard)
	}
	defer printer.Flush()
	tree := demo.Microservice(
		supervisor.WithLogger(slog.New(slog.DiscardHandler)),
		supervisor.WithEventHandler(printer.Event),
	)

	var opts []observe.Option
	token := ""
	if cfg.control {
		token = os.Getenv(tokenEnv)
		if token == "" {
			var err error
			if token, err = newToken(); err != nil {
				return err
			}
		}
		opts = append(opts, observe.WithFaultInjection(token))
	}
	obs, err := observe.New(tree.Root, opts...)
	if err != nil {
		return err
	}
	defer obs.Close()

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: obs, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	// The tree runs until ctx ends, not until it gives up: starting it
	// again after escalation is what a demo of faults needs.
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	if err := tree.Root.Start(runCtx); err != nil {
		_ = srv.Close()
		<-served
		return fmt.Errorf("starting the tree: %w", err)
	}

	// No trailing slash: "$URL/api/tree" must work as printed, and a
	// browser given the bare address asks for "/" anyway.
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "airssys demo: live view at %s\n", url)
	fmt.Fprintf(out, "airssys demo: try: airssys tree %s --watch\n", url)
	if cfg.control {
		fmt.Fprintf(out, "airssys demo: fault injection enabled; bearer token: %s\n", token)
	}
	if cfg.every > 0 {
		fmt.Fprintf(out, "airssys demo: a random fault every %v or so (seed %d)\n", cfg.every, cfg.seed)
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		injectFaults(runCtx, tree, cfg, printer)
	}()

	var serveErr, treeErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	case <-tree.Root.Done():
		// The root gives up only under a storm of faults (see
		// demo.RootIntensity); its actors have then stopped for good, so
		// the demo ends with the root's error.
		if ctx.Err() == nil {
			treeErr = fmt.Errorf("the tree gave up: %w", tree.Root.Err())
		}
	}
	// Streams first, so that Shutdown does not wait for them.
	obs.Close()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	stopRun()
	wg.Wait()
	_ = tree.Root.Stop()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return treeErr
}

// injectFaults crashes a random worker, poisons an actor, or makes a worker
// unhealthy, at random intervals averaging cfg.every.
func injectFaults(ctx context.Context, tree *demo.Tree, cfg demoConfig, printer *observe.Narrator) {
	if cfg.every <= 0 {
		return
	}
	rng := mrand.New(mrand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15))
	timer := time.NewTimer(jitter(rng, cfg.every))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		if rng.IntN(4) == 0 {
			workers := tree.Workers()
			w := workers[rng.IntN(len(workers))]
			w.SetHealth(health.Unhealthy("demo: injected"))
			printer.Printf("fault: %s reports unhealthy", w.Path())
		} else {
			printer.Printf("fault: %s", tree.Inject(rng))
		}
		timer.Reset(jitter(rng, cfg.every))
	}
}

// jitter spreads d over [d/2, 3d/2) so faults do not tick like a clock.
func jitter(rng *mrand.Rand, d time.Duration) time.Duration {
	return d/2 + time.Duration(rng.Int64N(int64(d)))
}

func newToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// syncWriter serialises the writes of the printer's goroutines and ours.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
