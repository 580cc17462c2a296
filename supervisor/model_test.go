package supervisor

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// The model is OTP's rules written as plainly as possible, with none of
// the supervisor's machinery: a list of children, each running or not. The
// fuzz test drives the model and a real supervisor with the same random
// operations and checks, after each one, that both agree on every child's
// state and on the exact order of starts and stops.

type mchild struct {
	name    string
	policy  RestartPolicy
	running bool
}

type model struct {
	strategy Strategy
	max      int
	period   time.Duration
	restarts []time.Time
	kids     []*mchild
	ended    bool
	log      []string
}

func (m *model) find(name string) int {
	return slices.IndexFunc(m.kids, func(k *mchild) bool { return k.name == name })
}

func (m *model) add(k *mchild) {
	m.kids = append(m.kids, k)
	k.running = true
	m.log = append(m.log, "start "+k.name)
}

func (m *model) stop(k *mchild) {
	if k.running {
		k.running = false
		m.log = append(m.log, "stop "+k.name)
	}
}

// shutdown stops every child, newest first: an exit by shutdown, so a
// Temporary child's spec goes with it.
func (m *model) shutdown() {
	for j := len(m.kids) - 1; j >= 0; j-- {
		m.stop(m.kids[j])
	}
	m.kids = slices.DeleteFunc(m.kids, func(k *mchild) bool { return k.policy == Temporary })
}

func (m *model) exit(i int, abnormal bool, now time.Time) {
	k := m.kids[i]
	k.running = false
	m.log = append(m.log, "exit "+k.name)
	switch {
	case k.policy == Temporary:
		m.kids = slices.Delete(m.kids, i, i+1)
		return
	case k.policy == Transient && !abnormal:
		return
	}
	keep := m.restarts[:0]
	for _, t := range m.restarts {
		if now.Sub(t) < m.period {
			keep = append(keep, t)
		}
	}
	m.restarts = append(keep, now)
	if len(m.restarts) > m.max {
		m.shutdown()
		m.ended = true
		return
	}
	first := i
	switch m.strategy {
	case OneForOne:
		k.running = true
		m.log = append(m.log, "start "+k.name)
		return
	case OneForAll:
		first = 0
	}
	for j := len(m.kids) - 1; j >= first; j-- {
		m.stop(m.kids[j])
	}
	var group []*mchild
	for j, o := range m.kids {
		if j >= first && o.policy == Temporary && o != k {
			continue
		}
		group = append(group, o)
	}
	m.kids = group
	for _, o := range m.kids[first:] {
		o.running = true
		m.log = append(m.log, "start "+o.name)
	}
}

func (m *model) terminate(i int) {
	k := m.kids[i]
	m.stop(k)
	if k.policy == Temporary {
		m.kids = slices.Delete(m.kids, i, i+1)
	}
}

func (m *model) states() []string {
	var out []string
	for _, k := range m.kids {
		out = append(out, fmt.Sprintf("%s:%v", k.name, k.running))
	}
	return out
}

func realStates(s *Supervisor) []string {
	var out []string
	for _, ci := range s.WhichChildren() {
		out = append(out, fmt.Sprintf("%s:%v", ci.Name, ci.State == ChildRunning))
	}
	return out
}

// runModel interprets ops (bytes) against both the model and a supervisor.
func runModel(t *testing.T, ops []byte) { runModelWith(t, ops, false) }

// runModelWith is runModel; with launchers, the children are Launchers
// without a Start step, which a running OneForOne supervisor starts on its
// lane (lane.go), rather than goroutine children with one.
func runModelWith(t *testing.T, ops []byte, launchers bool) {
	synctest.Test(t, func(t *testing.T) {
		if len(ops) == 0 {
			return
		}
		strategy := Strategy(int(ops[0]) % 3)
		ops = ops[1:]
		r := newRig()
		spec := r.spec
		if launchers {
			spec = r.launcherSpec
		}
		m := &model{strategy: strategy, max: 3, period: 10 * time.Second}
		s := New("root", strategy, Permanent, quiet, WithIntensity(m.max, m.period))
		policies := []RestartPolicy{Permanent, Transient, Temporary}
		for i := range 4 {
			k := &mchild{name: fmt.Sprintf("c%d", i), policy: policies[i%3]}
			if err := s.StartChild(spec(k.name, k.policy)); err != nil {
				t.Fatal(err)
			}
			m.add(k)
		}
		mustStart(t, s)
		next := 4
		var trace []string
		check := func(what string) {
			t.Helper()
			synctest.Wait()
			trace = append(trace, what)
			got := r.j.take()
			if len(got) == 0 && len(m.log) == 0 {
				got, m.log = nil, nil
			}
			if !reflect.DeepEqual(got, m.log) {
				t.Fatalf("after %v (strategy %v):\n supervisor did %q\n model says    %q", trace, strategy, got, m.log)
			}
			m.log = nil
			if m.ended {
				return
			}
			if got, want := realStates(s), m.states(); !reflect.DeepEqual(got, want) {
				t.Fatalf("after %v (strategy %v):\n supervisor %v\n model      %v", trace, strategy, got, want)
			}
		}
		for len(ops) >= 2 && !m.ended {
			op, arg := ops[0]%7, int(ops[1])
			ops = ops[2:]
			if len(m.kids) == 0 && op < 5 {
				op = 5
			}
			var i int
			var k *mchild
			if len(m.kids) > 0 {
				i = arg % len(m.kids)
				k = m.kids[i]
			}
			switch op {
			case 0, 1: // crash: abnormal (0) or normal (1)
				if !k.running {
					continue
				}
				var err error
				if op == 0 {
					err = errBoom
				}
				r.crash(k.name, err)
				m.exit(i, op == 0, time.Now())
				check(fmt.Sprintf("exit %s abnormal=%v", k.name, op == 0))
			case 2:
				if err := s.TerminateChild(k.name); err != nil {
					t.Fatal(err)
				}
				m.terminate(i)
				check("terminate " + k.name)
			case 3:
				err := s.RestartChild(k.name)
				if k.running != errors.Is(err, ErrRunning) || (!k.running && err != nil) {
					t.Fatalf("RestartChild(%s) = %v, model running=%v", k.name, err, k.running)
				}
				if !k.running {
					k.running = true
					m.log = append(m.log, "start "+k.name)
				}
				check("restart " + k.name)
			case 4:
				err := s.DeleteChild(k.name)
				if k.running != errors.Is(err, ErrRunning) || (!k.running && err != nil) {
					t.Fatalf("DeleteChild(%s) = %v, model running=%v", k.name, err, k.running)
				}
				if !k.running {
					m.kids = slices.Delete(m.kids, i, i+1)
				}
				check("delete " + k.name)
			case 5:
				nk := &mchild{name: fmt.Sprintf("c%d", next), policy: policies[arg%3]}
				next++
				if err := s.StartChild(spec(nk.name, nk.policy)); err != nil {
					t.Fatal(err)
				}
				m.add(nk)
				check("add " + nk.name)
			case 6:
				time.Sleep(time.Duration(arg%5) * time.Second)
				check("sleep")
			}
		}
		if !m.ended {
			mustStop(t, s)
			m.shutdown()
			check("stop")
			return
		}
		<-s.Done()
		if !errors.Is(s.Err(), ErrIntensityExceeded) {
			t.Fatalf("model gave up, supervisor ended with %v", s.Err())
		}
	})
}

func FuzzSupervisorAgainstModel(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 1, 1, 2, 6, 4, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 0, 1, 1, 0, 2, 3, 5, 2, 0, 0, 6, 4, 0, 3, 0, 0, 0, 0})
	f.Add([]byte{2, 0, 1, 0, 2, 4, 0, 5, 1, 0, 0, 0, 0, 6, 9, 0, 0, 0, 0, 0, 0})
	f.Fuzz(runModel)
}

// TestRandomSequencesAgainstModel runs many fixed-seed sequences on every
// plain `go test`, so the model check does not depend on -fuzz.
func TestRandomSequencesAgainstModel(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		ops := make([]byte, 1+2*(5+rng.IntN(40)))
		for i := range ops {
			ops[i] = byte(rng.UintN(256))
		}
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runModel(t, ops) })
		t.Run(fmt.Sprint(seed, "/launchers"), func(t *testing.T) { runModelWith(t, ops, true) })
	}
}
