package supervisor

import (
	"context"
	"testing"
)

type nopLauncher struct{}

func (nopLauncher) Serve(ctx context.Context) error { <-ctx.Done(); return nil }
func (nopLauncher) Launch(ctx context.Context, exit func(error)) {
	context.AfterFunc(ctx, func() { exit(nil) }) // a Launcher reports its exit
}

// BenchmarkStartChild10000Launcher: the supervisor's own cost of StartChild,
// with children that need no goroutine (the actor seam).
func BenchmarkStartChild10000Launcher(b *testing.B) {
	specs := make([]Spec, spawnCount)
	for i := range specs {
		specs[i] = Spec{Name: "w-" + itoa(i), New: func() Child { return nopLauncher{} }, Shutdown: BrutalKill}
	}
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
		_ = s.Stop()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spawnCount), "ns/child")
}
