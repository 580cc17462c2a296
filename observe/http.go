package observe

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed web
var webFiles embed.FS

// keepAlive is how often an idle event stream gets a comment line, so that
// proxies and browsers do not take it for dead.
const keepAlive = 15 * time.Second

// minFlushGap is the least time between two writes to an event stream.
const minFlushGap = 10 * time.Millisecond

// writeTimeout bounds one write to an event stream: a client that stops
// reading is dropped rather than holding its goroutine forever.
const writeTimeout = 10 * time.Second

func (o *Observer) routes() *http.ServeMux {
	static, err := fs.Sub(webFiles, "web")
	if err != nil {
		// The embedded tree is fixed at build time; fs.Sub only fails on
		// an invalid name, which a test would catch.
		panic(err)
	}
	files := http.FileServerFS(static)
	mux := http.NewServeMux()
	// Methods are checked by hand rather than in the patterns so that a
	// wrong method gets the same JSON error body as every other mistake.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
			return
		}
		if !allow(w, r, http.MethodGet) {
			return
		}
		files.ServeHTTP(w, r)
	})
	mux.HandleFunc("/static/", func(w http.ResponseWriter, r *http.Request) {
		if !allow(w, r, http.MethodGet) {
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if _, err := fs.Stat(static, name); err != nil || name == "" || name == "index.html" {
			writeError(w, http.StatusNotFound, "no such file: "+r.URL.Path)
			return
		}
		http.StripPrefix("/static", files).ServeHTTP(w, r)
	})
	mux.HandleFunc("/api/tree", o.serveTree)
	mux.HandleFunc("/api/child", o.serveChild)
	mux.HandleFunc("/api/events", o.serveEvents)
	mux.HandleFunc("/api/config", o.serveConfig)
	mux.HandleFunc("/api/children/{action}", o.serveFault)
	metrics := promhttp.HandlerFor(o.gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		if allow(w, r, http.MethodGet) {
			metrics.ServeHTTP(w, r)
		}
	})
	return mux
}

// errorBody is the JSON body of every 4xx and 5xx answer.
type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may have gone; nothing to do about it
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

// allow answers 405 unless r uses method (HEAD counts as GET).
func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method || (method == http.MethodGet && r.Method == http.MethodHead) {
		return true
	}
	if method == http.MethodGet {
		w.Header().Set("Allow", "GET, HEAD")
	} else {
		w.Header().Set("Allow", method)
	}
	writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed; use %s", r.Method, method))
	return false
}

// parseQuery parses the query string strictly: a malformed one is a 400,
// not silently ignored as URL.Query would.
func parseQuery(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, "query: "+err.Error())
		return nil, false
	}
	return q, true
}

// serveTree answers GET /api/tree[?filter=NAME][&max_children=N].
func (o *Observer) serveTree(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	q, ok := parseQuery(w, r)
	if !ok {
		return
	}
	opts := SnapshotOptions{Filter: q.Get("filter")}
	if v := q.Get("max_children"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("max_children %q: want a whole number >= 0", v))
			return
		}
		opts.MaxChildren = n
	}
	for k := range q {
		if k != "filter" && k != "max_children" {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown parameter %q; known: filter, max_children", k))
			return
		}
	}
	writeJSON(w, http.StatusOK, o.snapshot(opts))
}

// Config is the answer of GET /api/config: what the live page may offer.
type Config struct {
	FaultInjection bool `json:"fault_injection"`
	EventBuffer    int  `json:"event_buffer"`
}

func (o *Observer) serveConfig(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	writeJSON(w, http.StatusOK, Config{FaultInjection: o.cfg.faults, EventBuffer: o.cfg.eventBuffer})
}

// serveEvents streams events as server-sent events. A stream starts after
// the event named by the Last-Event-ID header (sent by browsers when they
// reconnect) or, failing that, the last_event_id query parameter (0 replays
// the whole buffer); without either it starts with the next event.
func (o *Observer) serveEvents(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	q, ok := parseQuery(w, r)
	if !ok {
		return
	}
	for k := range q {
		if k != "last_event_id" {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown parameter %q; known: last_event_id", k))
			return
		}
	}
	last := o.hub.lastID()
	after := last
	raw, from := r.Header.Get("Last-Event-ID"), "Last-Event-ID"
	if raw == "" {
		raw, from = q.Get("last_event_id"), "last_event_id"
	}
	if raw != "" {
		id, err := strconv.ParseUint(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("%s %q: want an event id (a whole number)", from, raw))
			return
		}
		after = id
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return // the headers say it all; a stream without a body never ends
	}

	var b bytes.Buffer
	// The first comment tells a client the stream is live (tests wait for
	// it); retry asks browsers to reconnect quickly.
	b.WriteString("retry: 1000\n: connected\n\n")
	if after > last {
		// An id from the future comes from an earlier run of the server:
		// the client's picture is stale, and it should fetch a fresh one.
		fmt.Fprintf(&b, "event: reset\ndata: {\"last_id\":%d}\n\n", last)
		after = last
	}
	if !o.flush(rc, w, &b) {
		return
	}
	ticker := time.NewTicker(keepAlive)
	defer ticker.Stop()
	linger := time.NewTimer(0)
	defer linger.Stop()
	var (
		buf       []entry
		num       []byte
		lastFlush time.Time
	)
	for {
		cur := o.hub.since(after, buf[:0])
		buf = cur.entries
		if cur.missed > 0 {
			fmt.Fprintf(&b, "event: gap\ndata: {\"missed\":%d}\n\n", cur.missed)
		}
		for _, e := range cur.entries {
			b.WriteString("id: ")
			num = strconv.AppendUint(num[:0], e.id, 10)
			b.Write(num)
			b.WriteString("\ndata: ")
			b.Write(e.data)
			b.WriteString("\n\n")
			after = e.id
		}
		if b.Len() > 0 {
			if !o.flush(rc, w, &b) {
				return
			}
			lastFlush = time.Now()
		}
		if cur.closed {
			return
		}
		select {
		case <-cur.wake:
			// A lone event goes out at once; a burst is gathered into at
			// most one write per minFlushGap, so that a busy tree costs a
			// stream a hundred wake-ups a second, not one per event.
			if wait := minFlushGap - time.Since(lastFlush); wait > 0 {
				linger.Reset(wait)
				select {
				case <-linger.C:
				case <-r.Context().Done():
					return
				}
			}
		case <-ticker.C:
			b.WriteString(": keep-alive\n\n")
		case <-r.Context().Done():
			return
		}
	}
}

// flush writes what b holds and empties it; false means the client is gone.
func (o *Observer) flush(rc *http.ResponseController, w http.ResponseWriter, b *bytes.Buffer) bool {
	// Not every ResponseWriter supports deadlines (httptest's recorder
	// does not); the stream still works without one.
	_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := w.Write(b.Bytes())
	b.Reset()
	if err == nil {
		err = rc.Flush()
	}
	return err == nil || errors.Is(err, http.ErrNotSupported)
}
