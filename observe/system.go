package observe

import (
	"fmt"

	"github.com/airssys/rt/actor"
)

// NewForSystem returns an Observer of an actor System's tree: its root
// supervisor and every supervisor and actor below it.
func NewForSystem(sys *actor.System, opts ...Option) (*Observer, error) {
	if sys == nil {
		return nil, fmt.Errorf("%w: nil actor system", ErrInvalidOption)
	}
	return New(sys.Root(), opts...)
}
