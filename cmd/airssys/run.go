package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/airssys/rt/observe"
	"github.com/airssys/rt/process"
	"github.com/airssys/rt/supervisor"
)

const runSynopsis = `Usage: airssys run [--check] [--observe ADDR] FILE.yaml

Runs the supervision tree of OS processes described in FILE.yaml (format:
see the annotated examples/process-tree/tree.yaml, and --check;
relative dirs and commands are relative to the file's directory). Child output and the tree's events are logged on stderr.

Signals: SIGTERM or SIGINT stop the tree (children in reverse order, each by
its shutdown policy) and exit 0; SIGHUP re-reads the file and applies the
difference (removed children stop, added ones start, changed ones are
replaced, the others keep running); a file that does not validate then
changes nothing.

Exit status: 0 after an orderly stop; 1 when the tree gave up, a child
could not be started, or a child had to be abandoned; 2 for a bad file
(every error as FILE:LINE: field: message) or bad usage.

The file (durations in Go syntax: 500ms, 10s, 2m):

  name: web                        # required; no slash
  strategy: one_for_one            # one_for_one (default) | one_for_all | rest_for_one
  intensity: {max_restarts: 5, period: 10s}      # default 3 in 5s
  backoff: {initial: 100ms, max: 5s, multiplier: 2, jitter: 0.1, reset_after: 30s}
  children:                        # required; started in order, stopped in reverse
    - name: api                    # a process: it has a command
      command: ["./api", "--port", "8080"]   # argv, no shell (write sh -c for one)
      env: {PORT: "8080"}          # added to airssys's environment
      dir: ./srv                   # default: the file's directory
      restart: permanent           # permanent (default) | transient | temporary
      shutdown: 10s                # duration (default 5s) | brutal_kill | infinity
      stop_signal: TERM            # default TERM; SIGTERM, INT, HUP... accepted
      success_exit_codes: [0]      # exits that are normal; others are crashes
      ready: {tcp: "127.0.0.1:8080", timeout: 30s}   # or http: {url, status}, exec: [argv]
      health: {http: {url: "http://127.0.0.1:8080/healthz", status: 200},
               interval: 5s, timeout: 1s, unhealthy_threshold: 3}
    - name: workers                # a supervisor: it has children
      strategy: one_for_all        # also intensity, backoff, restart, shutdown (default infinity)
      children: [...]
`

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", runSynopsis)
	check := fs.Bool("check", false, "validate the file and exit")
	addr := fs.String("observe", "", "serve the live view and /metrics on this address (e.g. 127.0.0.1:8080)")
	pos, err := parseFlags(fs, args, stdout, stderr)
	switch {
	case err != nil:
	case len(pos) != 1:
		err = usageErrorf(stderr, "run", "want one FILE.yaml, got %d arguments", len(pos))
	}
	if err != nil {
		return exitCode(err, stderr, "run")
	}
	file := pos[0]
	conf, err := loadTree(file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	if *check {
		fmt.Fprintf(stdout, "%s: ok\n", file)
		return exitOK
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := &runner{file: file, logger: logger}
	return r.main(ctx, conf, *addr)
}

// runner owns a running tree and the file it came from.
type runner struct {
	file      string
	logger    *slog.Logger
	root      *supervisor.Supervisor
	conf      *treeConf
	abandoned atomic.Bool
}

func (r *runner) main(ctx context.Context, conf *treeConf, addr string) int {
	// SIGHUP is ours from now on: it must not kill us before we listen.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	r.conf = conf
	root, err := r.build(conf, "", supervisor.WithEventHandler(func(e supervisor.Event) {
		if e.Kind == supervisor.EventChildAbandoned {
			r.abandoned.Store(true)
		}
	}))
	if err != nil { // cannot happen after validation, but never panic
		r.logger.Error("building the tree", "error", err)
		return exitUsage
	}
	r.root = root

	var obs *observe.Observer
	var srv *http.Server
	served := make(chan error, 1)
	if addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			r.logger.Error("--observe", "error", err)
			return exitFailure
		}
		if obs, err = observe.New(root); err != nil {
			ln.Close()
			r.logger.Error("--observe", "error", err)
			return exitFailure
		}
		srv = &http.Server{Handler: obs, ReadHeaderTimeout: 10 * time.Second}
		go func() { served <- srv.Serve(ln) }()
		r.logger.Info("live view", "url", "http://"+ln.Addr().String(), "metrics", "http://"+ln.Addr().String()+"/metrics")
	}
	defer func() {
		if srv != nil {
			obs.Close()
			shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = srv.Shutdown(shutCtx)
			cancel()
			<-served
		}
	}()

	if err := r.start(ctx); err != nil {
		r.logger.Error("starting the tree", "error", err)
		return exitFailure
	}
	r.logger.Info("tree started", "file", r.file, "root", conf.Name)
	for {
		select {
		case <-ctx.Done():
			r.logger.Info("stopping the tree")
			err := root.Stop()
			return r.exit(err)
		case <-root.Done():
			err := root.Err()
			root.Stop() // drains the events
			return r.exit(err)
		case <-hup:
			r.reload()
		}
	}
}

// start starts the tree. A child's Start (its ready probe) cannot be
// interrupted: a stop asked for meanwhile waits for it. A second SIGINT or
// SIGTERM then exits at once, and the children die with airssys
// (Pdeathsig).
func (r *runner) start(ctx context.Context) error {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	// Each signal reaches sigs and cancels ctx (main's NotifyContext);
	// one that came before Notify only cancelled ctx.
	need := 2
	if ctx.Err() != nil {
		need = 1
	}
	started := make(chan error, 1)
	go func() { started <- r.root.Start(context.Background()) }()
	asked := ctx.Done()
	for {
		select {
		case err := <-started:
			return err
		case <-asked:
			asked = nil
			r.logger.Warn("stopping once the child being started is up (or its start fails); signal again to exit at once")
		case <-sigs:
			if need--; need == 0 {
				r.logger.Error("second signal while starting: exiting now; the children die with airssys")
				os.Exit(exitFailure)
			}
		}
	}
}

func (r *runner) exit(err error) int {
	if err != nil {
		r.logger.Error("the tree gave up", "error", err)
		return exitFailure
	}
	if r.abandoned.Load() {
		r.logger.Error("a child had to be abandoned: it may still run")
		return exitFailure
	}
	return exitOK
}

// build creates the supervisor of t and records its children; path is
// its parent's path ("" for the root).
func (r *runner) build(t *treeConf, parentPath string, extra ...supervisor.Option) (*supervisor.Supervisor, error) {
	path := t.Name
	if parentPath != "" {
		path = parentPath + "/" + t.Name
	}
	opts := []supervisor.Option{supervisor.WithLogger(r.logger)}
	if t.Period > 0 {
		opts = append(opts, supervisor.WithIntensity(t.MaxRestarts, t.Period))
	}
	if t.Backoff != nil {
		opts = append(opts, supervisor.WithBackoff(*t.Backoff))
	}
	opts = append(opts, extra...)
	s := supervisor.New(t.Name, t.Strategy, t.Restart, opts...)
	t.sup = s
	for _, ch := range t.children {
		spec, err := r.spec(ch, path)
		if err != nil {
			return nil, err
		}
		if err := s.StartChild(spec); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// spec turns an entry into a child spec of the supervisor at parentPath.
func (r *runner) spec(ch *childConf, parentPath string) (supervisor.Spec, error) {
	if ch.tree != nil {
		sub, err := r.build(ch.tree, parentPath)
		if err != nil {
			return supervisor.Spec{}, err
		}
		return supervisor.Spec{Name: ch.name, Restart: ch.tree.Restart, Shutdown: ch.tree.Shutdown,
			New: func() supervisor.Child { return sub }}, nil
	}
	p := ch.proc
	cmd := process.Command{Path: p.Command[0], Args: p.Command[1:], Dir: p.Dir}
	if len(p.Env) > 0 {
		cmd.Env = os.Environ()
		names := make([]string, 0, len(p.Env))
		for k := range p.Env {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			cmd.Env = append(cmd.Env, k+"="+p.Env[k])
		}
	}
	opts := []process.Option{
		process.WithPath(parentPath + "/" + ch.name),
		process.WithOutput(r.logger),
		process.WithRestart(p.Restart),
		process.WithShutdown(p.Shutdown),
		process.WithStopSignal(p.StopSignal),
		process.WithSuccessExitCodes(p.Success...),
	}
	if p.Ready != nil {
		opts = append(opts, process.WithReady(p.Ready.probe(), p.Ready.Timeout))
	}
	if h := p.Health; h != nil {
		opts = append(opts, process.WithHealth(h.probe(), supervisor.HealthPolicy{
			Interval: h.Interval, Timeout: h.Timeout, UnhealthyThreshold: h.Threshold}))
	}
	return process.NewSpec(ch.name, cmd, opts...)
}

// reload re-reads the file and applies the difference to the running tree.
func (r *runner) reload() {
	conf, err := loadTree(r.file)
	if err != nil {
		r.logger.Error("reload: the file does not validate; nothing changed", "file", r.file, "error", err)
		return
	}
	if conf.Name != r.conf.Name || identity(ownSettings(conf)) != identity(ownSettings(r.conf)) {
		r.logger.Warn("reload: the root's own name, strategy, intensity and backoff change only at a restart of airssys")
	}
	r.reconcile(r.conf, conf, r.root, conf.Name)
	r.logger.Info("reload: applied", "file", r.file)
	// The root keeps its own settings: record the ones in effect.
	conf.Name, conf.Strategy, conf.MaxRestarts, conf.Period, conf.Backoff =
		r.conf.Name, r.conf.Strategy, r.conf.MaxRestarts, r.conf.Period, r.conf.Backoff
	r.conf = conf
}

// ownSettings is what identifies a supervisor entry apart from its children.
func ownSettings(t *treeConf) any {
	return struct {
		Name        string
		Strategy    supervisor.Strategy
		MaxRestarts int
		Period      time.Duration
		Backoff     *supervisor.Backoff
		Restart     supervisor.RestartPolicy
		Shutdown    supervisor.ShutdownPolicy
	}{t.Name, t.Strategy, t.MaxRestarts, t.Period, t.Backoff, t.Restart, t.Shutdown}
}

// reconcile applies the children of next to sup, which runs those of old:
// removed ones are terminated and deleted, changed ones replaced, added
// ones started (as the newest), nested supervisors whose own settings are
// unchanged reconciled in turn. next takes over the running supervisors.
func (r *runner) reconcile(old, next *treeConf, sup *supervisor.Supervisor, path string) {
	next.sup = sup
	was := map[string]*childConf{}
	for _, ch := range old.children {
		was[ch.name] = ch
	}
	keep := map[string]bool{}
	for _, ch := range next.children {
		keep[ch.name] = true
	}
	for _, ch := range old.children {
		if !keep[ch.name] {
			r.remove(sup, path, ch.name, "removed")
		}
	}
	for _, ch := range next.children {
		o, ok := was[ch.name]
		switch {
		case !ok:
			r.add(sup, path, ch, "added")
		case o.tree != nil && ch.tree != nil && identity(ownSettings(o.tree)) == identity(ownSettings(ch.tree)):
			r.reconcile(o.tree, ch.tree, o.tree.sup, path+"/"+ch.name)
		case o.proc != nil && ch.proc != nil && identity(o.proc) == identity(ch.proc):
			// unchanged: keeps running
		default:
			r.remove(sup, path, ch.name, "changed")
			r.add(sup, path, ch, "changed")
		}
	}
}

func (r *runner) remove(sup *supervisor.Supervisor, path, name, why string) {
	if err := sup.TerminateChild(name); err != nil && !errors.Is(err, supervisor.ErrNotFound) {
		r.logger.Error("reload: terminate", "child", path+"/"+name, "error", err)
	}
	if err := sup.DeleteChild(name); err != nil && !errors.Is(err, supervisor.ErrNotFound) {
		r.logger.Error("reload: delete", "child", path+"/"+name, "error", err)
		return
	}
	r.logger.Info("reload: child stopped and removed", "child", path+"/"+name, "because", why)
}

func (r *runner) add(sup *supervisor.Supervisor, path string, ch *childConf, why string) {
	spec, err := r.spec(ch, path)
	if err == nil {
		err = sup.StartChild(spec)
	}
	if err != nil {
		r.logger.Error("reload: start", "child", path+"/"+ch.name, "error", err)
		return
	}
	r.logger.Info("reload: child started", "child", path+"/"+ch.name, "because", why)
}
