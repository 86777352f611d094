package sip

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Connection-oriented transports (TCP, TLS, WebSocket) are served by sipgo. This file puts the
// guard in front of them: accepted connections from banned sources are closed at once, every
// chunk read is checked against bans and the rate limit (a violation closes the connection),
// one source may hold only so many connections, and a TLS handshake must finish in time.

const (
	maxConnsPerSource = 64
	handshakeTimeout  = 10 * time.Second
)

var errGuardClosed = errors.New("sip: connection closed by the source guard")

func addrPortOf(a net.Addr) netip.AddrPort {
	switch v := a.(type) {
	case *net.TCPAddr:
		ap := v.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	case *net.UDPAddr:
		ap := v.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	if a == nil {
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// streamFilter is sipgo's read filter for TCP, TLS and WebSocket connections.
func (s *Server) streamFilter(info sip.TransportReadProps, data []byte) ([]byte, error) {
	src := addrPortOf(info.RemoteAddr)
	if info.Transport == tpUDP {
		return data, nil // datagrams were screened by the UDP reader already
	}
	switch s.guard.admit(src) {
	case dropBanned:
		s.dropped("banned")
		return nil, errGuardClosed
	case dropRate:
		s.dropped("rate")
		return nil, errGuardClosed
	}
	return data, nil
}

// guardedListener accepts connections for sipgo, refusing banned sources and sources holding
// too many connections; with tls set it also wraps connections in TLS.
type guardedListener struct {
	net.Listener
	s   *Server
	tls *tls.Config

	mu    sync.Mutex
	conns map[netip.Addr]int
}

// Accept never fails but for a closed listener: other errors (out of descriptors, a
// connection reset before it was accepted) are retried with back-off (accept.go).
func (l *guardedListener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || !l.s.acceptRetry(err, &delay) {
				return nil, err
			}
			continue
		}
		delay = 0
		if !l.s.admitConn() {
			c.Close()
			continue
		}
		src := addrPortOf(c.RemoteAddr())
		if l.s.guard.isBanned(src) {
			l.s.dropped("banned")
			l.s.releaseConn()
			c.Close()
			continue
		}
		l.mu.Lock()
		if l.conns == nil {
			l.conns = map[netip.Addr]int{}
		}
		if l.conns[src.Addr()] >= maxConnsPerSource && !exempt(l.s.pol(), src.Addr()) {
			l.mu.Unlock()
			l.s.dropped("connections")
			l.s.releaseConn()
			c.Close()
			continue
		}
		l.conns[src.Addr()]++
		l.mu.Unlock()
		gc := &countedConn{Conn: c, release: func() {
			l.mu.Lock()
			if l.conns[src.Addr()]--; l.conns[src.Addr()] <= 0 {
				delete(l.conns, src.Addr())
			}
			l.mu.Unlock()
			l.s.releaseConn()
		}}
		if l.tls == nil {
			return &timedConn{Conn: gc, s: l.s, frame: true}, nil
		}
		return &timedConn{Conn: &handshakeConn{Conn: tls.Server(gc, l.tls)}, s: l.s, frame: true}, nil
	}
}

// countedConn releases its slot in the per-source count once, on Close.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// handshakeConn finishes the TLS handshake on first use within handshakeTimeout, so that a
// client that opens a connection and says nothing holds it only that long.
type handshakeConn struct {
	*tls.Conn
	done atomic.Bool
	mu   sync.Mutex
}

func (c *handshakeConn) handshake() error {
	if c.done.Load() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done.Load() {
		return nil
	}
	_ = c.Conn.SetDeadline(time.Now().Add(handshakeTimeout))
	err := c.Conn.Handshake()
	_ = c.Conn.SetDeadline(time.Time{})
	if err != nil {
		return err
	}
	c.done.Store(true)
	return nil
}

func (c *handshakeConn) Read(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		c.Conn.Close()
		return 0, net.ErrClosed
	}
	return c.Conn.Read(b)
}

func (c *handshakeConn) Write(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// connListener is a net.Listener fed by the HTTP handler: SIP over WebSocket rides on the
// HTTP listener, so connections arrive hijacked from net/http rather than from a socket.
type connListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newConnListener() *connListener {
	return &connListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) offer(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return &net.TCPAddr{} }

// serveWS takes a WebSocket upgrade request (RFC 7118: subprotocol "sip") off net/http and
// hands the raw connection to sipgo's WebSocket transport, which performs the handshake.
// net/http has already read the request, so it is written back in front of the connection's
// unread bytes for sipgo's upgrader to read again.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if s.wsAccept == nil {
		http.Error(w, "SIP over WebSocket is not enabled\n", http.StatusNotFound)
		return
	}
	src := addrPortOf(tcpAddrOf(r.RemoteAddr))
	if s.guard.isBanned(src) || s.draining.Load() {
		http.Error(w, "unavailable\n", http.StatusServiceUnavailable)
		return
	}
	if !s.admitConn() {
		http.Error(w, "too many connections\n", http.StatusServiceUnavailable)
		return
	}
	admitted := false
	defer func() {
		if !admitted {
			s.releaseConn()
		}
	}()
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		http.Error(w, "SIP over WebSocket needs a WebSocket upgrade\n", http.StatusBadRequest)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot take over the connection\n", http.StatusInternalServerError)
		return
	}
	c, rw, err := hj.Hijack()
	if err != nil {
		return
	}
	var head bytes.Buffer
	fmt.Fprintf(&head, "GET %s HTTP/1.1\r\nHost: %s\r\n", r.URL.RequestURI(), r.Host)
	for k, vs := range r.Header {
		for _, v := range vs {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("\r\n")
	buffered := rw.Reader.Buffered()
	var rest []byte
	if buffered > 0 {
		rest, _ = rw.Reader.Peek(buffered)
		rest = append([]byte(nil), rest...)
	}
	rc := &replayConn{Conn: c, r: io.MultiReader(bytes.NewReader(head.Bytes()), bytes.NewReader(rest), c)}
	admitted = true
	tc := &timedConn{Conn: &countedConn{Conn: rc, release: s.releaseConn}, s: s}
	if !s.wsAccept.offer(tc) {
		tc.Close()
	}
}

func tcpAddrOf(s string) net.Addr {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return nil
	}
	return net.TCPAddrFromAddrPort(ap)
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, part := range bytes.Split([]byte(v), []byte(",")) {
			if bytes.EqualFold(bytes.TrimSpace(part), []byte(token)) {
				return true
			}
		}
	}
	return false
}

// replayConn reads first from r (the request net/http consumed, then the socket).
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(b []byte) (int, error) { return c.r.Read(b) }
