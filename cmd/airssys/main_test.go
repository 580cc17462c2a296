package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/airssys/rt/observe"
	"github.com/airssys/rt/supervisor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// runArgs runs the program to completion.
func runArgs(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(t.Context(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args       []string
		code       int
		out, err   string // substrings expected on stdout and stderr
		emptyOut   bool
		emptyError bool
	}{
		{args: nil, code: 2, err: "Usage:", emptyOut: true},
		{args: []string{"help"}, code: 0, out: "airssys tree [flags] URL", emptyError: true},
		{args: []string{"--help"}, code: 0, out: "airssys demo [flags]", emptyError: true},
		{args: []string{"frobnicate"}, code: 2, err: `unknown command "frobnicate"`, emptyOut: true},
		{args: []string{"tree", "--help"}, code: 0, out: "--watch", emptyError: true},
		{args: []string{"tree", "-h"}, code: 0, out: "--no-color", emptyError: true},
		{args: []string{"demo", "--help"}, code: 0, out: "--addr string", emptyError: true},
		{args: []string{"tree"}, code: 2, err: "missing URL", emptyOut: true},
		{args: []string{"tree", "http://a/", "http://b/"}, code: 2, err: "one URL only", emptyOut: true},
		{args: []string{"tree", "--bogus", "http://a/"}, code: 2, err: "flag provided but not defined: --bogus", emptyOut: true},
		{args: []string{"tree", "http://a/", "--interval", "0s"}, code: 2, err: "--interval must be positive", emptyOut: true},
		{args: []string{"tree", "http://a/", "--interval", "soon"}, code: 2, err: "invalid value", emptyOut: true},
		{args: []string{"tree", "http://a/", "--timeout", "-1s"}, code: 2, err: "--timeout must be positive", emptyOut: true},
		{args: []string{"tree", "http://a/", "--max-children", "-1"}, code: 2, err: "--max-children must not be negative", emptyOut: true},
		{args: []string{"tree", "ftp://a/"}, code: 2, err: "want an http:// or https:// address", emptyOut: true},
		{args: []string{"tree", "http://"}, code: 2, err: "no host", emptyOut: true},
		{args: []string{"tree", "http://a b/"}, code: 2, err: "invalid", emptyOut: true},
		{args: []string{"demo", "extra"}, code: 2, err: "unexpected arguments", emptyOut: true},
		{args: []string{"demo", "--fault-every", "-1s"}, code: 2, err: "must not be negative", emptyOut: true},
		{args: []string{"demo", "--seed", "x"}, code: 2, err: "invalid value", emptyOut: true},
	} {
		code, out, errOut := runArgs(t, c.args...)
		if code != c.code || !strings.Contains(out, c.out) || !strings.Contains(errOut, c.err) ||
			(c.emptyOut && out != "") || (c.emptyError && errOut != "") {
			t.Errorf("airssys %q: exit %d (want %d)\nstdout: %s\nstderr: %s", c.args, code, c.code, out, errOut)
		}
	}
}

// TestRegressionHelpCommand: "airssys help tree" printed the general help,
// not tree's; there was no version; flag errors spelt flags "-bogus" where
// the help says "--bogus".
func TestRegressionHelpCommand(t *testing.T) {
	for _, cmd := range []string{"tree", "demo"} {
		code, out, errOut := runArgs(t, "help", cmd)
		_, direct, _ := runArgs(t, cmd, "--help")
		if code != 0 || errOut != "" || out != direct || !strings.HasPrefix(out, "Usage: airssys "+cmd) {
			t.Errorf("help %s: exit %d, stderr %q, stdout:\n%s", cmd, code, errOut, out)
		}
	}
	if code, out, _ := runArgs(t, "help", "version"); code != 0 || !strings.HasPrefix(out, "Usage: airssys version") {
		t.Errorf("help version: exit %d, %q", code, out)
	}
	for _, args := range [][]string{{"help", "frobnicate"}, {"help", "tree", "demo"}, {"help", "--watch"}} {
		if code, out, errOut := runArgs(t, args...); code != 2 || out != "" || !strings.HasPrefix(errOut, "airssys help: ") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	for _, v := range []string{"version", "--version", "-version"} {
		code, out, errOut := runArgs(t, v)
		if code != 0 || errOut != "" || !regexp.MustCompile(`^airssys \S.* go1\.\d+`).MatchString(out) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", v, code, out, errOut)
		}
	}
	for _, c := range []struct{ args []string }{
		{[]string{"tree", "-bogus", "http://a/"}},
		{[]string{"demo", "--seed=x"}},
		{[]string{"tree", "http://a/", "-interval"}},
	} {
		_, _, errOut := runArgs(t, c.args...)
		if regexp.MustCompile(`[ :]-[a-z]`).MatchString(errOut) || !strings.Contains(errOut, " --") ||
			!strings.Contains(errOut, `Run "airssys help `) {
			t.Errorf("%q: a flag not spelt as in the help, or no hint: %q", c.args, errOut)
		}
	}
	if _, out, _ := runArgs(t, "help"); !strings.Contains(out, "airssys help [COMMAND]") {
		t.Errorf("the help does not tell of help COMMAND:\n%s", out)
	}
}

func TestTreeURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://h:1":                   "http://h:1/api/tree",
		"http://h:1/":                  "http://h:1/api/tree",
		"http://h/observe/":            "http://h/observe/api/tree",
		"http://h/observe":             "http://h/observe/api/tree",
		"https://h/observe/api/tree":   "https://h/observe/api/tree",
		"http://h/?max_children=3#top": "http://h/api/tree",
	} {
		if got, err := treeURL(in, "", 0); err != nil || got != want {
			t.Errorf("treeURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if got, _ := treeURL("http://h/", "a b", 5); got != "http://h/api/tree?filter=a+b&max_children=5" {
		t.Errorf("with a filter and a limit: %q", got)
	}
}

// serveTree starts a small observed tree and returns the observer's URL.
func serveTree(t *testing.T) (string, chan error, *supervisor.Supervisor) {
	t.Helper()
	fail := make(chan error)
	root := supervisor.New("shop", supervisor.OneForOne, supervisor.Permanent,
		supervisor.WithLogger(slog.New(slog.DiscardHandler)))
	web := supervisor.New("web", supervisor.OneForOne, supervisor.Permanent)
	idle := func() supervisor.Child {
		return supervisor.ChildFunc(func(ctx context.Context) error { <-ctx.Done(); return nil })
	}
	if err := web.Children("handler", 2).SpawnBatch(idle); err != nil {
		t.Fatal(err)
	}
	if err := root.AddSupervisor(web); err != nil {
		t.Fatal(err)
	}
	err := root.Child("db").SpawnFunc(func() supervisor.Child {
		return supervisor.ChildFunc(func(ctx context.Context) error {
			select {
			case <-ctx.Done():
				return nil
			case err := <-fail:
				return err
			}
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := root.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	obs, err := observe.New(root)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(obs)
	t.Cleanup(func() {
		obs.Close()
		srv.Close()
		_ = root.Stop()
	})
	return srv.URL + "/", fail, root
}

var (
	ansi   = regexp.MustCompile("\x1b\\[[0-9;]*m")
	uptime = regexp.MustCompile(`up [0-9.hms]+`)
)

func TestTreePrints(t *testing.T) {
	url, _, _ := serveTree(t)
	code, out, errOut := runArgs(t, "tree", url, "--no-color")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("--no-color output has escape codes:\n%s", out)
	}
	for _, want := range []string{
		"shop ", "├── web ", "│   ├── handler-0 ", "│   └── handler-1 ", "└── db ",
		"OneForOne", "intensity 0/3 in 5s", "running", "↻0",
		"2 supervisors, 3 workers, 0 actors · 4 running · 0 restarts",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// A limit folds the rest of a supervisor's children into one line.
	_, limited, _ := runArgs(t, "tree", url, "--max-children", "1")
	if !strings.Contains(limited, "│   └── … 1 more") || !strings.Contains(limited, "└── … 1 more") {
		t.Errorf("--max-children 1:\n%s", limited)
	}

	// Not a terminal: no colour unless asked for.
	_, plain, _ := runArgs(t, "tree", url)
	if strings.Contains(plain, "\x1b[") {
		t.Errorf("colour on a non-terminal")
	}
	code, colored, _ := runArgs(t, "tree", "--color", url)
	if code != 0 || !strings.Contains(colored, "\x1b[32mrunning") {
		t.Errorf("--color output lacks a green state:\n%q", colored)
	}
	// The two runs fetch the tree at different times: uptimes may differ,
	// and with them the width of their column.
	sameText := func(s string) string {
		return strings.Join(strings.Fields(uptime.ReplaceAllString(s, "up T")), " ")
	}
	if sameText(ansi.ReplaceAllString(colored, "")) != sameText(out) {
		t.Errorf("colour changed the text:\n%s\nvs\n%s", ansi.ReplaceAllString(colored, ""), out)
	}
	t.Setenv("NO_COLOR", "1")
	if _, c, _ := runArgs(t, "tree", "--color", url); strings.Contains(c, "\x1b[") {
		t.Errorf("NO_COLOR ignored")
	}
}

func TestTreeFailures(t *testing.T) {
	// A server that answers with an observe error.
	url, _, _ := serveTree(t)
	code, out, errOut := runArgs(t, "tree", url+"missing/")
	if code != 1 || out != "" || !strings.Contains(errOut, "404") || !strings.Contains(errOut, "no such endpoint") {
		t.Errorf("404: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// A server that is not an observer.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]int{"answer": 42})
	}))
	defer other.Close()
	if code, _, errOut := runArgs(t, "tree", other.URL); code != 1 || !strings.Contains(errOut, "not an observe tree") {
		t.Errorf("foreign server: exit %d, %q", code, errOut)
	}
	// Nobody there.
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	if code, _, errOut := runArgs(t, "tree", gone.URL); code != 1 || !strings.Contains(errOut, "airssys tree:") {
		t.Errorf("closed server: exit %d, %q", code, errOut)
	}
}

// frames collects what a watching command writes and reports each write.
type frames struct {
	mu     sync.Mutex
	all    []string
	wrote  chan struct{}
	cancel context.CancelFunc
	after  int // cancel the run after this many frames
}

func (f *frames) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.all = append(f.all, string(p))
	if len(f.all) == f.after {
		f.cancel()
	}
	return len(p), nil
}

func TestTreeWatch(t *testing.T) {
	url, fail, root := serveTree(t)
	restarted := make(chan struct{}, 1)
	defer root.Subscribe(func(e supervisor.Event) {
		if e.Kind == supervisor.EventChildRestarted && e.Child == "db" {
			restarted <- struct{}{}
		}
	})()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// The first frame triggers a fault; the second must show its restart.
	f := &frames{after: 2, cancel: cancel}
	var errOut bytes.Buffer
	out := writerFunc(func(p []byte) (int, error) {
		n, err := f.Write(p)
		f.mu.Lock()
		first := len(f.all) == 1
		f.mu.Unlock()
		if first {
			// db fails; once its restart is reported, every later
			// request sees it.
			fail <- io.ErrUnexpectedEOF
			<-restarted
		}
		return n, err
	})
	code := run(ctx, []string{"tree", "--watch", "--interval", "10ms", url}, out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if len(f.all) < 2 {
		t.Fatalf("%d frames", len(f.all))
	}
	if !strings.Contains(f.all[0], "0 restarts") || !strings.Contains(f.all[1], "1 restart\n") ||
		!strings.Contains(f.all[1], "last error: unexpected EOF") {
		t.Errorf("frames:\n%s\n---\n%s", f.all[0], f.all[1])
	}
	if strings.Contains(f.all[0], "\x1b[2J") {
		t.Errorf("cleared a screen that is not a terminal")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// lines is a writer that hands each complete line to a channel.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
	ch  chan string
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.WriteString(line)
			return len(p), nil
		}
		select {
		case l.ch <- line:
		default: // nobody is listening for more
		}
	}
}

// TestRegressionDemo runs the demo as a user would. Regressions it guards:
// the printed URL ended in a slash, so "$URL/api/tree" got a redirect; the
// tree had no actors, though the README's screenshot showed some.
func TestRegressionDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := &lines{ch: make(chan string, 64)}
	var errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--addr", "127.0.0.1:0", "--fault-every", "5ms", "--seed", "1", "--control"}, out, &errOut)
	}()
	var url, token string
	for url == "" || token == "" {
		select {
		case line := <-out.ch:
			if _, u, ok := strings.Cut(line, "live view at "); ok {
				url = strings.TrimSpace(u)
			}
			if _, tok, ok := strings.Cut(line, "bearer token: "); ok {
				token = strings.TrimSpace(tok)
			}
		case code := <-done:
			t.Fatalf("demo ended early: exit %d: %s", code, errOut.String())
		}
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") || len(token) != 32 {
		t.Fatalf("url %q token %q", url, token)
	}

	// The page and the API are served, at "$URL/api/tree" as a user
	// would type it, without a redirect (a doubled slash got one).
	noRedirect := &http.Client{CheckRedirect: func(req *http.Request, via []*http.Request) error {
		return fmt.Errorf("redirected to %s", req.URL)
	}}
	defer noRedirect.CloseIdleConnections()
	snap, err := fetchTree(ctx, noRedirect, url+"/api/tree")
	if err != nil {
		t.Fatal(err)
	}
	if res, err := noRedirect.Get(url); err != nil || res.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %v %v", url, res, err)
	} else {
		res.Body.Close()
	}
	// Workers and actors, as the README's screenshot shows.
	if snap.Root.Name != "microservice" || snap.Totals.Supervisors != 5 || snap.Totals.Workers != 8 ||
		snap.Totals.Actors != 2 {
		t.Errorf("demo tree: %+v", snap.Totals)
	}
	res, err := http.Get(url + "/api/config")
	if err != nil {
		t.Fatal(err)
	}
	var cfg observe.Config
	_ = json.NewDecoder(res.Body).Decode(&cfg)
	res.Body.Close()
	if !cfg.FaultInjection {
		t.Error("--control did not enable fault injection")
	}
	// Faults are being injected: wait for one to be reported.
	for {
		select {
		case line := <-out.ch:
			if strings.HasPrefix(line, "fault: ") {
				goto faulted
			}
		case code := <-done:
			t.Fatalf("demo ended early: exit %d: %s", code, errOut.String())
		}
	}
faulted:
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d after interrupt: %s", code, errOut.String())
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestDemoListenFailure(t *testing.T) {
	code, _, errOut := runArgs(t, "demo", "--addr", "256.0.0.1:0", "--fault-every", "0")
	if code != 1 || !strings.Contains(errOut, "airssys demo:") {
		t.Errorf("bad address: exit %d, %q", code, errOut)
	}
}

// TestRegressionTreeColumnsWithLongError: a last error with several lines
// (errors.Join) broke the tree over extra lines, and a long one pushed a
// supervisor's strategy and intensity out of line. Errors now end the row,
// on one line, cut unless --wide.
func TestRegressionTreeColumnsWithLongError(t *testing.T) {
	url, fail, root := serveTree(t)
	restarted := make(chan struct{}, 1)
	defer root.Subscribe(func(e supervisor.Event) {
		if e.Kind == supervisor.EventChildRestarted && e.Child == "db" {
			restarted <- struct{}{}
		}
	})()
	long := errors.Join(errors.New("dial tcp 10.0.0.7:5432: connect: connection refused"),
		errors.New(strings.Repeat("the replica is also down; ", 8)))
	fail <- long
	<-restarted

	_, out, _ := runArgs(t, "tree", url)
	rows := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(rows) != 7 { // 5 rows of the tree, a blank line, the summary
		t.Fatalf("%d lines, want 7:\n%s", len(rows), out)
	}
	col := -1
	for _, row := range rows[:5] {
		i := strings.Index(row, "running")
		if col == -1 {
			col = utf8.RuneCountInString(row[:i])
		}
		if utf8.RuneCountInString(row[:i]) != col {
			t.Errorf("the state column moved:\n%s", out)
			break
		}
		if n := utf8.RuneCountInString(row); n > 140 {
			t.Errorf("a row of %d characters:\n%s", n, row)
		}
	}
	db := rows[4]
	if !strings.Contains(db, "last error: dial tcp 10.0.0.7:5432: connect: connection refused the replica") ||
		!strings.HasSuffix(db, "…") {
		t.Errorf("db's row: %q", db)
	}
	_, wide, _ := runArgs(t, "tree", "--wide", url)
	if !strings.Contains(wide, strings.TrimSpace(strings.Repeat("the replica is also down; ", 8))) {
		t.Errorf("--wide cut the error:\n%s", wide)
	}
}

// TestTreeSummaryCountsProcesses: observe counts OS process children apart
// from workers, so the summary names them (and only when there are some, so
// trees without processes read as before).
func TestTreeSummaryCountsProcesses(t *testing.T) {
	var b strings.Builder
	snap := observe.Snapshot{Totals: observe.Totals{Supervisors: 1, Workers: 1, Processes: 2, Running: 3}}
	snap.Root = observe.SupervisorSnapshot{Name: "web", Path: "web", Running: true}
	printer{}.snapshot(&b, snap)
	if want := "1 supervisor, 1 worker, 0 actors · 3 running · 0 restarts · 2 processes"; !strings.Contains(b.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, b.String())
	}
}
