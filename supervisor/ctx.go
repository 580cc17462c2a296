package supervisor

import (
	"context"
	"sync"
	"time"
)

// An incarnation is itself the context its child runs under: one
// allocation instead of a cancelCtx, its cancel closure and the record,
// on the path of every start and restart. It carries the values of the
// ctx given to Start but not its cancellation: the supervisor stops
// children one at a time, in order, by cancelling each.
type incCtx struct {
	base context.Context // values only (context.WithoutCancel)

	mu    sync.Mutex
	done  chan struct{} // created lazily: goroutine-less children may never ask
	err   error
	after *[]*afterFunc // behind a pointer: most contexts never get one
}

type afterFunc struct {
	f   func()
	ran bool
}

var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Deadline reports none: a child's context lives as long as the child.
func (c *incCtx) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done is closed when the supervisor stops this incarnation.
func (c *incCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		if c.err != nil {
			return closedDone
		}
		c.done = make(chan struct{})
	}
	return c.done
}

// Err is context.Canceled once the supervisor stopped this incarnation.
func (c *incCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Value returns the values of the ctx given to the supervisor's Start.
func (c *incCtx) Value(key any) any { return c.base.Value(key) }

// AfterFunc lets context.AfterFunc and context.WithCancel on a child's ctx
// register without a goroutine of their own, as they do on a cancelCtx.
func (c *incCtx) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	c.mu.Lock()
	if c.err != nil {
		a.ran = true
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	if c.after == nil {
		c.after = new([]*afterFunc)
	}
	*c.after = append(*c.after, a)
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if a.ran {
			return false
		}
		a.ran = true
		for i, o := range *c.after {
			if o == a {
				*c.after = append((*c.after)[:i], (*c.after)[i+1:]...)
				break
			}
		}
		return true
	}
}

func (c *incCtx) cancel() {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = context.Canceled
	if c.done != nil {
		close(c.done)
	}
	var after []*afterFunc
	if c.after != nil {
		after = *c.after
		c.after = nil
	}
	for _, a := range after {
		a.ran = true
	}
	c.mu.Unlock()
	for _, a := range after {
		go a.f()
	}
}
