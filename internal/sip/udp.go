package sip

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// udpListener owns the UDP socket. Its reader goroutines take every datagram first: the guard
// and the size limit apply, the datagram is parsed, malformed requests are answered with 400,
// REGISTER and out-of-dialog OPTIONS are answered statelessly, and the rest is queued for
// sipgo, which reads it through the net.PacketConn methods below (its own read loop then
// parses it again; only call signalling takes that path).
type udpListener struct {
	s    *Server
	sock *udpSock
	// queue holds datagrams for sipgo's transaction layer.
	queue chan udpPacket
	done  chan struct{}
	once  sync.Once
	// slots bounds the REGISTERs handled off the read loop (those that need the store).
	slots chan struct{}
}

type udpPacket struct {
	data []byte
	src  netip.AddrPort
}

var _ net.PacketConn = (*udpListener)(nil)

func newUDPListener(s *Server, sock *udpSock) *udpListener {
	return &udpListener{s: s, sock: sock, queue: make(chan udpPacket, 4096), done: make(chan struct{}), slots: make(chan struct{}, 256)}
}

var packetPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// readLoop reads datagrams until the socket closes, up to udpBatch at a time (recvmmsg on
// Linux), and sends the answers of a batch together (sendmmsg): under load a REGISTER then
// costs a fraction of a system call instead of three.
func (u *udpListener) readLoop() {
	rx := newRxBatch(udpBatchSize, udpBufSize)
	out := &udpBatch{u: u}
	yielded := time.Now()
	for {
		// A reader that only ever waits in recvmmsg never passes through the scheduler, and
		// a goroutine that has run for 10 ms on one scheduling tick makes sysmon take its P
		// and go back to polling every 20 us (half the CPU of a registration at 5,000/s).
		// Passing through the scheduler every few milliseconds keeps sysmon asleep (each
		// pass wakes another thread, so not more often).
		if now := time.Now(); now.Sub(yielded) > 5*time.Millisecond {
			runtime.Gosched()
			yielded = now
		}
		n, err := u.sock.read(rx)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-u.done:
				return
			default:
			}
			continue
		}
		for i := 0; i < n; i++ {
			u.s.udpDatagram(u, out, rx.data(i), rx.src[i])
		}
		out.flush()
	}
}

const (
	udpBatchSize = 16
	udpBufSize   = 65536
)

var errUDPFamily = errors.New("sip: destination address family does not match the UDP socket")

// udpBatch collects the answers to one batch of datagrams; nil sends each at once.
type udpBatch struct {
	u     *udpListener
	arena []byte           // the datagrams, one after the other
	ends  []int            // where each ends in arena
	dsts  []netip.AddrPort // where each goes
	sys   txSys            // the system's view, reused (udpsock_*.go)
}

// send queues (a copy of) a datagram.
func (b *udpBatch) send(p []byte, dst netip.AddrPort) {
	b.arena = append(b.arena, p...)
	b.ends = append(b.ends, len(b.arena))
	b.dsts = append(b.dsts, dst)
}

// flush sends what is queued.
func (b *udpBatch) flush() {
	if len(b.dsts) > 0 {
		if err := b.u.sock.writeBatch(b); err != nil {
			b.u.s.log.Debug("udp write failed", "err", err)
		}
	}
	b.ends, b.dsts = b.ends[:0], b.dsts[:0]
	if cap(b.arena) > 1<<20 {
		b.arena = nil // a burst of large answers: do not keep its memory
	}
	b.arena = b.arena[:0]
}

// emit sends a datagram, through the batch when there is one.
func (u *udpListener) emit(out *udpBatch, p []byte, dst netip.AddrPort) {
	if out != nil {
		out.send(p, dst)
		return
	}
	if err := u.writeAddrPort(p, dst); err != nil {
		u.s.log.Debug("udp write failed", "peer", dst.String(), "err", err)
	}
}

// handoff queues a datagram for sipgo (copying it; buf is reused by the read loop).
func (u *udpListener) handoff(data []byte, src netip.AddrPort) {
	bp := packetPool.Get().(*[]byte)
	b := append((*bp)[:0], data...)
	select {
	case u.queue <- udpPacket{data: b, src: src}:
	case <-u.done:
	default:
		// sipgo is behind: drop, the sender retransmits.
		u.s.dropped("queue")
		*bp = b
		packetPool.Put(bp)
	}
}

// ReadFrom gives sipgo the next queued datagram.
func (u *udpListener) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case p := <-u.queue:
		n := copy(b, p.data)
		d := p.data
		packetPool.Put(&d)
		return n, net.UDPAddrFromAddrPort(p.src), nil
	case <-u.done:
		return 0, nil, net.ErrClosed
	}
}

// WriteTo sends a datagram (sipgo's responses and requests go out from the listening socket).
func (u *udpListener) WriteTo(b []byte, addr net.Addr) (int, error) {
	var dst netip.AddrPort
	if ua, ok := addr.(*net.UDPAddr); ok {
		dst = ua.AddrPort()
	} else {
		var err error
		if dst, err = netip.ParseAddrPort(addr.String()); err != nil {
			return 0, &net.OpError{Op: "write", Net: "udp", Addr: addr, Err: err}
		}
	}
	if err := u.writeAddrPort(b, dst); err != nil {
		return 0, &net.OpError{Op: "write", Net: "udp", Source: u.LocalAddr(), Addr: addr, Err: err}
	}
	return len(b), nil
}

// writeAddrPort sends a datagram.
func (u *udpListener) writeAddrPort(b []byte, dst netip.AddrPort) error {
	return u.sock.writeTo(b, dst)
}

// Close closes the socket and stops the readers.
func (u *udpListener) Close() error {
	var err error
	u.once.Do(func() {
		close(u.done)
		err = u.sock.close()
	})
	return err
}

func (u *udpListener) LocalAddr() net.Addr                { return u.sock.localAddr() }
func (u *udpListener) SetDeadline(t time.Time) error      { return nil }
func (u *udpListener) SetReadDeadline(t time.Time) error  { return nil }
func (u *udpListener) SetWriteDeadline(t time.Time) error { return nil }

// udpDatagram handles one datagram from the read loop.
func (s *Server) udpDatagram(u *udpListener, out *udpBatch, data []byte, src netip.AddrPort) {
	defer s.survive("udp datagram", src)
	if v := s.guard.admit(src); v != pass {
		if v == dropBanned {
			s.dropped("banned")
		} else {
			s.dropped("rate")
		}
		return
	}
	p := s.pol()
	if len(data) > p.MaxMessageSize {
		s.dropped("size")
		return
	}
	if len(bytes.Trim(data, "\r\n\x00 ")) == 0 {
		return // keep-alive
	}
	if bytes.HasPrefix(data, []byte("REGISTER ")) && s.fastRegister(u, out, data, src) {
		return
	}
	msg, err := s.parser.ParseSIP(data)
	if err != nil {
		s.dropped("malformed")
		if res := rawBadRequest(data, err); res != nil {
			u.emit(out, res, src)
		}
		return
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		res := msg.(*sip.Response)
		if res.StatusCode < 100 || res.StatusCode > 699 {
			s.dropped("malformed")
			return
		}
		u.handoff(data, src)
		return
	}
	req.SetTransport(tpUDP)
	req.SetSource(src.String())
	if s.screen(req, src) {
		return
	}
	if res := s.validate(req); res != nil {
		s.udpRespond(u, out, req, src, res)
		return
	}
	switch {
	case req.Method == sip.REGISTER:
		s.count("REGISTER")
		in := &inbound{req: req, src: src, transport: tpUDP}
		if res, ok := s.registerCached(in); ok {
			s.udpRespond(u, out, req, src, res)
			return
		}
		// The store must be asked: leave the read loop free. The message bytes are not
		// referenced by the parsed request, so the buffer may be reused.
		select {
		case u.slots <- struct{}{}:
			go func() {
				defer func() { <-u.slots }()
				s.udpRespond(u, nil, req, src, s.register(in))
			}()
		default:
			s.dropped("busy") // the phone retransmits
		}
	case req.Method == sip.OPTIONS && !hasToTag(req):
		s.count("OPTIONS")
		s.udpRespond(u, out, req, src, s.options(req))
	default:
		if req.Method == sip.INVITE && !hasToTag(req) && s.udpChallenge(u, out, req, data, src) {
			return
		}
		if legacyBranch(req) {
			// An RFC 2543 request (no z9hG4bK branch): sipgo matches those by the From tag
			// and fails when there is none; give it a branch derived from what identifies
			// the transaction, so that its ACK and CANCEL get the same one.
			u.handoff([]byte(req.String()), src)
			return
		}
		u.handoff(data, src)
	}
}

// udpChallenge answers an initial INVITE without credentials for its realm with a 407 sent
// once and statelessly, as the registrar answers REGISTER: through a server transaction the
// challenge would be retransmitted up to ten times toward a source address that anyone can
// forge in a datagram (an amplifier). A caller that lost the 407 sends its INVITE again and
// gets another. It reports whether the INVITE was answered (or will be, off the read loop).
func (s *Server) udpChallenge(u *udpListener, out *udpBatch, req *sip.Request, data []byte, src netip.AddrPort) bool {
	if s.trunkIn.mayBeTrunk(src.Addr()) { // a provider's call takes the full path (trunkin.go)
		return false
	}
	l := &lookups{s: s, cacheOnly: true}
	if res := s.inviteChallenge(req, l); res != nil {
		s.count("INVITE")
		s.udpRespond(u, out, req, src, res)
		return true
	}
	if !l.missed {
		return false
	}
	// The tenant is not cached: ask the store off the read loop.
	cp := append([]byte(nil), data...)
	select {
	case u.slots <- struct{}{}:
		go func() {
			defer func() { <-u.slots }()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if res := s.inviteChallenge(req, &lookups{s: s, ctx: ctx}); res != nil {
				s.count("INVITE")
				s.udpRespond(u, nil, req, src, res)
				return
			}
			u.handoff(cp, src)
		}()
	default:
		s.dropped("busy") // the caller retransmits
	}
	return true
}

// inviteChallenge returns the 407 for an initial INVITE that carries no credentials for the
// realm of its domain, or nil when the INVITE takes the full path (handleInvite): it has
// credentials, names an unknown domain, the server is draining, or (l.missed) the tenant is
// not cached.
func (s *Server) inviteChallenge(req *sip.Request, l *lookups) *sip.Response {
	if s.draining.Load() {
		return nil
	}
	t, found := l.tenant(req.Recipient.Host)
	if !found || l.missed {
		return nil
	}
	realm := realmOf(t)
	if credentials(req, true, realm) != nil {
		return nil
	}
	res := s.reply(req, 407, "Proxy Authentication Required")
	s.auth.challenge(res, true, realm, false)
	return res
}

// legacyBranch gives a request without an RFC 3261 branch a deterministic one (from Call-ID,
// CSeq number, From tag and the top Via) and reports whether it did.
func legacyBranch(req *sip.Request) bool {
	via := req.Via()
	if b, ok := via.Params.Get("branch"); ok && strings.HasPrefix(b, sip.RFC3261BranchMagicCookie) && len(b) > len(sip.RFC3261BranchMagicCookie) {
		return false
	}
	h := sha256.New()
	h.Write([]byte(req.CallID().Value()))
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatUint(uint64(req.CSeq().SeqNo), 10)))
	h.Write([]byte{0})
	h.Write([]byte(req.From().Params.GetOr("tag", "")))
	h.Write([]byte{0})
	h.Write([]byte(via.Host + ":" + strconv.Itoa(via.Port)))
	via.Params.Add("branch", sip.RFC3261BranchMagicCookie+"-2543-"+hex.EncodeToString(h.Sum(nil)[:12]))
	return true
}

// survive turns a panic while handling one message into a log line, so that no input can
// take the server down (the fuzz tests exist so that this never fires).
func (s *Server) survive(what string, src netip.AddrPort) {
	if r := recover(); r != nil {
		s.dropped("panic")
		s.log.Error("sip: recovered from a panic", "in", what, "peer", src.String(), "panic", fmt.Sprint(r))
	}
}

// udpRespond sends a response built for a request that reached us over UDP, statelessly:
// to the source address, and to the Via port unless rport asks for the source port
// (RFC 3261 §18.2.2, RFC 3581).
func (s *Server) udpRespond(u *udpListener, out *udpBatch, req *sip.Request, src netip.AddrPort, res *sip.Response) {
	if res == nil {
		return
	}
	dst := src
	if via := req.Via(); via != nil {
		if _, rport := via.Params.Get("rport"); !rport && via.Port > 0 {
			dst = netip.AddrPortFrom(src.Addr(), uint16(via.Port))
		}
		if via.Host != src.Addr().String() {
			if res.Via() != nil && !res.Via().Params.Has("received") {
				res.Via().Params.Add("received", src.Addr().String())
			}
		}
	}
	b := bufPool.Get().(*bytes.Buffer)
	b.Reset()
	res.StringWrite(b)
	u.emit(out, b.Bytes(), dst)
	bufPool.Put(b)
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func hasToTag(req *sip.Request) bool {
	to := req.To()
	return to != nil && to.Params.Has("tag")
}
