package observe

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/airssys/rt/health"
	"github.com/airssys/rt/supervisor"
)

func TestNarratorMergesRuns(t *testing.T) {
	var buf bytes.Buffer
	n := NewNarrator(&buf)
	ev := func(sup string, kind supervisor.EventKind, child string, err error) {
		n.Event(supervisor.Event{Supervisor: sup, Kind: kind, Child: child, Err: err})
	}
	const dl = "microservice/data-layer"
	ev(dl, supervisor.EventChildFailed, "cache", errBoom)
	ev(dl, supervisor.EventChildStopped, "repository", nil)
	ev(dl, supervisor.EventChildRestarted, "cache", nil)
	ev(dl, supervisor.EventChildRestarted, "repository", nil)
	n.Printf("done")
	ev(dl, supervisor.EventSupervisorStopped, "", nil) // a sub-supervisor's routine event: left out
	ev("microservice", supervisor.EventChildStopped, "data-layer", nil)
	n.Flush()
	n.Flush() // nothing pending: writes nothing

	want := "" +
		"  data-layer      cache failed: boom\n" +
		"  data-layer      stopped repository\n" +
		"  data-layer      restarted cache, repository\n" +
		"done\n" +
		"  microservice    stopped data-layer\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestNarratorSentences(t *testing.T) {
	for _, c := range []struct {
		e    supervisor.Event
		want string
	}{
		{supervisor.Event{Supervisor: "shop", Kind: supervisor.EventSupervisorStarted}, "shop            started"},
		{supervisor.Event{Supervisor: "shop/web", Kind: supervisor.EventSupervisorStarted}, ""},
		{supervisor.Event{Supervisor: "shop", Kind: supervisor.EventSupervisorStopped, Err: errBoom}, "shop            stopped: boom"},
		{supervisor.Event{Supervisor: "shop", Kind: supervisor.EventChildFailed, Child: "db",
			Err: &supervisor.PanicError{Value: "index out of range\nwith length 2"}},
			"shop            db failed: panic: index out of range with length 2"},
		{supervisor.Event{Supervisor: "shop", Kind: supervisor.EventChildFailed, Child: "db",
			Err: fmt.Errorf("x: %w", supervisor.ErrIntensityExceeded)}, "shop            db failed: too many restarts"},
		{supervisor.Event{Supervisor: "shop", Kind: supervisor.EventChildExited, Child: "job"}, "shop            job exited"},
		{supervisor.Event{Supervisor: "shop", Kind: supervisor.EventChildStartFailed, Child: "db", Err: errBoom},
			"shop            db failed to start: boom"},
		{supervisor.Event{Supervisor: "shop", Kind: supervisor.EventChildRestartScheduled, Child: "db", Delay: 250 * time.Millisecond},
			"shop            db restarts in 250ms"},
		{supervisor.Event{Supervisor: "shop", Kind: supervisor.EventChildAbandoned, Child: "db", Err: errBoom},
			"shop            abandoned db: boom"},
		{supervisor.Event{Supervisor: "shop", Kind: supervisor.EventHealthChanged, Child: "db", Health: health.Degraded("slow")},
			"shop            db is degraded: slow"},
		{supervisor.Event{Supervisor: "shop", Kind: supervisor.EventHealthChanged, Child: "db", Health: health.Healthy()},
			"shop            db is healthy again"},
		{supervisor.Event{Supervisor: "shop", Kind: supervisor.EventHealthRestart, Child: "db", Health: health.Unhealthy("refused"),
			Err: errors.New("3 checks")}, "shop            restarting db: unhealthy too long (refused)"},
		{supervisor.Event{Supervisor: "shop", Kind: supervisor.EventIntensityExceeded}, "shop            gave up: too many restarts"},
		{supervisor.Event{Supervisor: "shop/web", Kind: supervisor.EventIntensityExceeded},
			"web             gave up: too many restarts, escalating to its parent"},
		{supervisor.Event{Supervisor: "shop", Kind: supervisor.EventAutoShutdown, Child: "job"}, "shop            job ended: shutting down"},
	} {
		var buf bytes.Buffer
		NewNarrator(&buf).Event(c.e)
		want := ""
		if c.want != "" {
			want = "  " + c.want + "\n"
		}
		if buf.String() != want {
			t.Errorf("%v:\n got %q\nwant %q", c.e, buf.String(), want)
		}
	}
}
