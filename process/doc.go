// Package process runs OS processes as children of a supervision tree,
// the way supervisord, runit or systemd do, with OTP's strategies,
// intensity and nesting on top.
//
// # The model
//
// [Spec] returns a supervisor.Spec like any other: the supervisor starts,
// restarts and stops it by its strategy and policies. Each incarnation is
// one exec of the [Command], in a process group of its own so that what it
// starts (a shell's pipeline, a server's workers) belongs to it:
//
//   - Stopping sends the stop signal (SIGTERM, or [WithStopSignal]) to the
//     whole group. The supervisor calls Kill, SIGKILL to the group, when
//     the Graceful timeout expires, or at once under BrutalKill, and waits
//     for the reap (supervisor.Killer).
//   - When the leader exits, whatever is left of its group is killed before
//     the leader is reaped: no orphan outlives its child, and every process
//     is reaped (no zombie). On Linux, Pdeathsig kills the children when
//     the supervising program dies, even by SIGKILL.
//   - An exit code in [WithSuccessExitCodes] (default 0) is a normal exit;
//     any other code, or death by a signal, is a crash: an [*ExitError]
//     naming the code or the signal, which the restart policy and the
//     intensity see as any failure.
//
// # Readiness and health
//
// A [Probe] ([HTTPProbe], [TCPProbe], [ExecProbe]) tells whether the
// program does its job. With [WithReady], Start completes only when the
// probe first passes: the supervisor starts later siblings then, as OTP
// waits for init to return, so a client starts after the server it needs
// listens. With [WithHealth], the probe is the child's health check: after
// UnhealthyThreshold failures in a row the supervisor restarts the process.
//
// # Output
//
// stdout and stderr are read line by line and logged through slog
// ([WithOutput]) with the child's path ([WithPath]); the last [TailLines]
// lines of a child, across its restarts, are kept for live views:
// [Process.Output] on a running incarnation, and, between incarnations too,
// the spec's Observable (supervisor.ChildInfo.Observable), whose methods
// Lines() []Line and Tail() []string give the same lines. A crash-looping
// child is mostly between incarnations, and its last lines are what its
// user needs.
//
// The cmd/airssys command's "run" builds such a tree from a YAML file.
//
// Process groups and signals are Unix; elsewhere the package compiles and
// every start fails with errors.ErrUnsupported.
package process
