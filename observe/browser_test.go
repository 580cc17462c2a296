package observe

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/airssys/rt/health"
	"github.com/airssys/rt/internal/demo"
	"github.com/airssys/rt/supervisor"
)

// The browser test drives the live page in headless Chromium. It needs
// Debian's chromium package (apt-get install -y chromium); without it the
// test is skipped, except under CI, where a missing browser is a failure.
// UPDATE_SCREENSHOT=1 refreshes docs/observer.png; a screenshot is always
// written to the test's temporary directory.

// chromiumPath finds a Chromium or Chrome binary.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func inCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v != "" && v != "false" && v != "0"
}

// browserTree is the tree "airssys demo" serves, workers and actors, so
// that the screenshot is what a user of the demo sees; one worker has
// restarted and one is degraded, so the screenshot shows those too.
func browserTree(t *testing.T) *demo.Tree {
	t.Helper()
	tree := demo.Microservice(quiet)
	must(t, tree.Root.Start(context.Background()))
	t.Cleanup(func() { _ = tree.Root.Stop() })
	return tree
}

// browserFaults gives the tree a restarted worker, one that panicked, and a
// degraded one.
func browserFaults(t *testing.T, tree *demo.Tree) {
	t.Helper()
	restarted := waitEvent(t, tree.Root, isKind(supervisor.EventChildRestarted, "repository"))
	tree.Worker("data-layer/repository").Crash(errors.New("connection reset by peer"))
	restarted()
	restarted = waitEvent(t, tree.Root, isKind(supervisor.EventChildRestarted, "handler-2"))
	tree.Worker("http-api/handler-2").Panic("session cache: no entry for user 42")
	restarted()
	degraded := waitEvent(t, tree.Root, func(e supervisor.Event) bool {
		return e.Kind == supervisor.EventHealthChanged && e.Child == "payment-service"
	})
	tree.Worker("business-logic/payment-service").SetHealth(health.Degraded("p99 latency 800ms"))
	degraded()
}

// browserScript is the program of the process child: more lines than the
// detail's box shows, one that would be markup if the page did not escape
// it, and a crash.
const browserScript = `i=1; while [ $i -le 150 ]; do echo "line $i"; i=$((i+1)); done
echo '<b>bad</b> <img src=x onerror="window.pwned=1">'; echo exiting; exit 3`

// browserProcess adds an OS process child that crashes and then waits an
// hour for its restart (backoff), so that the page shows its output while
// no incarnation runs.
func browserProcess(t *testing.T, root *supervisor.Supervisor) {
	t.Helper()
	programs := supervisor.New("programs", supervisor.OneForOne, supervisor.Permanent, quiet,
		supervisor.WithBackoff(supervisor.Backoff{Initial: time.Hour}))
	must(t, programs.StartChild(shSpec(t, "flaky", browserScript)))
	scheduled := waitEvent(t, root, isKind(supervisor.EventChildRestartScheduled, "flaky"))
	must(t, root.AddSupervisor(programs))
	scheduled()
}

func TestBrowser(t *testing.T) {
	chrome := chromiumPath()
	if chrome == "" {
		if inCI() {
			t.Fatal("CI is set but no Chromium was found: install it with apt-get install -y chromium")
		}
		t.Skip("no Chromium on this machine (apt-get install -y chromium); skipping the browser test")
	}
	tree := browserTree(t)
	root := tree.Root
	const token = "browser-test-token"
	_, srv := newObserver(t, root, WithFaultInjection(token))
	browserFaults(t, tree) // after the observer, so that the feed shows them
	browserProcess(t, root)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The flags that let Chromium run as root in a closed network.
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chrome),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 860),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()

	// The page draws every child of the tree.
	must(t, chromedp.Do(bctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`li[data-path="microservice/notifications/mailer"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#conn.conn-live`)),
	))
	drawn, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("#tree li[data-path]")].map(li => li.dataset.path)`))
	must(t, err)
	var want []string
	var walk func(s SupervisorSnapshot)
	walk = func(s SupervisorSnapshot) {
		want = append(want, s.Path)
		for _, c := range s.Children {
			if c.Supervisor != nil {
				walk(*c.Supervisor)
			} else {
				want = append(want, c.Path)
			}
		}
	}
	walk(TakeSnapshot(root).Root)
	slices.Sort(drawn)
	slices.Sort(want)
	if !slices.Equal(drawn, want) {
		t.Fatalf("the page draws\n %q\nthe tree has\n %q", drawn, want)
	}
	// Each row offers the actions the server accepts for it, and no
	// others: no restart of a running child, no crash of a worker.
	offered, err := chromedp.Run(bctx, chromedp.Evaluate[map[string][]string](`Object.fromEntries(
		[...document.querySelectorAll("#tree li.child[data-path], #tree li.sup[data-path]")].map(li =>
			[li.dataset.path, [...li.querySelector(".actions").querySelectorAll("button")].map(b => b.textContent)]))`))
	must(t, err)
	accepted := map[string][]string{root.Path(): {}}
	var actions func(s SupervisorSnapshot)
	actions = func(s SupervisorSnapshot) {
		for _, c := range s.Children {
			accepted[c.Path] = append([]string{}, c.Actions...)
			if c.Supervisor != nil {
				actions(*c.Supervisor)
			}
		}
	}
	actions(TakeSnapshot(root).Root)
	for path, want := range accepted {
		if got := offered[path]; !slices.Equal(got, want) {
			t.Errorf("%s: the page offers %q, the server accepts %q", path, got, want)
		}
	}
	text := func(sel string) string {
		t.Helper()
		return pageText(t, bctx, sel)
	}
	badge := text(`li[data-path="microservice/business-logic/payment-service"] .health`)
	restarts := text(`li[data-path="microservice/data-layer/repository"] .restarts b`)
	if badge != "degraded" || restarts != "1" {
		t.Errorf("health badge %q, restarts %q; want degraded, 1", badge, restarts)
	}

	// Crash an actor from the page: its counter ticks and the events
	// appear in the feed within 2 seconds.
	const actor = `li[data-path="microservice/notifications/audit"]`
	if before := text(actor + ` .restarts b`); before != "0" {
		t.Fatalf("restarts before the crash: %q", before)
	}
	must(t, chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.CSS(`#token`), token),
		chromedp.Click(chromedp.CSS(actor+` button.crash`)),
	))
	start := time.Now()
	_, err = chromedp.Run(bctx, chromedp.Poll[bool](`
		document.querySelector('`+actor+` .restarts b').textContent === "1" &&
		!!document.querySelector('#feed li[data-kind="child_restarted"][data-path="microservice/notifications/audit"]') &&
		[...document.querySelectorAll('#feed li[data-kind="child_failed"][data-path="microservice/notifications/audit"]')]
			.some(li => li.textContent.includes("crash injected by observer"))`,
		chromedp.WithPollingTimeout(2*time.Second)))
	if err != nil {
		feed, _ := chromedp.Run(bctx, chromedp.TextContent(chromedp.CSS(`#feed`)))
		t.Fatalf("no restart on the page within 2s (%v); feed:\n%s", err, feed)
	}
	t.Logf("crash seen on the page after %v", time.Since(start).Round(time.Millisecond))

	// A child's name opens its detail.
	must(t, chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`li[data-path="microservice/data-layer/repository"] .name`)),
		chromedp.WaitVisible(chromedp.CSS(`#detail[open]`)),
	))
	if title, facts := text(`#detail-title`), text(`#detail-facts`); title != "microservice/data-layer/repository" ||
		!strings.Contains(facts, "connection reset by peer") {
		t.Errorf("detail of repository: %q, %q", title, facts)
	}
	if hidden, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.getElementById("detail-panic").hidden`)); err != nil || !hidden {
		t.Errorf("repository returned an error, but its detail shows a panic (%v)", err)
	}
	must(t, chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`#detail-close`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#detail[open]`)),
	))
	// One that panicked: where, and the stack.
	must(t, chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`li[data-path="microservice/http-api/handler-2"] .err`)),
		chromedp.WaitVisible(chromedp.CSS(`#detail-stack`)),
	))
	if at, stack := text(`#detail-at`), text(`#detail-stack`); !strings.Contains(at, "internal/demo") ||
		!strings.Contains(stack, "internal/demo/tree.go:") {
		t.Errorf("detail of handler-2: panicked at %q, stack:\n%s", at, stack)
	}
	must(t, chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`#detail-close`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#detail[open]`)),
	))

	// An OS process child is drawn as one and counted, and its detail
	// shows its last output lines, between incarnations too: escaped,
	// monospace, the newest at the bottom and in view.
	const flaky = `#tree li[data-path="microservice/programs/flaky"]`
	// One evaluation: each refresh redraws the totals, so a node found by
	// one query may be gone by the next.
	shown, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[
		document.querySelector('`+flaky+` .kind').textContent,
		document.querySelector('#totals [data-total="processes"] b').textContent]`))
	must(t, err)
	if !slices.Equal(shown, []string{"process", "1"}) {
		t.Errorf("process child: kind and processes total %q; want process, 1", shown)
	}
	must(t, chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(flaky+` .name`)),
		chromedp.WaitVisible(chromedp.CSS(`#detail[open]`)),
	))
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`!document.getElementById("detail-output").hidden`,
		chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Fatalf("the process child's detail shows no output (%v): %q", err, text(`#detail`))
	}
	type shownOutput struct {
		Text       string `json:"text"`
		Elements   int    `json:"elements"`
		Font       string `json:"font"`
		Scrollable bool   `json:"scrollable"`
		AtBottom   bool   `json:"atBottom"`
		Pwned      bool   `json:"pwned"`
	}
	out, err := chromedp.Run(bctx, chromedp.Evaluate[shownOutput](`(() => {
		const pre = document.getElementById("detail-output-lines");
		return { text: pre.textContent, elements: pre.childElementCount, font: getComputedStyle(pre).fontFamily,
			scrollable: pre.scrollHeight > pre.clientHeight,
			atBottom: pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4, pwned: !!window.pwned };
	})()`))
	must(t, err)
	lines := strings.Split(out.Text, "\n")
	if n := len(lines); n != 152 || !strings.HasSuffix(lines[0], " stdout line 1") ||
		!strings.HasSuffix(lines[n-2], ` stdout <b>bad</b> <img src=x onerror="window.pwned=1">`) ||
		!strings.HasSuffix(lines[n-1], " stdout exiting") {
		t.Errorf("output shown, %d lines, oldest first: first %q, last %q", n, lines[0], lines[n-1])
	}
	if out.Elements != 0 || out.Pwned {
		t.Errorf("the output was read as markup: %d elements, script ran: %v", out.Elements, out.Pwned)
	}
	if !strings.Contains(out.Font, "monospace") {
		t.Errorf("output font %q, want monospace", out.Font)
	}
	if !out.Scrollable || !out.AtBottom {
		t.Errorf("output scrollable %v, scrolled to the newest line %v; want both", out.Scrollable, out.AtBottom)
	}
	if state := text(`#detail-facts`); !strings.Contains(state, "restarting") || !strings.Contains(state, "code 3") {
		t.Errorf("detail facts of the crashed process: %q", state)
	}
	must(t, chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`#detail-close`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#detail[open]`)),
	))
	// A child that keeps no output shows no output box.
	must(t, chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`li[data-path="microservice/data-layer/repository"] .name`)),
		chromedp.WaitVisible(chromedp.CSS(`#detail[open]`)),
	))
	if hidden, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.getElementById("detail-output").hidden`)); err != nil || !hidden {
		t.Errorf("a worker's detail shows an output box (%v)", err)
	}
	must(t, chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`#detail-close`)),
		chromedp.WaitNotPresent(chromedp.CSS(`#detail[open]`)),
	))
	// The screenshot shows the demo's tree, as "airssys demo" serves it:
	// without the process child, which the page then drops.
	must(t, root.TerminateChild("programs"))
	must(t, root.DeleteChild("programs"))
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`!document.querySelector('#tree li[data-path="microservice/programs"]')`,
		chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		shown, _ := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#tree li[data-path]")].map(li => li.dataset.path)`))
		t.Fatalf("the page still draws the deleted programs supervisor (%v): %q", err, shown)
	}

	// Filtering by name hides the rest of the tree. The page filters as
	// the user types (after a pause), so a slow machine may first show
	// the match for "c": wait for the one for "cache".
	must(t, chromedp.Do(bctx, chromedp.SendKeys(chromedp.CSS(`#filter`), "cache")))
	const shownJS = `[...document.querySelectorAll("#tree li.child[data-path]")].map(li => li.dataset.path)`
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](shownJS+`.join() === "microservice/data-layer/cache"`,
		chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		shown, _ := chromedp.Run(bctx, chromedp.Evaluate[[]string](shownJS))
		t.Errorf("filter cache shows %q (%v)", shown, err)
	}

	// The screenshot, of the whole tree again.
	must(t, chromedp.Do(bctx,
		chromedp.Evaluate[chromedp.Void](`{
			const f = document.getElementById("filter");
			f.value = "";
			f.dispatchEvent(new Event("input"));
		}`),
		chromedp.WaitVisible(chromedp.CSS(`li[data-path="microservice/http-api/handler-0"]`)),
	))
	png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
	must(t, err)
	tmp := filepath.Join(t.TempDir(), "observer.png")
	must(t, os.WriteFile(tmp, png, 0o644))
	t.Logf("screenshot: %s", tmp)
	if os.Getenv("UPDATE_SCREENSHOT") != "" {
		must(t, os.WriteFile(filepath.Join("..", "docs", "observer.png"), png, 0o644))
		t.Log("updated docs/observer.png")
	}
}

// TestRegressionCICannotSkipTheBrowser: .ci/run did not set CI, so a
// machine without Chromium skipped the browser test and CI passed, and the
// skip's pass could come back from the test cache. It must set CI before
// it runs the tests, and run the README's test command as written there.
func TestRegressionCICannotSkipTheBrowser(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("..", ".ci", "run"))
	must(t, err)
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	must(t, err)
	run := string(script)
	setCI := strings.Index(run, "\nexport CI=1\n")
	tests := strings.Index(run, "\ngo test ")
	if setCI < 0 || tests < 0 || setCI > tests {
		t.Errorf(".ci/run must export CI=1 before it runs go test")
	}
	// The README's first go test command is the one it offers for the
	// whole suite.
	for line := range strings.Lines(string(readme)) {
		cmd, _, _ := strings.Cut(strings.TrimSpace(line), "#")
		cmd = strings.TrimSpace(cmd)
		if strings.HasPrefix(cmd, "go test ") {
			if !strings.Contains(run, "\n"+cmd+"\n") {
				t.Errorf("the README's %q is not what .ci/run runs", cmd)
			}
			return
		}
	}
	t.Error("the README shows no go test command")
}

// pageText reads the text of the first element matching the CSS selector
// sel in one evaluation in the page. chromedp.TextContent takes two steps,
// a query for the node and then a call on it, and the page redraws parts of
// itself (the cluster's members at every poll) in between: the node the
// query found is gone by the call ("No node with given id found"), which a
// loaded machine made happen (TestBrowserCluster, 1 run in 40 of the
// observe package under stress). A selector that matches nothing is an
// error here too.
func pageText(t *testing.T, bctx context.Context, sel string) string {
	t.Helper()
	q, err := json.Marshal(sel)
	must(t, err)
	s, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(() => {
		const e = document.querySelector(`+string(q)+`);
		if (!e) throw new Error("no element matches " + `+string(q)+`);
		return e.textContent;
	})()`))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}
