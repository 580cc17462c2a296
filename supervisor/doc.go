// Package supervisor runs Go code the way Erlang/OTP runs processes: in
// trees of supervisors that start children, watch them, and restart them
// with clean state when they fail ("let it crash").
//
// # The model
//
// A [Child] is anything with Serve(ctx) error. A [Spec] tells a
// [Supervisor] how to build it (New is called on every start, so each
// incarnation begins fresh), when to restart it ([RestartPolicy]), how to
// stop it ([ShutdownPolicy]) and how to check its health ([HealthPolicy]).
// The supervisor starts its children one at a time in order (a [Starter]'s
// Start completes before the next sibling begins) and stops them one at a
// time in reverse order.
//
// When a child exits, its exit is normal (Serve returned nil, an error
// wrapping [ErrShutdown], or anything after the supervisor cancelled its
// context) or abnormal (any other error, or a panic, reported as a
// [*PanicError]). The restart policy decides whether to restart it:
// Permanent always, Transient after abnormal exits, Temporary never. The
// [Strategy] decides who restarts with it: only it (OneForOne), all
// siblings (OneForAll), or the siblings started after it (RestForOne).
//
// A Temporary child's spec is removed on any exit, and being stopped is
// one: by TerminateChild, as a bystander of a group restart, or with its
// supervisor (Stop, the end of Start's ctx, giving up, AutoShutdown, a
// failed Start, a parent stopping or restarting it). A supervisor that
// has ended can be started again (its parent does that when it restarts
// it) and then starts the Permanent and Transient specs it still holds;
// its Temporary children went with its end. (In OTP, a restarted
// supervisor runs init again, so the static Temporary children init lists
// come back; here there is one list of specs, and a Temporary child that
// should come back with its supervisor is better made Transient.)
//
// Restarts are counted in a sliding window ([WithIntensity], default 3 in
// 5s). One too many and the supervisor stops all its children and ends
// with [ErrIntensityExceeded]; a parent supervisor sees that as a failure
// of its child and applies its own strategy: faults escalate up the tree
// until some level can recover. [WithBackoff] spaces restarts out with
// timers, never with sleeps on a child's goroutine.
//
// # Stopping and killing
//
// Go cannot kill a goroutine: stopping a child cancels its context, and
// its [ShutdownPolicy] says how long to wait (Graceful(d), Infinity) or
// not at all (BrutalKill). A child that can be ended for real, such as an
// OS process, implements [Killer]: the supervisor kills it at BrutalKill
// and when a Graceful timeout expires, then waits up to [KillTimeout] for
// its exit. A child that outlives all that is abandoned and reported
// ([EventChildAbandoned]); one stopped with BrutalKill and no Kill is
// waited for (again up to KillTimeout) before its next incarnation starts
// and before its supervisor ends. So two incarnations of a child never
// run at once, and no child outlives its supervisor, without a report.
//
// # Trees
//
// A supervisor added to another ([Supervisor.AddSupervisor]) belongs to
// that parent alone until its spec is deleted: adding it anywhere else,
// adding one that runs on its own, or adding an ancestor (a cycle) fails
// and changes nothing. Its parent starts it (its start is not bounded
// unless the spec sets a StartTimeout: OTP waits as long as a supervisor
// takes), restarts it, and stops it; Serve on it returns
// [ErrAlreadyStarted]. Names are path elements ("root/web/db", see
// [PathSeparator]): empty names and names containing "/" are
// [ErrInvalidSpec], for children and supervisors alike.
//
// # Health
//
// A child whose New returns a health.Checker can be polled ([HealthPolicy]);
// configuring checks on one that is not is [ErrInvalidSpec]. At the
// unhealthy threshold the child is restarted as if it had failed, with an
// error wrapping [ErrUnhealthy]. A check that ignores its context is never
// joined by another: the checks that fall due meanwhile count as unhealthy.
//
// # One goroutine owns the state
//
// While a supervisor runs, one control goroutine owns all its state and
// handles, one at a time, every request (StartChild, TerminateChild, ...),
// every child exit and every timer, as OTP's supervisor process does. No
// lock guards supervisor state; callers talk to that goroutine by message.
// A child that needs no goroutine of its own (an actor, which runs only
// when it has messages) implements [Launcher], and a spec can learn when
// it is gone for good through [Spec].Dispose. Dispose hooks never run
// while the control goroutine waits for them, so a hook may call its
// supervisor.
//
// # Many dynamic children: the lane
//
// A supervisor that holds many short-lived dynamic children (actors spawned
// by the thousand, each doing one job and stopping) would pay two trips
// through its control goroutine per child: one to start it, one to remove
// it when it ends. OTP's answer is simple_one_for_one (Elixir's
// DynamicSupervisor), a supervisor specialised for such children. Here
// every OneForOne supervisor has that specialisation built in, the lane,
// so nobody has to choose it:
//
//   - While it runs, [Supervisor.StartChild] starts a child on the caller's
//     goroutine when it can: the name is reserved, New is called and the
//     incarnation launched there, and StartChild returns once it runs, as
//     before. That is for a spec with no health checks, not significant,
//     not a supervisor, whose New returns a child without a Start step (a
//     [Launcher] such as an actor without PreStart, or a plain worker).
//     Other children, and every child of OneForAll and RestForOne
//     supervisors (whose strategies restart siblings by their order), are
//     started by the control goroutine, with the value New returned.
//   - A Temporary lane child that ends hands its exit to the lane's reaper,
//     a goroutine of the supervisor's that lives while exits keep coming:
//     with a lock-free push, nothing the child's own goroutine waits for.
//     The reaper removes the child, emits its events and runs its Dispose
//     hook (Stop and Serve wait for those hooks, as for the others).
//   - Whatever else happens to a lane child (an exit that calls for a
//     restart, TerminateChild, RestartChild, DeleteChild, the shutdown) is
//     done by the control goroutine, which first takes the child into its
//     ordered list at its place in start order. Restart policies,
//     intensity with escalation, backoff and ShutdownPolicy therefore
//     apply to lane children exactly as to the others.
//
// Names stay unique across the lane and the rest ([ErrAlreadyStarted],
// [ErrAlreadyPresent]); WhichChildren, CountChildren and Info list lane
// children in start order; Stop stops them newest first like every child.
// Two things differ from a child started by the control goroutine: New
// runs on the caller's goroutine, and a Launch that panics is reported
// after the child's started event (the started event must precede the
// child's exit, which may come during Launch). Stop does not wait for a
// New under way on a caller's goroutine: that start fails with
// [ErrStopped], and since New made something, the spec's Dispose hook
// runs (with that error) before StartChild returns, as after any start
// that fails past New; a StartChild refused before New leaves the spec
// with its caller.
//
// # Observing
//
// Every transition is an [Event]: logged through log/slog (routine ones at
// Debug, failures at Info, abandoned children and health restarts at Warn,
// giving up at Error: see [Event.LogLevel]) and delivered to [WithEventHandler] and
// [Supervisor.Subscribe] handlers on goroutines of their own, so a slow
// handler never stalls supervision. [Supervisor.WhichChildren],
// [Supervisor.CountChildren] and [Supervisor.Info] describe a running tree.
package supervisor
