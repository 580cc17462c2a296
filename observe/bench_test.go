package observe

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airssys/rt/supervisor"
)

// startPool starts a supervisor with n idle workers.
func startPool(b *testing.B, n int) *supervisor.Supervisor {
	b.Helper()
	root := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent, quiet)
	must(b, root.Children("w", n).SpawnBatch(idle))
	must(b, root.Start(context.Background()))
	b.Cleanup(func() { _ = root.Stop() })
	return root
}

// BenchmarkSnapshot10k takes snapshots of a 10,000-child supervisor.
func BenchmarkSnapshot10k(b *testing.B) {
	root := startPool(b, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		if s := TakeSnapshot(root); s.Totals.Workers != 10_000 {
			b.Fatalf("%d workers", s.Totals.Workers)
		}
	}
}

// BenchmarkSnapshot10kStall takes snapshots while a prober keeps asking
// the same supervisor for something trivial: the prober's waits are the
// pauses of supervision that snapshots cause, plus whatever else stalls
// the process (the maximum includes garbage collection of a heap with
// 10,000 goroutine stacks). BenchmarkInfo10k is the supervisor's own share.
func BenchmarkSnapshot10kStall(b *testing.B) {
	root := startPool(b, 10_000)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var stalls []time.Duration
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			t0 := time.Now()
			// A request that the control loop answers from a map lookup.
			if err := root.DeleteChild("no-such-child"); !errors.Is(err, supervisor.ErrNotFound) {
				panic(err)
			}
			stalls = append(stalls, time.Since(t0))
		}
	}()
	for b.Loop() {
		TakeSnapshot(root)
	}
	close(stop)
	wg.Wait()
	slices.Sort(stalls)
	if len(stalls) > 0 {
		b.ReportMetric(float64(stalls[len(stalls)*99/100].Microseconds()), "p99-stall-µs")
		b.ReportMetric(float64(stalls[len(stalls)*999/1000].Microseconds()), "p99.9-stall-µs")
		b.ReportMetric(float64(stalls[len(stalls)-1].Microseconds())/1e3, "max-stall-ms")
	}
}

// BenchmarkTreeJSON10k is what GET /api/tree costs for 10,000 children:
// the snapshot and its encoding.
func BenchmarkTreeJSON10k(b *testing.B) {
	root := startPool(b, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(TakeSnapshot(root)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInfo10k is the supervisor's own share of a snapshot: the time
// its control loop spends describing 10,000 children.
func BenchmarkInfo10k(b *testing.B) {
	root := startPool(b, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		root.Info()
	}
}

// BenchmarkCollect10k is one scrape of a 10,000-child tree.
func BenchmarkCollect10k(b *testing.B) {
	root := startPool(b, 10_000)
	o, err := New(root)
	must(b, err)
	defer o.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.gatherer.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSupervisorEvents measures supervision throughput (one op = one
// failure and automatic restart, two events) with no observer, with an
// observer and no stream, and with 10 SSE clients reading every event.
// Compare ns/op between the cases for the observer's cost.
func BenchmarkSupervisorEvents(b *testing.B) {
	for _, c := range []struct {
		name     string
		observer bool
		clients  int
	}{
		{"observer=none", false, 0},
		{"clients=0", true, 0},
		{"clients=10", true, 10},
	} {
		b.Run(c.name, func(b *testing.B) { benchEvents(b, c.observer, c.clients) })
	}
}

func benchEvents(b *testing.B, observe bool, clients int) {
	var runs atomic.Int64
	target := int64(b.N)
	done := make(chan struct{})
	root := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent, quiet,
		supervisor.WithIntensity(1<<30, time.Second))
	// Each incarnation fails at once until b.N restarts have happened.
	must(b, root.Child("w").SpawnFunc(func() supervisor.Child {
		return supervisor.ChildFunc(func(ctx context.Context) error {
			n := runs.Add(1)
			if n <= target {
				return errBoom
			}
			if n == target+1 {
				close(done)
			}
			<-ctx.Done()
			return nil
		})
	}))
	runs.Store(target + 1) // hold the first incarnation until the clients are ready

	var wg sync.WaitGroup
	var received atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var o *Observer
	var srv *httptest.Server
	if observe {
		var err error
		o, err = New(root, WithEventBuffer(1<<16))
		must(b, err)
		srv = httptest.NewServer(o)
		for range clients {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/events", nil)
			res, err := http.DefaultClient.Do(req)
			must(b, err)
			sc := bufio.NewScanner(res.Body)
			sc.Scan() // the stream is live once its first line arrives
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer res.Body.Close()
				for sc.Scan() {
					if len(sc.Bytes()) > 3 && sc.Bytes()[0] == 'i' {
						received.Add(1)
					}
				}
			}()
		}
	}
	must(b, root.Start(ctx))
	runs.Store(0)
	b.ResetTimer()
	// The first incarnation is parked; this restart starts the b.N cycles.
	must(b, root.TerminateChild("w"))
	must(b, root.RestartChild("w"))
	<-done
	b.StopTimer()
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "events/s")
	must(b, root.Stop())
	if o != nil {
		o.Close() // ends the streams once they have drained the ring
		wg.Wait()
		srv.Close()
		if clients > 0 && received.Load() == 0 {
			b.Error("the clients received nothing")
		}
	}
	cancel()
}

// BenchmarkRestartLatency10kEvents paces failures at 5,000 a second (10,000
// events a second: failed and restarted) and measures how long each
// automatic restart takes, from the failing Serve's return to the next
// incarnation's start: how much the observer and its streams slow
// supervision at the load, rather than at saturation.
//
// subscriber=noop isolates the cost of event delivery itself (the
// supervisor's dispatcher) from the observer's work on each event.
func BenchmarkRestartLatency10kEvents(b *testing.B) {
	for _, c := range []struct {
		name     string
		noop     bool
		observer bool
		clients  int
	}{
		{"observer=none", false, false, 0},
		{"subscriber=noop", true, false, 0},
		{"clients=0", false, true, 0},
		{"clients=10", false, true, 10},
	} {
		b.Run(c.name, func(b *testing.B) { benchLatency(b, c.noop, c.observer, c.clients) })
	}
}

func benchLatency(b *testing.B, noop, observe bool, clients int) {
	fail := make(chan struct{})
	started := make(chan time.Duration, 1)
	var failedAt atomic.Int64
	root := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent, quiet,
		supervisor.WithIntensity(1<<30, time.Second))
	must(b, root.Child("w").SpawnFunc(func() supervisor.Child {
		return supervisor.ChildFunc(func(ctx context.Context) error {
			if t := failedAt.Load(); t != 0 {
				started <- time.Duration(time.Now().UnixNano() - t)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-fail:
				failedAt.Store(time.Now().UnixNano())
				return errBoom
			}
		})
	}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if noop {
		defer root.Subscribe(func(supervisor.Event) {})()
	}
	var wg sync.WaitGroup
	var o *Observer
	var srv *httptest.Server
	if observe {
		var err error
		o, err = New(root)
		must(b, err)
		srv = httptest.NewServer(o)
		for range clients {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/events", nil)
			res, err := http.DefaultClient.Do(req)
			must(b, err)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer res.Body.Close()
				sc := bufio.NewScanner(res.Body)
				for sc.Scan() {
				}
			}()
		}
	}
	must(b, root.Start(ctx))
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	// A timer cannot fire every 200µs reliably; sleeping until each
	// failure's due time keeps the average rate, in short bursts.
	const every = 200 * time.Microsecond
	cpu0 := cpuTime()
	t0 := time.Now()
	for i := range b.N {
		if d := time.Until(t0.Add(time.Duration(i) * every)); d > 0 {
			time.Sleep(d)
		}
		fail <- struct{}{}
		lat = append(lat, <-started)
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N)/1e3, "cpu-µs/op")
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "events/s")
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	b.ReportMetric(float64(sum.Microseconds())/float64(len(lat)), "mean-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	must(b, root.Stop())
	if o != nil {
		o.Close()
		wg.Wait()
		srv.Close()
	}
}
