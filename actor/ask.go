package actor

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// Reply is the answer slot of one Ask: the request message carries it, and
// the actor answers through it with Send or Fail. Only the first answer
// counts; later ones are ignored, as is any answer after Ask gave up. The
// zero Reply ignores everything, so a request type can also be sent with
// plain Send when nobody waits.
type Reply[R any] struct {
	s *replySlot[R]
}

// replySlot holds one answer: a 1-buffered channel, so answering never
// blocks, and Ask needs no goroutine while it waits.
type replySlot[R any] struct {
	ch chan replyResult[R]
	// fwd, for a Reply decoded from another process, sends the answer
	// back there (see ReplyPort); sent makes that happen at most once.
	fwd  func(R, error)
	sent atomic.Bool
}

type replyResult[R any] struct {
	v   R
	err error
}

var errNilFail = errors.New("request failed (Reply.Fail with a nil error)")

// Send answers with v.
func (r Reply[R]) Send(v R) { r.put(replyResult[R]{v: v}) }

// Fail answers with err, which Ask returns as it is. A nil err is replaced
// by a generic error, so that a failure never reads as success.
func (r Reply[R]) Fail(err error) {
	if err == nil {
		err = errNilFail
	}
	r.put(replyResult[R]{err: err})
}

func (r Reply[R]) put(res replyResult[R]) {
	if r.s == nil {
		return
	}
	if r.s.fwd != nil {
		if r.s.sent.CompareAndSwap(false, true) {
			r.s.fwd(res.v, res.err)
		}
		return
	}
	select {
	case r.s.ch <- res:
	default: // answered already
	}
}

// Ask sends the request that build makes around a fresh Reply and waits for
// the answer, for ctx, or for the target to stop for good, whichever comes
// first:
//
//	balance, err := actor.Ask(ctx, account, func(r actor.Reply[int]) Msg { return Balance{Reply: r} })
//
// If ctx is done already Ask returns its error without sending. If the send
// fails (ErrMailboxFull, ErrStopped, or ctx expiring while a Block mailbox
// is full) Ask returns that error at once. If the target stops for good
// before answering, Ask returns an error wrapping ErrStopped without waiting
// for ctx. When ctx ends first the error wraps ctx.Err(). A request whose
// Receive crashes is a dead letter, and Ask then waits for ctx: always give
// it a deadline. Waiting costs no goroutine.
func Ask[M, R any](ctx context.Context, to Ref[M], build func(Reply[R]) M) (R, error) {
	var zero R
	if to.c == nil {
		return zero, errNoActor
	}
	if build == nil {
		return zero, fmt.Errorf("actor %q: ask: %w: nil build function", to.c.name, ErrInvalidSpec)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return zero, fmt.Errorf("actor %q: ask: %w", to.c.name, err)
	}
	s := &replySlot[R]{ch: make(chan replyResult[R], 1)}
	if err := to.SendContext(ctx, build(Reply[R]{s})); err != nil {
		return zero, err
	}
	select {
	case res := <-s.ch:
		return res.v, res.err
	case <-ctx.Done():
		if res, ok := s.answered(); ok {
			return res.v, res.err
		}
		return zero, fmt.Errorf("actor %q: ask: %w", to.c.name, ctx.Err())
	case <-to.Done():
		if res, ok := s.answered(); ok { // answered, then stopped
			return res.v, res.err
		}
		return zero, fmt.Errorf("ask: %w", to.Err())
	}
}

func (s *replySlot[R]) answered() (replyResult[R], bool) {
	select {
	case res := <-s.ch:
		return res, true
	default:
		return replyResult[R]{}, false
	}
}
