// Package actor runs typed actors as children of supervision trees.
//
// # The model
//
// An actor is a value with a Receive method that handles one message at a
// time. It is reached only through its Ref, by sending it messages; its
// state is its own, so it needs no locks. When Receive returns an error or
// panics, the actor has crashed, and its supervisor (a
// *supervisor.Supervisor) does what it does for any child: it restarts it,
// or a group of siblings, according to its strategy, restart policy,
// intensity and backoff, or gives up and escalates. The restarted actor is
// a fresh value from the factory: state that led to the crash is gone.
//
//	type Counter struct{ n int }
//
//	func (c *Counter) Receive(ctx *actor.Context[Msg], m Msg) error { ... }
//
//	ref, err := actor.Spawn(sup, "counter", func() actor.Actor[Msg] { return &Counter{} })
//	err = ref.Send(Inc{})
//
// Messages are typed: an actor of type Actor[M] accepts only M, and M is
// usually an interface of a few message structs, or a struct with a kind
// field. Nothing is boxed into an interface or reflected upon on the way.
//
// # Identity across restarts
//
// The actor behind a Ref outlives its incarnations. Its mailbox survives a
// restart: the message whose Receive crashed goes to dead letters, and the
// messages queued behind it are delivered to the next incarnation. While
// no incarnation runs (a restart pending, the child terminated by
// TerminateChild, a Transient actor that exited normally, the supervisor
// of a Permanent or Transient actor being restarted by its parent)
// messages keep queueing under the mailbox policy, and nothing is lost.
// Refs stay valid throughout.
//
// An actor stops for good when its supervisor will never start it again:
// its spec is removed (a Temporary actor exits or is stopped, with its
// supervisor too, even one its parent restarts; DeleteChild; a Temporary
// bystander of a group restart) or its supervision tree has ended (an
// orderly Stop, the ctx given to Start is done, or a top-level supervisor
// giving up). Then Ref.Done is closed, Ref.Err says why (wrapping
// ErrStopped and, if the last incarnation crashed, the crash), queued
// messages become dead letters, and Send fails with ErrStopped. Watch and
// Monitor report this once; restarts are not reported.
//
// # Stopping
//
// An actor stops itself by returning an error that wraps
// supervisor.ErrShutdown from Receive: the incarnation ends normally, and
// its restart policy decides what follows (a Permanent actor is started
// again). When its supervisor stops it, the incarnation ends after the
// Receive under way; Context.Context is cancelled so that a long Receive can
// return early. The messages still queued are not handled by default: they
// wait for the next incarnation, or become dead letters if there will be
// none. WithDrainOnStop makes a stopping incarnation handle the messages
// queued at that moment first, within its shutdown policy's time.
//
// A Receive that ignores its context and outlives a Graceful shutdown
// policy is abandoned by the supervisor, which moves on (Go cannot kill a
// goroutine). The mailbox is still the actor's, and one message at a time
// still holds: a next incarnation starts, but receives only once the
// abandoned Receive has returned.
//
// PreStart (optional) runs before an incarnation's first message; its error
// is a start failure. PostStop (optional) runs exactly once after the last
// Receive of every incarnation whose PreStart succeeded, whatever ended it,
// before the supervisor learns of the end.
//
// # Many short-lived actors
//
// An actor spawned for one job (it handles a message or a few, then stops
// itself) is best made Temporary (WithRestart(supervisor.Temporary)) under
// a running OneForOne supervisor, such as a System's root (SpawnIn). Such a
// supervisor starts an actor without PreStart on the caller's goroutine and
// removes a Temporary one that stops where it stops, with no trip through
// its own goroutine for either (the supervisor's lane, OTP's
// simple_one_for_one): spawning a hundred thousand of them costs about what
// it costs protoactor-go, and nothing about supervision changes. An actor
// with PreStart, or under a OneForAll or RestForOne supervisor, is started
// by the supervisor's goroutine, as every child is there. The name of an
// actor spawned so under its System's running root is registered once, in
// the root's table of children, where Lookup and Names find it: names stay
// unique across the whole tree, with the same errors.
//
// # Scheduling
//
// An idle actor holds no goroutine. A goroutine is started when a message
// arrives for an idle actor, handles messages in batches (WithThroughput,
// default 64) yielding the processor between batches so that a busy actor
// cannot starve others, lingers briefly when the mailbox runs dry in case
// a reply is coming, then ends. Stopping an idle actor takes no goroutine
// either. A Receive that blocks holds its goroutine, and delays only its
// own actor. A sender that finds an actor's mailbox more than a few
// thousand messages deep yields its processor after queueing (as Erlang
// charges such senders), so that producers outrunning a consumer on the
// same processors let it catch up instead of growing the backlog; nothing
// blocks.
//
// # Mailboxes
//
// Unbounded() is the default. Bounded(capacity, policy) holds at most
// capacity queued messages (the one in Receive does not count) and applies
// policy to one more: Block (Send waits; SendContext waits up to its ctx),
// DropNewest and DropOldest (Send succeeds, a message goes to dead letters
// with a reason wrapping ErrMailboxFull), or Fail (Send returns an error
// wrapping ErrMailboxFull). Senders with room never wait on one another:
// both kinds of mailbox queue into one lock-free queue. Block senders that
// find it full wait in line, and as room frees their messages are moved
// in, oldest first, each sender woken once its Send is done. Messages put back at the head (Context.Requeue, or the rest of a
// batch the actor had taken when it was stopped or crashed) come on top of
// the bound: they were counted when sent. Dead letters follow one rule: a message is one
// when its target will never receive it. A refusal the sender can retry
// (Fail, a SendContext whose ctx ended) is not one, since the sender still
// has the message; a Send to an actor stopped for good returns ErrStopped
// and is one, since nothing can deliver it. Ref.Stats reports the depth and counters, as do
// the methods MailboxLen, Processed, DeadLetterCount and Crash of the
// incarnation that supervisor.ChildInfo.Instance holds.
//
// # Request and reply
//
// Ask sends a request carrying a Reply and waits for the answer, for its
// ctx, or for the request to be lost, with no goroutine per pending
// request. The actor answers with Reply.Send or Reply.Fail, at once or
// later, from any goroutine, or hands the Reply on to another actor.
//
// A lost request fails its Ask at once, as Erlang's gen_server:call fails
// when the callee dies: when the incarnation that took it ends without
// answering (its Receive crashes on it or returns supervisor.ErrShutdown,
// or it ends, crashed, stopped or restarted, while keeping the Reply in its
// fields: the error wraps ErrNoReply and the cause), when it is dropped by
// a full mailbox (ErrMailboxFull), when it is still queued as the target
// stops for good, or the target stops holding it (ErrStopped). Only a
// request kept unanswered by a running incarnation waits for ctx. Finding
// the Reply in a lost request or an ended actor takes reflection, on the
// dead-letter and exit paths only and only while some Ask waits: delivery
// never pays for it.
//
// # Systems
//
// A System is a root supervisor, a registry of names and a dead-letter
// office. An actor belongs to the System whose tree it is spawned into,
// with nothing more to say: Spawn under sys.Root() (or SpawnIn), or under
// any supervisor below it, however deep. Lookup finds it by name and
// message type, its dead letters go to the System's, and names are unique
// within the System (a taken one fails the Spawn, or the start, with
// ErrDuplicateName). Actors under the root join at Spawn; actors deeper
// join at their first start, which is at the System's Start, or before
// Spawn returns when their supervisor already runs. WithSystem names a
// System explicitly. Dead letters of actors outside any System go to
// DefaultDeadLetters.
//
// Shutdown stops the tree in order and returns once its event handlers
// have had its last events; it is idempotent, and prompt on a System that
// never started or whose Start failed.
package actor
