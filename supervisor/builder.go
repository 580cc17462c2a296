package supervisor

import (
	"fmt"
	"strconv"
	"time"
)

// ChildBuilder is the fluent way to describe and spawn one child:
//
//	sup.Child("db").RestartPolicy(supervisor.Transient).ShutdownTimeout(time.Second).Spawn(w)
//
// Setters record; an invalid value surfaces as ErrInvalidSpec from Spawn.
type ChildBuilder struct {
	s    *Supervisor
	spec Spec
}

// Child starts describing a child named name.
func (s *Supervisor) Child(name string) *ChildBuilder {
	return &ChildBuilder{s: s, spec: Spec{Name: name}}
}

// RestartPolicy sets the child's restart policy.
func (b *ChildBuilder) RestartPolicy(p RestartPolicy) *ChildBuilder { b.spec.Restart = p; return b }

// ShutdownPolicy sets the child's shutdown policy.
func (b *ChildBuilder) ShutdownPolicy(p ShutdownPolicy) *ChildBuilder { b.spec.Shutdown = p; return b }

// ShutdownTimeout is ShutdownPolicy(Graceful(d)).
func (b *ChildBuilder) ShutdownTimeout(d time.Duration) *ChildBuilder {
	b.spec.Shutdown = Graceful(d)
	return b
}

// StartTimeout bounds the child's Start.
func (b *ChildBuilder) StartTimeout(d time.Duration) *ChildBuilder { b.spec.StartTimeout = d; return b }

// Significant marks the child significant for AutoShutdown.
func (b *ChildBuilder) Significant(v bool) *ChildBuilder { b.spec.Significant = v; return b }

// HealthCheckInterval enables health checks every d.
func (b *ChildBuilder) HealthCheckInterval(d time.Duration) *ChildBuilder {
	b.spec.Health.Interval = d
	return b
}

// HealthCheckTimeout bounds each health check.
func (b *ChildBuilder) HealthCheckTimeout(d time.Duration) *ChildBuilder {
	b.spec.Health.Timeout = d
	return b
}

// UnhealthyThreshold sets how many consecutive unhealthy checks restart the child.
func (b *ChildBuilder) UnhealthyThreshold(n int) *ChildBuilder {
	b.spec.Health.UnhealthyThreshold = n
	return b
}

// Spawn adds the child c. The same value serves every incarnation, so a
// restart does not reset its fields: use SpawnFunc for fresh state.
func (b *ChildBuilder) Spawn(c Child) error {
	if isNil(c) {
		return fmt.Errorf("supervisor %s: child %q: %w: nil child %T", b.s.where(), b.spec.Name, ErrInvalidSpec, c)
	}
	if err := checkHealthPolicy(b.spec.Health, c); err != nil {
		return fmt.Errorf("supervisor %s: child %q: %w", b.s.where(), b.spec.Name, err)
	}
	spec := b.spec
	spec.New = func() Child { return c }
	spec.sup, _ = c.(*Supervisor)
	return b.s.StartChild(spec)
}

// SpawnFunc adds a child built afresh by newFn on every (re)start.
func (b *ChildBuilder) SpawnFunc(newFn func() Child) error {
	spec := b.spec
	spec.New = newFn
	return b.s.StartChild(spec)
}

// BatchBuilder describes n similar children named prefix-0 .. prefix-(n-1).
// It has the same setters as ChildBuilder; the batch is added as one
// operation: all or nothing.
type BatchBuilder struct {
	ChildBuilder
	prefix string
	n      int
}

// MaxBatch is the most children one batch may add: a count is usually
// computed, and a wrong one should come back as ErrInvalidSpec, not as an
// allocation that panics or exhausts memory. Add more in several batches.
const MaxBatch = 1 << 20

// Children starts describing n children named prefix-0 .. prefix-(n-1).
// SpawnBatch reports a negative n, or one above MaxBatch, as ErrInvalidSpec.
func (s *Supervisor) Children(prefix string, n int) *BatchBuilder {
	return &BatchBuilder{ChildBuilder: ChildBuilder{s: s}, prefix: prefix, n: n}
}

// RestartPolicy sets the children's restart policy.
func (b *BatchBuilder) RestartPolicy(p RestartPolicy) *BatchBuilder {
	b.ChildBuilder.RestartPolicy(p)
	return b
}

// ShutdownPolicy sets the children's shutdown policy.
func (b *BatchBuilder) ShutdownPolicy(p ShutdownPolicy) *BatchBuilder {
	b.ChildBuilder.ShutdownPolicy(p)
	return b
}

// ShutdownTimeout is ShutdownPolicy(Graceful(d)).
func (b *BatchBuilder) ShutdownTimeout(d time.Duration) *BatchBuilder {
	b.ChildBuilder.ShutdownTimeout(d)
	return b
}

// StartTimeout bounds each child's Start.
func (b *BatchBuilder) StartTimeout(d time.Duration) *BatchBuilder {
	b.ChildBuilder.StartTimeout(d)
	return b
}

// Significant marks the children significant for AutoShutdown.
func (b *BatchBuilder) Significant(v bool) *BatchBuilder {
	b.ChildBuilder.Significant(v)
	return b
}

// HealthCheckInterval enables health checks every d.
func (b *BatchBuilder) HealthCheckInterval(d time.Duration) *BatchBuilder {
	b.ChildBuilder.HealthCheckInterval(d)
	return b
}

// HealthCheckTimeout bounds each health check.
func (b *BatchBuilder) HealthCheckTimeout(d time.Duration) *BatchBuilder {
	b.ChildBuilder.HealthCheckTimeout(d)
	return b
}

// UnhealthyThreshold sets how many consecutive unhealthy checks restart a child.
func (b *BatchBuilder) UnhealthyThreshold(n int) *BatchBuilder {
	b.ChildBuilder.UnhealthyThreshold(n)
	return b
}

// SpawnBatch adds the n children, each built afresh by newFn on every (re)start.
func (b *BatchBuilder) SpawnBatch(newFn func() Child) error {
	if newFn == nil {
		return b.bad("nil factory")
	}
	return b.SpawnBatchWith(func(int) Child { return newFn() })
}

// SpawnBatchWith adds the n children; child i is built by newFn(i) on every
// (re)start.
func (b *BatchBuilder) SpawnBatchWith(newFn func(i int) Child) error {
	switch {
	case newFn == nil:
		return b.bad("nil factory")
	case b.n < 0:
		return b.bad("negative count " + strconv.Itoa(b.n))
	case b.n > MaxBatch:
		return b.bad("count " + strconv.Itoa(b.n) + " above MaxBatch " + strconv.Itoa(MaxBatch))
	case b.prefix == "":
		return b.bad("empty prefix")
	}
	if err := checkName(b.prefix); err != nil {
		return b.bad(err.Error())
	}
	specs := make([]Spec, b.n)
	for i := range specs {
		i := i
		specs[i] = b.spec
		specs[i].Name = b.prefix + "-" + strconv.Itoa(i)
		specs[i].New = func() Child { return newFn(i) }
	}
	return b.s.StartChildren(specs...)
}

func (b *BatchBuilder) bad(why string) error {
	return fmt.Errorf("supervisor %s: batch %q: %w: %s", b.s.where(), b.prefix, ErrInvalidSpec, why)
}

// SpawnChild adds a child with the supervisor's defaults. The same value
// serves every incarnation; a *Supervisor is added as a sub-supervisor.
func (s *Supervisor) SpawnChild(name string, c Child) error { return s.Child(name).Spawn(c) }

// SpawnWithSpec adds c under spec's settings; spec.New is ignored and
// replaced by one that returns c.
func (s *Supervisor) SpawnWithSpec(spec Spec, c Child) error {
	return (&ChildBuilder{s: s, spec: spec}).Spawn(c)
}

// AddSupervisor adds sub as a child named after it. sub's own restart
// policy (given to New) is its policy under s; it restarts as a whole.
// A supervisor belongs to one parent: adding one that runs already
// (ErrAlreadyStarted), that another spec holds (ErrAlreadyPresent, until
// that spec is deleted), or that is s or an ancestor of s (ErrInvalidSpec:
// a cycle) fails and changes nothing. SpawnChild and Spawn of a
// *Supervisor do the same; a New that returns one is checked at its start.
func (s *Supervisor) AddSupervisor(sub *Supervisor) error {
	if sub == nil {
		return fmt.Errorf("supervisor %s: %w: nil supervisor", s.where(), ErrInvalidSpec)
	}
	return s.StartChild(Spec{Name: sub.name, Restart: sub.restart, New: func() Child { return sub }, sup: sub})
}
