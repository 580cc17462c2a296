package benchmarks

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/airssys/rt/process"
	"github.com/airssys/rt/supervisor"
)

// crasher is the program every process-restart workload runs: it exits at
// once with code 1, a crash.
const crasher = "/bin/false"

// BenchmarkProcessRestart (issue 9): a crashed OS process is restarted.
// ns/op is one whole cycle (start, run, exit, reap, restart decision);
// restart-ns is the part from the exit being seen (reaped) to the next
// process started, the supervisor's own latency.
//
//   - lib=raw: a bare exec.Cmd loop, Start then Wait, nothing else: the
//     least Go does to run a program again.
//   - lib=raw-group: the same with what a supervised child needs that the
//     bare loop lacks: its own process group, Pdeathsig, stdout and stderr
//     on pipes read to EOF.
//   - lib=airssys: a process.Spec child (Permanent) under a OneForOne
//     supervisor; the times come from its events.
func BenchmarkProcessRestart(b *testing.B) {
	b.Run(libRaw, func(b *testing.B) {
		benchRawRestart(b, func(cmd *exec.Cmd) func() { return func() {} })
	})
	b.Run("lib=raw-group", func(b *testing.B) {
		benchRawRestart(b, func(cmd *exec.Cmd) func() {
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
			outR, outW, _ := os.Pipe()
			errR, errW, _ := os.Pipe()
			cmd.Stdout, cmd.Stderr = outW, errW
			return func() { // after Start
				outW.Close()
				errW.Close()
				var wg sync.WaitGroup
				for _, r := range []*os.File{outR, errR} {
					wg.Go(func() {
						buf := make([]byte, 4096)
						for {
							if _, err := r.Read(buf); err != nil {
								r.Close()
								return
							}
						}
					})
				}
				wg.Wait()
			}
		})
	})
	b.Run(libAirsSys, func(b *testing.B) {
		noLeaks(b)
		var (
			mu        sync.Mutex
			failedAt  time.Time
			restart   time.Duration
			restarts  int
			reachedN  = make(chan struct{})
			closeOnce sync.Once
		)
		sup := supervisor.New("bench", supervisor.OneForOne, supervisor.Permanent,
			supervisor.WithLogger(discard), supervisor.WithIntensity(1<<30, time.Hour),
			supervisor.WithEventHandler(func(e supervisor.Event) {
				mu.Lock()
				defer mu.Unlock()
				switch e.Kind {
				case supervisor.EventChildFailed:
					failedAt = e.Time
				case supervisor.EventChildRestarted:
					restart += e.Time.Sub(failedAt)
					if restarts++; restarts == b.N {
						closeOnce.Do(func() { close(reachedN) })
					}
				}
			}))
		if err := sup.StartChild(process.Spec("crasher", process.Command{Path: crasher},
			process.WithOutput(discard))); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		if err := sup.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		<-reachedN
		b.StopTimer()
		if err := sup.Stop(); err != nil {
			b.Fatal(err)
		}
		mu.Lock()
		b.ReportMetric(float64(restart.Nanoseconds())/float64(restarts), "restart-ns")
		mu.Unlock()
	})
}

// benchRawRestart runs crasher b.N times in a loop; prepare sets the
// command up and returns what to do between Start and Wait.
func benchRawRestart(b *testing.B, prepare func(*exec.Cmd) func()) {
	var restart time.Duration
	var exited time.Time
	for i := range b.N {
		cmd := exec.Command(crasher)
		afterStart := prepare(cmd)
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		if i > 0 {
			restart += time.Since(exited)
		}
		afterStart()
		_ = cmd.Wait() // exit status 1: the crash
		exited = time.Now()
	}
	if b.N > 1 {
		b.ReportMetric(float64(restart.Nanoseconds())/float64(b.N-1), "restart-ns")
	}
}
