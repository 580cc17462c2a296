//go:build !purego

package supervisor

// fpCallers records the return addresses of the frame-pointer chain,
// innermost first, from its caller's frame: the program counters that
// runtime.Callers would give for the physical frames, without the
// runtime's unwinder (which reads the tables of every frame, and costs
// about as much as the rest of a restart). runtime.CallersFrames expands
// inlined calls from them as it does from runtime.Callers' output.
//
//go:noescape
func fpCallers(pcs []uintptr) int

// fpSame reports whether the frame-pointer chain from its caller's frame
// is the stack pcs[:n] that fpCallers recorded from the same caller: the
// same return addresses, and no more of them unless n is maxPanicDepth
// (where the record was cut). It reads and compares, without a frame or
// a stack check, as fpCallers does.
//
//go:noescape
func fpSame(pcs *[maxPanicDepth]uintptr, n int) bool

// fastCallers reports whether fpCallers may be used.
const fastCallers = true
