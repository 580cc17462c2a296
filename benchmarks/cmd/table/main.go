// Command table reads `go test -bench` output and prints, as a Markdown
// table, the median of each workload's metrics for each library with its
// ratio to the raw goroutine and channel baseline and to the reference
// library (protoactor-go, or suture where protoactor-go does not run), then
// checks the performance bars set for actors and for the crash path.
//
// Benchmarks are expected to be named Benchmark<Workload>/lib=<library>, as
// in this module (or Benchmark<Workload>/<library>), possibly with variants
// before the library (Benchmark<Workload>/crash=panic/lib=<library>): each
// variant is a workload of its own, "<Workload>/crash=panic". Repeated results (-count)
// are summarised by their median and the half-width of its confidence
// interval, as benchstat does: 95%, or 90% with fewer than 6 results.
//
// Usage:
//
//	table [-bars=false] [file ...]
//
// With no file it reads standard input.
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
)

const (
	baseline = "raw"
	ours     = "airssys"
)

// references are the libraries ratios are taken to, in order of preference.
var references = []string{"protoactor", "suture"}

// metric is one row group of a workload.
type metric struct {
	unit   string
	label  string
	higher bool    // higher is better
	scale  float64 // shown value = value * scale (0: 1)
}

// nsPerOp is go test's ns/op, which benchfmt reads as sec/op.
const nsPerOp = "sec/op"

// workloads says which metrics to show for the workloads this module has, in
// this order; others show every metric they report except B/op and allocs/op.
var workloads = []struct {
	name    string
	title   string
	metrics []metric
}{
	{"PingPong", "ping-pong (1 in flight)", []metric{{unit: nsPerOp, label: "ns per round trip", scale: 1e9}}},
	{"FanIn", "fan-in (4 producers -> 1)", []metric{{unit: "Mmsg/s", label: "M msg/s", higher: true}}},
	{"SpawnMessageStop", "spawn + 1 msg + stop", []metric{{unit: nsPerOp, label: "ns per actor", scale: 1e9}}},
	{"IdleMemory", "idle memory (100,000)", []metric{
		{unit: "B/actor", label: "bytes per actor"},
		{unit: "goroutines/actor", label: "goroutines per actor"},
	}},
	{"ActorRestart", "actor restart (crash -> next msg)", []metric{
		{unit: "p50-µs", label: "p50 µs"},
		{unit: "p99-µs", label: "p99 µs"},
	}},
	{"SupervisorRestart", "supervisor restart (plain child)", []metric{
		{unit: "p50-µs", label: "p50 µs"},
		{unit: "p99-µs", label: "p99 µs"},
	}},
	{"GroupRestart", "all-for-one restart of 1,000 actors", []metric{{unit: nsPerOp, label: "ms per group restart", scale: 1e3}}},
}

// results maps workload -> library -> unit -> values, keeping the order in
// which workloads and libraries first appear.
type results struct {
	workloads []string
	libs      map[string][]string
	values    map[string]map[string]map[string][]float64
}

func (r *results) add(workload, lib, unit string, v float64) {
	if r.values == nil {
		r.values = map[string]map[string]map[string][]float64{}
		r.libs = map[string][]string{}
	}
	w := r.values[workload]
	if w == nil {
		w = map[string]map[string][]float64{}
		r.values[workload] = w
		r.workloads = append(r.workloads, workload)
	}
	l := w[lib]
	if l == nil {
		l = map[string][]float64{}
		w[lib] = l
		r.libs[workload] = append(r.libs[workload], lib)
	}
	l[unit] = append(l[unit], v)
}

// summary is the median of a library's values for one metric, with the
// relative half-width of its confidence interval.
type summary struct {
	median float64
	pct    float64 // ± this fraction of median
	n      int
	ok     bool
}

func (r *results) summary(workload, lib, unit string) summary {
	vs := r.values[workload][lib][unit]
	if len(vs) == 0 {
		return summary{}
	}
	// NewSample sorts what it is given: a copy, so that r.values keeps the
	// rounds' order, which the worst-round bars pair across libraries.
	sample := benchmath.NewSample(slices.Clone(vs), &benchmath.DefaultThresholds)
	s := benchmath.AssumeNothing.Summary(sample, confidence(len(vs)))
	pct := math.Inf(1)
	switch {
	case s.Center != 0:
		pct = math.Max(s.Hi-s.Center, s.Center-s.Lo) / math.Abs(s.Center)
	case s.Lo == 0 && s.Hi == 0:
		pct = 0 // all zero
	}
	return summary{median: s.Center, pct: pct, n: len(vs), ok: true}
}

// scaled returns s with its median multiplied by scale (if not zero).
func (s summary) scaled(scale float64) summary {
	if scale != 0 {
		s.median *= scale
	}
	return s
}

// confidence is the level of the interval shown beside a median: 95%, or
// 90% with fewer than 6 results, too few for a 95% interval without
// assuming a distribution (5 results give one at 93.75%: their range).
func confidence(n int) float64 {
	if n < 6 {
		return 0.90
	}
	return 0.95
}

func read(r *results, in io.Reader, name string) error {
	br := benchfmt.NewReader(in, name)
	for br.Scan() {
		res, ok := br.Result().(*benchfmt.Result)
		if !ok {
			continue // a syntax error or unit metadata: benchstat reports those
		}
		base, parts := res.Name.Parts()
		// The last "/" part names the library; those before it are the
		// variant of the workload (crash=panic, say).
		workload, lib := string(base), ""
		for _, p := range parts {
			if s, ok := strings.CutPrefix(string(p), "/"); ok {
				if lib != "" {
					workload += "/" + lib
				}
				lib = s
			}
		}
		lib = strings.TrimPrefix(lib, "lib=")
		if lib == "" {
			continue
		}
		for _, v := range res.Values {
			r.add(workload, lib, v.Unit, v.Value)
		}
	}
	return br.Err()
}

func main() {
	bars := flag.Bool("bars", true, "check the performance bars set for actors and for the crash path")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: table [-bars=false] [go test -bench output ...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	var r results
	if flag.NArg() == 0 {
		if err := read(&r, os.Stdin, "stdin"); err != nil {
			fail(err)
		}
	}
	for _, name := range flag.Args() {
		f, err := os.Open(name)
		if err != nil {
			fail(err)
		}
		err = read(&r, f, name)
		f.Close()
		if err != nil {
			fail(err)
		}
	}
	if len(r.workloads) == 0 {
		fail(fmt.Errorf("no benchmark results named Benchmark<Workload>/lib=<library>"))
	}
	printTable(os.Stdout, &r)
	if *bars {
		fmt.Println()
		printBars(os.Stdout, &r, "actors", issueBars, nil)
		fmt.Println()
		printBars(os.Stdout, &r, "the crash path", issue10Bars, issue10Info)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "table:", err)
	os.Exit(1)
}

// metricsOf returns the metrics to show for a workload, and its title.
func metricsOf(r *results, workload string) (string, []metric) {
	name, variant, _ := strings.Cut(workload, "/")
	for _, w := range workloads {
		if w.name == name {
			if variant != "" {
				return w.title + " [" + variant + "]", w.metrics
			}
			return w.title, w.metrics
		}
	}
	var ms []metric
	for _, lib := range r.libs[workload] {
		for unit := range r.values[workload][lib] {
			if unit == "B/op" || unit == "allocs/op" || slices.ContainsFunc(ms, func(m metric) bool { return m.unit == unit }) {
				continue
			}
			ms = append(ms, metric{unit: unit, label: unit})
		}
	}
	slices.SortFunc(ms, func(a, b metric) int { return strings.Compare(a.unit, b.unit) })
	return workload, ms
}

// order puts the libraries in a fixed order: raw, ours, the references,
// then any other.
func order(libs []string) []string {
	rank := func(l string) int {
		switch {
		case l == baseline:
			return 0
		case l == ours, strings.HasPrefix(l, ours+"-"): // airssys-unbounded, say
			return 1
		case slices.Contains(references, l):
			return 2 + slices.Index(references, l)
		}
		return 2 + len(references)
	}
	out := slices.Clone(libs)
	slices.SortStableFunc(out, func(a, b string) int { return rank(a) - rank(b) })
	return out
}

func reference(r *results, workload string) string {
	for _, ref := range references {
		if _, ok := r.values[workload][ref]; ok {
			return ref
		}
	}
	return ""
}

func printTable(w io.Writer, r *results) {
	fmt.Fprintln(w, "| workload | metric | library | median | CI | n | vs raw | vs protoactor-go (suture) |")
	fmt.Fprintln(w, "|---|---|---|--:|--:|--:|--:|--:|")
	for _, workload := range r.workloads {
		title, ms := metricsOf(r, workload)
		ref := reference(r, workload)
		for _, m := range ms {
			label := m.label
			if m.higher {
				label += " (higher is better)"
			}
			base := r.summary(workload, baseline, m.unit).scaled(m.scale)
			refS := r.summary(workload, ref, m.unit).scaled(m.scale)
			for _, lib := range order(r.libs[workload]) {
				s := r.summary(workload, lib, m.unit).scaled(m.scale)
				if !s.ok {
					continue
				}
				fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %d | %s | %s |\n",
					title, label, lib, num(s.median), pct(s), s.n, ratio(s, base), ratio(s, refS))
			}
		}
	}
}

// pct is the half-width of the confidence interval, in percent of the
// median.
func pct(s summary) string {
	if math.IsInf(s.pct, 0) || math.IsNaN(s.pct) {
		return "∞"
	}
	return fmt.Sprintf("±%.0f%%", 100*s.pct)
}

// ratio is a/b, or "-" when either is missing or b is zero.
func ratio(a, b summary) string {
	if !a.ok || !b.ok || b.median == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", a.median/b.median)
}

// num formats a median with three significant digits or so.
func num(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	case a >= 0.00001:
		return strings.TrimRight(fmt.Sprintf("%.6f", v), "0")
	}
	return fmt.Sprintf("%.2g", v)
}

// A bar is one performance target for our library.
type bar struct {
	name   string
	target string
	// check returns our value, the limit, whether it is met, and how far
	// off it is, from the medians; ok is false if results are missing.
	check func(r *results) (have, limit float64, unit string, met, ok bool)
}

var issueBars = []bar{
	{"ping-pong", "< 2× raw channels", func(r *results) (float64, float64, string, bool, bool) {
		a, raw := r.summary("PingPong", ours, nsPerOp).scaled(1e9), r.summary("PingPong", baseline, nsPerOp).scaled(1e9)
		return a.median, 2 * raw.median, "ns", a.median < 2*raw.median, a.ok && raw.ok
	}},
	{"fan-in", ">= 2× protoactor-go", func(r *results) (float64, float64, string, bool, bool) {
		a, p := r.summary("FanIn", ours, "Mmsg/s"), r.summary("FanIn", "protoactor", "Mmsg/s")
		return a.median, 2 * p.median, "M msg/s", a.median >= 2*p.median, a.ok && p.ok
	}},
	{"spawn + message + stop", "< 1.5 µs per actor", func(r *results) (float64, float64, string, bool, bool) {
		a := r.summary("SpawnMessageStop", ours, nsPerOp).scaled(1e9)
		return a.median, 1500, "ns", a.median < 1500, a.ok
	}},
	{"idle memory", "< 500 B per actor", func(r *results) (float64, float64, string, bool, bool) {
		a := r.summary("IdleMemory", ours, "B/actor")
		return a.median, 500, "B", a.median < 500, a.ok
	}},
	{"actor restart", "p50 < 5 µs", func(r *results) (float64, float64, string, bool, bool) {
		a := r.summary(restartError, ours, "p50-µs")
		return a.median, 5, "µs", a.median < 5, a.ok
	}},
}

// The restart workloads' variants the bars are about.
const (
	restartError = "ActorRestart/crash=error"
	restartPanic = "ActorRestart/crash=panic"
	groupPanic   = "GroupRestart/crash=panic"
)

// issue10Bars are issue 10's targets: ratios within the run.
var issue10Bars = []bar{
	{"actor restart after a panic, p50", "<= 1.3× restart after an error", func(r *results) (float64, float64, string, bool, bool) {
		p, e := r.summary(restartPanic, ours, "p50-µs"), r.summary(restartError, ours, "p50-µs")
		return p.median, 1.3 * e.median, "µs", p.median <= 1.3*e.median, p.ok && e.ok
	}},
	{"actor restart after a panic, p50", "<= 0.5× protoactor-go", func(r *results) (float64, float64, string, bool, bool) {
		a, p := r.summary(restartPanic, ours, "p50-µs"), r.summary(restartPanic, "protoactor", "p50-µs")
		return a.median, 0.5 * p.median, "µs", a.median <= 0.5*p.median, a.ok && p.ok
	}},
	{"actor restart after a panic, p99", "<= 0.5× protoactor-go", func(r *results) (float64, float64, string, bool, bool) {
		a, p := r.summary(restartPanic, ours, "p99-µs"), r.summary(restartPanic, "protoactor", "p99-µs")
		return a.median, 0.5 * p.median, "µs", a.median <= 0.5*p.median, a.ok && p.ok
	}},
	{"spawn + message + stop", "<= 0.5× protoactor-go", func(r *results) (float64, float64, string, bool, bool) {
		a, p := r.summary("SpawnMessageStop", ours, nsPerOp).scaled(1e9), r.summary("SpawnMessageStop", "protoactor", nsPerOp).scaled(1e9)
		return a.median, 0.5 * p.median, "ns", a.median <= 0.5*p.median, a.ok && p.ok
	}},
	{"all-for-one restart of 1,000 (panic)", "<= protoactor-go", func(r *results) (float64, float64, string, bool, bool) {
		a, p := r.summary(groupPanic, ours, nsPerOp).scaled(1e3), r.summary(groupPanic, "protoactor", nsPerOp).scaled(1e3)
		return a.median, p.median, "ms", a.median <= p.median, a.ok && p.ok
	}},
	{"idle memory", "<= 500 B per actor", func(r *results) (float64, float64, string, bool, bool) {
		a := r.summary("IdleMemory", ours, "B/actor")
		return a.median, 500, "B", a.median <= 500, a.ok
	}},
	// "No worse than today": 0.83-0.85× raw when the issue was filed; the
	// bar is the upper end of that range, not raw channels' own time.
	{"ping-pong", "<= 0.85× raw channels (no worse than when the issue was filed)", func(r *results) (float64, float64, string, bool, bool) {
		a, raw := r.summary("PingPong", ours, nsPerOp).scaled(1e9), r.summary("PingPong", baseline, nsPerOp).scaled(1e9)
		return a.median, 0.85 * raw.median, "ns", a.median <= 0.85*raw.median, a.ok && raw.ok
	}},
	{"fan-in, worst round (Bounded(1024, Block): equal work)", ">= 0.8× raw channels in every round", func(r *results) (float64, float64, string, bool, bool) {
		return worstFanInRound(r, ours)
	}},
}

// issue10Info are rows shown beside issue 10's bars for comparison, not
// judged.
var issue10Info = []bar{
	{"fan-in, worst round (Unbounded: more work, informational)", ">= 0.8× raw channels in every round", func(r *results) (float64, float64, string, bool, bool) {
		return worstFanInRound(r, oursUnbounded)
	}},
}

// oursUnbounded is the fan-in's informational row: our actor with its
// default Unbounded mailbox, whose senders never wait and so do more work
// than the raw baseline's, which park on a full channel.
const oursUnbounded = ours + "-unbounded"

// worstFanInRound is lib's fan-in in its worst round against raw channels
// in the same round, with the limit for that round (0.8× raw). Rounds are
// interleaved, so the i-th result of each library comes from the same
// round.
func worstFanInRound(r *results, lib string) (have, limit float64, unit string, met, ok bool) {
	a, raw := r.values["FanIn"][lib]["Mmsg/s"], r.values["FanIn"][baseline]["Mmsg/s"]
	n := min(len(a), len(raw))
	if n == 0 {
		return 0, 0, "", false, false
	}
	worst, at := math.Inf(1), 0
	for i := range n {
		if q := a[i] / raw[i]; q < worst {
			worst, at = q, i
		}
	}
	return a[at], 0.8 * raw[at], "M msg/s", worst >= 0.8, true
}

// printBars prints the bars, then the informational rows (info), whose
// verdict is only the ratio to the limit.
func printBars(w io.Writer, r *results, issue string, bars, info []bar) {
	fmt.Fprintf(w, "| bar set for %s | target | airssys median | limit | verdict |\n", issue)
	fmt.Fprintln(w, "|---|---|--:|--:|---|")
	for i, b := range slices.Concat(bars, info) {
		info := i >= len(bars)
		have, limit, unit, met, ok := b.check(r)
		if !ok {
			fmt.Fprintf(w, "| %s | %s | - | - | not measured |\n", b.name, b.target)
			continue
		}
		verdict := "met"
		if !met {
			verdict = fmt.Sprintf("MISSED (%.2f× the limit)", have/limit)
		}
		if info {
			verdict = fmt.Sprintf("informational, not judged: %.2f× the limit", have/limit)
		}
		fmt.Fprintf(w, "| %s | %s | %s %s | %s %s | %s |\n", b.name, b.target, num(have), unit, num(limit), unit, verdict)
	}
}
