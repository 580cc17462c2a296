// Package remote runs one supervision tree across machines, over NATS.
//
// NATS (github.com/nats-io/nats-server/v2 and github.com/nats-io/nats.go)
// is the engine: this package writes no routing, no reconnection and no
// transport of its own. One machine needs nothing installed: a Node started
// without WithURL runs an embedded NATS server inside the process, with no
// listener unless WithListen asks for one. Machines join a real NATS
// deployment (one server, a cluster, leaf nodes) with WithURL, and NATS'
// own credentials and TLS apply through WithNATSOptions.
//
// # Nodes
//
// Start attaches an actor.System to NATS under a node name, unique among
// the live nodes of a cluster (ErrNameTaken otherwise). Nodes of one
// cluster (WithCluster; "default" if not given) hear each other's
// heartbeats: a node missing misses heartbeats in a row (WithHeartbeat,
// default 250ms x 4) is declared down, once, on every node: Subscribe
// delivers NodeDown, and NodeUp again if it comes back (a healed
// partition, a restart). Close announces the leave, so peers see NodeDown
// at once. NATS notices a silent link only after about a minute, which is
// why failure detection is ours.
//
// # Location transparency
//
// A remote actor is addressed by the same actor.Ref[M] as a local one:
// Send, SendContext, actor.Ask, Done, Err and Watch work unchanged, so code
// holding a Ref does not change when the actor moves. Lookup returns a Ref
// to an actor another node serves: the children it declared (Spec, Spawn)
// and whatever it Exposes. Behind that Ref is a local stand-in whose
// mailbox takes the message at once; it encodes each message with the
// Codec and publishes it, so Send never waits for the network, and what
// cannot be delivered is a dead letter rather than an error from Send.
// When messages queue up faster than one NATS message each can carry them
// (many senders, one target), the stand-in publishes what is queued in
// batches of up to 256 messages and 32 KiB per NATS message, in order;
// a message alone goes alone, at once. A batch changes nothing of the
// guarantees below: every message is encoded, checked against max_payload
// and decoded on its own.
//
// Request types carry actor.Reply[R] as locally; JSON (the default Codec)
// carries the Reply field, and the answer comes back over NATS as JSON.
// If the node an Ask waits on goes down, the Ask fails with ErrNodeDown at
// once instead of waiting for its ctx; so do a Lookup, a child's start and
// a child's stop waiting for that node's answer (their errors wrap the
// NodeDown's reason: missed heartbeats, left, restarted).
//
// # Remote children
//
// Register makes a kind spawnable on a node (call it right after Start:
// during a node's first heartbeat interval, peers that place a child On it,
// or Any where it would be the choice, wait for its kinds rather than fail
// or pass it over); Spec and Spawn put a child of that
// kind under a local supervisor, running where a Placement says: On a
// node, Any live node that registered the kind (spread evenly, and on
// another node after a failure when there is one), or Local. The child is
// supervised from where it is declared, with every strategy, restart
// policy, intensity and backoff of the local supervisor: a crash on the
// remote node is an abnormal exit carrying the remote error's text (a
// *RemoteError), a node going down an abnormal exit wrapping ErrNodeDown.
//
// The child's mailbox is on the declaring side and survives restarts and
// moves. Each message sent to the remote incarnation is numbered, and kept
// until the remote node acknowledges that its Receive has begun. When the
// incarnation ends, what it had not begun goes back to the head of the
// mailbox for the next one; the message it crashed on is a dead letter on
// the node where it crashed; messages whose fate is unknown because the
// node went down (sent, never acknowledged) are dead letters wrapping
// ErrNodeDown. Nothing is delivered twice.
//
// Stopping a remote child (a restart, TerminateChild, the supervisor's
// end) asks its node to stop the incarnation and say how far it got, and
// waits for the answer up to half the child's shutdown policy (at most
// twice the heartbeat window), so that the stop fits in the policy. A node
// known to be down is not waited for, and one declared down during the
// wait ends it at once: what was in flight is then a dead letter wrapping
// ErrNodeDown (and the NodeDown's reason), the owner logs a warning, and
// the node, if it is in fact up, stops the incarnation itself (fencing).
//
// Inside a remote child, Context.Self is the child's Ref as its declaring
// node serves it (through a stand-in, as Lookup gives, on the hosting
// node): a message the child sends itself crosses to the declaring side
// and queues in the child's one mailbox behind what is there, numbered
// like any other, so the accounting above holds for it too. It costs a
// round trip through NATS, and arrives after the messages queued before
// it.
//
// A node that cannot hear a child's owner for the heartbeat window stops
// that child itself (fencing), so after a partition heals exactly one
// incarnation runs, and two never overlap by more than the window. While
// both nodes are up, the hosting node's periodic acknowledgement of each
// incarnation is a lease: an owner that no longer knows the incarnation
// (a spawn answer or a stop lost on the way) has it stopped.
//
// # Delivery
//
// Delivery is Erlang's: ordered per sender and target, at most once.
// Nothing is lost silently: a message that cannot be delivered is a dead
// letter in the System of the node that finds out, counted by reason in
// Metrics: "codec" (ErrCodec: bad bytes from the network, a message the
// codec refuses), "too_large" (ErrTooLarge: over NATS' max_payload),
// "unknown_actor" (actor.ErrNotFound), "node_down" (ErrNodeDown),
// "mailbox_full" (the target's mailbox policy), "crash" (the message a
// remote child crashed on), "slow_consumer" (NATS dropped messages this
// node could not keep up with; counted, their contents are gone). Bad bytes
// never panic a node. A node spawns only kinds it registered.
//
// # Topics
//
// Node.Transport is a broker.Transport: broker topics opened with
// broker.OpenRemote reach the subscribers of every node.
//
// # What it costs
//
// A remote message costs an encode, a NATS publish and a decode: tens of
// microseconds of round trip over TCP loopback, against well under a
// microsecond for a local Send; batching makes a busy stream cost about a
// microsecond a message (BENCHMARKS.md). The local Send path is not touched.
package remote
