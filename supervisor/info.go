package supervisor

import "time"

// Info describes a supervisor and its children at one instant, for
// observers: every field is read by the control loop in one step, so the
// picture is consistent.
type Info struct {
	Name             string
	Path             string
	Strategy         Strategy
	MaxRestarts      int
	Period           time.Duration
	RestartsInWindow int  // automatic restarts within the current intensity window
	Running          bool // false before Start and after the end
	StartedAt        time.Time
	Err              error // final error of the last run, once ended
	Children         []ChildInfo
}

// Info returns a consistent description of the supervisor and its children.
// Sub-supervisors appear as children with Supervisor set; call Info on them
// to walk a tree.
func (s *Supervisor) Info() Info {
	rep := s.request(&call{op: opInfo, buf: s.snapshotBuf()})
	if rep.info == nil {
		// Not running: describe the recorded specs.
		return Info{
			Name: s.name, Path: s.Path(), Strategy: s.strategy, MaxRestarts: s.cfg.maxRestarts,
			Period: s.cfg.period, Err: s.Err(), Children: s.WhichChildren(),
		}
	}
	return *rep.info
}

func (r *run) info(buf []ChildInfo) Info {
	return Info{
		Name: r.s.name, Path: r.path, Strategy: r.s.strategy, MaxRestarts: r.intensity.max,
		Period: r.intensity.period, RestartsInWindow: r.intensity.used(time.Now()),
		Running: true, StartedAt: r.startedAt, Children: r.f.infos(buf),
	}
}
