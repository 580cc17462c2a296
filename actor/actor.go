package actor

import (
	"context"
	"log/slog"
)

// An Actor handles one message at a time. Receive returning an error, or
// panicking, is a crash that the actor's supervisor handles (restart per its
// strategy, policy, intensity and backoff); returning an error that wraps
// supervisor.ErrShutdown ends the incarnation normally, which is how an
// actor stops itself.
type Actor[M any] interface {
	Receive(ctx *Context[M], msg M) error
}

// Func adapts a function to Actor, as http.HandlerFunc adapts one to
// http.Handler. A Func has no state of its own between restarts unless it
// closes over some: the factory given to Spec decides what is fresh.
type Func[M any] func(ctx *Context[M], msg M) error

// Receive calls f(ctx, msg).
func (f Func[M]) Receive(ctx *Context[M], msg M) error { return f(ctx, msg) }

// PreStarter is implemented by actors with an initialisation step. PreStart
// runs on every incarnation before its first message; an error (or panic)
// is a start failure for the supervisor, and the messages stay queued for
// the next incarnation.
type PreStarter[M any] interface {
	PreStart(ctx *Context[M]) error
}

// PostStopper is implemented by actors that release something when an
// incarnation ends. PostStop is called exactly once for every incarnation
// whose PreStart succeeded (or that had none), whatever ended it, after its
// last Receive and before its supervisor sees the exit.
type PostStopper[M any] interface {
	PostStop(ctx *Context[M])
}

// Context is what an incarnation knows about itself. It is valid for the
// incarnation's lifetime and must not be used by other goroutines after
// Receive returns, except Self, which is a Ref and safe anywhere.
type Context[M any] struct {
	cell *cell[M]
	inc  *incarnation[M] // the incarnation this Context belongs to (see Fail)
	ctx  context.Context
}

// Self returns the actor's own Ref, the same value across restarts.
func (c *Context[M]) Self() Ref[M] {
	if c.inc.marks&markSelf != 0 {
		return Ref[M]{c.inc.rare.self} // rare is set for good before markSelf
	}
	return Ref[M]{c.cell}
}

// Context is done when this incarnation is asked to stop (its supervisor
// stops or restarts it) and after it has ended. A long Receive should watch
// it; it carries the values of the ctx its supervision tree was started
// with.
func (c *Context[M]) Context() context.Context {
	if c.cell.state.Load()&stCtxUsed == 0 {
		// The first use, under the cell's lock: dispose lets a stopped
		// actor's unused context go under it (see releaseCtxLocked).
		c.cell.mu.Lock()
		c.cell.state.Or(stCtxUsed)
		ctx := c.ctx
		c.cell.mu.Unlock()
		return ctx
	}
	return c.ctx
}

// Logger returns the actor's logger (WithLogger, else its System's logger,
// else slog.Default()) with an "actor" attribute naming it.
func (c *Context[M]) Logger() *slog.Logger { return c.cell.log() }

// System returns the System the actor belongs to, or nil if none: the
// System whose tree it runs in (see System), or the one WithSystem named.
func (c *Context[M]) System() *System { return c.cell.sys.Load() }

// Name returns the actor's name: the one it was spawned with (or, for a
// remote child, the name its owner gave it).
func (c *Context[M]) Name() string { return c.cell.publicName() }

// Kind is the supervisor.Spec.Kind of actors, so that observers can tell
// an actor from a plain worker even between its incarnations.
const Kind = "actor"
