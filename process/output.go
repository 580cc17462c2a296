package process

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// TailLines is how many lines of output a child keeps for observers,
// across its incarnations.
const TailLines = 200

// maxLine bounds one line of output; a longer one is split.
const maxLine = 16 << 10

// Line is one line a process wrote.
type Line struct {
	Time   time.Time
	Stream string // "stdout" or "stderr"
	Pid    int
	Text   string
}

// String renders the line as a live view shows it.
func (l Line) String() string {
	return l.Time.Format("15:04:05.000") + " " + l.Stream + " " + l.Text
}

// tail keeps the last lines of a child, shared by its incarnations so that
// the output of a crashed one stays readable after the restart.
type tail struct {
	mu    sync.Mutex
	lines []Line // ring of cap lines
	next  int
}

func newTail(n int) *tail { return &tail{lines: make([]Line, 0, n)} }

func (t *tail) add(l Line) {
	t.mu.Lock()
	if len(t.lines) < cap(t.lines) {
		t.lines = append(t.lines, l)
	} else {
		t.lines[t.next] = l
		t.next = (t.next + 1) % len(t.lines)
	}
	t.mu.Unlock()
}

// Lines returns the lines kept, oldest first.
func (t *tail) Lines() []Line {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Line, 0, len(t.lines))
	out = append(out, t.lines[t.next:]...)
	return append(out, t.lines[:t.next]...)
}

// Tail is Lines rendered as text, for observers that know nothing of this
// package: they find it by duck typing on supervisor.ChildInfo.Observable
// (the spec's, there between incarnations too) or on a running Process.
func (t *tail) Tail() []string {
	lines := t.Lines()
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.String()
	}
	return out
}

// Output returns the last TailLines lines the child wrote, oldest first,
// from this incarnation and those before it.
func (p *Process) Output() []Line { return p.sh.tail.Lines() }

// Tail is Output rendered as text, for observers that know nothing of this
// package.
func (p *Process) Tail() []string { return p.sh.tail.Tail() }

// pump reads one stream of the process line by line until EOF (or until
// the read end is closed), logging and keeping every line.
func (p *Process) pump(r io.Reader, stream string, wg *sync.WaitGroup) {
	defer wg.Done()
	br := bufio.NewReaderSize(r, maxLine)
	cfg := &p.sh.cfg
	for {
		b, err := br.ReadSlice('\n')
		if len(b) > 0 {
			if b[len(b)-1] == '\n' {
				b = b[:len(b)-1]
			}
			if len(b) > 0 && b[len(b)-1] == '\r' {
				b = b[:len(b)-1]
			}
			l := Line{Time: time.Now(), Stream: stream, Pid: p.pid, Text: string(b)}
			p.sh.tail.add(l)
			cfg.logger.LogAttrs(context.Background(), slog.LevelInfo, l.Text,
				slog.String("child", cfg.path), slog.String("stream", stream), slog.Int("pid", p.pid))
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}
