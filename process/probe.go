package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"time"
)

// A Probe checks whether a process does its job: as readiness (WithReady)
// or as a health check (WithHealth). Check returns nil when it passes and
// an error wrapping ErrProbe that says what it saw otherwise; it returns
// when ctx is done at the latest.
type Probe interface {
	Check(ctx context.Context) error
	String() string
}

// checkProbe rejects a nil probe and one built from bad input.
func checkProbe(p Probe) error {
	if p == nil {
		return errors.New("nil probe")
	}
	if v, ok := p.(interface{ validate() error }); ok {
		return v.validate()
	}
	return nil
}

// HTTPProbe passes when a GET of url answers with status; status 0 accepts
// any 2xx. Connections are not kept between checks.
func HTTPProbe(url string, status int) Probe { return &httpProbe{url: url, status: status} }

type httpProbe struct {
	url    string
	status int
}

var probeClient = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
	// Redirects are answers: a probe for 302 must see the 302.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func (p *httpProbe) validate() error {
	u, err := url.Parse(p.url)
	if err != nil {
		return fmt.Errorf("http probe: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("http probe: url %q: need http:// or https:// and a host", p.url)
	}
	if p.status != 0 && (p.status < 100 || p.status > 599) {
		return fmt.Errorf("http probe: status %d out of 100..599", p.status)
	}
	return nil
}

func (p *httpProbe) Check(ctx context.Context) error {
	if err := p.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrProbe, p, err)
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrProbe, p, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if p.status == 0 && resp.StatusCode/100 == 2 || resp.StatusCode == p.status {
		return nil
	}
	return fmt.Errorf("%w: %s: status %d", ErrProbe, p, resp.StatusCode)
}

func (p *httpProbe) String() string {
	if p.status == 0 {
		return "http " + p.url
	}
	return fmt.Sprintf("http %s %d", p.url, p.status)
}

// TCPProbe passes when a TCP connection to addr ("127.0.0.1:8080") opens.
func TCPProbe(addr string) Probe { return &tcpProbe{addr: addr} }

type tcpProbe struct{ addr string }

func (p *tcpProbe) validate() error {
	if _, _, err := net.SplitHostPort(p.addr); err != nil {
		return fmt.Errorf("tcp probe: %w", err)
	}
	return nil
}

func (p *tcpProbe) Check(ctx context.Context) error {
	if err := p.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrProbe, p, err)
	}
	return c.Close()
}

func (p *tcpProbe) String() string { return "tcp " + p.addr }

// ExecProbe passes when the program argv[0], run with the arguments that
// follow, exits with code 0. It runs in a process group of its own, killed
// whole when ctx ends.
func ExecProbe(argv ...string) Probe { return &execProbe{argv: append([]string(nil), argv...)} }

type execProbe struct{ argv []string }

func (p *execProbe) validate() error {
	if len(p.argv) == 0 || p.argv[0] == "" {
		return errors.New("exec probe: empty argv")
	}
	return nil
}

// probeOutput bounds what an exec probe's failure quotes of its output.
const probeOutput = 512

func (p *execProbe) Check(ctx context.Context) error {
	if err := p.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	cmd := exec.CommandContext(ctx, p.argv[0], p.argv[1:]...)
	probeAttr(cmd)
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err == nil {
		return nil
	}
	msg := strings.TrimSpace(out.String())
	if len(msg) > probeOutput {
		msg = msg[:probeOutput] + "..."
	}
	if msg != "" {
		return fmt.Errorf("%w: %s: %w: %s", ErrProbe, p, err, msg)
	}
	return fmt.Errorf("%w: %s: %w", ErrProbe, p, err)
}

func (p *execProbe) String() string { return "exec " + strings.Join(p.argv, " ") }
