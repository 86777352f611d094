package media

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// LegID names one side of a session.
type LegID int

// The two legs of a session.
const (
	// LegA is the caller side.
	LegA LegID = iota
	// LegB is the callee side.
	LegB
)

// String returns "A" or "B".
func (l LegID) String() string {
	switch l {
	case LegA:
		return "A"
	case LegB:
		return "B"
	}
	return fmt.Sprintf("LegID(%d)", int(l))
}

func (l LegID) valid() bool { return l == LegA || l == LegB }

// Errors returned by Session methods, besides ErrClosed.
var (
	// ErrNoRemote: the leg has no remote address yet (no SDP, no packet) or is on hold with
	// c=0.0.0.0, so there is nowhere to send.
	ErrNoRemote = errors.New("media: leg has no remote address")
	// ErrNotReady: the leg negotiated SRTP but its keys are not complete yet.
	ErrNotReady = errors.New("media: SRTP keys of the leg not negotiated yet")
	// ErrBadLeg: a LegID other than LegA or LegB.
	ErrBadLeg = errors.New("media: invalid leg")
)

// LegCounters are the counters of one leg, seen from the relay: what it received from the leg's
// remote (and what became of it), and what was injected towards it.
type LegCounters struct {
	// Packets and Bytes count RTP (or UDPTL) packets accepted from the leg's remote.
	Packets, Bytes uint64
	// RTCPPackets counts RTCP packets accepted from the leg's remote.
	RTCPPackets uint64
	// Dropped counts packets received on the leg and not relayed: from a foreign source after
	// latching, malformed, failing SRTP checks, or with no destination on the other leg.
	Dropped uint64
	// Forwarded counts RTP and RTCP packets received on this leg and sent to the other leg.
	Forwarded uint64
	// Injected counts packets sent to this leg through Session.Inject.
	Injected uint64
	// LastSeen is when the last accepted packet (RTP or RTCP) arrived; zero if none has.
	LastSeen time.Time
}

// Session is one call's media: two legs and the relay between them. Offer/Answer and the
// setters may be called from any goroutine.
type Session struct {
	id    string
	relay *Relay
	log   *slog.Logger
	legs  [2]leg

	mu  sync.Mutex // signalling state below
	neg negotiation

	onDTMF    atomic.Pointer[func(LegID, DTMFEvent)]
	onTimeout atomic.Pointer[func()]
	tap       atomic.Pointer[func(LegID, *rtp.Packet)]
	events    atomic.Pointer[ptTable] // telephone-event payload types of both legs
	udptl     atomic.Bool             // anchored stream is T.38 over UDPTL, not RTP
	held      atomic.Bool

	armed   atomic.Bool  // an answer was seen: the media timeout applies
	armedAt atomic.Int64 // relay time of the last answer
	fired   atomic.Bool

	closed  atomic.Bool
	eng     engineSession // the engine's handle on this session
	cb      *atomic.Int32 // > 0 while the engine runs a Tap or OnDTMF callback (set by the engine)
	ioMu    sync.RWMutex  // Inject holds it shared; the engine takes it to close the sockets
	done    chan struct{} // closed when the engine let go of the sockets and ports went back
	created int64
}

// ID returns the id the session was created with.
func (s *Session) ID() string { return s.id }

// LocalAddr returns the local RTP address of a leg (RTCP is on the port above), as advertised
// in SDP.
func (s *Session) LocalAddr(l LegID) netip.AddrPort {
	if !l.valid() {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(s.relay.adv, uint16(s.legs[l].port))
}

// OnDTMF sets the callback for RFC 4733 telephone-events: it is called once per event, when the
// event ends (the end packet and its retransmissions count once). The events are still relayed.
// The callback runs on the leg's receive goroutine: it must return quickly. nil removes it.
func (s *Session) OnDTMF(f func(from LegID, ev DTMFEvent)) {
	if f == nil {
		s.onDTMF.Store(nil)
		return
	}
	s.onDTMF.Store(&f)
}

// OnTimeout sets the callback fired (once, on its own goroutine) when the answered session has
// received no RTP or RTCP on either leg for Config.MediaTimeout (HoldTimeout while on hold).
// The callback typically hangs the call up and closes the session. nil removes it.
func (s *Session) OnTimeout(f func()) {
	if f == nil {
		s.onTimeout.Store(nil)
		return
	}
	s.onTimeout.Store(&f)
}

// Tap sets a function called for every relayed RTP packet, after SRTP decryption, with the leg it
// came from. The packet and its payload are only valid during the call and must be neither
// modified nor retained (copy what is needed). The function runs on the leg's receive goroutine
// and must return quickly. nil removes the tap.
func (s *Session) Tap(f func(from LegID, pkt *rtp.Packet)) {
	if f == nil {
		s.tap.Store(nil)
		return
	}
	s.tap.Store(&f)
}

// Inject sends pkt to the remote of leg `to`, from that leg's RTP socket, SRTP-protected when
// the leg uses SRTP. The caller owns the packet's SSRC, sequence numbers and timestamps.
func (s *Session) Inject(to LegID, pkt *rtp.Packet) error {
	if !to.valid() {
		return ErrBadLeg
	}
	if s.closed.Load() {
		return ErrClosed
	}
	l := &s.legs[to]
	s.ioMu.RLock()
	defer s.ioMu.RUnlock()
	if s.closed.Load() {
		return ErrClosed
	}
	p := l.rtp.peer.Load()
	if p == nil || l.hold.Load() {
		return ErrNoRemote
	}
	buf, err := pkt.Marshal()
	if err != nil {
		return fmt.Errorf("media: inject: %w", err)
	}
	if c := l.crypto.Load(); c != nil {
		c.rtpOutMu.Lock()
		buf, err = c.rtpOut.EncryptRTP(nil, buf, nil)
		c.rtpOutMu.Unlock()
		if err != nil {
			return fmt.Errorf("media: inject: srtp: %w", err)
		}
	} else if l.secure.Load() {
		return ErrNotReady
	}
	if err := l.rtp.sock.writeTo(buf, p); err != nil {
		if s.closed.Load() {
			return ErrClosed
		}
		return fmt.Errorf("media: inject: %w", err)
	}
	l.injected.Add(1)
	return nil
}

// Counters returns the counters of both legs, indexed by LegID.
func (s *Session) Counters() [2]LegCounters {
	var c [2]LegCounters
	for i := range s.legs {
		l := &s.legs[i]
		c[i] = LegCounters{
			Packets:     l.packets.Load(),
			Bytes:       l.bytes.Load(),
			RTCPPackets: l.rtcpPackets.Load(),
			Dropped:     l.dropped.Load(),
			Forwarded:   l.forwarded.Load(),
			Injected:    l.injected.Load(),
		}
		if t := l.lastSeen.Load(); t != 0 {
			c[i].LastSeen = s.relay.epoch.Add(time.Duration(t))
		}
	}
	return c
}

// Close stops relaying, closes the sockets and gives the ports back to the relay before it
// returns. Called while a Tap or OnDTMF callback runs on the same receive context (from inside
// such a callback, typically) it does not wait, and the ports go back as soon as the callback
// returns. Close is idempotent.
func (s *Session) Close() {
	if !s.closed.CompareAndSwap(false, true) {
		return
	}
	s.relay.eng.stop(s)
	if s.cb.Load() == 0 {
		<-s.done
	}
	s.log.Debug("session closed")
}

// finish runs once, when the engine has closed the session's sockets and will not call back
// for it any more: the ports go back to the pool.
func (s *Session) finish() {
	for i := range s.legs {
		s.relay.ports.put(s.legs[i].port)
	}
	s.relay.forget(s)
	close(s.done)
}

// timedOut reports, once, that the session's media timeout has expired at relay time now.
func (s *Session) timedOut(now int64) bool {
	if s.closed.Load() || !s.armed.Load() || s.fired.Load() {
		return false
	}
	last := s.armedAt.Load()
	for i := range s.legs {
		last = max(last, s.legs[i].lastSeen.Load())
	}
	limit := s.relay.cfg.MediaTimeout
	if s.held.Load() {
		limit = s.relay.cfg.HoldTimeout
	}
	if now-last < int64(limit) {
		return false
	}
	return s.fired.CompareAndSwap(false, true)
}
