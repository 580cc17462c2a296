package supervisor

import (
	"fmt"
	"log/slog"
	"time"
)

// Option configures a Supervisor at New.
type Option func(*config)

type config struct {
	maxRestarts  int
	period       time.Duration
	backoff      Backoff
	autoShutdown AutoShutdown
	logger       *slog.Logger
	handler      func(Event)
	err          error // the first invalid option; Start reports it
}

// Defaults of the restart intensity: OTP's 3 restarts within 5 seconds.
const (
	DefaultMaxRestarts = 3
	DefaultPeriod      = 5 * time.Second
)

func defaultConfig() config {
	return config{maxRestarts: DefaultMaxRestarts, period: DefaultPeriod}
}

func (c *config) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...)
	}
}

// WithIntensity allows at most maxRestarts automatic restarts within any
// window of length period; one more ends the supervisor with
// ErrIntensityExceeded, which its parent treats as a failure (escalation).
// maxRestarts 0 means any failure that calls for a restart escalates.
func WithIntensity(maxRestarts int, period time.Duration) Option {
	return func(c *config) {
		if maxRestarts < 0 || period <= 0 {
			c.fail("intensity %d in %v: need maxRestarts >= 0 and period > 0", maxRestarts, period)
			return
		}
		c.maxRestarts, c.period = maxRestarts, period
	}
}

// WithBackoff delays restarts (see Backoff). The default is no delay.
func WithBackoff(b Backoff) Option {
	return func(c *config) {
		if err := b.validate(); err != nil {
			c.fail("%v", err)
			return
		}
		c.backoff = b
	}
}

// WithAutoShutdown lets the exit of significant children end the supervisor.
func WithAutoShutdown(a AutoShutdown) Option {
	return func(c *config) {
		if a < Never || a > AllSignificant {
			c.fail("auto shutdown %v", a)
			return
		}
		c.autoShutdown = a
	}
}

// WithLogger logs every event through l, one structured line each (see
// Event.LogLevel for levels). Without it a supervisor uses its parent's
// logger, and a top-level one uses slog.Default(), where only failures and
// worse pass the default Info level.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l == nil {
			c.fail("nil logger")
			return
		}
		c.logger = l
	}
}

// WithEventHandler calls fn for every event of this supervisor and of the
// supervisors below it, in order, on a goroutine of its own: a slow handler
// delays its own events, never supervision. Nor does observing delay a
// restart: when a restarted actor has a message waiting, the restart's
// events reach fn once the actor has handled that message, or a
// millisecond later if that Receive takes longer; log lines are never
// held back.
func WithEventHandler(fn func(Event)) Option {
	return func(c *config) {
		if fn == nil {
			c.fail("nil event handler")
			return
		}
		c.handler = fn
	}
}
