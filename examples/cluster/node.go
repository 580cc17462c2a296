package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/remote"
)

// The environment that makes this program a node process rather than the
// coordinator: the coordinator sets both when it starts a copy of itself.
const (
	envNode = "AIRSSYS_CLUSTER_NODE" // the node's name: n1, n2, n3
	envURL  = "AIRSSYS_CLUSTER_URL"  // the coordinator's NATS server
)

// Msg is what a counter receives. Exactly one field is set.
type Msg struct {
	// Seq numbers a message of the steady traffic; the counter records
	// each in the ledger, which is how the coordinator knows it arrived.
	Seq int `json:"seq,omitempty"`
	// Crash makes the counter fail, as a bug would.
	Crash bool `json:"crash,omitempty"`
	// Where asks where the counter runs (an actor.Ask across the network).
	Where actor.Reply[Place] `json:"where"`
}

// Place is the answer to Where.
type Place struct {
	Node    string `json:"node"`
	PID     int    `json:"pid"`
	Handled int    `json:"handled"` // by this incarnation
}

// Tally tells the ledger that a counter handled message Seq. It is an Ask:
// the counter moves on once the ledger has it.
type Tally struct {
	Counter string            `json:"counter"`
	Seq     int               `json:"seq"`
	Node    string            `json:"node"`
	Ack     actor.Reply[bool] `json:"ack"`
}

// The names every node agrees on: the kind the counters are registered
// under, and the ledger the coordinator exposes.
const (
	counterKind = "counter"
	ledgerName  = "ledger"
	coordinator = "main"
)

var errToldToCrash = errors.New("told to crash")

// counter is the remote children's actor. It runs on whichever node the
// coordinator's Any() placement picks, and knows only the ledger's Ref.
type counter struct {
	node    string
	ledger  actor.Ref[Tally]
	handled int
}

func (c *counter) Receive(ctx *actor.Context[Msg], m Msg) error {
	switch {
	case m.Crash:
		return errToldToCrash
	case m.Seq > 0:
		ask, cancel := context.WithTimeout(ctx.Context(), 5*time.Second)
		defer cancel()
		_, err := actor.Ask(ask, c.ledger, func(r actor.Reply[bool]) Tally {
			return Tally{Counter: ctx.Name(), Seq: m.Seq, Node: c.node, Ack: r}
		})
		if err != nil {
			return fmt.Errorf("recording message %d: %w", m.Seq, err)
		}
		c.handled++
	default:
		m.Where.Send(Place{Node: c.node, PID: os.Getpid(), Handled: c.handled})
	}
	return nil
}

// registerCounter registers the counter kind on n, its incarnations
// reporting to the coordinator's ledger.
func registerCounter(ctx context.Context, n *remote.Node) error {
	ledger, err := remote.Lookup(ctx, n, coordinator, ledgerName, remote.JSON[Tally]{})
	if err != nil {
		return fmt.Errorf("looking up the ledger: %w", err)
	}
	return remote.Register(n, counterKind, func() actor.Actor[Msg] {
		return &counter{node: n.Name(), ledger: ledger}
	}, remote.JSON[Msg]{})
}

// runNode is a node process: it joins the coordinator's NATS server, offers
// the counter kind and waits to be stopped. Its logs go to stderr, which
// the coordinator passes through; it has nothing to narrate.
func runNode(name, url string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The coordinator holds our stdin: when it exits, however it exits,
	// the pipe closes and so do we (Pdeathsig does the same on Linux, and
	// also when the coordinator is SIGKILLed).
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	// Errors only: the coordinator narrates node events, which the
	// runtime logs as warnings.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	sys := actor.NewSystem(name, actor.WithSystemLogger(log))
	if err := sys.Start(ctx); err != nil {
		return err
	}
	start, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n, err := remote.Start(start, name, sys, remote.WithURL(url), remote.WithLogger(log))
	if err != nil {
		return err
	}
	if err := awaitNode(start, n, coordinator); err != nil {
		return err
	}
	if err := registerCounter(start, n); err != nil {
		return err
	}
	<-ctx.Done()
	bye, cancelBye := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelBye()
	return errors.Join(n.Close(bye), sys.Shutdown(bye))
}

// awaitNode waits until n has heard from the node name: a node that just
// started knows no one until the first heartbeats arrive.
func awaitNode(ctx context.Context, n *remote.Node, name string) error {
	up := make(chan struct{}, 1)
	cancel := n.Subscribe(func(ev remote.NodeEvent) {
		if ev.Kind == remote.NodeUp && ev.Node == name {
			select {
			case up <- struct{}{}:
			default:
			}
		}
	})
	defer cancel()
	for _, m := range n.Nodes() {
		if m.Name == name {
			return nil
		}
	}
	select {
	case <-up:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for node %s: %w", name, ctx.Err())
	}
}
