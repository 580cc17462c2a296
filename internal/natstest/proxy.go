package natstest

import (
	"net"
	"sync"
	"testing"
)

// A Proxy forwards TCP connections from its own loopback address to a target
// address, and can stop forwarding without closing anything: the silent
// partition that only missing heartbeats reveal.
//
// While frozen, a Proxy still accepts connections and reads what fits in one
// buffer per direction, but writes nothing onward and propagates no close;
// the peers' kernels then hold the rest, and writers eventually block, as
// over a dead link. [Proxy.Heal] releases everything held, in order,
// including closes that happened meanwhile.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	frozen bool
	thawed chan struct{} // closed when not frozen; replaced on Freeze
	closed chan struct{} // closed by Close
	conns  map[net.Conn]struct{}

	wg sync.WaitGroup
}

// NewProxy starts a proxy on a random loopback port that forwards to target
// (host:port), closed when the test ends. It fails the test if it cannot
// listen.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := newProxy(target)
	if err != nil {
		t.Fatalf("natstest: proxy to %s: %v", target, err)
	}
	t.Cleanup(p.Close)
	return p
}

func newProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	thawed := make(chan struct{})
	close(thawed)
	p := &Proxy{
		ln:     ln,
		target: target,
		thawed: thawed,
		closed: make(chan struct{}),
		conns:  make(map[net.Conn]struct{}),
	}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's own address (127.0.0.1:port), for use in place of the
// target's.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Freeze stops forwarding in both directions on every connection, present
// and future, until [Proxy.Heal]. Nothing is closed or dropped. Freezing a
// frozen proxy does nothing.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen {
		return
	}
	p.frozen = true
	p.thawed = make(chan struct{})
}

// Heal resumes forwarding: bytes and closes held during the freeze go
// through in the order they arrived. Healing a proxy that is not frozen does
// nothing.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.frozen {
		return
	}
	p.frozen = false
	close(p.thawed)
}

// Frozen reports whether the proxy is frozen.
func (p *Proxy) Frozen() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frozen
}

// Close stops the listener, closes every connection on both sides and waits
// for the proxy's goroutines to end. It is idempotent and safe while frozen.
func (p *Proxy) Close() {
	p.mu.Lock()
	select {
	case <-p.closed:
		p.mu.Unlock()
		p.wg.Wait()
		return
	default:
	}
	close(p.closed)
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// gate blocks while the proxy is frozen. It reports false once the proxy is
// closed.
func (p *Proxy) gate() bool {
	p.mu.Lock()
	thawed := p.thawed
	p.mu.Unlock()
	select {
	case <-thawed:
		select {
		case <-p.closed:
			return false
		default:
			return true
		}
	case <-p.closed:
		return false
	}
}

// track registers a connection so Close can close it; it reports false (and
// closes c) if the proxy is already closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.closed:
		c.Close()
		return false
	default:
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return // listener closed
		}
		if !p.track(down) {
			return
		}
		p.wg.Add(1)
		go p.serve(down)
	}
}

// serve dials the target for one accepted connection and pipes both ways.
// While frozen, the dial itself waits: a new connection over a dead link
// gets no further than the accept.
func (p *Proxy) serve(down net.Conn) {
	defer p.wg.Done()
	defer p.untrack(down)
	if !p.gate() {
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return // target gone: the client sees its connection close
	}
	if !p.track(up) {
		return
	}
	defer p.untrack(up)
	done := make(chan struct{}, 2)
	p.wg.Add(2)
	go p.pipe(up, down, done)
	go p.pipe(down, up, done)
	// When one direction ends (EOF, error or Close), end the other: the
	// close was held by the gate while frozen, so passing it on is in order.
	<-done
	up.Close()
	down.Close()
	<-done
}

// pipe copies src to dst, passing each chunk through the gate.
func (p *Proxy) pipe(dst, src net.Conn, done chan<- struct{}) {
	defer p.wg.Done()
	defer func() { done <- struct{}{} }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.gate() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			// A close or reset is held like data while frozen: over a
			// dead link the other side would not hear of it either.
			p.gate()
			return
		}
	}
}
