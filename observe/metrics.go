package observe

import (
	"cmp"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/airssys/rt/health"
	"github.com/airssys/rt/supervisor"
)

// OtherSupervisors is the supervisor label value under which the
// supervisors past the series limit are summed (see WithMaxSupervisorSeries).
const OtherSupervisors = "_other"

const (
	// DefaultMaxChildSeries is how many children get series of their own
	// (airssys_child_restarts_total) unless WithMaxChildSeries says otherwise.
	DefaultMaxChildSeries = 100
	// DefaultMaxSupervisorSeries is how many supervisors get a label value
	// of their own unless WithMaxSupervisorSeries says otherwise.
	DefaultMaxSupervisorSeries = 1000
)

var (
	childStates = []supervisor.ChildState{
		supervisor.ChildStarting, supervisor.ChildRunning, supervisor.ChildRestarting,
		supervisor.ChildStopping, supervisor.ChildStopped,
	}
	kinds        = []Kind{KindWorker, KindSupervisor, KindActor, KindProcess}
	healthStates = []health.State{health.StateHealthy, health.StateDegraded, health.StateUnhealthy}
)

// emit sends one sample. A label value that is not valid UTF-8 (a child
// name can be any string) makes that sample an error for the scrape to
// report, never a panic.
func emit(ch chan<- prometheus.Metric, d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
	m, err := prometheus.NewConstMetric(d, t, v, labels...)
	if err != nil {
		m = prometheus.NewInvalidMetric(d, err)
	}
	ch <- m
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	descSupervisorInfo = desc("airssys_supervisor_info",
		"Always 1; labels describe the supervisor.", "supervisor", "strategy")
	descSupervisorUp = desc("airssys_supervisor_up",
		"1 if the supervisor is running, 0 if not.", "supervisor")
	descIntensityRestarts = desc("airssys_supervisor_intensity_restarts",
		"Automatic restarts within the current intensity window (intensity used).", "supervisor")
	descIntensityMax = desc("airssys_supervisor_intensity_max_restarts",
		"Automatic restarts allowed within the intensity period.", "supervisor")
	descIntensityPeriod = desc("airssys_supervisor_intensity_period_seconds",
		"Length of the intensity window.", "supervisor")
	descChildren = desc("airssys_supervisor_children",
		"Children by kind and state.", "supervisor", "kind", "state")
	descChildrenHealth = desc("airssys_supervisor_children_health",
		"Children by the result of their last health check.", "supervisor", "health")
	descMailbox = desc("airssys_actor_mailbox_messages",
		"Messages queued in the mailboxes of the supervisor's running actors.", "supervisor")
	descMailboxMax = desc("airssys_actor_mailbox_messages_max",
		"Messages queued in the deepest mailbox among the supervisor's running actors.", "supervisor")
	descProcessed = desc("airssys_actor_messages_processed_total",
		"Messages processed by the supervisor's running actors.", "supervisor")
	descDeadLetters = desc("airssys_actor_dead_letters_total",
		"Dead letters of the supervisor's running actors.", "supervisor")
	descChildRestarts = desc("airssys_child_restarts_total",
		"Automatic restarts of one child; only children that restarted, at most the series limit, most restarted first.",
		"supervisor", "child")
	descChildSeriesOmitted = desc("airssys_child_restarts_series_omitted",
		"Restarted children left out of airssys_child_restarts_total by the series limit.")
	descRestarts = desc("airssys_supervisor_restarts_total",
		"Automatic restarts of the supervisor's children since observation began.", "supervisor")
	descAbandoned = desc("airssys_supervisor_abandoned_children_total",
		"Children left running after their graceful shutdown timed out, since observation began.", "supervisor")
	descEvents = desc("airssys_supervisor_events_total",
		"Supervision events by kind since observation began.", "supervisor", "kind")
)

// eventCounts counts events by supervisor for the counters that the tree's
// state cannot give: abandoned children leave no trace in Info, and summed
// per-child restarts would go down when a child is deleted.
type eventCounts struct {
	mu    sync.Mutex
	max   int
	bySup map[string]*supCounts
}

type supCounts struct {
	restarts, abandoned uint64
	byKind              map[supervisor.EventKind]uint64
}

func newEventCounts(maxSupervisors int) *eventCounts {
	return &eventCounts{max: maxSupervisors, bySup: map[string]*supCounts{}}
}

func (c *eventCounts) add(e supervisor.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := e.Supervisor
	sc := c.bySup[key]
	if sc == nil {
		// Supervisors created without end (one per connection, say) must
		// not grow the label set without end either.
		if len(c.bySup) >= c.max {
			key = OtherSupervisors
			sc = c.bySup[key]
		}
		if sc == nil {
			sc = &supCounts{byKind: map[supervisor.EventKind]uint64{}}
			c.bySup[key] = sc
		}
	}
	sc.byKind[e.Kind]++
	switch e.Kind {
	case supervisor.EventChildRestarted:
		sc.restarts++
	case supervisor.EventChildAbandoned:
		sc.abandoned++
	}
}

func (c *eventCounts) collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for sup, sc := range c.bySup {
		emit(ch, descRestarts, prometheus.CounterValue, float64(sc.restarts), sup)
		emit(ch, descAbandoned, prometheus.CounterValue, float64(sc.abandoned), sup)
		for k, n := range sc.byKind {
			emit(ch, descEvents, prometheus.CounterValue, float64(n), sup, k.String())
		}
	}
}

// collector turns the tree into metrics at every scrape.
type collector struct {
	root        *supervisor.Supervisor
	maxChildren int
	maxSups     int
	events      *eventCounts
	cluster     Cluster // nil without WithCluster
}

// Describe sends every descriptor the collector uses: the set is fixed.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descSupervisorInfo, descSupervisorUp, descIntensityRestarts, descIntensityMax,
		descIntensityPeriod, descChildren, descChildrenHealth, descMailbox, descMailboxMax,
		descProcessed, descDeadLetters, descChildRestarts, descChildSeriesOmitted,
		descRestarts, descAbandoned, descEvents,
	} {
		ch <- d
	}
	if c.cluster != nil {
		for _, d := range clusterDescs {
			ch <- d
		}
	}
}

// supAgg is what the additive metrics sum for one supervisor label value.
type supAgg struct {
	children  [4][5]int // [kind][state], kinds in the order of kinds
	health    [3]int
	mailbox   int
	mailboxHi int
	processed uint64
	dead      uint64
}

type restarted struct {
	sup, child string
	restarts   int
}

// Collect walks the tree breadth first, so that when there are more
// supervisors than label values allowed the top of the tree keeps its own.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	if c.root == nil {
		return
	}
	var (
		aggs    = map[string]*supAgg{}
		order   []string
		queue   = []*supervisor.Supervisor{c.root}
		seen    int
		retried []restarted
	)
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		info := s.Info()
		label := info.Path
		if seen >= c.maxSups {
			label = OtherSupervisors
		} else {
			seen++
			up := 0.0
			if info.Running {
				up = 1
			}
			emit(ch, descSupervisorInfo, prometheus.GaugeValue, 1, label, info.Strategy.String())
			emit(ch, descSupervisorUp, prometheus.GaugeValue, up, label)
			emit(ch, descIntensityRestarts, prometheus.GaugeValue, float64(info.RestartsInWindow), label)
			emit(ch, descIntensityMax, prometheus.GaugeValue, float64(info.MaxRestarts), label)
			emit(ch, descIntensityPeriod, prometheus.GaugeValue, info.Period.Seconds(), label)
		}
		agg := aggs[label]
		if agg == nil {
			agg = &supAgg{}
			aggs[label] = agg
			order = append(order, label)
		}
		for i := range info.Children {
			ci := &info.Children[i]
			kind := 0
			switch kindOf(ci) {
			case KindSupervisor:
				kind = 1
				queue = append(queue, ci.Supervisor)
			case KindActor:
				// Counted as an actor between incarnations too, as the
				// snapshot counts it; only a running one has numbers.
				kind = 2
				if a, ok := ci.Instance.(Actor); ok {
					depth := a.MailboxLen()
					agg.mailbox += depth
					agg.mailboxHi = max(agg.mailboxHi, depth)
					agg.processed += a.Processed()
					agg.dead += a.DeadLetterCount()
				}
			case KindProcess:
				kind = 3
			}
			if st := int(ci.State); st >= 0 && st < len(childStates) {
				agg.children[kind][st]++
			}
			if h := int(ci.Health.State); h >= 0 && h < len(healthStates) {
				agg.health[h]++
			}
			if ci.Restarts > 0 {
				retried = append(retried, restarted{sup: info.Path, child: ci.Name, restarts: ci.Restarts})
			}
		}
	}
	for _, label := range order {
		agg := aggs[label]
		for k, kind := range kinds {
			for st, state := range childStates {
				emit(ch, descChildren, prometheus.GaugeValue,
					float64(agg.children[k][st]), label, string(kind), state.String())
			}
		}
		for h, state := range healthStates {
			emit(ch, descChildrenHealth, prometheus.GaugeValue, float64(agg.health[h]), label, state.String())
		}
		emit(ch, descMailbox, prometheus.GaugeValue, float64(agg.mailbox), label)
		emit(ch, descMailboxMax, prometheus.GaugeValue, float64(agg.mailboxHi), label)
		emit(ch, descProcessed, prometheus.CounterValue, float64(agg.processed), label)
		emit(ch, descDeadLetters, prometheus.CounterValue, float64(agg.dead), label)
	}
	omitted := 0
	if len(retried) > c.maxChildren {
		slices.SortFunc(retried, func(a, b restarted) int {
			return cmp.Or(cmp.Compare(b.restarts, a.restarts), cmp.Compare(a.sup, b.sup), cmp.Compare(a.child, b.child))
		})
		omitted = len(retried) - c.maxChildren
		retried = retried[:c.maxChildren]
	}
	for _, r := range retried {
		emit(ch, descChildRestarts, prometheus.CounterValue, float64(r.restarts), r.sup, r.child)
	}
	emit(ch, descChildSeriesOmitted, prometheus.GaugeValue, float64(omitted))
	c.events.collect(ch)
	if c.cluster != nil {
		collectCluster(ch, c.cluster)
	}
}
