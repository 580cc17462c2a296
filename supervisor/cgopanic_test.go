package supervisor

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/airssys/rt/internal/cgocallback"
)

// cgoChildEnv marks the process TestRegressionPanicThroughCgoFrames runs
// its panics in: without the fix, the fault kills the process it happens
// in, which must not be the one running the package's other tests.
const cgoChildEnv = "AIRSSYS_CGO_PANIC_CHILD"

var errCgoBoom = errors.New("boom from a cgo callback")

// A panic in Go code called back from C, recovered below the C frames (as
// a child's or an actor's recover is, when its code calls into C), is a
// PanicError with its stack. Walking the frame-pointer chain through the C
// frames, compiled without frame pointers, read a garbage address: the
// process died with "fatal error: fault" in fpCallers, which no recover
// can catch. The walks now read only frames in the chunk of memory that
// holds their caller's frame, going up the stack (fpcallers_amd64.s).
func TestRegressionPanicThroughCgoFrames(t *testing.T) {
	if !cgocallback.Supported {
		t.Skip("built without cgo")
	}
	if os.Getenv(cgoChildEnv) == "1" {
		panicThroughCgo(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRegressionPanicThroughCgoFrames$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), cgoChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestRegressionPanicThroughCgoFrames") {
		t.Fatalf("the panics through C frames, in a process of their own: %v\n%s", err, out)
	}
}

func panicThroughCgo(t *testing.T) {
	recovered := func(f func()) (err error) {
		defer func() {
			if v := recover(); v != nil {
				err = NewPanicError(v)
			}
		}()
		f()
		return nil
	}
	// First a panic of pure Go, whose stack NewPanicError records off the
	// frame-pointer chain (lastStack), then panics through C, twice from
	// the same place.
	if err := recovered(func() { panic(errCgoBoom) }); !errors.Is(err, errCgoBoom) {
		t.Fatalf("pure Go panic: %v", err)
	}
	for i := range 3 {
		err := recovered(func() { cgocallback.Call(func() { panic(errCgoBoom) }) })
		pe, ok := err.(*PanicError)
		if !ok || !errors.Is(err, errCgoBoom) {
			t.Fatalf("panic %d through C: %v (%T), want a PanicError of errCgoBoom", i, err, err)
		}
		var fns []string
		for _, f := range pe.Frames() {
			fns = append(fns, f.Function)
		}
		if !strings.Contains(strings.Join(fns, "\n"), "supervisor.panicThroughCgo") || pe.At() == "" {
			t.Fatalf("panic %d through C: at %q, frames %q: want the callback's frames", i, pe.At(), fns)
		}
	}
}
