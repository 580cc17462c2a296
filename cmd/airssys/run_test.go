//go:build unix

package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// airssysRun is the airssys binary running a tree, its stderr collected.
type airssysRun struct {
	t     *testing.T
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	wake  chan struct{}
	done  chan struct{} // stderr reached EOF
}

func startRun(t *testing.T, bin string, args ...string) *airssysRun {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"run"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &airssysRun{t: t, cmd: cmd, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(r.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			r.mu.Lock()
			r.lines = append(r.lines, sc.Text())
			r.mu.Unlock()
			select {
			case r.wake <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-r.done
			_ = cmd.Wait()
		}
	})
	return r
}

// await waits for the n-th line (from 1) that matches re and returns its
// submatches.
func (r *airssysRun) await(re string, n int) []string {
	r.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(30 * time.Second)
	closed := false
	for {
		r.mu.Lock()
		seen := 0
		for _, l := range r.lines {
			if m := rx.FindStringSubmatch(l); m != nil {
				if seen++; seen == n {
					r.mu.Unlock()
					return m
				}
			}
		}
		r.mu.Unlock()
		if closed {
			r.t.Fatalf("airssys ended without a line matching %q (#%d):\n%s", re, n, r.output())
		}
		select {
		case <-r.wake:
		case <-r.done:
			closed = true // look once more: the last lines are in
		case <-deadline:
			r.t.Fatalf("no line matching %q (#%d) in:\n%s", re, n, r.output())
		}
	}
}

func (r *airssysRun) count(re string) int {
	rx := regexp.MustCompile(re)
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.lines {
		if rx.MatchString(l) {
			n++
		}
	}
	return n
}

func (r *airssysRun) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

// wait waits for airssys to exit and returns its exit status.
func (r *airssysRun) wait() int {
	r.t.Helper()
	<-r.done
	err := r.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	} else if err != nil {
		r.t.Fatal(err)
	}
	return 0
}

func (r *airssysRun) signal(sig syscall.Signal) {
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatal(err)
	}
}

// pidOf waits for the n-th "pid N" line of child path and returns N.
func (r *airssysRun) pidOf(path string, n int) int {
	r.t.Helper()
	m := r.await(`msg="pid (\d+)" child=`+regexp.QuoteMeta(path)+` `, n)
	pid, _ := strconv.Atoi(m[1])
	return pid
}

func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && len(b) > i+2 && (b[i+2] == 'Z' || b[i+2] == 'X')
}

func awaitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs", pid)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// child is a YAML entry running a shell that prints its pid, then sleeps
// (exec: the pid stays the sleeper's).
func child(name string, extra ...string) string {
	s := fmt.Sprintf("  - name: %s\n    command: [sh, -c, 'echo \"pid $$\"; exec sleep 1000']\n    shutdown: 2s\n", name)
	for _, e := range extra {
		s += "    " + e + "\n"
	}
	return s
}

// indent moves YAML lines four columns right.
func indent(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "    " + l
		}
	}
	return strings.Join(lines, "")
}

// stopper is a YAML entry whose shell says goodbye on SIGTERM.
func stopper(name string) string {
	return fmt.Sprintf("  - name: %s\n    command: [sh, -c, 'trap \"echo stopping %s; exit 0\" TERM; echo \"pid $$\"; while :; do sleep 0.05; done']\n", name, name)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRunEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "airssys")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	t.Run("KilledChildIsRestartedAndObserved", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "tree.yaml")
		writeFile(t, file, "name: web\nchildren:\n"+child("a")+child("b"))
		r := startRun(t, bin, "--observe", "127.0.0.1:0", file)
		a := r.pidOf("web/a", 1)
		b := r.pidOf("web/b", 1)
		if err := syscall.Kill(a, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		r.await(`msg=child_failed supervisor=web child=a .*killed by signal SIGKILL`, 1)
		r.await(`msg=child_restarted supervisor=web child=a`, 1)
		if a2 := r.pidOf("web/a", 2); a2 == a || gone(a2) {
			t.Fatalf("a: pid %d after %d", a2, a)
		}
		if r.count(`msg="pid \d+" child=web/b `) != 1 || gone(b) {
			t.Fatal("b was restarted or stopped by a's crash (one_for_one)")
		}
		url := r.await(`msg="live view" url=(\S+)`, 1)[1]
		for _, path := range []string{"/metrics", "/api/tree", "/api/child?path=web/b"} {
			resp, err := http.Get(url + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := "web"
			if strings.HasPrefix(path, "/api/child") {
				want = `"output":["` // the child's last lines
				if !strings.Contains(string(body), fmt.Sprintf("stdout pid %d", b)) {
					t.Fatalf("GET %s: no output line \"pid %d\": %.300s", path, b, body)
				}
			}
			if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
				t.Fatalf("GET %s: %d %.200s", path, resp.StatusCode, body)
			}
		}
		r.signal(syscall.SIGTERM)
		if code := r.wait(); code != 0 {
			t.Fatalf("exit %d after SIGTERM", code)
		}
	})

	t.Run("SIGTERMStopsInReverseOrder", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "tree.yaml")
		writeFile(t, file, "name: web\nchildren:\n"+stopper("a")+
			"  - name: inner\n    strategy: one_for_all\n    children:\n"+
			indent(stopper("b")+stopper("c"))+stopper("d"))
		r := startRun(t, bin, file)
		var pids []int
		for _, p := range []string{"web/a", "web/inner/b", "web/inner/c", "web/d"} {
			pids = append(pids, r.pidOf(p, 1))
		}
		r.await(`msg="tree started"`, 1)
		r.signal(syscall.SIGTERM)
		if code := r.wait(); code != 0 {
			t.Fatalf("exit %d after SIGTERM:\n%s", code, r.output())
		}
		// Each child logs its goodbye before it is reaped, and the next
		// one is signalled only after that: the log order is the stop order.
		var order []string
		rx := regexp.MustCompile(`msg="stopping (\w+)"`)
		for _, l := range strings.Split(r.output(), "\n") {
			if m := rx.FindStringSubmatch(l); m != nil {
				order = append(order, m[1])
			}
		}
		if got := strings.Join(order, " "); got != "d c b a" {
			t.Fatalf("stop order %q, want %q:\n%s", got, "d c b a", r.output())
		}
		for _, pid := range pids {
			awaitGone(t, pid)
		}
	})

	t.Run("StartFailureExits1", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "tree.yaml")
		writeFile(t, file, "name: web\nchildren:\n"+child("a")+
			child("never", "ready: {exec: [sh, -c, 'exit 1'], timeout: 200ms}")+child("c"))
		r := startRun(t, bin, file)
		a := r.pidOf("web/a", 1)
		if code := r.wait(); code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", code, r.output())
		}
		r.await(`starting the tree.*never.*not ready`, 1)
		if r.count(`child=web/c `) != 0 {
			t.Fatal("a child after the one that failed to start was started")
		}
		awaitGone(t, a)
	})

	t.Run("SIGHUPAddsRemovesAndKeeps", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "tree.yaml")
		inner := func(kids string) string {
			return "  - name: inner\n    strategy: one_for_all\n    children:\n" + indent(kids)
		}
		writeFile(t, file, "name: web\nchildren:\n"+child("a")+child("b")+child("c")+inner(child("x")+child("y")))
		r := startRun(t, bin, file)
		a, b, c := r.pidOf("web/a", 1), r.pidOf("web/b", 1), r.pidOf("web/c", 1)
		x, y := r.pidOf("web/inner/x", 1), r.pidOf("web/inner/y", 1)
		r.await(`msg="tree started"`, 1)
		// Root: b removed, c changed, d added, a unchanged. Inner (its own
		// settings unchanged, so reconciled in place): x removed, z added,
		// y unchanged.
		writeFile(t, file, "name: web\nchildren:\n"+child("a")+child("c", "restart: transient")+child("d")+
			inner(child("y")+child("z")))
		r.signal(syscall.SIGHUP)
		r.await(`msg="reload: applied"`, 1)
		d := r.pidOf("web/d", 1)
		c2 := r.pidOf("web/c", 2)
		z := r.pidOf("web/inner/z", 1)
		awaitGone(t, b)
		awaitGone(t, c)
		awaitGone(t, x)
		for _, p := range []int{a, d, c2, y, z} {
			if gone(p) {
				t.Fatalf("process %d is not running after the reload:\n%s", p, r.output())
			}
		}
		if r.count(`msg="pid \d+" child=web/a `) != 1 || r.count(`msg="pid \d+" child=web/inner/y `) != 1 {
			t.Fatalf("an unchanged child was restarted:\n%s", r.output())
		}
		// A file that does not validate changes nothing.
		writeFile(t, file, "name: web\nchildren:\n  - name: a\n    command: 7\n")
		r.signal(syscall.SIGHUP)
		r.await(`msg="reload: the file does not validate; nothing changed".*tree.yaml:4: children\[0\].command`, 1)
		for _, p := range []int{a, d, c2, y, z} {
			if gone(p) {
				t.Fatal("an invalid reload stopped children")
			}
		}
		r.signal(syscall.SIGINT)
		if code := r.wait(); code != 0 {
			t.Fatalf("exit %d after SIGINT", code)
		}
		for _, pid := range []int{a, d, c2, y, z} {
			awaitGone(t, pid)
		}
	})

	t.Run("MalformedFileExits2NamingTheLine", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "bad.yaml")
		writeFile(t, file, "name: web\nchildren:\n  - name: a\n    command: [sh]\n    shutdown: soon\n")
		r := startRun(t, bin, file)
		if code := r.wait(); code != 2 {
			t.Fatalf("exit %d, want 2", code)
		}
		if want := file + `:5: children[0].shutdown: want a positive duration, brutal_kill or infinity, not "soon"`; !strings.Contains(r.output(), want) {
			t.Fatalf("stderr %q does not say %q", r.output(), want)
		}
	})

	t.Run("TreeGivingUpExits1", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "tree.yaml")
		writeFile(t, file, "name: web\nintensity: {max_restarts: 1, period: 1m}\nchildren:\n"+
			"  - name: crasher\n    command: [sh, -c, 'exit 3']\n")
		r := startRun(t, bin, file)
		if code := r.wait(); code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", code, r.output())
		}
		r.await(`the tree gave up.*restart intensity exceeded`, 1)
	})

	t.Run("SecondSignalWhileStartingExitsAtOnce", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "tree.yaml")
		writeFile(t, file, "name: web\nchildren:\n"+child("slow", "ready: {exec: [sh, -c, 'exit 1'], timeout: 5m}"))
		r := startRun(t, bin, file)
		slow := r.pidOf("web/slow", 1)
		r.signal(syscall.SIGTERM)
		r.await(`signal again to exit at once`, 1)
		r.signal(syscall.SIGTERM)
		if code := r.wait(); code != 1 {
			t.Fatalf("exit %d, want 1:\n%s", code, r.output())
		}
		awaitGone(t, slow) // Pdeathsig
	})

	t.Run("DyingAirssysTakesItsChildren", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "tree.yaml")
		writeFile(t, file, "name: web\nchildren:\n"+child("a"))
		r := startRun(t, bin, file)
		a := r.pidOf("web/a", 1)
		r.signal(syscall.SIGKILL)
		r.wait()
		awaitGone(t, a)
	})
}
