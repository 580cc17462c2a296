// Package observe lets an operator see, live, what a supervision tree is
// doing, and exports the numbers that alerting needs: Erlang's observer for
// this runtime.
//
// # The model
//
// Everything starts from a root *supervisor.Supervisor (for an actor
// System, its Root()). TakeSnapshot walks the tree through
// Supervisor.Info: each supervisor reports itself and its children in one
// step of its control loop, so each level is consistent; levels are read one
// after the other. A snapshot holds every supervisor (strategy, intensity
// allowed and used, running or not) and every child (kind, state, restarts,
// last error, health, uptime, and for actors mailbox depth, messages
// processed and dead letters). It is plain data with snake_case JSON names.
//
// Actors are recognised by what their running instance can do, not by their
// type: an instance with MailboxLen, Processed and DeadLetterCount methods
// (the Actor interface) is reported as an actor, and one with Crash (the
// Crasher interface) can be crashed by fault injection. An actor that is
// between incarnations has no instance; its spec's Kind ("actor", which the
// actor package sets) keeps it an actor in snapshots and metrics alike.
// OS process children (package process) are recognised by their spec's Kind
// ("process") alone, running or not: observe does not import that package.
//
// An Observer (New) adds what needs memory of the past: it subscribes to
// the tree's events, numbers them, keeps the last ones in a ring buffer
// (WithEventBuffer) and counts them for the metrics. Close it when done.
//
// # Clusters
//
// A tree whose children run on other nodes (the remote package) is observed
// from the node that declares them, as any tree is. WithCluster adds what a
// single process cannot show: the members of the cluster, up or down, and
// how long ago each was last heard from, in the snapshot's Cluster, on the
// live page and in the airssys_remote_* metrics. A child that runs on
// another node (Located, or named in ClusterState.Placements) shows that
// node in its ChildSnapshot.Node.
//
// # HTTP
//
// An Observer is an http.Handler; mount it at a path that ends in a slash
// (the page uses relative URLs):
//
//	mux.Handle("/observe/", http.StripPrefix("/observe", obs))
//
// Routes:
//
//	GET  /                   the live page (assets embedded; works offline)
//	GET  /api/tree           the Snapshot as JSON; ?filter=NAME keeps children whose
//	                         name contains NAME (case-insensitive) and their supervisors;
//	                         ?max_children=N lists at most N children per supervisor
//	GET  /api/child          ChildDetail of ?path=SUPERVISOR/CHILD: the child as in the
//	                         tree, and, when its last failure was a panic, where it
//	                         panicked and the stack (formatted only on this request);
//	                         for a process child, its last output lines, between
//	                         incarnations too (the spec's Observable keeps them)
//	GET  /api/events         server-sent events, one EventRecord per event (see below)
//	GET  /api/config         Config: whether fault injection is enabled
//	GET  /metrics            Prometheus exposition of Collector (or of WithGatherer's)
//	POST /api/children/terminate, /restart, /crash
//	                         fault injection (only with WithFaultInjection)
//
// Every error is a JSON object {"error": "..."} with a 4xx status for a bad
// request (400 bad parameter or body, 401 missing or wrong token, 403 fault
// injection disabled, 404 unknown route, supervisor or child, 405 wrong
// method, 409 the child's state forbids it, 422 the child cannot be
// crashed) and 5xx only when the tree fails (a restarted child's Start
// error). No input makes the handler panic.
//
// # Event stream
//
// Each server-sent event carries "id: N" and, as data, the JSON of an
// EventRecord whose ID is N. Ids count from 1 without gaps for the life of
// the Observer. A stream starts after the id in the Last-Event-ID header,
// which browsers send by themselves when they reconnect, or else in the
// last_event_id query parameter (0 replays the buffer); with neither it
// starts at the next event. If the requested id has already left the ring
// buffer, the stream first sends an event of type "gap" whose data is
// {"missed": COUNT}; if the id is newer than any (the server restarted), it
// sends "reset" with {"last_id": N}. Either way the client should fetch
// /api/tree again. Each stream reads the ring at its own pace, so a slow
// client never delays the supervisor or other clients: it falls behind and
// is told so. Events are encoded once, whatever the number of clients. A
// lone event is written at once; a burst is gathered into at most one write
// per stream every 10 ms. An idle stream gets a comment line every 15 s so
// that proxies keep it open.
//
// # Fault injection
//
// Read-only by default. WithFaultInjection(token) enables POST
// /api/children/{terminate,restart,crash} with a JSON body
// {"supervisor": "root/web", "child": "name"} and the header
// "Authorization: Bearer TOKEN"; the token is compared in constant time.
// terminate and restart call Supervisor.TerminateChild and RestartChild
// (which never count toward intensity); crash calls Crash(ErrInjectedCrash)
// on a running actor, which then fails at its next turn as a real crash
// would, restart, intensity and all. Each ChildSnapshot lists in Actions
// the ones its child's state allows (terminate while it runs or waits for a
// restart, restart once it has stopped, crash while a Crasher runs); the
// live page offers those and no others.
//
// # Telling events in plain words
//
// A Narrator turns events into short sentences for a terminal or a log,
// "data-layer  cache failed: injected fault", merging a group restart into
// one line; pass its Event method to supervisor.WithEventHandler. The
// examples and "airssys demo" print their trees' stories with it.
//
// # Metrics
//
// Collector is a prometheus.Collector computed from the tree at each scrape
// (plus event counters). Series, all with the airssys_ prefix:
//
//	airssys_supervisor_info{supervisor,strategy}                 gauge, always 1
//	airssys_supervisor_up{supervisor}                            gauge, 1 running / 0 not
//	airssys_supervisor_intensity_restarts{supervisor}            gauge, restarts in the current window (used)
//	airssys_supervisor_intensity_max_restarts{supervisor}        gauge, restarts allowed per window
//	airssys_supervisor_intensity_period_seconds{supervisor}      gauge, window length
//	airssys_supervisor_children{supervisor,kind,state}           gauge, children by kind and state
//	airssys_supervisor_children_health{supervisor,health}        gauge, children by last health result
//	airssys_actor_mailbox_messages{supervisor}                   gauge, queued messages, summed over actors
//	airssys_actor_mailbox_messages_max{supervisor}               gauge, the deepest mailbox
//	airssys_actor_messages_processed_total{supervisor}           counter, summed over actors
//	airssys_actor_dead_letters_total{supervisor}                 counter, summed over actors
//	airssys_child_restarts_total{supervisor,child}               counter, per restarted child (capped)
//	airssys_child_restarts_series_omitted                        gauge, restarted children over the cap
//	airssys_supervisor_restarts_total{supervisor}                counter, automatic restarts (from events)
//	airssys_supervisor_abandoned_children_total{supervisor}      counter, children abandoned at shutdown
//	airssys_supervisor_events_total{supervisor,kind}             counter, events by kind
//
// With WithCluster (a node of the remote package), the cluster as this node
// sees it; node is a member's name, reason a dead letter's reason:
//
//	airssys_remote_node_up{node}                                 gauge, 1 up / 0 declared down
//	airssys_remote_node_heartbeat_age_seconds{node}              gauge, time since its last heartbeat
//	airssys_remote_node_rtt_seconds{node}                        gauge, latest heartbeat round trip
//	airssys_remote_messages_sent_total                           counter, messages sent over NATS
//	airssys_remote_messages_received_total                       counter, messages received over NATS
//	airssys_remote_dead_letters_total{reason}                    counter, undeliverable remote messages
//	airssys_remote_sent_bytes_total                              counter, payload bytes sent
//	airssys_remote_received_bytes_total                          counter, payload bytes received
//	airssys_remote_heartbeat_rtt_seconds                         histogram, heartbeat round trips
//
// supervisor is the supervisor's path ("root/web"); kind is worker,
// supervisor, actor or process; state is one of ChildState's names; health is
// healthy, degraded or unhealthy. The event counters start at zero when the
// Observer is created. The actor sums cover the actors running at the
// scrape: an actor removed takes its counts with it, which rate() reads as
// a counter reset.
//
// # Cardinality
//
// A pool of 100,000 children must not make 100,000 series. So the label
// values are bounded by the shape of the tree, not by the size of its
// pools: per-supervisor series use fixed label sets (kinds × states,
// health states, event kinds), and only one metric has a child label,
// airssys_child_restarts_total, which lists only children that have
// restarted at all, at most WithMaxChildSeries of them (default 100), the
// most restarted first; airssys_child_restarts_series_omitted says how many
// were left out, and airssys_supervisor_restarts_total still counts them
// all. Supervisors themselves are bounded by WithMaxSupervisorSeries
// (default 1000): past it, in breadth-first order, supervisors are summed
// under supervisor="_other", so that a tree that creates supervisors
// without end (one per connection, say) still exports a bounded set.
// A scrape of a 100,000-child tree therefore costs one walk of the tree but
// exports at most a few dozen series per supervisor plus the capped
// per-child ones.
package observe
