package process

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/airssys/rt/supervisor"
)

// Kind is the Spec.Kind of process children, so that observers can tell an
// OS process from a goroutine worker between incarnations.
const Kind = "process"

// Sentinel errors, matched with errors.Is. Errors about a spec also wrap
// supervisor.ErrInvalidSpec, so that code handling supervisor errors
// recognises them.
var (
	// ErrInvalidCommand: the Command cannot be run (empty Path, an
	// environment entry without "=").
	ErrInvalidCommand = errors.New("invalid command")
	// ErrInvalidOption: an option has a value that cannot work (nil probe,
	// non-positive timeout, a signal or exit code out of range).
	ErrInvalidOption = errors.New("invalid process option")
	// ErrNotReady: the readiness probe did not pass within its timeout, or
	// the process exited before it passed.
	ErrNotReady = errors.New("not ready")
	// ErrProbe: a probe found the process unhealthy or not ready; probe
	// errors wrap it with what they saw.
	ErrProbe = errors.New("probe failed")
)

// Command is what a process child runs: one exec of Path with Args.
// Path is looked up in PATH when it contains no slash; a relative Path
// with a slash is relative to Dir. Env follows os/exec: nil inherits the
// supervisor process's environment, anything else is the whole
// environment. Dir empty means the supervisor process's directory.
type Command struct {
	Path string
	Args []string
	Env  []string
	Dir  string
}

func (c Command) validate() error {
	if c.Path == "" {
		return fmt.Errorf("%w: empty Path", ErrInvalidCommand)
	}
	for _, kv := range c.Env {
		if i := strings.IndexByte(kv, '='); i <= 0 {
			return fmt.Errorf("%w: environment entry %q is not NAME=value", ErrInvalidCommand, kv)
		}
	}
	return nil
}

// Option configures a process child.
type Option func(*config)

type config struct {
	stopSignal   syscall.Signal
	success      []int
	ready        Probe
	readyTimeout time.Duration
	health       Probe
	healthPolicy supervisor.HealthPolicy
	logger       *slog.Logger
	restart      supervisor.RestartPolicy
	shutdown     supervisor.ShutdownPolicy
	path         string
	err          error // the first invalid option
}

func (c *config) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...)
	}
}

// WithStopSignal sets the signal sent to the process group when the
// supervisor stops the child (default SIGTERM). SIGKILL follows when the
// Graceful timeout expires.
func WithStopSignal(sig syscall.Signal) Option {
	return func(c *config) {
		if sig <= 0 || sig >= 65 {
			c.fail("stop signal %d", int(sig))
			return
		}
		c.stopSignal = sig
	}
}

// WithSuccessExitCodes lists the exit codes that are normal exits (default
// 0 alone). Every other code, and every death by signal, is a crash. A list
// without 0 makes exit code 0 a crash.
func WithSuccessExitCodes(codes ...int) Option {
	return func(c *config) {
		if len(codes) == 0 {
			c.fail("no success exit codes")
			return
		}
		for _, code := range codes {
			if code < 0 || code > 255 {
				c.fail("exit code %d out of 0..255", code)
				return
			}
		}
		c.success = append([]int(nil), codes...)
	}
}

// WithReady makes Start wait until probe first passes, for at most timeout:
// the supervisor starts later siblings only then (OTP's init
// acknowledgement for programs that take a while to listen). A process that
// exits, or a probe still failing at timeout, is a start failure wrapping
// ErrNotReady; the process group is killed. The spec's StartTimeout is
// raised above timeout when needed, so that the probe's timeout decides.
func WithReady(probe Probe, timeout time.Duration) Option {
	return func(c *config) {
		if err := checkProbe(probe); err != nil {
			c.fail("ready: %w", err)
			return
		}
		if timeout <= 0 {
			c.fail("ready timeout %v: must be positive", timeout)
			return
		}
		c.ready, c.readyTimeout = probe, timeout
	}
}

// WithHealth runs probe as the child's health check under policy: the
// supervisor calls it every policy.Interval and restarts the process after
// policy.UnhealthyThreshold consecutive failures (see
// supervisor.HealthPolicy).
func WithHealth(probe Probe, policy supervisor.HealthPolicy) Option {
	return func(c *config) {
		if err := checkProbe(probe); err != nil {
			c.fail("health: %w", err)
			return
		}
		if policy.Interval <= 0 || policy.Timeout < 0 || policy.UnhealthyThreshold < 0 {
			c.fail("health policy %+v: need Interval > 0, Timeout and UnhealthyThreshold >= 0", policy)
			return
		}
		c.health, c.healthPolicy = probe, policy
	}
}

// WithOutput logs the process's stdout and stderr, one record per line,
// through l (default slog.Default()), at Info with the attributes child
// (the child's path, see WithPath), stream ("stdout" or "stderr") and pid.
func WithOutput(l *slog.Logger) Option {
	return func(c *config) {
		if l == nil {
			c.fail("nil output logger")
			return
		}
		c.logger = l
	}
}

// WithPath names the child in its output's log records and for observers,
// usually its place in the tree ("web/api"). The default is its name: a
// child does not learn where its supervisor put it.
func WithPath(path string) Option {
	return func(c *config) {
		if path == "" {
			c.fail("empty path")
			return
		}
		c.path = path
	}
}

// WithRestart sets the spec's restart policy.
func WithRestart(p supervisor.RestartPolicy) Option {
	return func(c *config) {
		if p < supervisor.DefaultRestart || p > supervisor.Temporary {
			c.fail("restart policy %v", p)
			return
		}
		c.restart = p
	}
}

// WithShutdown sets the spec's shutdown policy: Graceful(d) sends the stop
// signal and SIGKILL after d, BrutalKill sends SIGKILL at once, Infinity
// sends the stop signal and waits as long as it takes.
func WithShutdown(p supervisor.ShutdownPolicy) Option {
	return func(c *config) {
		if p != supervisor.BrutalKill && p != supervisor.Infinity && p <= 0 {
			c.fail("shutdown policy %v", p)
			return
		}
		c.shutdown = p
	}
}

// Spec returns the spec of a supervised OS process: every incarnation runs
// cmd once, in a process group of its own. Invalid input does not panic:
// the spec's start fails with an error wrapping supervisor.ErrInvalidSpec
// and ErrInvalidCommand or ErrInvalidOption. Use NewSpec to see the error
// at once.
func Spec(name string, cmd Command, opts ...Option) supervisor.Spec {
	spec, err := NewSpec(name, cmd, opts...)
	if err != nil {
		return supervisor.Spec{
			Name: name,
			Kind: Kind,
			New:  func() supervisor.Child { return invalid{err} },
		}
	}
	return spec
}

// NewSpec is Spec that reports invalid input as an error instead of a spec
// that fails to start.
func NewSpec(name string, cmd Command, opts ...Option) (supervisor.Spec, error) {
	cfg := config{stopSignal: syscall.SIGTERM, success: []int{0}, path: name}
	for _, o := range opts {
		if o == nil {
			cfg.fail("nil option")
			continue
		}
		o(&cfg)
	}
	err := cfg.err
	if err == nil {
		err = cmd.validate()
	}
	if err == nil && name == "" {
		err = fmt.Errorf("%w: empty name", ErrInvalidCommand)
	}
	if err != nil {
		return supervisor.Spec{}, fmt.Errorf("process %q: %w: %w", name, supervisor.ErrInvalidSpec, err)
	}
	cmd.Args = slices.Clone(cmd.Args)
	cmd.Env = slices.Clone(cmd.Env) // keeps nil (inherit) apart from empty
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	shared := &shared{cmd: cmd, cfg: cfg, tail: newTail(TailLines)}
	spec := supervisor.Spec{
		Name:     name,
		Kind:     Kind,
		Restart:  cfg.restart,
		Shutdown: cfg.shutdown,
		New:      func() supervisor.Child { return &Process{sh: shared} },
		// The output tail, for observers between incarnations too: a
		// crash-looping child has no instance most of the time, and its
		// last lines are what a user needs then.
		Observable: shared.tail,
	}
	if cfg.ready != nil {
		if d := cfg.readyTimeout + readySlack; d > supervisor.DefaultStartTimeout {
			spec.StartTimeout = d
		}
	}
	if cfg.health != nil {
		spec.Health = cfg.healthPolicy
	}
	return spec, nil
}

// readySlack is what Start may need beyond the ready timeout: starting the
// process, and killing and reaping it when it never became ready.
const readySlack = 5 * time.Second

// invalid is the child of a spec built from bad input: its start fails.
type invalid struct{ err error }

func (c invalid) Start(context.Context) error { return c.err }
func (c invalid) Serve(context.Context) error { return c.err }
