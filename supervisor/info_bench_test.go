package supervisor

import (
	"context"
	"testing"
)

// BenchmarkInfo10000: a consistent snapshot of a supervisor with 10,000
// children, taken on its control goroutine (supervision pauses meanwhile).
func BenchmarkInfo10000(b *testing.B) {
	s := New("bench", OneForOne, Permanent, quiet)
	if err := s.Children("w", 10000).SpawnBatch(func() Child { return idleChild{} }); err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if n := len(s.Info().Children); n != 10000 {
			b.Fatal(n)
		}
	}
	b.StopTimer()
	if err := s.Stop(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkInfo10000LoopPause is the part of a snapshot the control loop
// does itself, copying 10,000 records into a buffer the caller allocated:
// the longest pause a snapshot imposes on supervision.
func BenchmarkInfo10000LoopPause(b *testing.B) {
	s := New("bench", OneForOne, Permanent, quiet)
	if err := s.Children("w", 10000).SpawnBatch(func() Child { return idleChild{} }); err != nil {
		b.Fatal(err)
	}
	buf := s.snapshotBuf()
	b.ResetTimer()
	for range b.N {
		buf = s.children.infos(buf)
	}
}
