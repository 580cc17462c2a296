package actor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/airssys/rt/supervisor"
)

// TestSpawnInLaneSpecAsStartChild checks the lane's short way from an
// actor's spec to the supervisor's record (startLaneSpec): a spawn under a
// running System's root gets the settings its options asked for, as a
// spec given to StartChild does, and settings the short way does not take
// fail as StartChild reports them.
func TestSpawnInLaneSpecAsStartChild(t *testing.T) {
	sys := NewSystem("sys", WithSystemLogger(quiet))
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer sys.Shutdown(context.Background())
	factory := func() Actor[int] { return Func[int](func(*Context[int], int) error { return nil }) }

	for i, opts := range [][]Option{
		{WithRestart(supervisor.Temporary)},
		{WithRestart(supervisor.Temporary), WithShutdown(supervisor.BrutalKill)}, // only the shutdown differs
		{WithRestart(supervisor.Temporary), WithShutdown(supervisor.BrutalKill), WithStartTimeout(time.Hour)},
		{WithRestart(supervisor.Transient), WithShutdown(supervisor.Graceful(time.Second))},
		{WithShutdown(supervisor.BrutalKill), WithStartTimeout(time.Minute)},
		{WithRestart(supervisor.Temporary)}, // the first's settings again, after others
	} {
		name := "ok" + string(rune('a'+i))
		if _, err := SpawnIn(sys, name, factory, opts...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		o := options{}
		for _, opt := range opts {
			o = opt(o)
		}
		var got *supervisor.ChildInfo
		for _, ci := range sys.Root().WhichChildren() {
			if ci.Name == name {
				got = &ci
			}
		}
		if got == nil {
			t.Fatalf("%s: not among the root's children", name)
		}
		want := o.restart
		if want == supervisor.DefaultRestart {
			want = supervisor.Permanent // the root's default
		}
		if got.Restart != want || o.shutdown != 0 && got.Shutdown != o.shutdown || got.Kind != Kind || got.Since.IsZero() {
			t.Errorf("%s: restart %v shutdown %v kind %q since %v; want restart %v shutdown %v kind %q and a start time",
				name, got.Restart, got.Shutdown, got.Kind, got.Since, want, o.shutdown, Kind)
		}
	}

	for _, tc := range []struct {
		opt  Option
		want string
	}{
		{WithRestart(supervisor.RestartPolicy(42)), "restart policy"},
		{WithShutdown(supervisor.ShutdownPolicy(-42)), "shutdown policy"},
		{WithStartTimeout(-time.Second), "negative start timeout"},
	} {
		_, err := SpawnIn(sys, "bad", factory, tc.opt)
		if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SpawnIn with %s: %v; want ErrInvalidSpec saying %q", tc.want, err, tc.want)
		}
		sup := supervisor.New("plain", supervisor.OneForOne, supervisor.Temporary)
		spec, _ := Spec("bad", factory, tc.opt)
		if err2 := sup.StartChild(spec); err2 == nil || !strings.Contains(err.Error(), stripSup(err2.Error())) {
			t.Errorf("SpawnIn said %v; StartChild says %v", err, err2)
		}
	}
	if _, err := Lookup[int](sys, "bad"); err == nil {
		t.Error("a failed spawn left its name registered")
	}
}

// stripSup is an error's text after its "supervisor NAME: " prefix.
func stripSup(s string) string {
	if _, rest, ok := strings.Cut(s, ": "); ok && strings.HasPrefix(s, "supervisor ") {
		return rest
	}
	return s
}
