package remote

import (
	"fmt"
	"sync"

	"github.com/airssys/rt/actor"
)

// attached maps each System to the node it is attached to. A System is
// one node: its actors have one address in the cluster, its remote
// children one owner that watches their incarnations, requeues their
// messages and fences them, and its dead letters one node's reasons. Two
// nodes sharing a System would each claim its actors, and Lookup on either
// would answer for the other's children; so a second Start with the same
// System fails instead.
var attached = struct {
	sync.Mutex
	m map[*actor.System]string
}{m: map[*actor.System]string{}}

// attach claims sys for the node name, or says which node holds it.
func attach(sys *actor.System, name string) error {
	attached.Lock()
	defer attached.Unlock()
	if other, ok := attached.m[sys]; ok {
		return fmt.Errorf("%w: System %q is attached to node %q already (one node per System: Close that node first, or use another System)", ErrInvalid, sys.Name(), other)
	}
	attached.m[sys] = name
	return nil
}

// detach releases sys, when its node closes or fails to start.
func detach(sys *actor.System) {
	attached.Lock()
	delete(attached.m, sys)
	attached.Unlock()
}
