package supervisor

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestEnumsRoundTripAsText(t *testing.T) {
	type all struct {
		S Strategy
		R RestartPolicy
		C ChildState
		E EventKind
		A AutoShutdown
		P ShutdownPolicy
		Q ShutdownPolicy
		B ShutdownPolicy
	}
	in := all{RestForOne, Transient, ChildRestarting, EventHealthRestart, AllSignificant, Graceful(1500 * time.Millisecond), Infinity, BrutalKill}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"S":"RestForOne","R":"Transient","C":"restarting","E":"health_restart","A":"AllSignificant","P":"Graceful(1.5s)","Q":"Infinity","B":"BrutalKill"}`
	if string(b) != want {
		t.Fatalf("%s", b)
	}
	var out all
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Fatalf("%+v %v", out, err)
	}
	var p ShutdownPolicy
	if err := p.UnmarshalText([]byte("5s")); err != nil || p != Graceful(5*time.Second) {
		t.Fatal(p, err)
	}
	for _, bad := range []string{"-5s", "0s", "Graceful(x)", "soon"} {
		if err := p.UnmarshalText([]byte(bad)); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	var s Strategy
	if err := s.UnmarshalText([]byte("OneForNone")); !errors.Is(err, ErrInvalidOption) {
		t.Fatal(err)
	}
}

func TestChildInfoKind(t *testing.T) {
	s := New("root", OneForOne, Permanent, quiet)
	_ = s.StartChild(Spec{Name: "a", Kind: "actor", New: func() Child { return idleChild{} }})
	_ = s.SpawnChild("w", idleChild{})
	_ = s.AddSupervisor(New("sub", OneForOne, Permanent))
	var kinds []string
	for _, ci := range s.WhichChildren() {
		kinds = append(kinds, ci.Kind)
	}
	if got := kinds; len(got) != 3 || got[0] != "actor" || got[1] != "worker" || got[2] != "supervisor" {
		t.Fatal(got)
	}
}
