//go:build !amd64 || purego

package supervisor

// fpCallers is not used where frame pointers are not walked here:
// NewPanicError calls runtime.Callers instead.
func fpCallers([]uintptr) int { return 0 }

// fpSame is not used either.
func fpSame(*[maxPanicDepth]uintptr, int) bool { return false }

const fastCallers = false
