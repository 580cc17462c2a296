// Package natstest runs real NATS servers inside a test process, for the
// tests and benchmarks of the remote package and its users.
//
// A [Cluster] is N nats-server instances (the real server, as a library)
// listening on random loopback ports, meshed by routes. [Start] returns once
// every server has a route to every other one, so a message published on one
// server reaches subscribers on all of them. Everything is torn down by
// t.Cleanup: no goroutine or socket outlives the test.
//
// Failures come in the two shapes a distributed runtime must survive:
//
//   - [Cluster.Shutdown] stops one server cleanly. Its peers notice within
//     milliseconds, and its clients lose their connection.
//   - A [Proxy] sits on the route between two servers (see [WithProxy]).
//     [Proxy.Freeze] stops it forwarding bytes without closing anything: a
//     silent partition, which TCP and NATS can only notice by missing
//     pings. [Proxy.Heal] lets the held bytes through again.
//
// The servers ping their routes every [RoutePingInterval] rather than every
// two minutes, so a frozen route is dropped, and a healed one re-established,
// within the time of a test. A runtime's own failure detection must not
// depend on that: it is what NATS does, not what the remote package does.
//
// Why a proxy per route and not per server: NATS routes are one hop, so
// freezing the link between servers A and B cuts A's clients off from B's
// and leaves both talking to a third server C, which is the partition that
// fencing must handle. To keep the route on the proxy, the higher-numbered
// server of a proxied pair has the proxy as its only seed route, and the
// other servers learn it by gossip.
package natstest
