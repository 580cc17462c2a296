package natstest

import (
	"sync"
	"testing"
)

// logger adapts a server's log to t.Log. It goes quiet once the cluster is
// shut down, since t.Log after the test has ended panics.
type logger struct {
	t    testing.TB
	name string

	mu sync.Mutex
	on bool
}

func (l *logger) stop() {
	l.mu.Lock()
	l.on = false
	l.mu.Unlock()
}

func (l *logger) logf(level, format string, v []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.on {
		l.t.Logf("%s %s: "+format, append([]any{l.name, level}, v...)...)
	}
}

func (l *logger) Noticef(format string, v ...any) { l.logf("notice", format, v) }
func (l *logger) Warnf(format string, v ...any)   { l.logf("warn", format, v) }
func (l *logger) Fatalf(format string, v ...any)  { l.logf("fatal", format, v) }
func (l *logger) Errorf(format string, v ...any)  { l.logf("error", format, v) }
func (l *logger) Debugf(format string, v ...any)  {}
func (l *logger) Tracef(format string, v ...any)  {}
