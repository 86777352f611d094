package media

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
)

// Engine selects how a relay receives packets.
type Engine int

const (
	// EngineAuto is EngineEpoll where it exists (Linux) and EngineGoroutines elsewhere.
	EngineAuto Engine = iota
	// EngineEpoll: one epoll loop per CPU serves all sockets, with raw non-blocking sockets
	// outside the Go netpoller. It saves the goroutine wake-up and the extra EAGAIN read per
	// packet that the netpoller costs. Linux only.
	EngineEpoll
	// EngineGoroutines: one goroutine per socket on the Go netpoller. Portable.
	EngineGoroutines
)

// String names the engine.
func (e Engine) String() string {
	switch e {
	case EngineAuto:
		return "auto"
	case EngineEpoll:
		return "epoll"
	case EngineGoroutines:
		return "goroutines"
	}
	return "Engine(?)"
}

// errNoEpoll is returned for EngineEpoll where there is no epoll.
var errNoEpoll = errors.New("media: the epoll engine needs Linux")

// engine owns the receive side of the sockets: it binds them, delivers what they receive to
// Session.onRTP/onRTCPDatagram, and closes them.
type engine interface {
	// bind opens a UDP socket on the relay's address and the given port.
	bind(port int) (udpSock, error)
	// start begins receiving on s's sockets. Called with relay.mu held.
	start(s *Session)
	// stop closes s's sockets; once no callback for s can run any more, the engine calls
	// s.finish (possibly before stop returns).
	stop(s *Session)
	// close stops the engine after all sessions were stopped.
	close()
}

// engineSession is the engines' per-session state.
type engineSession struct {
	readers  atomic.Int32 // goroutine engine: receive goroutines still running
	cb       atomic.Int32 // goroutine engine: callbacks running
	worker   int          // epoll engine: the worker serving the session
	finished bool         // epoll engine: sockets closed and session finished (under Session.ioMu)
}

// goroutineEngine runs one goroutine per socket on the Go netpoller.
type goroutineEngine struct {
	r *Relay
}

type connSock struct{ c *net.UDPConn }

func (c connSock) writeTo(b []byte, p *peer) error {
	_, err := c.c.WriteToUDPAddrPort(b, p.addr)
	return err
}

func (c connSock) close() error { return c.c.Close() }

func (g *goroutineEngine) bind(port int) (udpSock, error) {
	c, err := net.ListenUDP(g.r.network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(g.r.cfg.BindIP, uint16(port))))
	if err != nil {
		return nil, err
	}
	return connSock{c}, nil
}

func (g *goroutineEngine) start(s *Session) {
	s.cb = &s.eng.cb
	s.eng.readers.Store(4)
	g.r.wg.Add(4)
	for i := range s.legs {
		x, y := &s.legs[i], &s.legs[1-i]
		go g.read(s, x, y, x.rtp.sock.(connSock).c, false)
		go g.read(s, x, y, x.rtcp.sock.(connSock).c, true)
	}
}

func (g *goroutineEngine) stop(s *Session) {
	for i := range s.legs {
		s.legs[i].closeSockets()
	}
}

func (g *goroutineEngine) close() {}

// read serves one socket until it is closed; the last reader of a session to exit finishes
// it. A reader exits only once its socket is closed and its pending read returned, which is
// when the kernel socket is really released, so the ports can be reused at once.
func (g *goroutineEngine) read(s *Session, x, y *leg, c *net.UDPConn, rtcp bool) {
	defer func() {
		if s.eng.readers.Add(-1) == 0 {
			s.finish()
		}
		g.r.wg.Done()
	}()
	st := newReaderState()
	for {
		n, src, err := c.ReadFromUDPAddrPort(st.buf)
		if err != nil {
			if s.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ICMP errors surfacing on the socket; keep serving
		}
		if rtcp {
			s.onRTCPDatagram(x, y, st.buf[:n], src, st)
		} else {
			s.onRTP(x, y, st.buf[:n], src, st)
		}
	}
}
