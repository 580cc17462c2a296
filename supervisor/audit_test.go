package supervisor

// Adversarial tests of the lane (lane.go): many goroutines using the whole
// dynamic API on a few names at once, checking what users rely on.

import (
	"context"
	"sync"
	"testing"
)

// auditJob is a child that ends when told, with or without a Start step
// (a Starter goes through the loop, a Launcher onto the lane).
type auditJob struct {
	done chan error
}

func (j *auditJob) Serve(ctx context.Context) error {
	select {
	case err := <-j.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (j *auditJob) Launch(ctx context.Context, exit func(error)) {
	go func() { exit(j.Serve(ctx)) }()
}

type auditStarter struct{ auditJob }

func (*auditStarter) Start(context.Context) error { return nil }

// TestRegressionLaneStartRacesTheLoop starts a name on the lane while the
// loop starts, takes over and removes a child of the same name: the lane
// start read whether the holder of the name was on the lane after letting
// go of the family's mutex, a data race with the loop (caught by -race).
func TestRegressionLaneStartRacesTheLoop(t *testing.T) {
	s := New("root", OneForOne, Temporary, quiet)
	mustStart(t, s)
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 300 {
			j := &auditStarter{auditJob{done: make(chan error, 1)}}
			if err := s.StartChild(Spec{Name: "x", Restart: Permanent, New: func() Child { return j }}); err == nil {
				_ = s.TerminateChild("x")
				_ = s.DeleteChild("x")
			}
		}
	})
	wg.Go(func() {
		for range 300 {
			j := &auditJob{done: make(chan error, 1)}
			if err := s.StartChild(Spec{Name: "x", New: func() Child { return j }}); err == nil {
				_ = s.TerminateChild("x")
			}
		}
	})
	wg.Wait()
	mustStop(t, s)
}
