package observe

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/airssys/rt/actor"
	"github.com/airssys/rt/supervisor"
)

func lint(t *testing.T, c prometheus.Collector) {
	t.Helper()
	problems, err := testutil.CollectAndLint(c)
	must(t, err)
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestMetricsLint(t *testing.T) {
	tt := startTree(t)
	o, _ := newObserver(t, tt.root)
	crashDB(t, tt) // so that every family has samples, events included
	observed(t, o, "child_restarted", 1)
	lint(t, o.Collector())

	// The same through the pedantic registry that /metrics serves.
	reg := prometheus.NewPedanticRegistry()
	must(t, reg.Register(o.Collector()))
	problems, err := testutil.GatherAndLint(reg)
	must(t, err)
	if len(problems) > 0 {
		t.Errorf("gather lint: %v", problems)
	}
}

func TestMetricsValues(t *testing.T) {
	tt := startTree(t)
	o, _ := newObserver(t, tt.root)
	crashDB(t, tt)
	observed(t, o, "child_restarted", 1)
	c := o.Collector()

	expect := func(names []string, text string) {
		t.Helper()
		if err := testutil.CollectAndCompare(c, strings.NewReader(text), names...); err != nil {
			t.Error(err)
		}
	}
	expect([]string{"airssys_child_restarts_total", "airssys_child_restarts_series_omitted"}, `
# HELP airssys_child_restarts_total Automatic restarts of one child; only children that restarted, at most the series limit, most restarted first.
# TYPE airssys_child_restarts_total counter
airssys_child_restarts_total{child="db",supervisor="root"} 1
# HELP airssys_child_restarts_series_omitted Restarted children left out of airssys_child_restarts_total by the series limit.
# TYPE airssys_child_restarts_series_omitted gauge
airssys_child_restarts_series_omitted 0
`)
	expect([]string{"airssys_supervisor_restarts_total", "airssys_supervisor_intensity_restarts",
		"airssys_supervisor_intensity_max_restarts"}, `
# HELP airssys_supervisor_restarts_total Automatic restarts of the supervisor's children since observation began.
# TYPE airssys_supervisor_restarts_total counter
airssys_supervisor_restarts_total{supervisor="root"} 1
# HELP airssys_supervisor_intensity_restarts Automatic restarts within the current intensity window (intensity used).
# TYPE airssys_supervisor_intensity_restarts gauge
airssys_supervisor_intensity_restarts{supervisor="root"} 1
airssys_supervisor_intensity_restarts{supervisor="root/actors"} 0
airssys_supervisor_intensity_restarts{supervisor="root/api"} 0
# HELP airssys_supervisor_intensity_max_restarts Automatic restarts allowed within the intensity period.
# TYPE airssys_supervisor_intensity_max_restarts gauge
airssys_supervisor_intensity_max_restarts{supervisor="root"} 1000
airssys_supervisor_intensity_max_restarts{supervisor="root/actors"} 1000
airssys_supervisor_intensity_max_restarts{supervisor="root/api"} 3
`)
	expect([]string{"airssys_actor_mailbox_messages", "airssys_actor_messages_processed_total"}, `
# HELP airssys_actor_mailbox_messages Messages queued in the mailboxes of the supervisor's running actors.
# TYPE airssys_actor_mailbox_messages gauge
airssys_actor_mailbox_messages{supervisor="root"} 0
airssys_actor_mailbox_messages{supervisor="root/actors"} 6
airssys_actor_mailbox_messages{supervisor="root/api"} 0
# HELP airssys_actor_messages_processed_total Messages processed by the supervisor's running actors.
# TYPE airssys_actor_messages_processed_total counter
airssys_actor_messages_processed_total{supervisor="root"} 0
airssys_actor_messages_processed_total{supervisor="root/actors"} 84
airssys_actor_messages_processed_total{supervisor="root/api"} 0
`)
	if got := testutil.ToFloat64(onlySeries(t, c, "airssys_supervisor_children",
		`supervisor="root/api"`, `kind="worker"`, `state="running"`)); got != 3 {
		t.Errorf("running workers under root/api: %v", got)
	}
	if got := testutil.ToFloat64(onlySeries(t, c, "airssys_supervisor_events_total",
		`supervisor="root"`, `kind="child_failed"`)); got != 1 {
		t.Errorf("child_failed events: %v", got)
	}
}

// observed waits until the observer has recorded count events of kind:
// its subscription delivers on a goroutine of its own, so an event another
// subscriber saw may not have reached it yet.
func observed(t *testing.T, o *Observer, kind string, count int) {
	t.Helper()
	var after uint64
	seen := 0
	timeout := time.After(10 * time.Second)
	for {
		cur := o.hub.since(after, nil)
		for _, e := range cur.entries {
			if strings.Contains(string(e.data), `"kind":"`+kind+`"`) {
				seen++
			}
			after = e.id
		}
		if seen >= count {
			return
		}
		select {
		case <-cur.wake:
		case <-timeout:
			t.Fatalf("observer saw %d %s events, want %d", seen, kind, count)
		}
	}
}

// onlySeries filters c down to the one series of name whose label pairs
// include all of labels, for testutil.ToFloat64.
func onlySeries(t *testing.T, c prometheus.Collector, name string, labels ...string) prometheus.Collector {
	t.Helper()
	return collectorFunc(func(ch chan<- prometheus.Metric) {
		all := make(chan prometheus.Metric)
		go func() {
			c.Collect(all)
			close(all)
		}()
		for m := range all {
			d := m.Desc().String()
			if !strings.Contains(d, `fqName: "`+name+`"`) {
				continue
			}
			s := fmt.Sprint(metricLabels(m))
			ok := true
			for _, l := range labels {
				ok = ok && strings.Contains(s, l)
			}
			if ok {
				ch <- m
			}
		}
	})
}

type collectorFunc func(chan<- prometheus.Metric)

func (f collectorFunc) Describe(chan<- *prometheus.Desc)    {}
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

func metricLabels(m prometheus.Metric) []string {
	var pb dto.Metric
	_ = m.Write(&pb)
	var out []string
	for _, l := range pb.Label {
		out = append(out, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	return out
}

// TestMetricsCardinality: a big pool where every child restarted still
// exports a bounded set of series, and says what it left out.
func TestMetricsCardinality(t *testing.T) {
	const n = 2000
	root := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent, quiet,
		supervisor.WithIntensity(10*n, time.Minute))
	pool := supervisor.New("pool", supervisor.OneForOne, supervisor.Permanent,
		supervisor.WithIntensity(10*n, time.Minute))
	fail := make(chan error)
	must(t, pool.Children("w", n).SpawnBatch(failing(fail)))
	must(t, root.AddSupervisor(pool))
	// Supervisors past the limit fold into "_other".
	for i := range 3 {
		must(t, root.AddSupervisor(supervisor.New(fmt.Sprint("extra-", i), supervisor.OneForOne, supervisor.Permanent)))
	}
	must(t, root.Start(context.Background()))
	defer root.Stop()
	o, err := New(root, WithMaxChildSeries(10), WithMaxSupervisorSeries(3))
	must(t, err)
	defer o.Close()

	// n+3 failures, each taken by whichever child receives it first.
	restarts := 0
	distinct := map[string]bool{}
	done := make(chan struct{})
	cancel := root.Subscribe(func(e supervisor.Event) {
		if e.Kind == supervisor.EventChildRestarted {
			restarts++
			distinct[e.Child] = true
			if restarts == n+3 {
				close(done)
			}
		}
	})
	defer cancel()
	for range n + 3 {
		fail <- errBoom
	}
	<-done
	observed(t, o, "child_restarted", n+3)

	c := o.Collector()
	if got := testutil.CollectAndCount(c, "airssys_child_restarts_total"); got != 10 {
		t.Errorf("%d per-child series, want the cap of 10", got)
	}
	if got := testutil.ToFloat64(onlySeries(t, c, "airssys_child_restarts_series_omitted")); got != float64(len(distinct)-10) {
		t.Errorf("omitted %v, want %d", got, len(distinct)-10)
	}
	if got := testutil.ToFloat64(onlySeries(t, c, "airssys_supervisor_restarts_total", `supervisor="root/pool"`)); got != n+3 {
		t.Errorf("pool restarts %v, want %d", got, n+3)
	}
	if got := testutil.CollectAndCount(c); got > 200 {
		t.Errorf("%d series for a %d-child tree", got, n)
	}
	// root, root/pool, root/extra-0 keep their names; the rest are summed.
	if got := testutil.ToFloat64(onlySeries(t, c, "airssys_supervisor_children",
		`supervisor="_other"`, `kind="worker"`, `state="running"`)); got != 0 {
		t.Errorf("_other workers %v", got)
	}
	if got := testutil.CollectAndCount(c, "airssys_supervisor_up"); got != 3 {
		t.Errorf("%d airssys_supervisor_up series, want 3", got)
	}
	lint(t, c)
}

func TestMetricsEndpoint(t *testing.T) {
	tt := startTree(t)
	_, srv := newObserver(t, tt.root)
	res, err := http.Get(srv.URL + "/metrics")
	must(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `airssys_supervisor_up{supervisor="root/api"} 1`) {
		t.Errorf("GET /metrics: %d\n%s", res.StatusCode, body)
	}

	// WithGatherer serves the caller's registry instead.
	reg := prometheus.NewRegistry()
	o2, err := New(tt.root, WithGatherer(reg))
	must(t, err)
	defer o2.Close()
	must(t, reg.Register(o2.Collector()))
	must(t, reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "app_up", Help: "The app."},
		func() float64 { return 1 })))
	count, err := testutil.GatherAndCount(reg, "app_up", "airssys_supervisor_up")
	must(t, err)
	if count != 4 {
		t.Errorf("shared registry has %d series, want 4", count)
	}
}

// TestRegressionMetricsCountActorBetweenIncarnations: an actor that has no
// incarnation (terminated here; a restart pending is the same) was an actor
// in snapshots but a worker in airssys_supervisor_children.
func TestRegressionMetricsCountActorBetweenIncarnations(t *testing.T) {
	root := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent, quiet)
	_, err := actor.Spawn(root, "echo", func() actor.Actor[string] {
		return actor.Func[string](func(*actor.Context[string], string) error { return nil })
	})
	must(t, err)
	must(t, root.Start(context.Background()))
	t.Cleanup(func() { _ = root.Stop() })
	must(t, root.TerminateChild("echo"))

	snap := TakeSnapshot(root)
	if c := snap.Root.Children[0]; c.Kind != KindActor || c.State != "stopped" || c.Actor != nil {
		t.Fatalf("snapshot of the terminated actor: %+v", c)
	}
	o, _ := newObserver(t, root)
	children := func(kind string) float64 {
		return testutil.ToFloat64(onlySeries(t, o.Collector(), "airssys_supervisor_children",
			`kind="`+kind+`"`, `state="stopped"`))
	}
	if a, w := children("actor"), children("worker"); a != 1 || w != 0 {
		t.Errorf("stopped actors %v, stopped workers %v; want 1, 0 as the snapshot says", a, w)
	}
}
