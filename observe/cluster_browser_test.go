package observe

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserCluster checks that the live page shows the cluster's
// members and where each remote child runs (see TestBrowser for Chromium).
func TestBrowserCluster(t *testing.T) {
	chrome := chromiumPath()
	if chrome == "" {
		if inCI() {
			t.Fatal("CI is set but no Chromium was found: install it with apt-get install -y chromium")
		}
		t.Skip("no Chromium on this machine (apt-get install -y chromium); skipping the browser test")
	}
	root, cl := clusterFixture(t)
	_, srv := newObserver(t, root, WithCluster(cl))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chrome),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 500),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()

	must(t, chromedp.Do(bctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#cluster [data-member="c"]`)),
	))
	text := func(sel string) string {
		t.Helper()
		return pageText(t, bctx, sel)
	}
	for sel, want := range map[string][]string{
		`#cluster`:                          {"seen from node a"},
		`#cluster [data-member="a"]`:        {"a up", "(this node)"},
		`#cluster [data-member="b"]`:        {"b up", "heard ", "s ago", "rtt 0.40 ms"},
		`#cluster [data-member="c"]`:        {"c down", "heard 1m"},
		`li[data-path="root/far"] .node`:    {"on b"},
		`li[data-path="root/placed"] .node`: {"on c"},
	} {
		got := text(sel)
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s reads %q, want it to contain %q", sel, got, w)
			}
		}
	}
	if got := text(`li[data-path="root/near"] .node`); got != "" {
		t.Errorf("a local child shows a node: %q", got)
	}
	down, err := chromedp.Run(bctx, chromedp.Evaluate[bool](
		`document.querySelector('#cluster [data-member="c"]').classList.contains("m-down")`))
	must(t, err)
	if !down {
		t.Error("the down member is not marked down")
	}

	// Membership changes show at the next poll, without an event.
	cl.mu.Lock()
	cl.st.Members[1].Up = false // b goes down
	cl.mu.Unlock()
	_, err = chromedp.Run(bctx, chromedp.Poll[bool](
		`document.querySelector('#cluster [data-member="b"]').classList.contains("m-down")`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Fatalf("b's fall not shown: %v", err)
	}
	png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
	must(t, err)
	tmp := filepath.Join(t.TempDir(), "cluster.png")
	must(t, os.WriteFile(tmp, png, 0o644))
	t.Logf("screenshot: %s", tmp)
}
