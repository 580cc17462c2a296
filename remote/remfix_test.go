package remote_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/remote"
	"github.com/airssys/rt/supervisor"
)

// pair starts two nodes on one embedded server: "a" runs it (listening on
// loopback), "b" joins it; both see each other up when it returns.
func pair(t *testing.T) (a, b *remote.Node, sa, sb *actor.System) {
	t.Helper()
	sa, sb = startSystem(t, "sys-a"), startSystem(t, "sys-b")
	a = startNode(t, "a", sa, remote.WithListen("127.0.0.1:0"))
	b = startNode(t, "b", sb, remote.WithURL(a.ClientURL()))
	waitFor(t, 10*time.Second, "membership", func() bool { return len(a.Nodes()) == 1 && len(b.Nodes()) == 1 })
	return a, b, sa, sb
}

// gated crashes on "crash" only once the test opens its gate, so that the
// messages sent after it are queued behind it on the hosting node.
type gated struct {
	started chan<- struct{}
	gate    <-chan struct{}
}

func (g gated) Receive(_ *actor.Context[Msg], m Msg) error {
	switch m.Op {
	case "crash":
		g.started <- struct{}{}
		<-g.gate
		return errors.New("told to crash")
	case "get":
		m.Reply.Send(42)
	}
	return nil
}

// An Ask queued on the hosting node behind a message that crashes the
// remote child is not lost: the owner requeues it for the next incarnation,
// which answers it. It used to fail with "request lost: stopped: still
// queued when the actor stopped" while the next incarnation handled it.
func TestRegressionAskQueuedBehindRemoteCrashIsAnswered(t *testing.T) {
	a, b, _, _ := pair(t)
	started := make(chan struct{}, 4)
	gate := make(chan struct{})
	newGated := func() actor.Actor[Msg] { return gated{started: started, gate: gate} }
	for _, n := range []*remote.Node{a, b} { // the owner needs the kind's codec
		if err := remote.Register(n, "gated", newGated, remote.JSON[Msg]{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "kind known", func() bool { return len(b.Nodes()) == 1 && len(b.Nodes()[0].Kinds) == 1 })
	sup, _ := newSup(t, supervisor.OneForOne)
	ref, err := remote.Spawn[Msg](sup, b, "g", "gated", remote.On("a"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ref.Send(Msg{Op: "crash"}); err != nil {
		t.Fatal(err)
	}
	<-started
	received := a.Metrics().Received
	type answer struct {
		v   int
		err error
	}
	got := make(chan answer, 1)
	go func() {
		v, err := actor.Ask(ctxT(t, 10*time.Second), ref, func(r actor.Reply[int]) Msg { return Msg{Op: "get", Reply: r} })
		got <- answer{v, err}
	}()
	// The request is on the hosting node, queued behind the crash.
	waitFor(t, 5*time.Second, "the request on node a", func() bool { return a.Metrics().Received > received })
	close(gate)
	if r := <-got; r.err != nil || r.v != 42 {
		t.Fatalf("Ask queued behind a crash: %d, %v; want 42, nil", r.v, r.err)
	}
}

// Variant is an interface message type: JSON cannot decode into it.
type Variant interface{ isVariant() }

type addVariant struct{ N int }

func (addVariant) isVariant() {}

type sink[M any] struct{}

func (sink[M]) Receive(*actor.Context[M], M) error { return nil }

// JSON with an interface message type is refused where it is given, naming
// the type and the way out. It used to be accepted, Send returned nil, and
// every message became a codec dead letter on the receiving node.
func TestRegressionJSONInterfaceTypeRefused(t *testing.T) {
	a, b, sa, _ := pair(t)
	ref, err := actor.SpawnIn(sa, "variants", func() actor.Actor[Variant] { return sink[Variant]{} })
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, remote.ErrInvalid) || !errors.Is(err, remote.ErrCodec) ||
			!strings.Contains(err.Error(), "remote_test.Variant") || !strings.Contains(err.Error(), "concrete struct type") {
			t.Errorf("%s: %v, want ErrInvalid and ErrCodec naming the type", what, err)
		}
	}
	check("Expose", remote.Expose(a, ref, remote.JSON[Variant]{}))
	check("Register", remote.Register(a, "variants", func() actor.Actor[Variant] { return sink[Variant]{} }, remote.JSON[Variant]{}))
	_, err = remote.Lookup(ctxT(t, 5*time.Second), b, "a", "variants", remote.JSON[Variant]{})
	check("Lookup", err)
	// any decodes (into maps and the like), and a custom codec is the
	// user's business: both are accepted.
	anyRef, err := actor.SpawnIn(sa, "anything", func() actor.Actor[any] { return sink[any]{} })
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Expose(a, anyRef, remote.JSON[any]{}); err != nil {
		t.Errorf("Expose of JSON[any]: %v", err)
	}
	if err := remote.Expose(a, ref, variantCodec{}); err != nil {
		t.Errorf("Expose with a custom codec: %v", err)
	}
}

// variantCodec decodes every message as an addVariant.
type variantCodec struct{}

func (variantCodec) Encode(v Variant) ([]byte, error) { return []byte("{}"), nil }
func (variantCodec) Decode([]byte) (Variant, error)   { return addVariant{}, nil }

// brokenCodec encodes, and refuses to decode.
type brokenCodec struct{}

func (brokenCodec) Encode(m Msg) ([]byte, error) { return []byte("x"), nil }
func (brokenCodec) Decode([]byte) (Msg, error)   { return Msg{}, errors.New("cannot decode") }

// records keeps the log records of a handler, for tests.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.recs = append(r.recs, rec.Clone())
	r.mu.Unlock()
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

func (r *records) matching(msg string) []slog.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []slog.Record
	for _, rec := range r.recs {
		if strings.Contains(rec.Message, msg) {
			out = append(out, rec)
		}
	}
	return out
}

// A message the receiving node cannot decode is a dead letter there, and
// the node says so in its log: once for a burst, with the count, not once
// per message. It used to be counted and nothing more.
func TestRegressionCodecDeadLettersAreLogged(t *testing.T) {
	logs := &records{}
	sa, sb := startSystem(t, "sys-a"), startSystem(t, "sys-b")
	a := startNode(t, "a", sa, remote.WithListen("127.0.0.1:0"), remote.WithLogger(slog.New(logs)))
	b := startNode(t, "b", sb, remote.WithURL(a.ClientURL()))
	waitFor(t, 10*time.Second, "membership", func() bool { return len(a.Nodes()) == 1 && len(b.Nodes()) == 1 })
	ref, err := actor.SpawnIn(sa, "picky", func() actor.Actor[Msg] { return sink[Msg]{} })
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Expose(a, ref, brokenCodec{}); err != nil {
		t.Fatal(err)
	}
	r, err := remote.Lookup(ctxT(t, 5*time.Second), b, "a", "picky", brokenCodec{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := r.Send(Msg{Op: "add", N: 1}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "3 codec dead letters on a", func() bool { return a.Metrics().DeadLetters["codec"] == 3 })
	got := logs.matching("undecodable")
	if len(got) != 1 {
		t.Fatalf("%d log lines for 3 codec dead letters, want 1 (the first)", len(got))
	}
	var target string
	got[0].Attrs(func(at slog.Attr) bool {
		if at.Key == "target" {
			target = at.Value.String()
		}
		return true
	})
	if got[0].Level != slog.LevelWarn || target != "picky" {
		t.Fatalf("logged %v %q target=%q, want a Warn naming picky", got[0].Level, got[0].Message, target)
	}
}

// WithURL("") is bad input, not a request for the embedded server (which
// it used to start, silently).
func TestRegressionEmptyURLRefused(t *testing.T) {
	sys := startSystem(t, "sys-x")
	for _, url := range []string{"", "  "} {
		n, err := remote.Start(context.Background(), "x", sys, remote.WithURL(url))
		if !errors.Is(err, remote.ErrInvalid) || !strings.Contains(err.Error(), "WithURL") {
			if n != nil {
				_ = n.Close(context.Background())
			}
			t.Fatalf("WithURL(%q): %v, want ErrInvalid naming WithURL", url, err)
		}
	}
}

// Lookup waits, within its ctx, for a node not heard from yet: right after
// Start the first heartbeat has not arrived. It used to fail at once with
// ErrUnknownNode. A node that never appears fails when ctx ends, with
// ErrUnknownNode wrapping ctx's error and a hint; a node known to be down
// fails at once with ErrNodeDown.
func TestRegressionLookupWaitsForTheNode(t *testing.T) {
	sa := startSystem(t, "sys-a")
	a := startNode(t, "a", sa, remote.WithListen("127.0.0.1:0"), remote.WithHeartbeat(500*time.Millisecond, 3))
	ref, err := actor.SpawnIn(sa, "acct", counterKind("a", nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Expose(a, ref, remote.JSON[Msg]{}); err != nil {
		t.Fatal(err)
	}
	sb := startSystem(t, "sys-b")
	b := startNode(t, "b", sb, remote.WithURL(a.ClientURL()))
	r, err := remote.Lookup(ctxT(t, 10*time.Second), b, "a", "acct", remote.JSON[Msg]{})
	if err != nil {
		t.Fatalf("Lookup right after Start: %v", err)
	}
	if v := get(t, r); v != 0 {
		t.Fatalf("get: %d", v)
	}

	_, err = remote.Lookup(ctxT(t, 20*time.Millisecond), b, "zz", "acct", remote.JSON[Msg]{})
	if !errors.Is(err, remote.ErrUnknownNode) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "cluster name") {
		t.Fatalf("Lookup of a node never heard: %v, want ErrUnknownNode wrapping the deadline, with a hint", err)
	}

	ev := watchEvents(t, b)
	if err := a.Close(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, remote.NodeDown, "a", 10*time.Second)
	start := time.Now()
	if _, err := remote.Lookup(context.Background(), b, "a", "acct", remote.JSON[Msg]{}); !errors.Is(err, remote.ErrNodeDown) {
		t.Fatalf("Lookup of a node known down: %v, want ErrNodeDown", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Lookup of a node known down took %v", d)
	}
}

// One System is one node: a second Start with the same System fails,
// naming the node that holds it, and works again once that node closed.
// It used to be accepted silently.
func TestRegressionSystemAttachedTwice(t *testing.T) {
	sys := startSystem(t, "sys-a")
	a, err := remote.Start(context.Background(), "a", sys)
	if err != nil {
		t.Fatal(err)
	}
	b, err := remote.Start(context.Background(), "b", sys)
	if !errors.Is(err, remote.ErrInvalid) || !strings.Contains(err.Error(), `node "a"`) {
		if b != nil {
			_ = b.Close(context.Background())
		}
		_ = a.Close(context.Background())
		t.Fatalf("second Start with the same System: %v, want ErrInvalid naming node a", err)
	}
	if err := a.Close(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	b, err = remote.Start(context.Background(), "b", sys)
	if err != nil {
		t.Fatalf("Start after the first node closed: %v", err)
	}
	if err := b.Close(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// NodeUp is logged without a reason attribute when there is none (it used
// to say reason=<nil>).
func TestRegressionNodeUpLogsNoNilReason(t *testing.T) {
	logs := &records{}
	sa, sb := startSystem(t, "sys-a"), startSystem(t, "sys-b")
	a := startNode(t, "a", sa, remote.WithListen("127.0.0.1:0"), remote.WithLogger(slog.New(logs)))
	ev := watchEvents(t, a)
	startNode(t, "b", sb, remote.WithURL(a.ClientURL()))
	ev.wait(t, remote.NodeUp, "b", 10*time.Second)
	ups := logs.matching("NodeUp")
	if len(ups) == 0 {
		t.Fatal("NodeUp not logged")
	}
	ups[0].Attrs(func(at slog.Attr) bool {
		if at.Key == "reason" {
			t.Errorf("NodeUp logged with reason=%v", at.Value)
		}
		return true
	})
}

// Closing a node before shutting its System down (the natural defer order)
// leaves the System's tree alone: its remote children stay under their
// supervisors, detached, what is sent to them is a dead letter wrapping
// ErrClosed, and the Shutdown that follows stops them as usual. Close used
// to crash them, their restarts failed on the closed node, and the root gave
// up (intensity exceeded).
func TestRegressionCloseBeforeShutdownIsOrderly(t *testing.T) {
	sa, sb := startSystem(t, "sys-a"), startSystem(t, "sys-b")
	a := startNode(t, "a", sa, remote.WithListen("127.0.0.1:0"))
	b, err := remote.Start(context.Background(), "b", sb, remote.WithURL(a.ClientURL()), remote.WithHeartbeat(hbInterval, hbMisses))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []*remote.Node{a, b} {
		if err := remote.Register(n, "counter", counterKind(n.Name(), nil), remote.JSON[Msg]{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "kind known", func() bool { return len(b.Nodes()) == 1 && len(b.Nodes()[0].Kinds) == 1 })
	refs := make([]actor.Ref[Msg], 0, 5)
	for _, name := range []string{"c1", "c2", "c3", "c4", "c5"} {
		ref, err := remote.Spawn[Msg](sb.Root(), b, name, "counter", remote.On("a"))
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	if v := get(t, refs[0]); v != 0 {
		t.Fatalf("get: %d", v)
	}
	dead := collectDead(t, sb)
	if err := b.Close(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := refs[1].Send(Msg{Op: "add", N: 1}); err != nil {
		t.Fatalf("Send to a detached remote child: %v", err)
	}
	dead.waitMatching(t, remote.ErrClosed, 1, 5*time.Second)
	select {
	case <-sb.Done():
		t.Fatal("the System's root stopped after Close")
	default:
	}
	if err := sb.Shutdown(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("Shutdown after Close: %v", err)
	}
}

// A Lookup Ref is named after the remote actor and its node ("acct@a"),
// in Ref.Name and so in errors and dead letters; it used to carry an
// internal name ("lookup:a:acct#1").
func TestRegressionLookupRefName(t *testing.T) {
	a, b, sa, _ := pair(t)
	ref, err := actor.SpawnIn(sa, "acct", counterKind("a", nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Expose(a, ref, remote.JSON[Msg]{}); err != nil {
		t.Fatal(err)
	}
	r, err := remote.Lookup(ctxT(t, 5*time.Second), b, "a", "acct", remote.JSON[Msg]{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Name() != "acct@a" {
		t.Fatalf("Lookup Ref named %q, want acct@a", r.Name())
	}
}

// refusing fails every start.
type refusing struct{}

func (refusing) PreStart(*actor.Context[Msg]) error     { return errors.New("no database") }
func (refusing) Receive(*actor.Context[Msg], Msg) error { return nil }

// A remote child whose start fails on its node reports the failure under
// the child's name; it used to carry the internal name of the hosted
// incarnation ("hosted:b:rc#…-1").
func TestRegressionRemoteStartFailureNamesTheChild(t *testing.T) {
	a, b, _, _ := pair(t)
	for _, n := range []*remote.Node{a, b} {
		if err := remote.Register(n, "refusing", func() actor.Actor[Msg] { return refusing{} }, remote.JSON[Msg]{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "kind known", func() bool { return len(b.Nodes()) == 1 && len(b.Nodes()[0].Kinds) == 1 })
	sup, _ := newSup(t, supervisor.OneForOne)
	_, err := remote.Spawn[Msg](sup, b, "rc", "refusing", remote.On("a"))
	if err == nil || !strings.Contains(err.Error(), "no database") {
		t.Fatalf("Spawn: %v, want the start failure", err)
	}
	if strings.Contains(err.Error(), "hosted:") {
		t.Fatalf("Spawn: %v, names the internal incarnation", err)
	}
}

// A remote child that panics with ErrShutdown has crashed, as a local one
// has (the supervisor's exit-reason rules: a panic is a crash whatever its
// value): a Transient child is restarted and its error shows the panic.
// The hosting node used to take the PanicError for a normal stop, because
// errors.Is finds ErrShutdown through its Unwrap: the child stayed down.
func TestRegressionRemotePanicWithErrShutdownIsACrash(t *testing.T) {
	a, b, _, _ := pair(t)
	for _, n := range []*remote.Node{a, b} {
		if err := remote.Register(n, "counter", counterKind(n.Name(), nil), remote.JSON[Msg]{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "b's kinds known to a", func() bool {
		for _, m := range a.Nodes() {
			if len(m.Kinds) > 0 {
				return true
			}
		}
		return false
	})
	sup, _ := newSup(t, supervisor.OneForOne)
	ref, err := remote.Spawn[Msg](sup, a, "c", "counter", remote.On("b"), actor.WithRestart(supervisor.Transient))
	if err != nil {
		t.Fatal(err)
	}
	_ = ref.Send(Msg{Op: "add", N: 5})
	_ = ref.Send(Msg{Op: "panic-shutdown"})
	info := waitRestarts(t, sup, "c", 1)
	var re *remote.RemoteError
	if !errors.As(info.LastErr, &re) || !strings.Contains(re.Text, "panic") {
		t.Fatalf("LastErr = %v, want the remote panic", info.LastErr)
	}
	if got := get(t, ref); got != 0 {
		t.Fatalf("sum after the restart = %d, want 0 (a fresh incarnation)", got)
	}
}
