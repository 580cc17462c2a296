package main

import (
	"strings"
	"testing"

	"github.com/airssys/rt/observe"
)

func TestDisplayWidth(t *testing.T) {
	for s, want := range map[string]int{
		"":            0,
		"db-pool":     7,
		"数据库":         6, // CJK ideographs
		"キャッシュ":       10,
		"한국":          4, // Hangul syllables
		"ｆｕｌｌ":        8, // fullwidth forms
		"e\u0301cole": 5, // a combining accent takes no column
		"🚀":           2,
		"├── ":        4, // box drawing is narrow
		"↻3":          2,
		"…":           1,
		"ünïcödé":     7,
	} {
		if got := displayWidth(s); got != want {
			t.Errorf("displayWidth(%q) = %d, want %d", s, got, want)
		}
	}
	for _, tc := range []struct {
		s    string
		w    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 4, "abc…"},
		{"数据库连接", 6, "数据…"}, // 2+2+1: a wide rune that would overflow is left out
		{"数据库连接", 5, "数据…"},
		{"数据库连接", 10, "数据库连接"},
	} {
		got := truncateWidth(tc.s, tc.w)
		if got != tc.want || displayWidth(got) > tc.w {
			t.Errorf("truncateWidth(%q, %d) = %q, want %q", tc.s, tc.w, got, tc.want)
		}
	}
}

// Found by a first user: with CJK names the columns of `airssys tree` no
// longer lined up, because widths were counted in runes while a terminal
// gives such characters two columns.
func TestRegressionTreeColumnsWithWideNames(t *testing.T) {
	child := func(name string) observe.ChildSnapshot {
		return observe.ChildSnapshot{Name: name, Kind: observe.KindWorker, State: "running", UptimeSeconds: 3}
	}
	sub := observe.SupervisorSnapshot{Name: "数据层", Strategy: "RestForOne", Running: true, MaxRestarts: 3, PeriodSeconds: 5,
		Children: []observe.ChildSnapshot{child("数据库连接池"), child("キャッシュ"), child("repository")}}
	subChild := child("数据层")
	subChild.Kind, subChild.Supervisor = observe.KindSupervisor, &sub
	snap := observe.Snapshot{Root: observe.SupervisorSnapshot{Name: "服务", Strategy: "OneForAll", Running: true,
		MaxRestarts: 3, PeriodSeconds: 5, Children: []observe.ChildSnapshot{child("api"), child("한국어-핸들러"), subChild}}}
	var b strings.Builder
	printer{}.snapshot(&b, snap)
	out := b.String()
	t.Log("\n" + out)
	rows := strings.Split(strings.TrimRight(out, "\n"), "\n")
	rows = rows[:len(rows)-2] // the blank line and the summary
	if len(rows) != 7 {
		t.Fatalf("%d rows:\n%s", len(rows), out)
	}
	col := -1
	for _, row := range rows {
		i := strings.Index(row, "running")
		if i < 0 {
			t.Fatalf("no state in %q", row)
		}
		if col == -1 {
			col = displayWidth(row[:i])
		}
		if displayWidth(row[:i]) != col {
			t.Fatalf("the state column moved (column %d, not %d) in %q:\n%s", displayWidth(row[:i]), col, row, out)
		}
	}
}

// Found by a first user: the summary said "1 supervisors" and "1 processes".
func TestRegressionTreeSummarySingular(t *testing.T) {
	var b strings.Builder
	snap := observe.Snapshot{Totals: observe.Totals{Supervisors: 1, Workers: 1, Actors: 1, Processes: 1, Running: 1, Restarts: 1}}
	snap.Root = observe.SupervisorSnapshot{Name: "web", Path: "web", Running: true}
	printer{}.snapshot(&b, snap)
	if want := "1 supervisor, 1 worker, 1 actor · 1 running · 1 restart · 1 process\n"; !strings.Contains(b.String(), want) {
		t.Errorf("summary is not %q:\n%s", want, b.String())
	}
	b.Reset()
	snap.Totals = observe.Totals{Supervisors: 2, Workers: 0, Actors: 3, Processes: 2, Running: 2, Restarts: 5}
	printer{}.snapshot(&b, snap)
	if want := "2 supervisors, 0 workers, 3 actors · 2 running · 5 restarts · 2 processes\n"; !strings.Contains(b.String(), want) {
		t.Errorf("summary is not %q:\n%s", want, b.String())
	}
}
