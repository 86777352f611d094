package media

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// maxPacket bounds a datagram; a read that fills the whole buffer may have been truncated and
// is dropped.
const maxPacket = 2048

// srtpOverhead is room for the auth tag (and an MKI, SRTCP index) added by encryption.
const srtpOverhead = 64

// peer is where a socket sends to, and whether that address was latched from a received
// packet (then only packets from it are accepted) or only announced in SDP. It is immutable:
// a change swaps the pointer.
type peer struct {
	addr    netip.AddrPort
	latched bool
	sa      sockaddr // addr in the kernel's form, built once for the raw-socket engine
}

func newPeer(addr netip.AddrPort, latched bool) *peer {
	return &peer{addr: addr, latched: latched, sa: makeSockaddr(addr)}
}

// udpSock is a leg's UDP socket as the engines provide it.
type udpSock interface {
	// writeTo sends one datagram to p; it must not allocate.
	writeTo(b []byte, p *peer) error
	close() error
}

// endpoint is one socket of a leg and its remote.
type endpoint struct {
	sock udpSock
	peer atomic.Pointer[peer]
}

// accept reports whether a packet from src may pass, latching src when the endpoint is not
// latched yet (symmetric RTP: the first packet wins; SDP changes re-arm the latch).
func (e *endpoint) accept(src netip.AddrPort) (ok, latchedNow bool) {
	for {
		p := e.peer.Load()
		if p != nil && p.latched {
			return p.addr == src, false
		}
		np := newPeer(src, true)
		if e.peer.CompareAndSwap(p, np) {
			return true, true
		}
		// An SDP update raced with us; look again.
	}
}

// setSDP points the endpoint at an address announced in SDP. An unchanged address keeps the
// latch; a new one re-arms it so that the next packet received latches again.
func (e *endpoint) setSDP(addr netip.AddrPort, prev netip.AddrPort) {
	if p := e.peer.Load(); p != nil && addr == prev {
		return
	}
	e.peer.Store(newPeer(addr, false))
}

// legCrypto is the SRTP state of one leg: contexts to decrypt what its remote sends and to
// encrypt what the relay sends it. A srtp.Context is single-direction and not goroutine-safe:
// rtpIn is only used by the leg's RTP reader; the others are shared and locked.
type legCrypto struct {
	profile       srtp.ProtectionProfile
	inKey, outKey string // master key||salt (and MKI) the contexts were made from

	rtpIn *srtp.Context

	rtcpInMu sync.Mutex
	rtcpIn   *srtp.Context

	rtpOutMu sync.Mutex
	rtpOut   *srtp.Context

	rtcpOutMu sync.Mutex
	rtcpOut   *srtp.Context
}

// leg is one side of a session: its two sockets, their remotes, SRTP state and counters.
type leg struct {
	id             LegID
	port           int
	rtp, rtcp      endpoint
	hold           atomic.Bool   // remote announced c=0.0.0.0 or port 0: send it nothing
	muted          atomic.Bool   // forward nothing received on this leg (Session.Mute)
	lastSSRCSeq    atomic.Uint64 // SSRC<<16 | sequence number of the last RTP packet received
	lastTS         atomic.Uint32 // its timestamp
	secure         atomic.Bool   // the leg negotiated SRTP: never send it plain
	crypto         atomic.Pointer[legCrypto]
	sdpRTP         netip.AddrPort // last addresses from SDP (under Session.mu)
	sdpRTCP        netip.AddrPort
	sdpHeld        bool
	sdpEvents      map[uint8]uint32
	packets        atomic.Uint64
	bytes          atomic.Uint64
	rtcpPackets    atomic.Uint64
	dropped        atomic.Uint64
	forwarded      atomic.Uint64
	forwardedBytes atomic.Uint64
	injected       atomic.Uint64
	lastSeen       atomic.Int64
	dtmf           dtmfState // only touched by whoever reads the leg's RTP socket
}

func (l *leg) closeSockets() {
	if l.rtp.sock != nil {
		_ = l.rtp.sock.close()
	}
	if l.rtcp.sock != nil {
		_ = l.rtcp.sock.close()
	}
}

// readerState is the scratch space of one receive goroutine, reused for every packet.
type readerState struct {
	buf     []byte
	plain   []byte // SRTP decryption output
	out     []byte // SRTP encryption output
	hdr     rtp.Header
	outHdr  rtp.Header
	rtcpHdr rtcp.Header
	pkt     rtp.Packet // for Tap
}

func newReaderState() *readerState {
	return &readerState{buf: make([]byte, maxPacket)}
}

// cryptoBufs allocates the SRTP buffers on first use, so plain calls don't carry them.
func (st *readerState) cryptoBufs() {
	if st.plain == nil {
		st.plain = make([]byte, maxPacket+srtpOverhead)
		st.out = make([]byte, maxPacket+srtpOverhead)
	}
}

// onRTCPDatagram is the per-packet path of an RTCP socket.
func (s *Session) onRTCPDatagram(x, y *leg, pkt []byte, src netip.AddrPort, st *readerState) {
	if len(pkt) == len(st.buf) || len(pkt) < 8 || pkt[0]>>6 != 2 {
		x.dropped.Add(1)
		return
	}
	ok, latched := x.rtcp.accept(unmap(src))
	if !ok {
		x.dropped.Add(1)
		return
	}
	if latched {
		s.log.Debug("latched", "leg", x.id, "socket", "rtcp", "remote", src)
	}
	x.lastSeen.Store(s.relay.now())
	s.onRTCP(x, y, pkt, st)
}

func unmap(a netip.AddrPort) netip.AddrPort {
	if a.Addr().Is4In6() {
		return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	}
	return a
}

// isRTCP tells RTCP from RTP on a multiplexed port (RFC 5761 §4: packet types 192-223).
func isRTCP(pkt []byte) bool {
	return len(pkt) >= 8 && pkt[0]>>6 == 2 && pkt[1] >= 192 && pkt[1] <= 223
}

// onRTP is the per-packet path of an RTP socket: latch check, optional SRTP, DTMF, tap, forward.
// On plain RTP it neither locks nor allocates.
func (s *Session) onRTP(x, y *leg, pkt []byte, src netip.AddrPort, st *readerState) {
	if len(pkt) == len(st.buf) {
		x.dropped.Add(1)
		return
	}
	ok, latched := x.rtp.accept(unmap(src))
	if !ok {
		x.dropped.Add(1)
		return
	}
	if latched {
		s.log.Debug("latched", "leg", x.id, "socket", "rtp", "remote", src)
	}
	x.lastSeen.Store(s.relay.now())
	if s.udptl.Load() {
		x.packets.Add(1)
		x.bytes.Add(uint64(len(pkt)))
		s.forward(x, y, &y.rtp, pkt)
		return
	}
	if isRTCP(pkt) {
		s.onRTCP(x, y, pkt, st)
		return
	}
	if len(pkt) < 12 || pkt[0]>>6 != 2 {
		x.dropped.Add(1)
		return
	}
	x.packets.Add(1)
	x.bytes.Add(uint64(len(pkt)))
	if c := x.crypto.Load(); c != nil {
		st.cryptoBufs()
		plain, err := c.rtpIn.DecryptRTP(st.plain[:0], pkt, &st.hdr)
		if err != nil {
			x.dropped.Add(1)
			return
		}
		pkt = plain
	} else if x.secure.Load() {
		x.dropped.Add(1)
		return
	}
	// Where the leg's stream stands, so that audio Privox sends in its place (music on hold)
	// continues it rather than starting a stream the receiver has to resynchronise to.
	x.lastSSRCSeq.Store(uint64(binary.BigEndian.Uint32(pkt[8:]))<<16 | uint64(binary.BigEndian.Uint16(pkt[2:])))
	x.lastTS.Store(binary.BigEndian.Uint32(pkt[4:]))
	if t := s.events.Load(); t != nil && t.has(pkt[1]&0x7f) {
		s.dtmf(x, pkt, t, &x.dtmf)
	}
	if tap := s.tap.Load(); tap != nil {
		if err := st.pkt.Unmarshal(pkt); err == nil {
			s.cb.Add(1)
			(*tap)(x.id, &st.pkt)
			s.cb.Add(-1)
		}
	}
	if c := y.crypto.Load(); c != nil {
		st.cryptoBufs()
		c.rtpOutMu.Lock()
		enc, err := c.rtpOut.EncryptRTP(st.out[:0], pkt, &st.outHdr)
		c.rtpOutMu.Unlock()
		if err != nil {
			x.dropped.Add(1)
			return
		}
		pkt = enc
	} else if y.secure.Load() {
		x.dropped.Add(1)
		return
	}
	s.forward(x, y, &y.rtp, pkt)
}

// onRTCP relays one RTCP packet received on leg x (on its RTCP socket, or multiplexed on its
// RTP socket) to the RTCP socket of leg y.
func (s *Session) onRTCP(x, y *leg, pkt []byte, st *readerState) {
	x.rtcpPackets.Add(1)
	if c := x.crypto.Load(); c != nil {
		st.cryptoBufs()
		c.rtcpInMu.Lock()
		plain, err := c.rtcpIn.DecryptRTCP(st.plain[:0], pkt, &st.rtcpHdr)
		c.rtcpInMu.Unlock()
		if err != nil {
			x.dropped.Add(1)
			return
		}
		pkt = plain
	} else if x.secure.Load() {
		x.dropped.Add(1)
		return
	}
	if c := y.crypto.Load(); c != nil {
		st.cryptoBufs()
		c.rtcpOutMu.Lock()
		enc, err := c.rtcpOut.EncryptRTCP(st.out[:0], pkt, &st.rtcpHdr)
		c.rtcpOutMu.Unlock()
		if err != nil {
			x.dropped.Add(1)
			return
		}
		pkt = enc
	} else if y.secure.Load() {
		x.dropped.Add(1)
		return
	}
	s.forward(x, y, &y.rtcp, pkt)
}

// forward sends pkt, received on leg x, out of y's socket e to its remote.
func (s *Session) forward(x, y *leg, e *endpoint, pkt []byte) {
	if y.hold.Load() || x.muted.Load() {
		return // the remote asked for nothing (c=0.0.0.0), or the leg is muted; not an error
	}
	p := e.peer.Load()
	if p == nil {
		x.dropped.Add(1)
		return
	}
	// Count before sending, so that a peer that has the packet always sees it counted; a
	// failed send takes the count back.
	x.forwarded.Add(1)
	x.forwardedBytes.Add(uint64(len(pkt)))
	if err := e.sock.writeTo(pkt, p); err != nil {
		x.forwarded.Add(^uint64(0))
		x.forwardedBytes.Add(^uint64(len(pkt) - 1))
		x.dropped.Add(1)
	}
}
