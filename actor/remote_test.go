package actor_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/supervisor"
)

// fakePort stands in for a transport: it keeps exported answer slots by
// token and records the answers imported Replies send.
type fakePort struct {
	mu       sync.Mutex
	exported map[string]func([]byte, error)
	answers  chan string
}

func (p *fakePort) ExportReply(answer func([]byte, error), gone func() bool) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tok := "t" + string(rune('0'+len(p.exported)))
	p.exported[tok] = answer
	return []byte(tok), nil
}

func (p *fakePort) ImportReply(token []byte) (func([]byte, error), error) {
	tok := string(token)
	return func(data []byte, err error) {
		if err != nil {
			p.answers <- tok + " err " + err.Error()
			return
		}
		p.answers <- tok + " ok " + string(data)
	}, nil
}

type request struct {
	Op    string
	Reply actor.Reply[int]
}

func withPort(t *testing.T) *fakePort {
	p := &fakePort{exported: map[string]func([]byte, error){}, answers: make(chan string, 16)}
	actor.SetReplyPort(p)
	t.Cleanup(func() { actor.SetReplyPort(nil) })
	return p
}

// A Reply crosses through the port both ways; the regression: a decoded
// (imported) Reply had no way for a lost request to fail it, so a remote
// Ask whose request crashed waited for its ctx.
func TestRegressionReplyThroughPortLostFailsRemoteAsker(t *testing.T) {
	// No port: a Reply does not encode.
	if _, err := json.Marshal(request{Reply: actor.Reply[int]{}}); err != nil {
		t.Fatalf("zero Reply: %v", err)
	}
	p := withPort(t)
	ref, err := actor.SpawnIn(newSystem(t), "answerer", func() actor.Actor[request] {
		return actor.Func[request](func(_ *actor.Context[request], r request) error {
			switch r.Op {
			case "crash":
				return errors.New("boom")
			case "twice":
				r.Reply.Send(1)
				r.Reply.Send(2)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	// The asker's side: Ask's Reply encodes to a token of the port's,
	// and the port's answer reaches the Ask.
	sent := make(chan []byte, 1)
	asker, _ := actor.SpawnIn(newSystem(t), "wire", func() actor.Actor[request] {
		return actor.Func[request](func(_ *actor.Context[request], r request) error {
			data, err := json.Marshal(r)
			if err != nil {
				return err
			}
			sent <- data
			return nil
		})
	})
	go func() {
		data := <-sent
		var wire struct{ Reply string }
		_ = json.Unmarshal(data, &wire)
		p.mu.Lock()
		answer := p.exported[wire.Reply]
		p.mu.Unlock()
		answer([]byte("42"), nil)
	}()
	v, err := actor.Ask(context.Background(), asker, func(r actor.Reply[int]) request { return request{Reply: r} })
	if err != nil || v != 42 {
		t.Fatalf("Ask through the port: %v %v", v, err)
	}

	// The answering side: a decoded Reply answers through the port, once.
	var in request
	if err := json.Unmarshal([]byte(`{"Op":"twice","Reply":"t9"}`), &in); err != nil {
		t.Fatal(err)
	}
	_ = ref.Send(in)
	if got := <-p.answers; got != "t9 ok 1" {
		t.Fatalf("answer %q", got)
	}
	// A request lost here (its Receive crashes) fails the remote asker at
	// once, although no Ask waits in this process.
	if err := json.Unmarshal([]byte(`{"Op":"crash","Reply":"t8"}`), &in); err != nil {
		t.Fatal(err)
	}
	_ = ref.Send(in)
	select {
	case got := <-p.answers:
		if !strings.HasPrefix(got, "t8 err") || !strings.Contains(got, "boom") {
			t.Fatalf("answer %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the lost request's remote asker was not told")
	}
	select {
	case extra := <-p.answers:
		t.Fatalf("a second answer: %q", extra)
	default:
	}
}

// Fail crashes the incarnation from any goroutine; Requeue in PostStop
// gives messages back to the next incarnation, ahead of the queue.
func TestContextFailAndRequeue(t *testing.T) {
	sys := newSystem(t)
	got := make(chan string, 16)
	var mu sync.Mutex
	var cxs []*actor.Context[string]
	ref, err := actor.SpawnIn(sys, "fwd", func() actor.Actor[string] {
		return &requeuer{got: got, register: func(cx *actor.Context[string]) {
			mu.Lock()
			cxs = append(cxs, cx)
			mu.Unlock()
		}}
	}, actor.WithRestart(supervisor.Permanent))
	if err != nil {
		t.Fatal(err)
	}
	_ = ref.Send("a")
	if m := <-got; m != "a" {
		t.Fatal(m)
	}
	mu.Lock()
	first := cxs[0]
	mu.Unlock()
	first.Fail(errors.New("told from outside"))
	// The next incarnation gets "kept" back first, then "b".
	_ = ref.Send("b")
	for _, want := range []string{"kept", "b"} {
		select {
		case m := <-got:
			if m != want {
				t.Fatalf("got %q, want %q", m, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %q", want)
		}
	}
	// Record counts a transport's dead letter.
	before := sys.DeadLetters().Count()
	sys.DeadLetters().Record("somewhere", 1, errors.New("lost on the wire"))
	if sys.DeadLetters().Count() != before+1 {
		t.Fatal("Record did not count")
	}
}

type requeuer struct {
	got      chan string
	register func(*actor.Context[string])
}

func (r *requeuer) PreStart(cx *actor.Context[string]) error { r.register(cx); return nil }
func (r *requeuer) Receive(_ *actor.Context[string], m string) error {
	r.got <- m
	return nil
}
func (r *requeuer) PostStop(cx *actor.Context[string]) { cx.Requeue("kept") }

func newSystem(t *testing.T) *actor.System {
	t.Helper()
	sys := actor.NewSystem("remote-seam", actor.WithSystemLogger(slog.New(slog.DiscardHandler)))
	if err := sys.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Shutdown(context.Background()) })
	return sys
}

// Backlog counts the messages behind the one in Receive, whether the
// activation has taken them out of the mailbox yet or not, down to 0 at the
// last: what a batching forwarder flushes on.
func TestContextBacklog(t *testing.T) {
	sys := newSystem(t)
	started, release := make(chan struct{}), make(chan struct{})
	backlogs := make(chan int, 16)
	ref, err := actor.SpawnIn(sys, "batcher", func() actor.Actor[int] {
		return actor.Func[int](func(cx *actor.Context[int], m int) error {
			if m == 0 {
				close(started)
				<-release
			}
			backlogs <- cx.Backlog()
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = ref.Send(0)
	<-started
	for i := 1; i <= 5; i++ {
		_ = ref.Send(i)
	}
	close(release)
	for want := 5; want >= 0; want-- {
		select {
		case got := <-backlogs:
			if got != want {
				t.Fatalf("Backlog %d, want %d", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no Receive")
		}
	}
}

// renamed sets its public name in PreStart, as a transport's wrapper does,
// and answers with the name and logs a line.
type renamed struct{}

func (renamed) PreStart(cx *actor.Context[actor.Reply[string]]) error {
	cx.SetName("public")
	return nil
}

func (renamed) Receive(cx *actor.Context[actor.Reply[string]], r actor.Reply[string]) error {
	cx.Logger().Info("hello")
	r.Send(cx.Name())
	return nil
}

// lockedBuffer is a log destination read after the writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// SetName changes what Name and the logger's "actor" attribute say, and
// keeps the logger given with WithLogger.
func TestContextSetName(t *testing.T) {
	var out lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&out, nil)).With("mine", true)
	sup := supervisor.New("test", supervisor.OneForOne, supervisor.Permanent,
		supervisor.WithLogger(slog.New(slog.DiscardHandler)))
	if err := sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sup.Stop() }()
	ref, err := actor.Spawn(sup, "internal:1", func() actor.Actor[actor.Reply[string]] { return renamed{} },
		actor.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := actor.Ask(ctx, ref, func(r actor.Reply[string]) actor.Reply[string] { return r })
	if err != nil || got != "public" {
		t.Fatalf("Name() = %q, %v; want public", got, err)
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(out.String()), &line); err != nil {
		t.Fatalf("log %q: %v", out.String(), err)
	}
	if line["actor"] != "public" || line["mine"] != true {
		t.Fatalf("log line %v: want actor=public and the WithLogger attribute", line)
	}
	if ref.Name() != "internal:1" {
		t.Fatalf("Ref.Name() = %q: SetName is the actor's own view only", ref.Name())
	}
}
