// Command health-checks shows a supervisor restarting a worker that has not
// crashed but no longer works, found out by polling its health.
//
//	go run ./examples/health-checks
//
// db-client holds a connection to a database and implements health.Checker:
// each check pings the connection. The supervisor calls it every 20ms, and
// counts a check slower than 100ms as unhealthy. Then the connection goes
// bad, in two steps. First it turns slow: the client reports Degraded, which
// the supervisor reports and otherwise leaves alone. Then it stops working
// (think of a half-open TCP connection): the client reports Unhealthy, and
// after 3 unhealthy checks in a row the supervisor restarts it as if it had
// crashed. The fresh incarnation dials a fresh connection, and is healthy.
//
// The client never fails on its own: a client that keeps retrying a dead
// connection is exactly the worker that health checks exist for.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/airssys/rt/health"
	"github.com/airssys/rt/observe"
	"github.com/airssys/rt/supervisor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// The pause between steps is for a human reader; the test runs without.
	if err := run(ctx, os.Stdout, 300*time.Millisecond); err != nil {
		fmt.Fprintln(os.Stderr, "health-checks:", err)
		os.Exit(1)
	}
}

// The health policy of db-client.
const (
	checkInterval = 20 * time.Millisecond
	checkTimeout  = 100 * time.Millisecond
	threshold     = 3
)

func run(ctx context.Context, w io.Writer, pause time.Duration) error {
	// The narrator tells every event of the supervisor, in order with the
	// program's own lines; tell also passes the events on, so that run can
	// wait for the supervisor's reaction.
	out := observe.NewNarrator(w)
	events := make(chan supervisor.Event, 256)
	sup := supervisor.New("health-checks", supervisor.OneForOne, supervisor.Permanent,
		supervisor.WithLogger(slog.New(slog.DiscardHandler)), // the narrator says it all
		supervisor.WithEventHandler(tell(out, events)),
	)

	db := &database{}
	err := sup.Child("db-client").
		HealthCheckInterval(checkInterval).
		HealthCheckTimeout(checkTimeout).
		UnhealthyThreshold(threshold).
		SpawnFunc(func() supervisor.Child { return &client{db: db} })
	if err != nil {
		return err
	}

	out.Printf("health-checks: db-client is checked every %v (a check slower than %v is unhealthy);", checkInterval, checkTimeout)
	out.Printf("%d unhealthy checks in a row restart it. (A health check runs only on a child that", threshold)
	out.Printf("implements CheckHealth: a spec that asks for checks of any other child is an error.)")
	out.Printf("Each indented line is the supervisor telling what it did.\n")
	if err := sup.Start(ctx); err != nil {
		return err
	}
	err = func() error {
		if err := await(ctx, events, is(supervisor.EventSupervisorStarted, "")); err != nil {
			return err
		}
		if err := sleep(ctx, pause); err != nil {
			return err
		}

		out.Printf("\nThe connection turns slow. Degraded is reported, and nothing more.")
		db.current().set(80*time.Millisecond, nil)
		if err := await(ctx, events, is(supervisor.EventHealthChanged, "db-client")); err != nil {
			return err
		}
		if err := sleep(ctx, pause); err != nil {
			return err
		}

		out.Printf("\nThe connection stops working. Every check is unhealthy; after %d in a row the", threshold)
		out.Printf("supervisor restarts db-client, and the new incarnation dials a new connection.")
		db.current().set(0, errors.New("connection reset by peer"))
		if err := await(ctx, events, is(supervisor.EventChildRestarted, "db-client")); err != nil {
			return err
		}
		// The fresh incarnation is presumed healthy, and the supervisor
		// says so.
		if err := await(ctx, events, is(supervisor.EventHealthChanged, "db-client")); err != nil {
			return err
		}
		if err := sleep(ctx, pause); err != nil {
			return err
		}

		out.Printf("\nFrom WhichChildren, with connection #%d:\n%s", db.dialled(), table(sup.WhichChildren()))
		return nil
	}()

	out.Printf("\nStopping.")
	if stopErr := sup.Stop(); err == nil {
		err = stopErr
	}
	return err
}

// client is one incarnation of db-client.
type client struct {
	db   *database
	conn *conn
}

// Start dials the connection this incarnation will use for its whole life.
func (c *client) Start(context.Context) error {
	c.conn = c.db.dial()
	return nil
}

// Serve would run queries on the connection; here it only waits to be
// stopped. It never fails on its own.
func (c *client) Serve(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// slowPing is the latency above which the client calls itself degraded.
const slowPing = 50 * time.Millisecond

// CheckHealth pings the connection.
func (c *client) CheckHealth(ctx context.Context) health.Status {
	latency, err := c.conn.ping(ctx)
	switch {
	case err != nil:
		return health.Unhealthy("ping: " + err.Error())
	case latency > slowPing:
		return health.Degraded(fmt.Sprintf("ping took %v", latency))
	}
	return health.Healthy()
}

// database simulates the server side: it hands out connections and lets
// the program spoil the one in use.
type database struct {
	mu    sync.Mutex
	conns []*conn
}

func (d *database) dial() *conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := &conn{}
	d.conns = append(d.conns, c)
	return c
}

// current is the connection dialled last.
func (d *database) current() *conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conns[len(d.conns)-1]
}

func (d *database) dialled() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.conns)
}

// conn is a simulated connection: a ping answers at once, reporting the
// latency and error the program gave it, so that what the checks see does
// not depend on how busy the machine is.
type conn struct {
	mu      sync.Mutex
	latency time.Duration
	err     error
}

func (c *conn) set(latency time.Duration, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.latency, c.err = latency, err
}

func (c *conn) ping(ctx context.Context) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.latency, c.err
}
