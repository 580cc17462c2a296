//go:build cgo

// Package cgocallback runs Go code called back from C, for tests of what
// sits below such code on a goroutine's stack: C frames, compiled without
// frame pointers, between the Go caller and the Go callback.
package cgocallback

/*
#include <stdint.h>

extern void goCallback(uintptr_t);

// work keeps a few values live across the callback, as optimised C code
// does, in registers the Go side treats as the frame pointer.
static int work(uintptr_t h) {
	volatile int64_t a[64];
	for (int i = 0; i < 64; i++) a[i] = i * (int64_t)h;
	goCallback(h);
	return (int)a[h & 63];
}
*/
import "C"

import (
	"runtime/cgo"
)

// Supported reports whether Call goes through C (the build has cgo).
const Supported = true

// Call calls f from C: Go, then C, then f. A panic in f unwinds through
// the C frames to Call's caller, as the runtime allows.
func Call(f func()) {
	h := cgo.NewHandle(f)
	defer h.Delete()
	C.work(C.uintptr_t(h))
}

//export goCallback
func goCallback(h C.uintptr_t) {
	cgo.Handle(h).Value().(func())()
}
