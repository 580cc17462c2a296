package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain is also the node processes' main: run starts copies of the
// running executable, which under go test is this test binary.
func TestMain(m *testing.M) {
	if os.Getenv(envCoordinator) != "" {
		// The coordinator as a process of its own, for TestNoOrphans.
		if err := run(context.Background(), os.Stdout); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	if name := os.Getenv(envNode); name != "" {
		if err := runNode(name, os.Getenv(envURL)); err != nil {
			os.Stderr.WriteString("node " + name + ": " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// envCoordinator makes the test binary run the coordinator (TestNoOrphans).
const envCoordinator = "AIRSSYS_CLUSTER_TEST_COORDINATOR"

func TestRun(t *testing.T) {
	// The bar is 20 s for `go run`; the deadline only ends a run
	// that is stuck.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var buf bytes.Buffer
	start := time.Now()
	err := run(ctx, &buf)
	took := time.Since(start)
	out := buf.String()
	t.Logf("run took %v; output:\n%s", took.Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if took > 20*time.Second {
		t.Errorf("run took %v, over the 20 s the example promises", took)
	}

	for _, want := range []string{
		"All three joined",
		"Placed the counters with Any(): counter-1 on ",
		"Act 1. counter-",
		`failed: remote: child "counter-`,
		`crashed: on node "n`,
		"told to crash",
		"counters        restarted counter-",
		"is killed with SIGKILL",
		`": node down`,
		"after NodeDown",
		"Timeline (ms since start):",
		"; 0 handled twice.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}

	// Recovery from the crash took milliseconds, and the node's death was
	// detected within the heartbeat window (1 s) plus scheduling slack.
	if m := regexp.MustCompile(`running again ([0-9.]+) ms after the order`).FindStringSubmatch(out); m == nil {
		t.Error("no crash-to-restart time")
	} else if v, _ := strconv.ParseFloat(m[1], 64); v > 1000 {
		t.Errorf("crash to restart took %v ms", v)
	}
	if m := regexp.MustCompile(`down ([0-9.]+) ms after the kill`).FindStringSubmatch(out); m == nil {
		t.Error("no kill-to-NodeDown time")
	} else if v, _ := strconv.ParseFloat(m[1], 64); v < 500 || v > 3000 {
		t.Errorf("kill to NodeDown took %v ms; the window is 1 s (250 ms x 4)", v)
	}

	// Every node process is gone once run returns.
	for _, m := range regexp.MustCompile(`pid (\d+)`).FindAllStringSubmatch(out, -1) {
		pid, _ := strconv.Atoi(m[1])
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("node process %d still exists after run (kill 0: %v)", pid, err)
		}
	}
}

// TestNoOrphans kills the coordinator with SIGKILL, which runs no deferred
// cleanup: its node processes must die all the same (Pdeathsig on Linux,
// and the end of their stdin everywhere).
func TestNoOrphans(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envCoordinator+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() { _ = cmd.Process.Kill(); <-exited }()

	// Wait for the line that names the node processes.
	var pids []int
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if line := lines.Text(); strings.HasPrefix(line, "Started node processes") {
			for _, m := range regexp.MustCompile(`pid (\d+)`).FindAllStringSubmatch(line, -1) {
				pid, _ := strconv.Atoi(m[1])
				pids = append(pids, pid)
			}
			break
		}
	}
	if len(pids) != 3 {
		t.Fatalf("node pids %v, want 3 (scan: %v)", pids, lines.Err())
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				for _, p := range pids { // leave nothing behind, failing or not
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
				t.Fatalf("node process %d outlived its killed coordinator", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// alive reports whether pid is a process that has not ended: a zombie
// (ended, not yet reaped by whoever adopted it) counts as ended.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	if runtime.GOOS != "linux" {
		return true // no /proc to tell a zombie: kill 0 said it exists
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false // gone since kill 0
	}
	// The state follows the command name, which is in parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}
