//go:build !cgo

package cgocallback

// Supported reports whether Call goes through C (the build has cgo).
const Supported = false

// Call calls f directly: without cgo there are no C frames to put
// between them.
func Call(f func()) { f() }
