package observe

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/airssys/rt/supervisor"
)

// ErrInjectedCrash is the error an actor crashed through POST
// /api/children/crash fails with.
var ErrInjectedCrash = errors.New("crash injected by observer")

// FaultRequest is the JSON body of the fault-injection endpoints: which
// child of which supervisor (by path, "root/web") to act on.
type FaultRequest struct {
	Supervisor string `json:"supervisor"`
	Child      string `json:"child"`
}

// FaultResult is the answer of a fault-injection endpoint that succeeded.
type FaultResult struct {
	Action     string `json:"action"`
	Supervisor string `json:"supervisor"`
	Child      string `json:"child"`
}

// maxFaultBody bounds the request body: a FaultRequest is tiny.
const maxFaultBody = 64 << 10

// serveFault answers POST /api/children/{terminate,restart,crash}.
func (o *Observer) serveFault(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodPost) {
		return
	}
	if !o.cfg.faults {
		writeError(w, http.StatusForbidden, "fault injection is disabled (read-only observer)")
		return
	}
	if !o.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="airssys"`)
		writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
		return
	}
	action := r.PathValue("action")
	if action != "terminate" && action != "restart" && action != "crash" {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown action %q; known: terminate, restart, crash", action))
		return
	}
	var req FaultRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxFaultBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body: want {\"supervisor\": PATH, \"child\": NAME}: "+err.Error())
		return
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "body: want one JSON object")
		return
	}
	if req.Supervisor == "" || req.Child == "" {
		writeError(w, http.StatusBadRequest, "body: supervisor and child are required")
		return
	}
	sup := findSupervisor(o.root, req.Supervisor)
	if sup == nil {
		writeError(w, http.StatusNotFound, "no supervisor "+req.Supervisor)
		return
	}
	status, err := o.inject(sup, action, req.Child)
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	writeJSON(w, status, FaultResult{Action: action, Supervisor: req.Supervisor, Child: req.Child})
}

// authorized checks the bearer token in constant time.
func (o *Observer) authorized(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return false
	}
	sum := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(sum[:], o.cfg.tokenSum[:]) == 1
}

// inject performs action on child and says which status to answer.
func (o *Observer) inject(sup *supervisor.Supervisor, action, child string) (int, error) {
	var err error
	switch action {
	case "terminate":
		err = sup.TerminateChild(child)
	case "restart":
		err = sup.RestartChild(child)
	case "crash":
		return crash(sup, child)
	}
	switch {
	case err == nil:
		return http.StatusOK, nil
	case errors.Is(err, supervisor.ErrNotFound):
		return http.StatusNotFound, err
	case errors.Is(err, supervisor.ErrRunning), errors.Is(err, supervisor.ErrRestarting),
		errors.Is(err, supervisor.ErrStopped):
		return http.StatusConflict, err
	default:
		// RestartChild returns the child's own Start error: the request
		// was fine, the child was not.
		return http.StatusInternalServerError, err
	}
}

func crash(sup *supervisor.Supervisor, name string) (int, error) {
	for _, ci := range sup.WhichChildren() {
		if ci.Name != name {
			continue
		}
		if ci.Instance == nil || ci.State != supervisor.ChildRunning {
			return http.StatusConflict, fmt.Errorf("child %s is %s, not running", name, ci.State)
		}
		c, ok := ci.Instance.(Crasher)
		if !ok {
			return http.StatusUnprocessableEntity, fmt.Errorf("child %s cannot be crashed: only actors can", name)
		}
		c.Crash(ErrInjectedCrash)
		return http.StatusAccepted, nil
	}
	return http.StatusNotFound, fmt.Errorf("supervisor %s: %w: %s", sup.Path(), supervisor.ErrNotFound, name)
}

// findSupervisor finds the supervisor at path, descending only into
// subtrees whose path leads there.
func findSupervisor(root *supervisor.Supervisor, path string) *supervisor.Supervisor {
	s := root
	for {
		p := s.Path()
		if p == path {
			return s
		}
		if !strings.HasPrefix(path, p+"/") {
			return nil
		}
		var next *supervisor.Supervisor
		for _, ci := range s.WhichChildren() {
			if ci.Supervisor == nil {
				continue
			}
			cp := ci.Supervisor.Path()
			if cp == path || strings.HasPrefix(path, cp+"/") {
				next = ci.Supervisor
				break
			}
		}
		if next == nil {
			return nil
		}
		s = next
	}
}

// actionSet is a set of fault-injection actions, as bits.
type actionSet uint8

const (
	actTerminate actionSet = 1 << iota
	actRestart
	actCrash
	actionSets = 1 << iota // how many distinct sets there are
)

// allowed says which actions the endpoints accept for a child in its
// present state: what the snapshot offers the live page. TerminateChild
// would accept a stopped child too, but doing nothing is no action to offer;
// RestartChild refuses a running or restarting child (409); crash needs a
// running Crasher (409, 422).
func allowed(ci *supervisor.ChildInfo) actionSet {
	switch ci.State {
	case supervisor.ChildRunning:
		if _, ok := ci.Instance.(Crasher); ok {
			return actTerminate | actCrash
		}
		return actTerminate
	case supervisor.ChildRestarting:
		return actTerminate // cancels the pending restart
	case supervisor.ChildStopped:
		return actRestart
	}
	return 0 // starting or stopping: a moment later it will be one of the above
}

// names lists the actions of s in the order the page shows them.
func (s actionSet) names() []string {
	var out []string
	for _, a := range []struct {
		bit  actionSet
		name string
	}{{actTerminate, "terminate"}, {actRestart, "restart"}, {actCrash, "crash"}} {
		if s&a.bit != 0 {
			out = append(out, a.name)
		}
	}
	return out
}
