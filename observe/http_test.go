package observe

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/airssys/rt/supervisor"
)

// call makes a request and decodes a JSON answer into a generic value.
func call(t *testing.T, method, url, token, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	must(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	must(t, err)
	var doc map[string]any
	if method != http.MethodHead && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", method, url, raw, err)
		}
	}
	return res.StatusCode, res.Header, doc
}

func TestAPITree(t *testing.T) {
	tt := startTree(t)
	_, srv := newObserver(t, tt.root)

	status, h, doc := call(t, "GET", srv.URL+"/api/tree", "", "")
	if status != 200 || h.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/tree: %d %q", status, h.Get("Content-Type"))
	}
	expectKeys(t, "tree", doc, "taken_at", "totals", "root")
	if n := len(doc["root"].(map[string]any)["children"].([]any)); n != 3 {
		t.Errorf("root children %d", n)
	}

	_, _, doc = call(t, "GET", srv.URL+"/api/tree?filter=mailer&max_children=5", "", "")
	root := doc["root"].(map[string]any)
	if n := len(root["children"].([]any)); n != 1 || root["children_omitted"] != 2.0 {
		t.Errorf("filtered root: %v", root)
	}

	for _, path := range []string{"/api/tree", "/api/events", "/api/config", "/metrics", "/"} {
		if status, _, _ := call(t, "HEAD", srv.URL+path, "", ""); status != 200 {
			t.Errorf("HEAD %s: %d", path, status)
		}
	}

	status, _, doc = call(t, "GET", srv.URL+"/api/config", "", "")
	if status != 200 || doc["fault_injection"] != false || doc["event_buffer"] != float64(DefaultEventBuffer) {
		t.Errorf("config: %d %v", status, doc)
	}
}

func TestPageAndAssets(t *testing.T) {
	tt := startTree(t)
	_, srv := newObserver(t, tt.root)
	for _, c := range []struct{ path, ctype, contains string }{
		{"/", "text/html", "<ul id=\"tree\""},
		{"/static/app.js", "text/javascript", "EventSource"},
		{"/static/style.css", "text/css", "--running"},
	} {
		res, err := http.Get(srv.URL + c.path)
		must(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), c.ctype) ||
			!strings.Contains(string(body), c.contains) {
			t.Errorf("GET %s: %d %q, body has %q: %v", c.path, res.StatusCode, res.Header.Get("Content-Type"),
				c.contains, strings.Contains(string(body), c.contains))
		}
	}
	// The page must not reach for anything outside this server.
	for _, f := range []string{"web/index.html", "web/app.js", "web/style.css"} {
		data, err := webFiles.ReadFile(f)
		must(t, err)
		if strings.Contains(string(data), "http://") || strings.Contains(string(data), "https://") {
			t.Errorf("%s refers to an absolute URL", f)
		}
	}
}

// TestBadRequests: every mistake gets a 4xx and a JSON error body.
func TestBadRequests(t *testing.T) {
	tt := startTree(t)
	_, srv := newObserver(t, tt.root, WithFaultInjection("s3cret"))
	for _, c := range []struct {
		method, path, token, body string
		status                    int
	}{
		{"GET", "/api/tree?max_children=abc", "", "", 400},
		{"GET", "/api/tree?max_children=-1", "", "", 400},
		{"GET", "/api/tree?max_children=99999999999999999999", "", "", 400},
		{"GET", "/api/tree?depth=3", "", "", 400},
		{"GET", "/api/tree?filter=%zz", "", "", 400},
		{"POST", "/api/tree", "", "", 405},
		{"DELETE", "/metrics", "", "", 405},
		{"PUT", "/", "", "", 405},
		{"GET", "/api/events?last_event_id=x", "", "", 400},
		{"GET", "/api/events?last_event_id=-1", "", "", 400},
		{"GET", "/api/nope", "", "", 404},
		{"GET", "/static/", "", "", 404},
		{"GET", "/static/missing.js", "", "", 404},
		{"GET", "/static/../observer.go", "", "", 404},
		{"GET", "/api/children/terminate", "s3cret", "", 405},
		{"POST", "/api/children/explode", "s3cret", `{"supervisor":"root","child":"db"}`, 404},
		{"POST", "/api/children/terminate", "s3cret", ``, 400},
		{"POST", "/api/children/terminate", "s3cret", `not json`, 400},
		{"POST", "/api/children/terminate", "s3cret", `{"supervisor":"root"}`, 400},
		{"POST", "/api/children/terminate", "s3cret", `{"supervisor":"root","child":"db","x":1}`, 400},
		{"POST", "/api/children/terminate", "s3cret", `{"supervisor":"root","child":"db"} {}`, 400},
		{"POST", "/api/children/terminate", "s3cret", `{"supervisor":["root"],"child":"db"}`, 400},
		{"POST", "/api/children/terminate", "s3cret", `{"supervisor":"root","child":"` + strings.Repeat("x", 70<<10) + `"}`, 400},
		{"POST", "/api/children/terminate", "s3cret", `{"supervisor":"root/nope","child":"db"}`, 404},
		{"POST", "/api/children/terminate", "s3cret", `{"supervisor":"other","child":"db"}`, 404},
		{"POST", "/api/children/terminate", "s3cret", `{"supervisor":"root","child":"nope"}`, 404},
		{"POST", "/api/children/restart", "s3cret", `{"supervisor":"root","child":"db"}`, 409},
		{"POST", "/api/children/crash", "s3cret", `{"supervisor":"root/api","child":"handler-0"}`, 422},
		{"POST", "/api/children/crash", "s3cret", `{"supervisor":"root/actors","child":"nope"}`, 404},
	} {
		status, _, doc := call(t, c.method, srv.URL+c.path, c.token, c.body)
		if status != c.status {
			t.Errorf("%s %s %.40s: status %d, want %d (%v)", c.method, c.path, c.body, status, c.status, doc)
			continue
		}
		if msg, ok := doc["error"].(string); !ok || msg == "" {
			t.Errorf("%s %s: body %v has no error message", c.method, c.path, doc)
		}
	}
}

func TestFaultInjectionDisabledByDefault(t *testing.T) {
	tt := startTree(t)
	_, srv := newObserver(t, tt.root)
	for _, action := range []string{"terminate", "restart", "crash"} {
		status, _, doc := call(t, "POST", srv.URL+"/api/children/"+action, "anything",
			`{"supervisor":"root","child":"db"}`)
		if status != http.StatusForbidden || !strings.Contains(doc["error"].(string), "disabled") {
			t.Errorf("%s while disabled: %d %v", action, status, doc)
		}
	}
	if s := TakeSnapshot(tt.root); s.Root.Children[2].State != "running" {
		t.Errorf("db touched: %v", s.Root.Children[2].State)
	}
}

func TestFaultInjectionToken(t *testing.T) {
	tt := startTree(t)
	_, srv := newObserver(t, tt.root, WithFaultInjection("s3cret"))
	body := `{"supervisor":"root","child":"db"}`
	for _, c := range []struct{ name, header string }{
		{"missing", ""},
		{"wrong", "Bearer s3cre"},
		{"wrong, longer", "Bearer s3cret-and-more"},
		{"wrong scheme", "Basic s3cret"},
		{"no scheme", "s3cret"},
		{"empty token", "Bearer "},
	} {
		req, _ := http.NewRequest("POST", srv.URL+"/api/children/terminate", strings.NewReader(body))
		if c.header != "" {
			req.Header.Set("Authorization", c.header)
		}
		res, err := http.DefaultClient.Do(req)
		must(t, err)
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s token: %d %q", c.name, res.StatusCode, res.Header.Get("WWW-Authenticate"))
		}
	}
	if s := TakeSnapshot(tt.root); s.Root.Children[2].State != "running" {
		t.Fatalf("a refused request touched db: %v", s.Root.Children[2].State)
	}

	// The right token: terminate, then restart.
	status, _, doc := call(t, "POST", srv.URL+"/api/children/terminate", "s3cret", body)
	if status != 200 || doc["action"] != "terminate" || doc["child"] != "db" {
		t.Fatalf("terminate: %d %v", status, doc)
	}
	if s := TakeSnapshot(tt.root); s.Root.Children[2].State != "stopped" {
		t.Errorf("db after terminate: %v", s.Root.Children[2].State)
	}
	status, _, doc = call(t, "POST", srv.URL+"/api/children/restart", "s3cret", body)
	if status != 200 {
		t.Fatalf("restart: %d %v", status, doc)
	}
	if s := TakeSnapshot(tt.root); s.Root.Children[2].State != "running" || s.Root.Children[2].Restarts != 0 {
		t.Errorf("db after restart: %+v (manual restarts do not count)", s.Root.Children[2])
	}
}

func TestFaultInjectionCrash(t *testing.T) {
	tt := startTree(t)
	_, srv := newObserver(t, tt.root, WithFaultInjection("s3cret"))
	restarted := waitEvent(t, tt.root, isKind(supervisor.EventChildRestarted, "counter"))
	status, _, doc := call(t, "POST", srv.URL+"/api/children/crash", "s3cret",
		`{"supervisor":"root/actors","child":"counter"}`)
	if status != http.StatusAccepted {
		t.Fatalf("crash: %d %v", status, doc)
	}
	e := restarted()
	if e.Restarts != 1 {
		t.Errorf("restart event %+v", e)
	}
	c := TakeSnapshot(tt.root).Root.Children[1].Supervisor.Children[0]
	if c.Restarts != 1 || c.LastError != ErrInjectedCrash.Error() {
		t.Errorf("counter after crash: %+v", c)
	}
}

func TestNewOptions(t *testing.T) {
	root := supervisor.New("r", supervisor.OneForOne, supervisor.Permanent, quiet)
	for name, opts := range map[string][]Option{
		"empty token":         {WithFaultInjection("")},
		"zero buffer":         {WithEventBuffer(0)},
		"negative series":     {WithMaxChildSeries(-1)},
		"zero supervisors":    {WithMaxSupervisorSeries(0)},
		"nil gatherer":        {WithGatherer(nil)},
		"nil option":          {nil},
		"first error reports": {WithEventBuffer(-5), WithMaxChildSeries(-1)},
	} {
		o, err := New(root, opts...)
		if !errors.Is(err, ErrInvalidOption) || o != nil {
			t.Errorf("%s: New = %v, %v", name, o, err)
		}
	}
	if _, err := New(nil); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("nil root: %v", err)
	}
	o, err := New(root, WithEventBuffer(8), WithMaxChildSeries(0), WithMaxSupervisorSeries(1),
		WithGatherer(prometheus.NewRegistry()))
	must(t, err)
	o.Close()
	o.Close() // idempotent
}

// TestRegressionOfferedActionsAreAccepted: the live page offered "restart"
// on running children (the server answers 409) and "crash" on anything of
// kind actor. A snapshot now lists the actions the server accepts in the
// child's state; each one offered succeeds, and the ones left out fail.
func TestRegressionOfferedActionsAreAccepted(t *testing.T) {
	tt := startTree(t)
	const token = "s3cret"
	_, srv := newObserver(t, tt.root, WithFaultInjection(token))
	find := func(path string) ChildSnapshot {
		t.Helper()
		var walk func(s SupervisorSnapshot) (ChildSnapshot, bool)
		walk = func(s SupervisorSnapshot) (ChildSnapshot, bool) {
			for _, c := range s.Children {
				if c.Path == path {
					return c, true
				}
				if c.Supervisor != nil {
					if found, ok := walk(*c.Supervisor); ok {
						return found, true
					}
				}
			}
			return ChildSnapshot{}, false
		}
		c, ok := walk(TakeSnapshot(tt.root).Root)
		if !ok {
			t.Fatalf("no child %s", path)
		}
		return c
	}
	post := func(action, sup, child string) int {
		t.Helper()
		status, _, _ := call(t, "POST", srv.URL+"/api/children/"+action, token,
			`{"supervisor":"`+sup+`","child":"`+child+`"}`)
		return status
	}
	expect := func(path string, want ...string) {
		t.Helper()
		if got := find(path).Actions; !slices.Equal(got, want) {
			t.Errorf("%s offers %q, want %q", path, got, want)
		}
	}

	// A running worker: terminate only.
	expect("root/api/handler-0", "terminate")
	expect("root/api", "terminate") // a sub-supervisor is a child like any
	if s := post("restart", "root/api", "handler-0"); s != http.StatusConflict {
		t.Errorf("restart of a running worker: %d, want 409", s)
	}
	if s := post("crash", "root/api", "handler-0"); s != http.StatusUnprocessableEntity {
		t.Errorf("crash of a worker: %d, want 422", s)
	}
	if s := post("terminate", "root/api", "handler-0"); s != http.StatusOK {
		t.Fatalf("terminate offered but answered %d", s)
	}
	// Stopped: restart only.
	expect("root/api/handler-0", "restart")
	if s := post("crash", "root/api", "handler-0"); s != http.StatusConflict {
		t.Errorf("crash of a stopped worker: %d, want 409", s)
	}
	if s := post("restart", "root/api", "handler-0"); s != http.StatusOK {
		t.Fatalf("restart offered but answered %d", s)
	}
	expect("root/api/handler-0", "terminate")

	// A running actor: terminate and crash.
	expect("root/actors/counter", "terminate", "crash")
	restarted := waitEvent(t, tt.root, isKind(supervisor.EventChildRestarted, "counter"))
	if s := post("crash", "root/actors", "counter"); s != http.StatusAccepted {
		t.Fatalf("crash offered but answered %d", s)
	}
	restarted()
	expect("root/actors/counter", "terminate", "crash")
}

func TestChildDetail(t *testing.T) {
	tt := startTree(t)
	_, srv := newObserver(t, tt.root)
	restarted := waitEvent(t, tt.root, isKind(supervisor.EventChildRestarted, "db"))
	tt.dbFail <- errBoom
	restarted()

	status, _, doc := call(t, "GET", srv.URL+"/api/child?path=root/db", "", "")
	if status != http.StatusOK || doc["path"] != "root/db" || doc["kind"] != "worker" ||
		doc["last_error"] != "boom" || doc["restarts"] != 1.0 || doc["panic"] != nil {
		t.Errorf("root/db: %d %v", status, doc)
	}
	// A sub-supervisor's detail leaves its subtree to /api/tree.
	if status, _, doc := call(t, "GET", srv.URL+"/api/child?path=root/api", "", ""); status != http.StatusOK ||
		doc["kind"] != "supervisor" || doc["supervisor"] != nil {
		t.Errorf("root/api: %d %v", status, doc)
	}
	if status, _, doc := call(t, "GET", srv.URL+"/api/child?path=root/actors/counter", "", ""); status != http.StatusOK ||
		doc["kind"] != "actor" || doc["actor"] == nil {
		t.Errorf("root/actors/counter: %d %v", status, doc)
	}
	for _, c := range []struct {
		query  string
		status int
		msg    string
	}{
		{"", http.StatusBadRequest, "want SUPERVISOR/CHILD"},
		{"?path=root", http.StatusBadRequest, "want SUPERVISOR/CHILD"},
		{"?path=root/", http.StatusBadRequest, "want SUPERVISOR/CHILD"},
		{"?path=/db", http.StatusBadRequest, "want SUPERVISOR/CHILD"},
		{"?path=root/db&x=1", http.StatusBadRequest, "unknown parameter"},
		{"?path=%zz", http.StatusBadRequest, "query"},
		{"?path=root/nobody", http.StatusNotFound, "has no child nobody"},
		{"?path=elsewhere/db", http.StatusNotFound, "no supervisor elsewhere"},
		{"?path=root/api/nobody", http.StatusNotFound, "has no child nobody"},
	} {
		status, _, doc := call(t, "GET", srv.URL+"/api/child"+c.query, "", "")
		if msg, _ := doc["error"].(string); status != c.status || !strings.Contains(msg, c.msg) {
			t.Errorf("/api/child%s: %d %v; want %d %q", c.query, status, doc, c.status, c.msg)
		}
	}
	if status, _, _ := call(t, "POST", srv.URL+"/api/child?path=root/db", "", ""); status != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", status)
	}
}

// TestChildDetailPanic: a child whose last failure was a panic shows where
// it panicked and the stack, which snapshots leave out.
func TestChildDetailPanic(t *testing.T) {
	root := supervisor.New("root", supervisor.OneForOne, supervisor.Permanent, quiet)
	boom := make(chan struct{}, 1)
	boom <- struct{}{}
	must(t, root.Child("parser").SpawnFunc(func() supervisor.Child {
		return supervisor.ChildFunc(func(ctx context.Context) error {
			select {
			case <-boom: // the first incarnation panics
				var m map[string]int
				m["line"]++ // assignment to entry in nil map
			case <-ctx.Done():
			}
			return nil
		})
	}))
	restarted := waitEvent(t, root, isKind(supervisor.EventChildRestarted, "parser"))
	must(t, root.Start(context.Background()))
	t.Cleanup(func() { _ = root.Stop() })
	restarted()
	_, srv := newObserver(t, root)

	res, err := http.Get(srv.URL + "/api/child?path=root/parser")
	must(t, err)
	defer res.Body.Close()
	var d ChildDetail
	must(t, json.NewDecoder(res.Body).Decode(&d))
	if d.Panic == nil {
		t.Fatalf("no panic in %+v", d)
	}
	if !strings.Contains(d.Panic.Value, "assignment to entry in nil map") ||
		!strings.Contains(d.Panic.At, "TestChildDetailPanic") || !strings.Contains(d.Panic.At, "http_test.go:") ||
		!strings.Contains(d.Panic.Stack, "http_test.go:") {
		t.Errorf("panic detail: %+v", d.Panic)
	}
	if s := TakeSnapshot(root).Root.Children[0]; s.LastError != d.Panic.Value {
		t.Errorf("the snapshot says %q, the detail %q", s.LastError, d.Panic.Value)
	}
}
