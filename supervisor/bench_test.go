package supervisor

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// Benchmarks compare each supervisor operation with the least a Go program
// could do for the same effect: raw goroutines, channels and recover. Run:
//
//	go test -run '^$' -bench . -count 6 ./supervisor | tee new.txt
//	benchstat new.txt

var errBench = errors.New("bench failure")

// latencies reports p50 and p99 of per-iteration samples.
func reportLatencies(b *testing.B, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(samples[len(samples)*99/100].Nanoseconds()), "p99-ns")
}

// restartee signals ready each time an incarnation serves, and fails when
// told to.
type restartee struct {
	ready  chan struct{}
	fail   chan struct{}
	panics bool // fail by panicking rather than returning the error
}

func (r *restartee) Serve(ctx context.Context) error {
	r.ready <- struct{}{}
	select {
	case <-r.fail:
		if r.panics {
			panic(errBench)
		}
		return errBench
	case <-ctx.Done():
		return nil
	}
}

// BenchmarkRestartLatency: from a child's failure to its restarted
// incarnation serving again, under OneForOne.
func BenchmarkRestartLatency(b *testing.B) { benchRestartLatency(b, false, false) }

// BenchmarkRestartLatencySubscribed is BenchmarkRestartLatency with an
// event subscriber attached: the cost of observing every restart.
func BenchmarkRestartLatencySubscribed(b *testing.B) { benchRestartLatency(b, true, false) }

// BenchmarkRestartLatencyPanic is BenchmarkRestartLatency with a child
// that fails by panicking, as a Go program's bugs do: the cost of
// recovering and recording the panic's stack.
func BenchmarkRestartLatencyPanic(b *testing.B) { benchRestartLatency(b, false, true) }

func benchRestartLatency(b *testing.B, subscribed, panics bool) {
	rt := &restartee{ready: make(chan struct{}), fail: make(chan struct{}), panics: panics}
	s := New("bench", OneForOne, Permanent, quiet, WithIntensity(1<<30, time.Millisecond))
	if subscribed {
		var seen int
		defer s.Subscribe(func(Event) { seen++ })()
	}
	if err := s.SpawnChild("w", rt); err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	<-rt.ready
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		rt.fail <- struct{}{}
		<-rt.ready
		samples = append(samples, time.Since(t0))
	}
	b.StopTimer()
	reportLatencies(b, samples)
	if err := s.Stop(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRestartLatencyBaseline: the same with a bare goroutine that
// recovers its failure and respawns itself.
func BenchmarkRestartLatencyBaseline(b *testing.B) {
	ready, fail, quit := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var spawn func()
	spawn = func() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if recover() != nil {
					spawn()
				}
			}()
			ready <- struct{}{}
			select {
			case <-fail:
				panic(errBench)
			case <-quit:
			}
		}()
	}
	spawn()
	<-ready
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		fail <- struct{}{}
		<-ready
		samples = append(samples, time.Since(t0))
	}
	b.StopTimer()
	reportLatencies(b, samples)
	close(quit)
	wg.Wait()
}

// groupChild counts incarnations that are serving.
type groupChild struct {
	up   *sync.WaitGroup
	fail chan struct{}
}

func (g *groupChild) Serve(ctx context.Context) error {
	g.up.Done()
	select {
	case <-g.fail:
		return errBench
	case <-ctx.Done():
		return nil
	}
}

const groupSize = 1000

// BenchmarkOneForAll1000: one of 1,000 children fails; the other 999 are
// stopped one at a time in reverse order, then all 1,000 start again in
// order. One op is the whole restart, until every child serves again.
func BenchmarkOneForAll1000(b *testing.B) {
	var up sync.WaitGroup
	fail := make(chan struct{})
	s := New("bench", OneForAll, Permanent, quiet, WithIntensity(1<<30, time.Millisecond))
	up.Add(groupSize)
	err := s.Children("w", groupSize).SpawnBatchWith(func(i int) Child {
		c := &groupChild{up: &up}
		if i == groupSize/2 {
			c.fail = fail
		}
		return c
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	up.Wait()
	b.ResetTimer()
	for range b.N {
		up.Add(groupSize)
		fail <- struct{}{}
		up.Wait()
	}
	b.StopTimer()
	if err := s.Stop(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOneForAll1000Baseline: 1,000 raw goroutines, each with its own
// cancel and done channel, stopped one by one in reverse and started again.
func BenchmarkOneForAll1000Baseline(b *testing.B) {
	type g struct {
		cancel context.CancelFunc
		done   chan struct{}
	}
	var up sync.WaitGroup
	gs := make([]g, groupSize)
	start := func(i int) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		gs[i] = g{cancel, done}
		go func() {
			defer close(done)
			defer func() { _ = recover() }()
			up.Done()
			<-ctx.Done()
		}()
	}
	up.Add(groupSize)
	for i := range gs {
		start(i)
	}
	up.Wait()
	b.ResetTimer()
	for range b.N {
		for i := groupSize - 1; i >= 0; i-- {
			gs[i].cancel()
			<-gs[i].done
		}
		up.Add(groupSize)
		for i := range gs {
			start(i)
		}
		up.Wait()
	}
	b.StopTimer()
	for i := range gs {
		gs[i].cancel()
		<-gs[i].done
	}
}

const spawnCount = 10000

type idleChild struct{}

func (idleChild) Serve(ctx context.Context) error { <-ctx.Done(); return nil }

// BenchmarkStartChild10000: StartChild of 10,000 children on a running
// supervisor; reported per child. Stopping them is outside the timer.
func BenchmarkStartChild10000(b *testing.B) {
	specs := make([]Spec, spawnCount)
	for i := range specs {
		specs[i] = Spec{Name: "w-" + itoa(i), New: func() Child { return idleChild{} }}
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		s := New("bench", OneForOne, Permanent, quiet)
		if err := s.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for i := range specs {
			if err := s.StartChild(specs[i]); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if err := s.Stop(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spawnCount), "ns/child")
}

// BenchmarkStartChild10000Baseline: 10,000 goroutines started one by one,
// each acknowledging that it runs, with a cancel and a recover.
func BenchmarkStartChild10000Baseline(b *testing.B) {
	for range b.N {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		ack := make(chan struct{})
		for range spawnCount {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { _ = recover() }()
				ack <- struct{}{}
				<-ctx.Done()
			}()
			<-ack
		}
		b.StopTimer()
		cancel()
		wg.Wait()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spawnCount), "ns/child")
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var buf [20]byte
	n := len(buf)
	for ; i > 0; i /= 10 {
		n--
		buf[n] = byte('0' + i%10)
	}
	return string(buf[n:])
}

// BenchmarkIdleMemory100000 measures what the supervisor keeps per child on
// top of the children's own goroutines: heap bytes after GC per child, with
// 100,000 children that have no goroutine of their own (the Launcher seam),
// so nothing but the supervisor's records is counted. Goroutine children
// add their goroutine (see BenchmarkIdleGoroutines100000 for its cost).
func BenchmarkIdleMemory100000(b *testing.B) {
	const n = 100000
	for range b.N {
		h0 := heapAfterGC()
		s := New("bench", OneForOne, Permanent, quiet)
		if err := s.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		err := s.Children("w", n).ShutdownPolicy(BrutalKill).SpawnBatch(func() Child { return nopLauncher{} })
		if err != nil {
			b.Fatal(err)
		}
		h1 := heapAfterGC()
		b.ReportMetric((float64(h1)-float64(h0))/n, "bookkeeping-B/child")
		if err := s.Stop(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIdleGoroutines100000 is the baseline: 100,000 bare goroutines,
// each parked on its own cancellable context (what any Go program needs
// to stop them), heap and stack bytes per goroutine.
func BenchmarkIdleGoroutines100000(b *testing.B) {
	const n = 100000
	for range b.N {
		h0, s0 := heapAfterGC(), stackInuse()
		cancels := make([]context.CancelFunc, n)
		var wg sync.WaitGroup
		for i := range cancels {
			ctx, cancel := context.WithCancel(context.Background())
			cancels[i] = cancel
			wg.Add(1)
			go func() { defer wg.Done(); <-ctx.Done() }()
		}
		h1, s1 := heapAfterGC(), stackInuse()
		b.ReportMetric((float64(h1)-float64(h0))/n, "heap-B/goroutine")
		b.ReportMetric((float64(s1)-float64(s0))/n, "stack-B/goroutine")
		for _, c := range cancels {
			c()
		}
		wg.Wait()
	}
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func stackInuse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.StackInuse
}

// BenchmarkSpawnBatch10000: the same 10,000 children added by one
// all-or-nothing SpawnBatch call: one round trip to the control goroutine
// instead of 10,000.
func BenchmarkSpawnBatch10000(b *testing.B) {
	for range b.N {
		b.StopTimer()
		s := New("bench", OneForOne, Permanent, quiet)
		if err := s.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := s.Children("w", spawnCount).SpawnBatch(func() Child { return idleChild{} }); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.Stop(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spawnCount), "ns/child")
}
