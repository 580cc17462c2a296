package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airssys/rt/health"
	"github.com/airssys/rt/supervisor"
)

var quiet = supervisor.WithLogger(slog.New(slog.DiscardHandler))

// A worker that crashes on its first run and serves on the next: the
// supervisor restarts it with fresh state.
func Example() {
	var runs atomic.Int32
	serving := make(chan struct{})
	sup := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent, quiet)
	err := sup.Child("worker").SpawnFunc(func() supervisor.Child {
		return supervisor.ChildFunc(func(ctx context.Context) error {
			if runs.Add(1) == 1 {
				return errors.New("corrupted state")
			}
			close(serving)
			<-ctx.Done()
			return nil
		})
	})
	if err != nil {
		panic(err)
	}
	if err := sup.Start(context.Background()); err != nil {
		panic(err)
	}
	<-serving
	info := sup.WhichChildren()[0]
	fmt.Println(info.Name, info.State, "restarts:", info.Restarts, "last error:", info.LastErr)
	fmt.Println("stop:", sup.Stop())
	// Output:
	// worker running restarts: 1 last error: corrupted state
	// stop: <nil>
}

func idle(ctx context.Context) error { <-ctx.Done(); return nil }

// Supervisors nest: a sub-supervisor is a child like any other, restarted
// as a whole when it gives up.
func ExampleSupervisor_AddSupervisor() {
	root := supervisor.New("root", supervisor.OneForAll, supervisor.Permanent, quiet)
	db := supervisor.New("data-layer", supervisor.RestForOne, supervisor.Permanent)
	_ = db.SpawnChild("pool", supervisor.ChildFunc(idle))
	_ = db.SpawnChild("cache", supervisor.ChildFunc(idle))
	_ = root.AddSupervisor(db)
	_ = root.Start(context.Background())
	for _, c := range root.WhichChildren() {
		fmt.Println(c.Name, c.IsSupervisor, c.Supervisor.Path())
	}
	fmt.Println(db.CountChildren())
	_ = root.Stop()
	// Output:
	// data-layer true root/data-layer
	// {2 2 0 2}
}

// The builder spawns a pool of similar children in one all-or-nothing call.
func ExampleBatchBuilder_SpawnBatch() {
	sup := supervisor.New("http", supervisor.OneForOne, supervisor.Permanent, quiet)
	err := sup.Children("worker", 3).RestartPolicy(supervisor.Transient).ShutdownTimeout(time.Second).
		SpawnBatch(func() supervisor.Child { return supervisor.ChildFunc(idle) })
	fmt.Println(err)
	for _, c := range sup.WhichChildren() {
		fmt.Println(c.Name, c.Restart, c.Shutdown)
	}
	// Output:
	// <nil>
	// worker-0 Transient Graceful(1s)
	// worker-1 Transient Graceful(1s)
	// worker-2 Transient Graceful(1s)
}

type db struct{ up bool }

func (d *db) Serve(ctx context.Context) error { <-ctx.Done(); return nil }

// CheckHealth makes db a health.Checker: the supervisor polls it.
func (d *db) CheckHealth(ctx context.Context) health.Status {
	if !d.up {
		return health.Unhealthy("no connection")
	}
	return health.Healthy()
}

// Health checks restart a child that stays unhealthy: here the first
// incarnation's connection is broken, and after three unhealthy checks in a
// row the supervisor replaces it with a fresh one, which is healthy.
func ExampleChildBuilder_HealthCheckInterval() {
	var made atomic.Int32
	restarted := make(chan struct{})
	sup := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent, quiet,
		supervisor.WithEventHandler(func(e supervisor.Event) {
			switch e.Kind {
			case supervisor.EventHealthRestart:
				fmt.Println(e)
			case supervisor.EventChildRestarted:
				close(restarted)
			}
		}))
	err := sup.Child("db").HealthCheckInterval(10 * time.Millisecond).HealthCheckTimeout(time.Second).
		UnhealthyThreshold(3).SpawnFunc(func() supervisor.Child { return &db{up: made.Add(1) > 1} })
	if err != nil {
		panic(err)
	}
	if err := sup.Start(context.Background()); err != nil {
		panic(err)
	}
	<-restarted
	info := sup.WhichChildren()[0]
	fmt.Println(info.Name, info.State, "restarts:", info.Restarts, "unhealthy:", errors.Is(info.LastErr, supervisor.ErrUnhealthy))
	_ = sup.Stop()
	// Output:
	// root/db health_restart health=unhealthy: no connection err=unhealthy: 3 consecutive unhealthy checks, last: no connection
	// db running restarts: 1 unhealthy: true
}

// Restart intensity: past three restarts in a minute the supervisor gives
// up, and its Err says why.
func ExampleWithIntensity() {
	sup := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent, quiet,
		supervisor.WithIntensity(3, time.Minute))
	_ = sup.SpawnChild("flaky", supervisor.ChildFunc(func(context.Context) error {
		return errors.New("flaky")
	}))
	_ = sup.Start(context.Background())
	<-sup.Done()
	fmt.Println(errors.Is(sup.Err(), supervisor.ErrIntensityExceeded))
	// Output: true
}

// Events describe every transition; handlers run off the supervision path.
func ExampleWithEventHandler() {
	events := make(chan supervisor.Event, 16)
	sup := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent, quiet,
		supervisor.WithEventHandler(func(e supervisor.Event) { events <- e }))
	_ = sup.SpawnChild("w", supervisor.ChildFunc(idle))
	_ = sup.Start(context.Background())
	_ = sup.Stop()
	close(events)
	for e := range events {
		fmt.Println(e)
	}
	// Output:
	// root/w child_started
	// root supervisor_started
	// root/w child_stopped
	// root supervisor_stopped
}

// Backoff spaces out the restarts of a child that keeps failing: each
// restart waits twice as long as the one before (no Jitter here, so the
// delays are exact), until the intensity is exceeded.
func ExampleWithBackoff() {
	sup := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent, quiet,
		supervisor.WithIntensity(3, time.Minute),
		supervisor.WithBackoff(supervisor.Backoff{Initial: 10 * time.Millisecond, Max: time.Second, Multiplier: 2, ResetAfter: time.Minute}),
		supervisor.WithEventHandler(func(e supervisor.Event) {
			if e.Kind == supervisor.EventChildRestartScheduled {
				fmt.Println(e.Child, "restarts in", e.Delay)
			}
		}))
	_ = sup.SpawnChild("flaky", supervisor.ChildFunc(func(context.Context) error {
		return errors.New("no database")
	}))
	err := sup.Serve(context.Background()) // until it gives up; its events are delivered by then
	fmt.Println(errors.Is(err, supervisor.ErrIntensityExceeded))
	// Output:
	// flaky restarts in 10ms
	// flaky restarts in 20ms
	// flaky restarts in 40ms
	// true
}

// job stands for work that can be ended for real, as an OS process can:
// it ignores its context, and stops only when killed.
type job struct{ killed chan struct{} }

func (j *job) Serve(ctx context.Context) error {
	<-j.killed
	return errors.New("killed")
}

// Kill must not block: it starts the kill; Serve reports the exit.
func (j *job) Kill() { close(j.killed) }

// A child that implements Killer is killed when its ShutdownPolicy says so
// (at once with BrutalKill, when the timeout expires with Graceful), and
// the supervisor waits for its exit, so the stop really ends it.
func ExampleKiller() {
	sup := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent, quiet,
		supervisor.WithEventHandler(func(e supervisor.Event) {
			if e.Child != "" {
				fmt.Println(e.Child, e.Kind)
			}
		}))
	err := sup.Child("job").ShutdownPolicy(supervisor.BrutalKill).
		Spawn(&job{killed: make(chan struct{})})
	if err != nil {
		panic(err)
	}
	if err := sup.Start(context.Background()); err != nil {
		panic(err)
	}
	if err := sup.TerminateChild("job"); err != nil {
		panic(err)
	}
	_ = sup.Stop()
	// Output:
	// job child_started
	// job child_stopped
}

// A supervisor belongs to one parent, and names are path elements: the
// mistakes come back as errors to match, and change nothing.
func ExampleErrInvalidSpec() {
	root := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent, quiet)
	web := supervisor.New("web", supervisor.OneForOne, supervisor.Permanent)
	other := supervisor.New("other", supervisor.OneForOne, supervisor.Permanent, quiet)

	fmt.Println(root.AddSupervisor(web))
	fmt.Println(errors.Is(other.AddSupervisor(web), supervisor.ErrAlreadyPresent)) // web is root's
	fmt.Println(errors.Is(web.AddSupervisor(root), supervisor.ErrInvalidSpec))     // a cycle
	fmt.Println(errors.Is(root.SpawnChild("db/primary", supervisor.ChildFunc(func(ctx context.Context) error {
		<-ctx.Done()
		return nil
	})), supervisor.ErrInvalidSpec)) // "/" separates path elements
	// Output:
	// <nil>
	// true
	// true
	// true
}

// A restart caused by health checks carries ErrUnhealthy.
func ExampleErrUnhealthy() {
	sup := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent, quiet,
		supervisor.WithIntensity(0, time.Minute)) // the first restart is one too many
	_ = sup.Child("db").HealthCheckInterval(10 * time.Millisecond).UnhealthyThreshold(1).
		SpawnFunc(func() supervisor.Child { return sickDB{} })
	err := sup.Serve(context.Background()) // until it gives up
	fmt.Println(errors.Is(err, supervisor.ErrUnhealthy))
	// Output: true
}

type sickDB struct{}

func (sickDB) Serve(ctx context.Context) error { <-ctx.Done(); return nil }
func (sickDB) CheckHealth(context.Context) health.Status {
	return health.Unhealthy("replica lag 40s")
}

// Dynamic children that each do one job: a running OneForOne supervisor
// starts a child without a Start step on the caller's goroutine and
// removes a Temporary one where it ends (the lane: see the package
// documentation), so a thousand of them cost no trip each through the
// supervisor's goroutine. Their names are unique as any children's.
func ExampleSupervisor_StartChild_manyDynamicChildren() {
	sup := supervisor.New("jobs", supervisor.OneForOne, supervisor.Temporary, quiet)
	if err := sup.Start(context.Background()); err != nil {
		panic(err)
	}
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range 1000 {
		wg.Add(1)
		err := sup.StartChild(supervisor.Spec{
			Name: fmt.Sprintf("job-%d", i),
			New: func() supervisor.Child {
				return supervisor.ChildFunc(func(ctx context.Context) error {
					<-gate // the job
					return nil
				})
			},
			Dispose: func(error) { wg.Done() }, // removed: the job is over
		})
		if err != nil {
			panic(err)
		}
	}
	fmt.Println("running:", sup.CountChildren().Active)
	fmt.Println(sup.StartChild(supervisor.Spec{Name: "job-7", New: func() supervisor.Child { return nil }}))
	close(gate)
	wg.Wait()
	fmt.Println("left:", sup.CountChildren().Specs)
	_ = sup.Stop()
	// Output:
	// running: 1000
	// supervisor jobs: child "job-7": already started
	// left: 0
}

// session is one of many children of its own kind (a user's session, say):
// the value that describes it is its Source, so the supervisor keeps no
// New and Dispose func values for each of them.
type session struct{ user string }

func (s *session) New() supervisor.Child { return supervisor.ChildFunc(idle) }

func (s *session) Dispose(reason error) { fmt.Println("session of", s.user, "disposed") }

// A Spec's Source stands for its New and Dispose: one value per child
// instead of two func values (each an allocation the supervisor would keep
// as long as the child).
func ExampleSource() {
	sup := supervisor.New("sessions", supervisor.OneForOne, supervisor.Temporary, quiet)
	if err := sup.Start(context.Background()); err != nil {
		panic(err)
	}
	for _, user := range []string{"ada", "alan"} {
		if err := sup.StartChild(supervisor.Spec{Name: user, Source: &session{user: user}}); err != nil {
			panic(err)
		}
	}
	bad := supervisor.Spec{Name: "grace", Source: &session{user: "grace"}, New: func() supervisor.Child { return nil }}
	fmt.Println(errors.Is(sup.StartChild(bad), supervisor.ErrInvalidSpec))
	_ = sup.TerminateChild("ada") // Temporary: its spec goes, and Dispose runs
	_ = sup.Stop()
	// Output:
	// true
	// session of ada disposed
	// session of alan disposed
}
