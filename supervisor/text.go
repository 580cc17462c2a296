package supervisor

import (
	"fmt"
	"strings"
	"time"
)

// The enumerations read back what MarshalText writes, so snapshots and
// configuration files can hold them by name.

func unmarshalEnum[T ~int](name string, text []byte, n int, str func(T) string) (T, error) {
	for i := range n {
		if v := T(i); strings.EqualFold(str(v), string(text)) {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown %s %q", ErrInvalidOption, name, text)
}

// UnmarshalText parses a strategy's name ("OneForAll").
func (s *Strategy) UnmarshalText(text []byte) (err error) {
	*s, err = unmarshalEnum("strategy", text, int(RestForOne)+1, Strategy.String)
	return err
}

// UnmarshalText parses a restart policy's name ("Transient").
func (p *RestartPolicy) UnmarshalText(text []byte) (err error) {
	*p, err = unmarshalEnum("restart policy", text, int(Temporary)+1, RestartPolicy.String)
	return err
}

// UnmarshalText parses a child state's name ("running").
func (s *ChildState) UnmarshalText(text []byte) (err error) {
	*s, err = unmarshalEnum("child state", text, int(ChildStopped)+1, ChildState.String)
	return err
}

// UnmarshalText parses an event kind's name ("child_failed").
func (k *EventKind) UnmarshalText(text []byte) (err error) {
	*k, err = unmarshalEnum("event kind", text, len(eventNames), EventKind.String)
	return err
}

// UnmarshalText parses an AutoShutdown setting's name ("AnySignificant").
func (a *AutoShutdown) UnmarshalText(text []byte) (err error) {
	*a, err = unmarshalEnum("auto shutdown", text, int(AllSignificant)+1, AutoShutdown.String)
	return err
}

// MarshalText makes an AutoShutdown read as its name in JSON.
func (a AutoShutdown) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText parses "BrutalKill", "Infinity", "Default", "Graceful(5s)"
// or a bare duration ("5s", a graceful timeout).
func (p *ShutdownPolicy) UnmarshalText(text []byte) error {
	s := string(text)
	switch strings.ToLower(s) {
	case "brutalkill", "brutal_kill":
		*p = BrutalKill
		return nil
	case "infinity":
		*p = Infinity
		return nil
	case "default", "":
		*p = 0
		return nil
	}
	if inner, ok := strings.CutPrefix(s, "Graceful("); ok {
		s = strings.TrimSuffix(inner, ")")
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("%w: shutdown policy %q: want BrutalKill, Infinity, Default or a positive duration", ErrInvalidOption, text)
	}
	*p = Graceful(d)
	return nil
}
