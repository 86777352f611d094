package media

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Default timeouts used when [Config] leaves them zero.
const (
	// DefaultMediaTimeout is the media timeout of an active (not held) call.
	DefaultMediaTimeout = 60 * time.Second
	// DefaultHoldTimeout is the media timeout of a call on hold, which legitimately carries no
	// RTP (a=sendonly/recvonly/inactive or c=0.0.0.0 on either leg).
	DefaultHoldTimeout = time.Hour
)

// ErrClosed is returned by operations on a closed [Relay] or [Session].
var ErrClosed = errors.New("media: closed")

// Config configures a [Relay].
type Config struct {
	// PortMin and PortMax are the inclusive UDP port range. RTP uses even ports, RTCP the port
	// above; a session takes two such pairs.
	PortMin, PortMax int
	// BindIP is the address the sockets bind to; the zero value binds to 0.0.0.0.
	BindIP netip.Addr
	// AdvertiseIP is written into the c= and o= lines of rewritten SDP. When invalid or
	// unspecified, BindIP is used, or the first non-loopback interface address when BindIP is
	// unspecified too.
	AdvertiseIP netip.Addr
	// MediaTimeout: when no RTP or RTCP has been received on either leg of an answered session
	// for this long, the session's timeout callback fires. Zero means DefaultMediaTimeout.
	MediaTimeout time.Duration
	// HoldTimeout replaces MediaTimeout while the session is on hold (either leg's last SDP
	// has a direction other than sendrecv, or c=0.0.0.0). Zero means DefaultHoldTimeout, and
	// it is never shorter than MediaTimeout.
	HoldTimeout time.Duration
	// Logger receives the relay's logs; nil discards them.
	Logger *slog.Logger
	// Engine selects how packets are received; the zero value picks the fastest available.
	Engine Engine
}

// Stats are relay-wide totals since the relay started.
type Stats struct {
	// ActiveSessions is the number of sessions not yet closed.
	ActiveSessions int
	// PacketsRelayed and BytesRelayed count RTP and RTCP packets sent on to the other leg.
	PacketsRelayed, BytesRelayed uint64
	// PacketsReceived counts RTP and RTCP packets accepted from a leg's remote.
	PacketsReceived uint64
	// PacketsDropped counts packets received but not relayed: from a foreign source after
	// latching, malformed, failing SRTP authentication, or with nowhere to go.
	PacketsDropped uint64
	// PortsInUse and PortsTotal count UDP ports (RTP and RTCP) of the configured range.
	PortsInUse, PortsTotal int
}

// Relay owns the port range and all media sessions. It is safe for concurrent use.
type Relay struct {
	cfg     Config
	log     *slog.Logger
	network string // "udp4" or "udp6"
	adv     netip.Addr
	ports   *portPool
	eng     engine
	epoch   time.Time // time base of the nanosecond timestamps kept per leg
	rand    io.Reader // source of SRTP keys; tests replace it for golden files

	mu       sync.Mutex
	sessions map[*Session]struct{}
	closed   bool

	// Counters of sessions already closed, so Stats stays monotonic.
	doneRelayed, doneBytes, doneReceived, doneDropped atomic.Uint64

	stop chan struct{}
	wg   sync.WaitGroup // engine goroutines, housekeeping, timeout callbacks
}

// NewRelay validates cfg and starts a relay. It binds nothing until [Relay.NewSession].
func NewRelay(cfg Config) (*Relay, error) {
	if cfg.PortMin <= 0 || cfg.PortMax > 65535 || cfg.PortMin > cfg.PortMax {
		return nil, fmt.Errorf("media: invalid port range %d-%d", cfg.PortMin, cfg.PortMax)
	}
	pool := newPortPool(cfg.PortMin, cfg.PortMax)
	if pool.total < 2 {
		return nil, fmt.Errorf("media: port range %d-%d holds fewer than two RTP/RTCP pairs", cfg.PortMin, cfg.PortMax)
	}
	if !cfg.BindIP.IsValid() {
		cfg.BindIP = netip.IPv4Unspecified()
	}
	cfg.BindIP = cfg.BindIP.Unmap()
	if cfg.MediaTimeout <= 0 {
		cfg.MediaTimeout = DefaultMediaTimeout
	}
	if cfg.HoldTimeout <= 0 {
		cfg.HoldTimeout = DefaultHoldTimeout
	}
	cfg.HoldTimeout = max(cfg.HoldTimeout, cfg.MediaTimeout)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	network := "udp4"
	if cfg.BindIP.Is6() {
		network = "udp6"
	}
	r := &Relay{
		cfg:      cfg,
		log:      log.With("component", "media"),
		network:  network,
		adv:      advertiseAddr(cfg.AdvertiseIP, cfg.BindIP),
		ports:    pool,
		epoch:    time.Now(),
		rand:     rand.Reader,
		sessions: make(map[*Session]struct{}),
		stop:     make(chan struct{}),
	}
	switch cfg.Engine {
	case EngineGoroutines:
		r.eng = &goroutineEngine{r: r}
	case EngineEpoll, EngineAuto:
		eng, err := newEpollEngine(r)
		if err != nil && cfg.Engine == EngineEpoll {
			return nil, err
		}
		if err != nil {
			r.eng = &goroutineEngine{r: r}
		} else {
			r.eng = eng
		}
	default:
		return nil, fmt.Errorf("media: unknown engine %d", cfg.Engine)
	}
	r.wg.Add(1)
	go r.housekeeping()
	return r, nil
}

// advertiseAddr picks the address written into SDP (see Config.AdvertiseIP).
func advertiseAddr(adv, bind netip.Addr) netip.Addr {
	if adv.IsValid() && !adv.IsUnspecified() {
		return adv.Unmap()
	}
	if !bind.IsUnspecified() {
		return bind
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			p, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(p.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			if ip.Is4() == bind.Is4() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
				return ip
			}
		}
	}
	if bind.Is4() {
		return netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	return netip.IPv6Loopback()
}

// AdvertiseIP returns the address the relay writes into rewritten SDP.
func (r *Relay) AdvertiseIP() netip.Addr { return r.adv }

// now is the relay's monotonic clock in nanoseconds since it started; cheaper than time.Now
// on the per-packet path.
func (r *Relay) now() int64 { return int64(time.Since(r.epoch)) }

// NewSession allocates the two legs of a call, each an RTP+RTCP socket pair bound from the
// port range, and starts relaying between them. id names the session in logs (the SIP
// Call-ID, for instance). It returns an error wrapping [ErrNoPorts] when the range is exhausted.
func (r *Relay) NewSession(id string) (*Session, error) {
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	s := &Session{
		id:      id,
		relay:   r,
		log:     r.log.With("session", id),
		done:    make(chan struct{}),
		created: r.now(),
	}
	for i := range s.legs {
		l := &s.legs[i]
		l.id = LegID(i)
		port, rtpSock, rtcpSock, err := r.ports.bindPair(r.eng.bind)
		if err != nil {
			for j := range i {
				s.legs[j].closeSockets()
				r.ports.put(s.legs[j].port)
			}
			return nil, fmt.Errorf("media: new session %s: %w", id, err)
		}
		l.port, l.rtp.sock, l.rtcp.sock = port, rtpSock, rtcpSock
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		for i := range s.legs {
			s.legs[i].closeSockets()
			r.ports.put(s.legs[i].port)
		}
		return nil, ErrClosed
	}
	r.sessions[s] = struct{}{}
	r.eng.start(s) // under r.mu, so that Close cannot start waiting before the engine counts it
	r.mu.Unlock()
	s.log.Debug("session created", "port_a", s.legs[LegA].port, "port_b", s.legs[LegB].port)
	return s, nil
}

// forget removes a closed session and folds its counters into the relay's totals.
func (r *Relay) forget(s *Session) {
	var relayed, bytes, received, dropped uint64
	for i := range s.legs {
		l := &s.legs[i]
		relayed += l.forwarded.Load()
		bytes += l.forwardedBytes.Load()
		received += l.packets.Load() + l.rtcpPackets.Load()
		dropped += l.dropped.Load()
	}
	r.mu.Lock()
	delete(r.sessions, s)
	r.doneRelayed.Add(relayed)
	r.doneBytes.Add(bytes)
	r.doneReceived.Add(received)
	r.doneDropped.Add(dropped)
	r.mu.Unlock()
}

// Stats returns relay-wide totals. Per-packet counters live in the sessions (one writer each,
// no shared cache line on the hot path) and are summed here.
func (r *Relay) Stats() Stats {
	r.mu.Lock()
	st := Stats{
		ActiveSessions:  len(r.sessions),
		PacketsRelayed:  r.doneRelayed.Load(),
		BytesRelayed:    r.doneBytes.Load(),
		PacketsReceived: r.doneReceived.Load(),
		PacketsDropped:  r.doneDropped.Load(),
	}
	for s := range r.sessions {
		for i := range s.legs {
			l := &s.legs[i]
			st.PacketsRelayed += l.forwarded.Load()
			st.BytesRelayed += l.forwardedBytes.Load()
			st.PacketsReceived += l.packets.Load() + l.rtcpPackets.Load()
			st.PacketsDropped += l.dropped.Load()
		}
	}
	r.mu.Unlock()
	st.PortsInUse = r.ports.inUse()
	st.PortsTotal = 2 * r.ports.total
	return st
}

// Close closes every session, stops the relay and waits for its goroutines, including timeout
// callbacks still running (so a timeout callback must not call Close on the relay).
// It is idempotent.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	sessions := make([]*Session, 0, len(r.sessions))
	for s := range r.sessions {
		sessions = append(sessions, s)
	}
	r.mu.Unlock()
	close(r.stop)
	for _, s := range sessions {
		s.Close()
	}
	r.eng.close()
	r.wg.Wait()
	return nil
}

// housekeeping fires media timeouts. One goroutine per relay scans all sessions a few times
// per timeout period instead of a timer per session that packets would have to reset.
func (r *Relay) housekeeping() {
	defer r.wg.Done()
	tick := min(r.cfg.MediaTimeout/4, time.Second)
	tick = max(tick, 5*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	var batch []*Session
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		batch = batch[:0]
		r.mu.Lock()
		for s := range r.sessions {
			batch = append(batch, s)
		}
		r.mu.Unlock()
		now := r.now()
		for _, s := range batch {
			if s.timedOut(now) {
				r.fireTimeout(s)
			}
		}
		clear(batch)
	}
}

func (r *Relay) fireTimeout(s *Session) {
	s.log.Info("media timeout", "held", s.held.Load())
	cb := s.onTimeout.Load()
	if cb == nil {
		return
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		(*cb)()
	}()
}
