package health

import (
	"context"
	"encoding/json"
	"testing"
)

func TestConstructors(t *testing.T) {
	cases := []struct {
		got   Status
		state State
		str   string
	}{
		{Healthy(), StateHealthy, "healthy"},
		{Degraded("slow"), StateDegraded, "degraded: slow"},
		{Unhealthy("down"), StateUnhealthy, "unhealthy: down"},
	}
	for _, c := range cases {
		if c.got.State != c.state || c.got.String() != c.str {
			t.Errorf("got %v (%q), want state %v %q", c.got.State, c.got.String(), c.state, c.str)
		}
	}
	if (Status{}) != Healthy() {
		t.Error("zero Status must be healthy")
	}
	if State(9).String() != "State(9)" {
		t.Error(State(9).String())
	}
}

func TestJSONAndFunc(t *testing.T) {
	b, err := json.Marshal(Degraded("x"))
	if err != nil || string(b) != `{"State":"degraded","Reason":"x"}` {
		t.Fatalf("%s %v", b, err)
	}
	var back Status
	if err := json.Unmarshal(b, &back); err != nil || back != Degraded("x") {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	if err := back.State.UnmarshalText([]byte("sick")); err == nil {
		t.Fatal("unknown state accepted")
	}
	f := CheckerFunc(func(context.Context) Status { return Unhealthy("f") })
	if f.CheckHealth(context.Background()).Reason != "f" {
		t.Fatal("CheckerFunc")
	}
}
