package main

// The YAML tree of "airssys run" (examples/process-tree/tree.yaml): parsed into the syntax tree
// of github.com/goccy/go-yaml, which knows the line of every node, and
// validated field by field so that every error names FILE:LINE: and the
// field.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/airssys/rt/process"
	"github.com/airssys/rt/supervisor"
)

// treeConf is one supervisor of the file: the root, or an entry with
// children.
type treeConf struct {
	line        int
	Name        string
	Strategy    supervisor.Strategy
	MaxRestarts int
	Period      time.Duration // 0: the supervisor's default intensity
	Backoff     *supervisor.Backoff
	Restart     supervisor.RestartPolicy
	Shutdown    supervisor.ShutdownPolicy
	children    []*childConf
	sup         *supervisor.Supervisor // while running
}

// childConf is one entry of a children list: a process or a supervisor.
type childConf struct {
	line int
	name string
	proc *procConf
	tree *treeConf
}

// procConf is a process entry. Its JSON is its identity at reload: an
// entry whose JSON changed is replaced.
type procConf struct {
	Command    []string
	Env        map[string]string
	Dir        string
	Restart    supervisor.RestartPolicy
	Shutdown   supervisor.ShutdownPolicy
	StopSignal syscall.Signal
	Success    []int
	Ready      *probeConf
	Health     *probeConf
}

type probeConf struct {
	Kind      string // tcp, http, exec
	Addr      string
	URL       string
	Status    int
	Argv      []string
	Timeout   time.Duration
	Interval  time.Duration
	Threshold int
}

func (p *probeConf) probe() process.Probe {
	switch p.Kind {
	case "tcp":
		return process.TCPProbe(p.Addr)
	case "http":
		return process.HTTPProbe(p.URL, p.Status)
	default:
		return process.ExecProbe(p.Argv...)
	}
}

// identity is what decides, at reload, whether an entry changed.
func identity(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// errBadFile marks an invalid tree file: exit status 2.
var errBadFile = errors.New("invalid tree file")

// fileError lists every problem found in a file, one per line, each as
// FILE:LINE: field: message.
type fileError struct{ problems []string }

func (e *fileError) Error() string { return strings.Join(e.problems, "\n") }
func (e *fileError) Unwrap() error { return errBadFile }

// loadTree reads and validates the tree file at path.
func loadTree(path string) (*treeConf, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadFile, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadFile, err)
	}
	return parseTree(path, filepath.Dir(abs), data)
}

// parseTree parses data, the file named file; relative dirs are relative
// to baseDir, the file's directory.
func parseTree(file, baseDir string, data []byte) (*treeConf, error) {
	c := &checker{file: file, base: baseDir}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		var se *yaml.SyntaxError
		if errors.As(err, &se) && se.Token != nil {
			c.problem(se.Token.Position.Line, "syntax", se.Message)
		} else {
			c.problem(1, "syntax", err.Error())
		}
		return nil, c.err()
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		c.problem(1, "file", "empty: a tree needs a name and children")
		return nil, c.err()
	}
	if len(f.Docs) > 1 {
		c.at(f.Docs[1].Body, "file", "more than one YAML document")
	}
	t := c.tree(f.Docs[0].Body, "", true)
	if err := c.err(); err != nil {
		return nil, err
	}
	return t, nil
}

type checker struct {
	file     string
	base     string
	problems []problem
}

type problem struct {
	line int
	text string
}

const maxProblems = 20

func (c *checker) problem(line int, field, msg string) {
	if len(c.problems) < maxProblems {
		c.problems = append(c.problems, problem{line, fmt.Sprintf("%s:%d: %s: %s", c.file, line, field, msg)})
	}
}

func (c *checker) at(n ast.Node, field, format string, args ...any) {
	c.problem(lineOf(n), field, fmt.Sprintf(format, args...))
}

func (c *checker) err() error {
	if len(c.problems) == 0 {
		return nil
	}
	sort.SliceStable(c.problems, func(i, j int) bool { return c.problems[i].line < c.problems[j].line })
	e := &fileError{}
	for _, p := range c.problems {
		e.problems = append(e.problems, p.text)
	}
	return e
}

func lineOf(n ast.Node) int {
	if n == nil || n.GetToken() == nil {
		return 1
	}
	return n.GetToken().Position.Line
}

// unwrap looks through tags and anchors.
func unwrap(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.TagNode:
			n = v.Value
		case *ast.AnchorNode:
			n = v.Value
		default:
			return n
		}
	}
}

// field is one key of a mapping.
type field struct {
	key   string
	keyN  ast.Node
	value ast.Node
}

// mapping returns the fields of a mapping node, rejecting duplicates and
// keys not in allowed.
func (c *checker) mapping(n ast.Node, name string, allowed ...string) (map[string]field, bool) {
	n = unwrap(n)
	var values []*ast.MappingValueNode
	switch v := n.(type) {
	case *ast.MappingNode:
		values = v.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{v}
	default:
		c.at(n, orFile(name), "want a mapping, not %s", describe(n))
		return nil, false
	}
	out := make(map[string]field, len(values))
	for _, mv := range values {
		key := mv.Key.GetToken().Value
		fname := join(name, key)
		if _, dup := out[key]; dup {
			c.at(mv.Key, fname, "given twice")
			continue
		}
		if !slices.Contains(allowed, key) {
			c.at(mv.Key, fname, "unknown field (known: %s)", strings.Join(allowed, ", "))
			continue
		}
		out[key] = field{key: key, keyN: mv.Key, value: unwrap(mv.Value)}
	}
	return out, true
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func describe(n ast.Node) string {
	switch n.(type) {
	case nil:
		return "nothing"
	case *ast.NullNode:
		return "an empty value"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.AliasNode:
		return "an alias (not supported)"
	}
	return fmt.Sprintf("%q", n.GetToken().Value)
}

// scalar returns the text of a scalar value.
func (c *checker) scalar(f field, name string) (string, bool) {
	switch f.value.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.LiteralNode:
		if s, ok := f.value.(*ast.StringNode); ok {
			return s.Value, true
		}
		if l, ok := f.value.(*ast.LiteralNode); ok {
			return l.Value.Value, true
		}
		return f.value.GetToken().Value, true
	}
	if f.value == nil {
		c.at(f.keyN, name, "missing value")
	} else {
		c.at(f.value, name, "want a value, not %s", describe(f.value))
	}
	return "", false
}

func (c *checker) str(f field, name string) (string, bool) {
	s, ok := c.scalar(f, name)
	if ok && s == "" {
		c.at(f.value, name, "empty")
		return "", false
	}
	return s, ok
}

func (c *checker) duration(f field, name string) (time.Duration, bool) {
	s, ok := c.str(f, name)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		c.at(f.value, name, "want a positive duration such as 500ms or 10s, not %q", s)
		return 0, false
	}
	return d, true
}

func (c *checker) integer(f field, name string, lo, hi int) (int, bool) {
	s, ok := c.str(f, name)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(s)
	if err != nil || i < lo || i > hi {
		c.at(f.value, name, "want an integer in %d..%d, not %q", lo, hi, s)
		return 0, false
	}
	return i, true
}

func (c *checker) float(f field, name string, lo, hi float64) (float64, bool) {
	s, ok := c.str(f, name)
	if !ok {
		return 0, false
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(x) || x < lo || x > hi {
		c.at(f.value, name, "want a number in %g..%g, not %q", lo, hi, s)
		return 0, false
	}
	return x, true
}

func (c *checker) list(f field, name string) ([]ast.Node, bool) {
	seq, ok := f.value.(*ast.SequenceNode)
	if !ok {
		n := f.value
		if n == nil {
			n = f.keyN
		}
		c.at(n, name, "want a list, not %s", describe(f.value))
		return nil, false
	}
	return seq.Values, true
}

func (c *checker) strings(f field, name string) ([]string, bool) {
	items, ok := c.list(f, name)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(items))
	good := true
	for i, n := range items {
		s, ok := c.scalar(field{keyN: n, value: unwrap(n)}, fmt.Sprintf("%s[%d]", name, i))
		good = good && ok
		out = append(out, s)
	}
	return out, good
}

var strategies = map[string]supervisor.Strategy{
	"one_for_one": supervisor.OneForOne, "one_for_all": supervisor.OneForAll, "rest_for_one": supervisor.RestForOne,
}

var restarts = map[string]supervisor.RestartPolicy{
	"permanent": supervisor.Permanent, "transient": supervisor.Transient, "temporary": supervisor.Temporary,
}

func keys[V any](m map[string]V) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, " | ")
}

// Fields of the three kinds of mapping.
var (
	supFields   = []string{"name", "strategy", "intensity", "backoff", "children", "restart", "shutdown"}
	procFields  = []string{"name", "command", "env", "dir", "restart", "shutdown", "stop_signal", "success_exit_codes", "ready", "health"}
	entryFields = []string{"name", "command", "children", "strategy", "intensity", "backoff", "restart", "shutdown",
		"env", "dir", "stop_signal", "success_exit_codes", "ready", "health"}
)

// tree reads a supervisor: the root (root true) or a nested entry.
func (c *checker) tree(n ast.Node, name string, root bool) *treeConf {
	allowed := supFields
	if root {
		allowed = supFields[:5] // restart and shutdown belong to a parent's view of a child
	}
	fs, ok := c.mapping(n, name, allowed...)
	if !ok {
		return nil
	}
	return c.treeFields(n, fs, name)
}

func orFile(name string) string {
	if name == "" {
		return "file"
	}
	return name
}

func (c *checker) treeFields(n ast.Node, fs map[string]field, name string) *treeConf {
	t := &treeConf{line: lineOf(n), Strategy: supervisor.OneForOne}
	if f, ok := fs["name"]; ok {
		t.Name, _ = c.name(f, join(name, "name"))
	} else {
		c.at(n, join(name, "name"), "missing")
	}
	if f, ok := fs["strategy"]; ok {
		if s, ok := c.str(f, join(name, "strategy")); ok {
			if t.Strategy, ok = strategies[s]; !ok {
				c.at(f.value, join(name, "strategy"), "want %s, not %q", keys(strategies), s)
			}
		}
	}
	if f, ok := fs["intensity"]; ok {
		fname := join(name, "intensity")
		if ifs, ok := c.mapping(f.value, fname, "max_restarts", "period"); ok {
			m, okM := ifs["max_restarts"]
			p, okP := ifs["period"]
			if !okM || !okP {
				c.at(f.value, fname, "needs max_restarts and period")
			} else {
				t.MaxRestarts, _ = c.integer(m, fname+".max_restarts", 0, math.MaxInt32)
				t.Period, _ = c.duration(p, fname+".period")
			}
		}
	}
	if f, ok := fs["backoff"]; ok {
		t.Backoff = c.backoff(f, join(name, "backoff"))
	}
	t.Shutdown = supervisor.Infinity
	c.policies(fs, name, &t.Restart, &t.Shutdown)
	if f, ok := fs["children"]; ok {
		items, ok := c.list(f, join(name, "children"))
		seen := map[string]int{}
		for i, item := range items {
			if !ok {
				break
			}
			ch := c.child(item, fmt.Sprintf("%s[%d]", join(name, "children"), i))
			if ch == nil {
				continue
			}
			if first, dup := seen[ch.name]; dup {
				c.problem(ch.line, fmt.Sprintf("%s[%d].name", join(name, "children"), i),
					fmt.Sprintf("%q is already the name of the child at line %d", ch.name, first))
				continue
			}
			seen[ch.name] = ch.line
			t.children = append(t.children, ch)
		}
	} else {
		c.at(n, join(name, "children"), "missing")
	}
	return t
}

func (c *checker) name(f field, fname string) (string, bool) {
	s, ok := c.str(f, fname)
	if ok && strings.ContainsAny(s, "/ \t\n") {
		c.at(f.value, fname, "%q: a name has no slash or space", s)
		return "", false
	}
	return s, ok
}

func (c *checker) backoff(f field, name string) *supervisor.Backoff {
	bfs, ok := c.mapping(f.value, name, "initial", "max", "multiplier", "jitter", "reset_after")
	if !ok {
		return nil
	}
	var b supervisor.Backoff
	if g, ok := bfs["initial"]; ok {
		b.Initial, _ = c.duration(g, name+".initial")
	} else {
		c.at(f.value, name+".initial", "missing")
	}
	if g, ok := bfs["max"]; ok {
		if b.Max, ok = c.duration(g, name+".max"); ok && b.Max < b.Initial {
			c.at(g.value, name+".max", "%v is less than initial %v", b.Max, b.Initial)
		}
	}
	if g, ok := bfs["multiplier"]; ok {
		b.Multiplier, _ = c.float(g, name+".multiplier", 1, 1000)
	}
	if g, ok := bfs["jitter"]; ok {
		if b.Jitter, ok = c.float(g, name+".jitter", 0, 1); ok && b.Jitter >= 1 {
			c.at(g.value, name+".jitter", "want a number in 0..1 (1 excluded), not %v", b.Jitter)
		}
	}
	if g, ok := bfs["reset_after"]; ok {
		b.ResetAfter, _ = c.duration(g, name+".reset_after")
	}
	return &b
}

// policies reads restart and shutdown.
func (c *checker) policies(fs map[string]field, name string, restart *supervisor.RestartPolicy, shutdown *supervisor.ShutdownPolicy) {
	*restart = supervisor.Permanent
	if f, ok := fs["restart"]; ok {
		if s, ok := c.str(f, join(name, "restart")); ok {
			if *restart, ok = restarts[s]; !ok {
				c.at(f.value, join(name, "restart"), "want %s, not %q", keys(restarts), s)
			}
		}
	}
	if f, ok := fs["shutdown"]; ok {
		fname := join(name, "shutdown")
		if s, ok := c.str(f, fname); ok {
			switch s {
			case "brutal_kill":
				*shutdown = supervisor.BrutalKill
			case "infinity":
				*shutdown = supervisor.Infinity
			default:
				d, err := time.ParseDuration(s)
				if err != nil || d <= 0 {
					c.at(f.value, fname, "want a positive duration, brutal_kill or infinity, not %q", s)
				} else {
					*shutdown = supervisor.Graceful(d)
				}
			}
		}
	}
}

// child reads one entry of a children list.
func (c *checker) child(n ast.Node, name string) *childConf {
	fs, ok := c.mapping(n, name, entryFields...)
	if !ok {
		return nil
	}
	ch := &childConf{line: lineOf(n)}
	if f, ok := fs["name"]; ok {
		ch.name, _ = c.name(f, name+".name")
	}
	_, hasCmd := fs["command"]
	_, hasKids := fs["children"]
	switch {
	case hasCmd && hasKids:
		c.at(fs["children"].keyN, name+".children", "an entry has command or children, never both")
		return nil
	case hasKids:
		for _, k := range procFields[1:] {
			if f, ok := fs[k]; ok && k != "restart" && k != "shutdown" {
				c.at(f.keyN, join(name, k), "only for processes (this entry has children: it is a supervisor)")
			}
		}
		ch.tree = c.treeFields(n, fs, name)
		return ch
	case !hasCmd:
		c.at(n, name, "needs command (a process) or children (a supervisor)")
		return nil
	}
	if _, ok := fs["name"]; !ok {
		c.at(n, name+".name", "missing")
	}
	for _, k := range []string{"strategy", "intensity", "backoff"} {
		if f, ok := fs[k]; ok {
			c.at(f.keyN, join(name, k), "only for supervisors (this entry has a command: it is a process)")
		}
	}
	ch.proc = c.proc(fs, name)
	return ch
}

func (c *checker) proc(fs map[string]field, name string) *procConf {
	p := &procConf{StopSignal: syscall.SIGTERM, Shutdown: supervisor.DefaultWorkerShutdown, Dir: c.base}
	if argv, ok := c.strings(fs["command"], name+".command"); ok {
		if len(argv) == 0 || argv[0] == "" {
			c.at(fs["command"].value, name+".command", "empty: want [program, args...]")
		}
		p.Command = argv
	}
	if f, ok := fs["env"]; ok {
		if efs, ok := c.mapping(f.value, name+".env", anyKey(f.value)...); ok {
			p.Env = map[string]string{}
			for k, g := range efs {
				if k == "" || strings.ContainsAny(k, "= ") {
					c.at(g.keyN, name+".env", "bad variable name %q", k)
					continue
				}
				p.Env[k], _ = c.scalar(g, name+".env."+k)
			}
		}
	}
	if f, ok := fs["dir"]; ok {
		if d, ok := c.str(f, name+".dir"); ok {
			if !filepath.IsAbs(d) {
				d = filepath.Join(c.base, d)
			}
			p.Dir = d
		}
	}
	c.policies(fs, name, &p.Restart, &p.Shutdown)
	if f, ok := fs["stop_signal"]; ok {
		if s, ok := c.str(f, name+".stop_signal"); ok {
			sig, err := process.ParseSignal(s)
			if err != nil {
				c.at(f.value, name+".stop_signal", "unknown signal %q (TERM, INT, HUP, QUIT, USR1...)", s)
			}
			p.StopSignal = sig
		}
	}
	p.Success = []int{0}
	if f, ok := fs["success_exit_codes"]; ok {
		items, ok := c.list(f, name+".success_exit_codes")
		if ok && len(items) == 0 {
			c.at(f.value, name+".success_exit_codes", "empty")
		}
		if ok {
			p.Success = nil
			for i, item := range items {
				code, _ := c.integer(field{keyN: item, value: unwrap(item)}, fmt.Sprintf("%s.success_exit_codes[%d]", name, i), 0, 255)
				p.Success = append(p.Success, code)
			}
		}
	}
	if f, ok := fs["ready"]; ok {
		p.Ready = c.probe(f, name+".ready", false)
	}
	if f, ok := fs["health"]; ok {
		p.Health = c.probe(f, name+".health", true)
	}
	return p
}

// anyKey lists the keys of a mapping so that mapping accepts them all.
func anyKey(n ast.Node) []string {
	var out []string
	switch v := unwrap(n).(type) {
	case *ast.MappingNode:
		for _, mv := range v.Values {
			out = append(out, mv.Key.GetToken().Value)
		}
	case *ast.MappingValueNode:
		out = append(out, v.Key.GetToken().Value)
	}
	return out
}

// probe reads ready (health false) or health.
func (c *checker) probe(f field, name string, health bool) *probeConf {
	allowed := []string{"tcp", "http", "exec", "timeout"}
	if health {
		allowed = append(allowed, "interval", "unhealthy_threshold")
	}
	pfs, ok := c.mapping(f.value, name, allowed...)
	if !ok {
		return nil
	}
	p := &probeConf{}
	kinds := 0
	if g, ok := pfs["tcp"]; ok {
		kinds++
		p.Kind = "tcp"
		p.Addr, _ = c.str(g, name+".tcp")
		if _, _, err := net.SplitHostPort(p.Addr); p.Addr != "" && err != nil {
			c.at(g.value, name+".tcp", "want host:port, not %q", p.Addr)
		}
	}
	if g, ok := pfs["http"]; ok {
		kinds++
		p.Kind = "http"
		if hfs, ok := c.mapping(g.value, name+".http", "url", "status"); ok {
			if u, ok := hfs["url"]; ok {
				if p.URL, ok = c.str(u, name+".http.url"); ok && !strings.HasPrefix(p.URL, "http://") && !strings.HasPrefix(p.URL, "https://") {
					c.at(u.value, name+".http.url", "want an http:// or https:// URL, not %q", p.URL)
				}
			} else {
				c.at(g.value, name+".http.url", "missing")
			}
			p.Status = 200
			if s, ok := hfs["status"]; ok {
				p.Status, _ = c.integer(s, name+".http.status", 100, 599)
			}
		}
	}
	if g, ok := pfs["exec"]; ok {
		kinds++
		p.Kind = "exec"
		if argv, ok := c.strings(g, name+".exec"); ok {
			if len(argv) == 0 || argv[0] == "" {
				c.at(g.value, name+".exec", "empty: want [program, args...]")
			}
			p.Argv = argv
		}
	}
	if kinds != 1 {
		c.at(f.value, name, "needs exactly one of tcp, http, exec")
	}
	if g, ok := pfs["timeout"]; ok {
		p.Timeout, _ = c.duration(g, name+".timeout")
	} else if !health {
		p.Timeout = 30 * time.Second
	}
	if health {
		if g, ok := pfs["interval"]; ok {
			p.Interval, _ = c.duration(g, name+".interval")
		} else {
			c.at(f.value, name+".interval", "missing")
		}
		if g, ok := pfs["unhealthy_threshold"]; ok {
			p.Threshold, _ = c.integer(g, name+".unhealthy_threshold", 1, math.MaxInt32)
		}
	}
	return p
}
