//go:build unix

package benchmarks

import "syscall"

// cpuTime is the CPU time (user and system) the process has used so far,
// in nanoseconds: with the wall-clock time it tells work done from time
// spent waiting for a processor on a shared machine.
func cpuTime() int64 {
	var r syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &r); err != nil {
		return 0
	}
	return r.Utime.Nano() + r.Stime.Nano()
}
