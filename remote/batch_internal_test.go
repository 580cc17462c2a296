package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airssys/rt/actor"
)

// pickyCodec is JSON that refuses to decode the string "bad": a message the
// receiving side cannot read, in the middle of a batch.
type pickyCodec struct{ JSON[string] }

func (c pickyCodec) Decode(data []byte) (string, error) {
	s, err := c.JSON.Decode(data)
	if err == nil && s == "bad" {
		err = errors.New("picky: bad")
	}
	return s, err
}

// twoNodes starts nodes a and b on a's embedded server (max_payload
// maxPay), b serving "x", an actor that records what it receives.
func twoNodes(t *testing.T, maxPay int32) (a, b *Node, got func() []string, deadA, deadB func() []actor.DeadLetter) {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	sysA, sysB := actor.NewSystem("a", actor.WithSystemLogger(quiet)), actor.NewSystem("b", actor.WithSystemLogger(quiet))
	for _, s := range []*actor.System{sysA, sysB} {
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Shutdown(ctx) })
	}
	var mu sync.Mutex
	var msgs []string
	var dead [2][]actor.DeadLetter
	for i, s := range []*actor.System{sysA, sysB} {
		t.Cleanup(s.DeadLetters().Subscribe(func(d actor.DeadLetter) {
			mu.Lock()
			dead[i] = append(dead[i], d)
			mu.Unlock()
		}))
	}
	a, err := Start(ctx, "a", sysA, WithListen("127.0.0.1:0"), WithMaxPayload(maxPay), WithHeartbeat(50*time.Millisecond, 4), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(ctx) })
	b, err = Start(ctx, "b", sysB, WithURL(a.ClientURL()), WithHeartbeat(50*time.Millisecond, 4), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(ctx) })
	ref, err := actor.SpawnIn(sysB, "x", func() actor.Actor[string] {
		return actor.Func[string](func(_ *actor.Context[string], m string) error {
			mu.Lock()
			msgs = append(msgs, m)
			mu.Unlock()
			return nil
		})
	}, actor.WithMailbox(actor.Unbounded()))
	if err != nil {
		t.Fatal(err)
	}
	if err := Expose(b, ref, Codec[string](pickyCodec{})); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(a.Nodes()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no membership")
		}
		time.Sleep(time.Millisecond)
	}
	snap := func(i int) func() []actor.DeadLetter {
		return func() []actor.DeadLetter {
			mu.Lock()
			defer mu.Unlock()
			return append([]actor.DeadLetter(nil), dead[i]...)
		}
	}
	return a, b, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), msgs...)
	}, snap(0), snap(1)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for " + what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A stand-in's batch keeps the messages' order across NATS messages (it
// flushes when full), a message over max_payload is a dead letter of its
// own (ErrTooLarge) on the sending side without taking the batch with it,
// and one that does not decode is a dead letter of its own (ErrCodec) on
// the receiving side while the rest of its batch is delivered.
func TestStandInBatch(t *testing.T) {
	const maxPay = 1024
	a, _, got, deadA, deadB := twoNodes(t, maxPay)
	p := &proxy[string]{n: a, e: &proxyEntry{node: "b", name: "x"}, codec: pickyCodec{}, subject: a.inboxOf("b")}
	big := strings.Repeat("z", maxPay)
	var want []string
	for i := range 300 { // several batches: they hold at most maxPay bytes
		m := fmt.Sprintf("m%03d", i)
		switch i {
		case 7:
			p.add(big)
		case 11:
			p.add("bad")
		}
		p.add(m)
		want = append(want, m)
	}
	sentBefore := a.Metrics().Sent
	p.flush()
	if len(p.msgs) != 0 {
		t.Fatalf("%d messages left in the batch after flush", len(p.msgs))
	}
	waitUntil(t, "300 messages on b", func() bool { return len(got()) >= len(want) })
	if g := got(); strings.Join(g, ",") != strings.Join(want, ",") {
		t.Fatalf("received out of order or altered:\n got %v\nwant %v", g, want)
	}
	waitUntil(t, "the dead letter on b", func() bool { return len(deadB()) == 1 })
	if d := deadB()[0]; !errors.Is(d.Reason, ErrCodec) {
		t.Fatalf("dead letter on b: %+v", d)
	}
	// Dead-letter subscribers are told asynchronously: wait for a's too.
	waitUntil(t, "the dead letter on a", func() bool { return len(deadA()) >= 1 })
	da := deadA()
	if len(da) != 1 || !errors.Is(da[0].Reason, ErrTooLarge) || da[0].Message != big {
		t.Fatalf("dead letters on a: %+v", da)
	}
	if sentBefore == 0 || a.Metrics().Sent < uint64(len(want)+1) {
		t.Fatalf("sent counted %d then %d, want every message counted", sentBefore, a.Metrics().Sent)
	}
}

// A batch left when the stand-in stops (its node went down between a
// message and the next) is not lost silently: its messages are dead
// letters with the reason, and nothing of it is published.
func TestStandInBatchLeftAtStop(t *testing.T) {
	a, _, got, deadA, _ := twoNodes(t, 1<<20)
	e := &proxyEntry{node: "b", name: "x"}
	p := &proxy[string]{n: a, e: e, codec: pickyCodec{}, subject: a.inboxOf("b")}
	p.add("one")
	p.add("two")
	e.stop(fmt.Errorf("remote: node %q: %w", "b", ErrNodeDown))
	p.PostStop(nil)
	waitUntil(t, "two dead letters", func() bool { return len(deadA()) >= 2 })
	da := deadA()
	if len(da) != 2 || da[0].Message != "one" || da[1].Message != "two" {
		t.Fatalf("dead letters %+v", da)
	}
	for _, d := range da {
		if !errors.Is(d.Reason, ErrNodeDown) {
			t.Fatalf("reason %v", d.Reason)
		}
	}
	if m := a.Metrics(); m.DeadLetters["node_down"] != 2 {
		t.Fatalf("counted %v", m.DeadLetters)
	}
	if g := got(); len(g) != 0 {
		t.Fatalf("b received %v", g)
	}
}
