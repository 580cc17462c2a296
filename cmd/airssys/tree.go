package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/airssys/rt/observe"
)

const treeSynopsis = `Usage: airssys tree [flags] URL

Prints the supervision tree of a running service: URL is where it mounts the
observe HTTP API (the address of its live page, such as http://127.0.0.1:8080/
or http://host/observe/).
`

func runTree(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("tree", treeSynopsis)
	watch := fs.Bool("watch", false, "redraw the tree every interval until interrupted")
	interval := fs.Duration("interval", time.Second, "time between redraws with --watch")
	noColor := fs.Bool("no-color", false, "never colour the output (also: the NO_COLOR environment variable)")
	forceColor := fs.Bool("color", false, "colour the output even when it is not a terminal")
	filter := fs.String("filter", "", "show only children whose name contains this, and their supervisors")
	maxChildren := fs.Int("max-children", 0, "list at most this many children per supervisor (0: all)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up on a request after this long")
	wide := fs.Bool("wide", false, fmt.Sprintf("print errors in full (by default they are cut at %d characters to keep one line per child)", maxErrorWidth))
	pos, err := parseFlags(fs, args, stdout, stderr)
	if err == nil {
		err = checkTreeArgs(stderr, pos, *interval, *timeout)
	}
	if err == nil && *maxChildren < 0 {
		err = usageErrorf(stderr, "tree", "--max-children must not be negative, not %d", *maxChildren)
	}
	if err != nil {
		return exitCode(err, stderr, "tree")
	}
	endpoint, err := treeURL(pos[0], *filter, *maxChildren)
	if err != nil {
		return exitCode(usageErrorf(stderr, "tree", "%v", err), stderr, "tree")
	}
	p := printer{color: useColor(stdout, *noColor, *forceColor), wide: *wide}
	client := &http.Client{Timeout: *timeout}
	defer client.CloseIdleConnections()

	if !*watch {
		snap, err := fetchTree(ctx, client, endpoint)
		if err != nil {
			return exitCode(err, stderr, "tree")
		}
		var b bytes.Buffer
		p.snapshot(&b, snap)
		_, err = stdout.Write(b.Bytes())
		return exitCode(err, stderr, "tree")
	}
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	clear := isTerminal(stdout)
	for {
		// A frame is built whole, then written at once, so the screen
		// never shows half a tree.
		var b bytes.Buffer
		if clear {
			b.WriteString("\x1b[H\x1b[2J")
		}
		fmt.Fprintf(&b, "%s  every %v  (interrupt to stop)\n\n", endpoint, *interval)
		if snap, err := fetchTree(ctx, client, endpoint); err != nil {
			if ctx.Err() != nil {
				return exitOK
			}
			fmt.Fprintf(&b, "%s\n", p.paint(red, err.Error()))
		} else {
			p.snapshot(&b, snap)
		}
		if !clear {
			b.WriteString("\n")
		}
		if _, err := stdout.Write(b.Bytes()); err != nil {
			return exitCode(err, stderr, "tree")
		}
		select {
		case <-ctx.Done():
			return exitOK
		case <-tick.C:
		}
	}
}

func checkTreeArgs(stderr io.Writer, pos []string, interval, timeout time.Duration) error {
	switch {
	case len(pos) == 0:
		return usageErrorf(stderr, "tree", "missing URL")
	case len(pos) > 1:
		return usageErrorf(stderr, "tree", "one URL only; extra arguments: %q", pos[1:])
	case interval <= 0:
		return usageErrorf(stderr, "tree", "--interval must be positive, not %v", interval)
	case timeout <= 0:
		return usageErrorf(stderr, "tree", "--timeout must be positive, not %v", timeout)
	}
	return nil
}

// treeURL turns the address of a live page into that of its /api/tree.
func treeURL(raw, filter string, maxChildren int) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("URL %q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("URL %q: want an http:// or https:// address", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("URL %q: no host", raw)
	}
	if !strings.HasSuffix(u.Path, "/api/tree") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/api/tree"
	}
	q := url.Values{}
	if filter != "" {
		q.Set("filter", filter)
	}
	if maxChildren > 0 {
		q.Set("max_children", strconv.Itoa(maxChildren))
	}
	u.RawQuery = q.Encode()
	u.Fragment = ""
	return u.String(), nil
}

// maxTreeBody bounds what is read of an answer: a 100,000-child tree is
// about 30 MB of JSON.
const maxTreeBody = 256 << 20

func fetchTree(ctx context.Context, client *http.Client, endpoint string) (observe.Snapshot, error) {
	var snap observe.Snapshot
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return snap, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return snap, err
	}
	defer res.Body.Close()
	body := io.LimitReader(res.Body, maxTreeBody)
	if res.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		raw, _ := io.ReadAll(io.LimitReader(body, 4096))
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			return snap, fmt.Errorf("GET %s: %s: %s", endpoint, res.Status, e.Error)
		}
		return snap, fmt.Errorf("GET %s: %s", endpoint, res.Status)
	}
	if err := json.NewDecoder(body).Decode(&snap); err != nil {
		return snap, fmt.Errorf("GET %s: not an observe tree: %v", endpoint, err)
	}
	if snap.Root.Name == "" {
		return snap, fmt.Errorf("GET %s: not an observe tree: no root supervisor", endpoint)
	}
	return snap, nil
}

// useColor decides whether to colour: never with --no-color or NO_COLOR
// (https://no-color.org), always with --color, otherwise on a terminal.
func useColor(w io.Writer, noColor, force bool) bool {
	if noColor || os.Getenv("NO_COLOR") != "" {
		return false
	}
	if force {
		return true
	}
	return isTerminal(w) && os.Getenv("TERM") != "dumb"
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// ANSI styles.
const (
	reset  = "\x1b[0m"
	bold   = "\x1b[1m"
	dim    = "\x1b[2m"
	red    = "\x1b[31m"
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	cyan   = "\x1b[36m"
)

// printer renders snapshots: colour on terminals, errors cut to fit
// unless wide.
type printer struct{ color, wide bool }

func (p printer) paint(style, s string) string {
	if !p.color || s == "" || style == "" {
		return s
	}
	return style + s + reset
}

func stateStyle(state string) string {
	switch state {
	case "running":
		return green
	case "starting":
		return cyan
	case "restarting", "stopping":
		return yellow
	default:
		return dim
	}
}

// line is one row of the tree: the branch and name, then cells that line up
// in columns (state, kind, restarts, uptime), then free text (strategy and
// intensity, health, mailbox, the last error), which ends the line.
type line struct {
	prefix, name, nameStyle string
	cols                    []cell // the aligned columns; empty ones are padded
	rest                    []cell // after the columns, separated by two spaces
}

// cell is text and the style to paint it with. Widths are measured on the
// text, before painting, so that colour never shifts a column.
type cell struct{ text, style string }

// alignedCols is how many cells of every row line up: state, kind,
// restarts, uptime.
const alignedCols = 4

// maxErrorWidth is where a last error is cut unless --wide: the rest of the
// row stays on one line of a terminal, and the columns stay aligned.
const maxErrorWidth = 72

// snapshot writes the tree, one child a line, and a summary.
func (p printer) snapshot(w io.Writer, s observe.Snapshot) {
	var lines []line
	root := s.Root
	state := "stopped"
	if root.Running {
		state = "running"
	}
	rootLine := line{name: root.Name, nameStyle: bold,
		cols: []cell{{state, stateStyle(state)}, {string(observe.KindSupervisor), ""}}}
	rootLine.rest = p.supRest(root)
	lines = append(lines, rootLine)
	p.children(&lines, root, "")

	width := 0
	var colWidth [alignedCols]int
	for _, l := range lines {
		width = max(width, displayWidth(l.prefix+l.name))
		for i, c := range l.cols {
			colWidth[i] = max(colWidth[i], displayWidth(c.text))
		}
	}
	var b strings.Builder
	for _, l := range lines {
		b.Reset()
		b.WriteString(l.prefix)
		b.WriteString(p.paint(l.nameStyle, l.name))
		pad := width - displayWidth(l.prefix+l.name)
		for i := range alignedCols {
			text, style := "", ""
			if i < len(l.cols) {
				text, style = l.cols[i].text, l.cols[i].style
			}
			b.WriteString(strings.Repeat(" ", pad+2))
			b.WriteString(p.paint(style, text))
			pad = colWidth[i] - displayWidth(text)
		}
		for _, c := range l.rest {
			if c.text == "" {
				continue
			}
			b.WriteString(strings.Repeat(" ", pad+2))
			b.WriteString(p.paint(c.style, c.text))
			pad = 0
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	t := s.Totals
	summary := fmt.Sprintf("%s, %s, %s · %d running · %s",
		count(t.Supervisors, "supervisor", "supervisors"), count(t.Workers, "worker", "workers"),
		count(t.Actors, "actor", "actors"), t.Running, count(t.Restarts, "restart", "restarts"))
	if t.Processes > 0 {
		summary += " · " + count(t.Processes, "process", "processes")
	}
	if t.Unhealthy > 0 {
		summary += " · " + p.paint(red, fmt.Sprintf("%d unhealthy", t.Unhealthy))
	}
	fmt.Fprintf(w, "\n%s\n", summary)
}

// supRest describes a supervisor after the columns: strategy, intensity
// used, and the error its last run ended with.
func (p printer) supRest(s observe.SupervisorSnapshot) []cell {
	in := cell{text: fmt.Sprintf("intensity %d/%d in %gs", s.RestartsInWindow, s.MaxRestarts, s.PeriodSeconds)}
	if s.MaxRestarts > 0 && s.RestartsInWindow >= s.MaxRestarts {
		in.style = red
	}
	// Padded as wide as the longest strategy, RestForOne, so that the
	// intensity lines up too.
	rest := []cell{{fmt.Sprintf("%-10s", s.Strategy), ""}, in}
	if s.Error != "" {
		rest = append(rest, cell{"error: " + p.oneLine(s.Error), red})
	}
	return rest
}

func (p printer) children(lines *[]line, s observe.SupervisorSnapshot, indent string) {
	n := len(s.Children)
	for i, c := range s.Children {
		last := i == n-1 && s.ChildrenOmitted == 0
		branch, next := "├── ", "│   "
		if last {
			branch, next = "└── ", "    "
		}
		l := line{prefix: indent + branch, name: c.Name}
		l.cols, l.rest = p.childCells(c)
		if c.Supervisor != nil {
			l.nameStyle = bold
			// The strategy and intensity first: a supervisor's own last
			// error, as any other, ends the line.
			sup := p.supRest(*c.Supervisor)
			l.rest = append(sup, l.rest...)
		}
		*lines = append(*lines, l)
		if c.Supervisor != nil {
			p.children(lines, *c.Supervisor, indent+next)
		}
	}
	if s.ChildrenOmitted > 0 {
		*lines = append(*lines, line{prefix: indent + "└── ", name: fmt.Sprintf("… %d more", s.ChildrenOmitted), nameStyle: dim})
	}
}

// childCells describes a child: the aligned columns, then the rest.
func (p printer) childCells(c observe.ChildSnapshot) (cols, rest []cell) {
	restarts := cell{text: fmt.Sprintf("↻%d", c.Restarts)}
	if c.Restarts > 0 {
		restarts.style = yellow
	}
	uptime := ""
	if c.State == "running" && c.Supervisor == nil {
		uptime = "up " + formatUptime(c.UptimeSeconds)
	}
	cols = []cell{{c.State, stateStyle(c.State)}, {string(c.Kind), ""}, restarts, {uptime, ""}}
	switch c.Health.State {
	case "degraded":
		rest = append(rest, cell{healthText(c.Health), yellow})
	case "unhealthy":
		rest = append(rest, cell{healthText(c.Health), red})
	}
	if c.Actor != nil {
		rest = append(rest, cell{text: fmt.Sprintf("mailbox %d, %d processed, %d dead letters",
			c.Actor.MailboxDepth, c.Actor.Processed, c.Actor.DeadLetters)})
	}
	if c.LastError != "" {
		rest = append(rest, cell{"last error: " + p.oneLine(c.LastError), red})
	}
	return cols, rest
}

// oneLine fits an error on the row: its lines joined (errors.Join and
// panic values can span several) and, unless --wide, cut at
// maxErrorWidth columns.
func (p printer) oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if p.wide {
		return s
	}
	return truncateWidth(s, maxErrorWidth)
}

func healthText(h observe.Health) string {
	if h.Reason == "" {
		return h.State
	}
	return h.State + " (" + h.Reason + ")"
}

func formatUptime(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	switch {
	case d < time.Minute:
		return d.Truncate(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Truncate(time.Second).String()
	default:
		return d.Truncate(time.Minute).String()
	}
}
