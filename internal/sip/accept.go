package sip

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// What keeps SIP over TCP, TLS and WebSocket serving under a connection flood or when the
// process runs short of file descriptors:
//   - one cap on the connections of all three transports together, below the descriptor limit
//     (RLIMIT_NOFILE), so that the store, the media relay and UDP still get descriptors; a
//     connection over the cap is accepted and closed at once (shed), so that the backlog drains;
//   - accept errors (EMFILE, ENFILE, ECONNABORTED…) are retried with back-off instead of
//     ending sipgo's accept loop, which does not restart;
//   - time-outs on every accepted connection: a new connection must deliver its first message,
//     and a started message must complete, within StreamReadTimeout; a connection that sends
//     nothing at all for StreamIdleTimeout is closed;
//   - a serving loop that ends while the server runs makes Healthy fail (the app's /readyz).

// fdCap is the connection cap the descriptor limit allows: three quarters of it, keeping at
// least 64 descriptors for everything else.
func fdCap() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 || rl.Cur > 1<<30 {
		return 1 << 20
	}
	cur := int(rl.Cur)
	return max(min(cur*3/4, cur-64), 1)
}

// connCap is the effective global connection cap.
func (s *Server) connCap() int {
	c := s.fdCap
	if m := s.pol().MaxConnections; m > 0 && m < c {
		c = m
	}
	return c
}

// admitConn takes a slot of the global connection cap; false means shed the connection.
func (s *Server) admitConn() bool {
	if n := s.streamConns.Add(1); int(n) > s.connCap() {
		s.streamConns.Add(-1)
		s.dropped("connections")
		return false
	}
	return true
}

func (s *Server) releaseConn() { s.streamConns.Add(-1) }

// StreamConns returns the SIP connections (TCP, TLS, WebSocket) accepted and open.
func (s *Server) StreamConns() int { return int(s.streamConns.Load()) }

// acceptRetry sleeps before the next Accept after a failed one; it returns false when the
// server is stopping. The back-off doubles from 5 ms to 1 s, as net/http's does.
func (s *Server) acceptRetry(err error, delay *time.Duration) bool {
	s.acceptErrors.Add(1)
	if *delay == 0 {
		*delay = 5 * time.Millisecond
	} else {
		*delay = min(*delay*2, time.Second)
	}
	if *delay == time.Second || s.acceptErrors.Load() == 1 {
		s.log.Warn("sip: accepting a connection failed; retrying", "err", err, "retry_in", delay.String())
	}
	t := time.NewTimer(*delay)
	defer t.Stop()
	select {
	case <-s.stopping:
		return false
	case <-t.C:
		return true
	}
}

// AcceptErrors returns how many accepts failed and were retried.
func (s *Server) AcceptErrors() uint64 { return s.acceptErrors.Load() }

// Healthy reports whether every listener is serving (the app's readiness asks it).
func (s *Server) Healthy() error {
	if d := s.deadListener.Load(); d != nil {
		return fmt.Errorf("sip: %s listener stopped serving", *d)
	}
	return nil
}

// serving runs a listener's serve loop and records it as dead should it end while the
// server is running.
func (s *Server) serving(name string, f func()) {
	f()
	select {
	case <-s.stopping:
	default:
		s.deadListener.CompareAndSwap(nil, &name)
		s.log.Error("sip: listener stopped serving", "listener", name)
	}
}

// timedConn enforces the read time-outs on an accepted connection. With frame set it follows
// SIP message framing (TCP, TLS) to tell a started message from an idle connection; on
// WebSocket (framed by WebSocket) every read waits up to the idle time-out once the first
// message has arrived.
type timedConn struct {
	net.Conn
	s     *Server
	frame bool
	f     framer
	seen  atomic.Bool // a first complete message arrived
}

func (c *timedConn) Read(b []byte) (int, error) {
	if h, ok := c.Conn.(interface{ handshake() error }); ok {
		if err := h.handshake(); err != nil {
			c.Conn.Close()
			return 0, net.ErrClosed
		}
	}
	p := c.s.pol()
	d := p.StreamIdleTimeout
	if !c.seen.Load() || (c.frame && c.f.partial()) {
		d = p.StreamReadTimeout
	}
	if d > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(d))
	}
	n, err := c.Conn.Read(b)
	if n > 0 {
		if c.frame {
			c.f.feed(b[:n])
			if c.f.messages > 0 {
				c.seen.Store(true)
			}
		} else {
			c.seen.Store(true)
		}
	}
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() {
		c.s.dropped("timeout")
		c.Conn.Close()
		return n, net.ErrClosed // sipgo closes quietly on ErrClosed
	}
	return n, err
}

// framer follows SIP message boundaries on a stream (RFC 3261 §18.3): header lines up to an
// empty line, then Content-Length bytes of body; CRLF keep-alives between messages.
type framer struct {
	hdr      []byte // the header block read so far
	body     int    // body bytes still to come
	messages int    // complete messages seen
}

func (f *framer) partial() bool { return f.body > 0 || len(f.hdr) > 0 }

func (f *framer) feed(p []byte) {
	for len(p) > 0 {
		if f.body > 0 {
			n := min(f.body, len(p))
			f.body -= n
			p = p[n:]
			if f.body == 0 {
				f.messages++
			}
			continue
		}
		if len(f.hdr) == 0 {
			p = bytes.TrimLeft(p, "\r\n") // keep-alives (RFC 5626 §3.5.1)
			if len(p) == 0 {
				return
			}
		}
		start := max(len(f.hdr)-3, 0)
		f.hdr = append(f.hdr, p...)
		i := bytes.Index(f.hdr[start:], []byte("\r\n\r\n"))
		if i < 0 {
			if len(f.hdr) > 64<<10 {
				f.hdr = f.hdr[len(f.hdr)-4:] // sipgo refuses such a message; stay bounded
			}
			return
		}
		end := start + i + 4
		rest := f.hdr[end:]
		f.body = contentLength(f.hdr[:end])
		p = append([]byte(nil), rest...)
		f.hdr = f.hdr[:0]
		if f.body == 0 {
			f.messages++
		}
	}
}

// contentLength reads the Content-Length (or l) header of a header block; 0 when absent or
// unreadable (sipgo then rejects the message anyway).
func contentLength(h []byte) int {
	for _, line := range bytes.Split(h, []byte("\r\n")) {
		name, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		if bytes.EqualFold(name, []byte("content-length")) || bytes.EqualFold(name, []byte("l")) {
			n, err := strconv.Atoi(string(bytes.TrimSpace(val)))
			if err != nil || n < 0 {
				return 0
			}
			return n
		}
	}
	return 0
}
