package actor

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCrashPathFitsTheStartingStack guards the crash path's stack margin.
// An actor's activation goroutine, and a plain child's, start with the
// runtime's minimum stack (2 KB); from their first frame to the exit report
// (a crash's panic and recover included) the library's frames must fit in
// it, or every restart grows and copies the stack, which doubles the
// restart's latency. This happened twice, from a few more bytes of locals
// in the exit path, and no benchmark assertion can catch it
// deterministically. testdata/stackmargin restarts children with the
// runtime's stack limit lowered to the starting size, so a growth is fatal
// there; it is built without -race, whose frames are larger.
//
// A growth the crash path causes happens on every restart, in every
// attempt. The allocator's and a contended lock's slow paths (a fresh span,
// a new wait record) are deeper than the crash path and come about once in
// 100,000 restarts, on the runtime's account: an attempt that meets one is
// retried, and the test fails only if no attempt completes.
func TestCrashPathFitsTheStartingStack(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	go_, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build testdata/stackmargin")
	}
	bin := filepath.Join(t.TempDir(), "stackmargin")
	if out, err := exec.Command(go_, "build", "-o", bin, "./testdata/stackmargin").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(args ...string) (string, bool) {
		out, err := exec.Command(bin, args...).CombinedOutput()
		return string(out), err == nil && strings.TrimSpace(string(out)) == "ok"
	}
	// The check itself: a crash that needs more than a starting stack
	// must fail every attempt.
	for _, kind := range []string{"actor", "plain"} {
		if out, ok := run(kind, "overflow"); ok || !strings.Contains(out, "stack exceeds") {
			t.Fatalf("%s overflow: the lowered limit caught nothing:\n%s", kind, out)
		}
	}
	const attempts = 3
	for _, kind := range []string{"actor", "plain"} {
		for _, mode := range []string{"error", "panic"} {
			t.Run(kind+"/"+mode, func(t *testing.T) {
				var out string
				for range attempts {
					var ok bool
					if out, ok = run(kind, mode); ok {
						return
					}
				}
				t.Fatalf("the crash path grew a fresh goroutine's stack in %d attempts of 10,000 restarts; "+
					"see benchmarks/BENCHMARKS.md, \"The crash path without stack growth\". Last attempt:\n%s",
					attempts, firstGoroutine(out))
			})
		}
	}
}

// firstGoroutine trims a fatal error's output to the goroutine that
// failed, where the frames that used the stack are listed.
func firstGoroutine(out string) string {
	if i := strings.Index(out, "\n\ngoroutine "); i >= 0 {
		if j := strings.Index(out[i+2:], "\n\n"); j >= 0 {
			return out[:i+2+j]
		}
	}
	return out
}
