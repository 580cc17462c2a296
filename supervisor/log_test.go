package supervisor

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the delivery goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// Every event is one structured slog line with the supervisor's path, the
// child, the kind (the message), the restart count and the error.
func TestEventsAreLoggedAsStructuredLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf syncBuffer
		logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		r := newRig()
		root := New("root", OneForOne, Permanent, WithLogger(logger))
		// web logs through its parent's logger.
		web := New("web", OneForOne, Permanent, WithBackoff(Backoff{Initial: time.Second}))
		r.add(t, web, "h")
		if err := root.AddSupervisor(web); err != nil {
			t.Fatal(err)
		}
		mustStart(t, root)
		r.crash("h", errBoom)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		mustStop(t, root)
		var failed, scheduled, restarted map[string]any
		for _, l := range buf.lines() {
			switch l["msg"] {
			case "child_failed":
				failed = l
			case "child_restart_scheduled":
				scheduled = l
			case "child_restarted":
				restarted = l
			}
		}
		if failed == nil || failed["level"] != "INFO" || failed["supervisor"] != "root/web" ||
			failed["child"] != "h" || failed["error"] != "boom" || failed["restarts"] != 0.0 {
			t.Fatalf("child_failed line: %v", failed)
		}
		if scheduled == nil || scheduled["delay"] == nil {
			t.Fatalf("child_restart_scheduled line: %v", scheduled)
		}
		if restarted == nil || restarted["level"] != "DEBUG" || restarted["restarts"] != 1.0 {
			t.Fatalf("child_restarted line: %v", restarted)
		}
	})
}

// At the default Info level only failures and worse are logged: a
// supervisor does not write a line per routine start.
func TestDefaultLevelLogsOnlyTrouble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf syncBuffer
		logger := slog.New(slog.NewJSONHandler(&buf, nil))
		r := newRig()
		s := New("root", OneForOne, Permanent, WithLogger(logger))
		r.add(t, s, "a", "b")
		mustStart(t, s)
		r.crash("a", errBoom)
		synctest.Wait()
		mustStop(t, s)
		lines := buf.lines()
		if len(lines) != 1 || lines[0]["msg"] != "child_failed" {
			t.Fatalf("logged %v", lines)
		}
	})
}

func TestAccessorsAndSpawnWithSpec(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New("root", RestForOne, Permanent, quiet, WithIntensity(7, time.Minute))
		if s.Name() != "root" || s.Strategy() != RestForOne {
			t.Fatal(s.Name(), s.Strategy())
		}
		if n, p := s.Intensity(); n != 7 || p != time.Minute {
			t.Fatal(n, p)
		}
		err := s.SpawnWithSpec(Spec{Name: "w", Restart: Transient, New: func() Child { panic("replaced") }}, idleChild{})
		if err != nil {
			t.Fatal(err)
		}
		mustStart(t, s)
		ci := childInfo(t, s, "w")
		if ci.Restart != Transient || ci.State != ChildRunning {
			t.Fatalf("%+v", ci)
		}
		info := s.Info()
		if !info.Running || info.Path != "root" || len(info.Children) != 1 || info.MaxRestarts != 7 {
			t.Fatalf("%+v", info)
		}
		mustStop(t, s)
		if info := s.Info(); info.Running || len(info.Children) != 1 {
			t.Fatalf("after stop: %+v", info)
		}
	})
}

func TestPanicErrorUnwrapsErrorValues(t *testing.T) {
	pe := &PanicError{Value: errBoom}
	if !errors.Is(pe, errBoom) {
		t.Fatal("a panic with an error value must match it")
	}
	if (&PanicError{Value: "text"}).Unwrap() != nil {
		t.Fatal("a non-error value unwraps to nil")
	}
}
