package sip

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/privox/privox/internal/dialplan"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	callmodel "github.com/privox/privox/internal/call"
	"github.com/privox/privox/internal/media"
	"github.com/privox/privox/internal/store"
)

// Config is where the SIP core listens.
type Config struct {
	// Addr is the UDP and TCP listener ("" disables both).
	Addr string
	// TLSAddr is the SIP over TLS listener ("" disables it).
	TLSAddr string
	// TLSCert and TLSKey name a PEM certificate and key; when empty a self-signed certificate
	// is generated into TLSDir on first start and reused afterwards.
	TLSCert, TLSKey, TLSDir string
	// PublicHost is the host written into Via and Contact headers; by default the listener's
	// IP, or the first non-loopback interface address when listening on all addresses.
	PublicHost string
	// WebSocket enables SIP over WebSocket (RFC 7118) through WebSocketHandler.
	WebSocket bool
	// Node names this node in stored registrations (several nodes may share a database).
	Node string
}

// Deps are the services the SIP core works with.
type Deps struct {
	DB      *store.DB
	Relay   *media.Relay
	Logger  *slog.Logger
	Metrics prometheus.Registerer
	// Secrets opens the sealed HA1 values the store returns (keys.Vault).
	Secrets SecretOpener
	// Names gives callers without a display name the directory's name (callerid.go).
	Names CallerNames
	// Routes gives the dial plan the tenants' outbound routes (nil: no outbound stage).
	Routes dialplan.Routes
	// DIDs routes calls from trunks by their DID (nil: calls from trunks are refused).
	DIDs dialplan.DIDs
	// Mailboxes resolves voicemail boxes for the dial plan (nil: no mailbox stage).
	Mailboxes dialplan.Mailboxes
	// Guard limits outside calls per extension (nil: no limits).
	Guard *dialplan.Guard
	// Blocked is told of every outside call the toll-fraud guard refuses.
	Blocked func(ctx context.Context, req *dialplan.Request, d *dialplan.Decision)
	// Divert is asked when a call to an extension fails (not registered, busy, not
	// answered) whether an application takes it instead (voicemail; nil: none). divert.go.
	Divert Diverter
	// MessageCounts answers message-waiting subscriptions (mwi.go; nil: SUBSCRIBE gets 489).
	MessageCounts MessageCounts
	// Forwards gives the dial plan call forwarding, do-not-disturb and feature codes, and
	// the SIP core the forwarding of calls that rang (divert.go; nil: no forwarding).
	Forwards dialplan.Forwarding
}

// Server is the SIP core. Its lifecycle follows the app's subsystems: New (configure and
// validate), Start (bind listeners, restore registrations), Drain (refuse new calls and
// registrations with 503, let calls finish, then hang up the rest), Stop.
type Server struct {
	cfg    Config
	db     *store.DB
	relay  *media.Relay
	log    *slog.Logger
	policy atomic.Pointer[Policy]

	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	parser *sip.Parser

	guard    *guard
	auth     *digestAuth
	accounts *accounts
	loc      *location
	persist  *persister
	calls    *callTable
	busy     *busyIndex
	groups   *dialplan.GroupState // round-robin and least-recent order across calls
	cdrs     *cdrWriter
	plan     *dialplan.Plan
	trunks   *trunkRegs
	trunkIn  *trunkIndex // recognises calls from trunks (trunkin.go)
	secrets  SecretOpener
	names    CallerNames
	diverter Diverter
	forwards dialplan.Forwarding
	counts   MessageCounts
	mwi      mwiTable

	host     string            // advertised host for Via/Contact
	addrs    map[string]string // bound listeners: sip-udp, sip-tcp, sip-tls, sip-ws
	ports    map[string]int    // advertised port per transport
	udp      *udpListener
	tlsConf  *tls.Config
	wsAccept *connListener

	fdCap        int          // the connection cap the descriptor limit allows
	streamConns  atomic.Int64 // accepted TCP, TLS and WebSocket connections open
	acceptErrors atomic.Uint64
	deadListener atomic.Pointer[string]
	tcpListener  net.Listener

	draining atomic.Bool
	stopping chan struct{}
	wg       sync.WaitGroup // listeners and housekeeping
	closers  []func() error

	dtmfHook atomic.Pointer[func(CallInfo, media.LegID, media.DTMFEvent)]
	apps     atomic.Pointer[callmodel.Apps] // applications calls can be routed to, and music on hold

	metrics serverMetrics
	started bool
	blocked blockWatch // see forgetBlocked
}

type serverMetrics struct {
	requests   *prometheus.CounterVec
	registered prometheus.GaugeFunc
	calls      prometheus.GaugeFunc
	dropped    *prometheus.CounterVec
}

var sipgoLogOnce sync.Once

func init() {
	// sipgo refuses to send a UDP message within 200 bytes of a 1500-byte MTU. RFC 3261
	// §18.1.1 asks a UAC to switch to TCP for such requests, which sipgo does not do, and
	// puts no limit on responses: a response echoing a long request's headers must still go
	// out, fragmented if need be. (Package-wide sipgo setting.)
	sip.UDPMTUSize = 65535 + 200
	// A completed server transaction over UDP waits 64*T1 (32 s) for retransmissions of its
	// request: Timer J for non-INVITE (a BYE whose 200 got lost), Timer L for an answered
	// INVITE. Holding every call's messages that long made transactions most of the heap
	// under load; Kamailio's tm keeps completed transactions 5 s (wt_timer), and so does
	// Privox. A retransmission arriving later than that gets a 481, and the sender gives up.
	sip.Timer_J = 5 * time.Second
	sip.Timer_L = 5 * time.Second
}

// New configures the SIP core; it binds nothing until Start.
func New(cfg Config, deps Deps) (*Server, error) {
	if deps.DB == nil {
		return nil, errors.New("sip: no store")
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "sip")
	s := &Server{cfg: cfg, db: deps.DB, relay: deps.Relay, log: log, names: deps.Names, addrs: map[string]string{}, ports: map[string]int{},
		stopping: make(chan struct{}), fdCap: fdCap()}
	p := DefaultPolicy()
	s.policy.Store(&p)
	s.guard = newGuard(s.pol, log)
	s.auth = newDigestAuth(func() time.Duration { return s.pol().NonceLifetime }, func() []string { return s.pol().DigestAlgorithms })
	s.accounts = newAccounts(deps.DB, deps.Secrets, s.pol)
	s.persist = newPersister(deps.DB, cfg.Node, log)
	s.loc = newLocation(s.persist)
	s.calls = newCallTable()
	s.busy = newBusyIndex()
	s.groups = dialplan.NewGroupState()
	s.cdrs = newCDRWriter(deps.DB, log)
	s.cdrs.node = cfg.Node
	s.plan = newPlan(s, deps)
	s.secrets = deps.Secrets
	s.diverter = deps.Divert
	s.forwards = deps.Forwards
	s.counts = deps.MessageCounts
	var terr error
	if s.trunks, terr = newTrunkRegs(s, deps.Metrics); terr != nil {
		return nil, terr
	}

	// sipgo keeps one package-wide default logger; it must never print message contents.
	sipgoLogOnce.Do(func() { sip.SetDefaultLogger(slog.New(newSipgoHandler(slog.Default().Handler()))) })
	s.parser = sip.NewParser()
	s.parser.MaxMessageLength = p.MaxMessageSize // streams; datagrams are checked against the live policy
	stackLog := slog.New(newSipgoHandler(log.Handler()))
	var err error
	s.ua, err = sipgo.NewUA(
		sipgo.WithUserAgent("Privox"),
		sipgo.WithUserAgentParser(s.parser),
		// Outbound TLS goes to registered phones (when their own connection is gone), which
		// present self-signed certificates; the phone's identity is its digest registration.
		// SIP trunks will get a verifying configuration of their own.
		sipgo.WithUserAgenTLSConfig(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}),
		sipgo.WithUserAgentTransportLayerOptions(
			sip.WithTransportLayerLogger(stackLog),
			sip.WithTransportLayerReadFilter(s.streamFilter),
			sip.WithTransportLayerTransports(sip.TransportsConfig{
				TCP: &sip.TransportTCP{WriteTimeout: 10 * time.Second},
				TLS: &sip.TransportTLS{TransportTCP: &sip.TransportTCP{WriteTimeout: 10 * time.Second}},
				WS:  &sip.TransportWS{WriteTimeout: 10 * time.Second},
			}),
		),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(stackLog),
			sip.WithTransactionLayerUnhandledResponseHandler(s.strayResponse),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("sip: user agent: %w", err)
	}
	s.srv, err = sipgo.NewServer(s.ua, sipgo.WithServerLogger(stackLog))
	if err != nil {
		return nil, fmt.Errorf("sip: server: %w", err)
	}
	s.srv.OnNoRoute(s.onRequest)

	if deps.Metrics != nil {
		s.metrics.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "privox_sip_requests_total", Help: "SIP requests received by method."}, []string{"method"})
		s.metrics.dropped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "privox_sip_dropped_total", Help: "SIP messages dropped by reason."}, []string{"reason"})
		s.metrics.registered = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "privox_sip_registered_contacts", Help: "Contacts in the location service."},
			func() float64 { return float64(s.loc.bindings()) })
		s.metrics.calls = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "privox_sip_active_calls", Help: "Calls in progress."},
			func() float64 { return float64(s.calls.count()) })
		for _, c := range []prometheus.Collector{s.metrics.requests, s.metrics.dropped, s.metrics.registered, s.metrics.calls} {
			if err := deps.Metrics.Register(c); err != nil {
				return nil, fmt.Errorf("sip: metrics: %w", err)
			}
		}
	}
	return s, nil
}

// Name implements the app's Subsystem.
func (s *Server) Name() string { return "sip" }

func (s *Server) pol() *Policy { return s.policy.Load() }

// Policy returns the protections and timers in force.
func (s *Server) Policy() Policy { return *s.pol() }

// SetPolicy replaces the protections and timers; it may be called while running.
func (s *Server) SetPolicy(p Policy) { s.policy.Store(&p) }

// Addr returns a bound listener address: "sip-udp", "sip-tcp", "sip-tls" (empty when not
// listening).
func (s *Server) Addr(name string) string { return s.addrs[name] }

// Addrs returns every bound listener address by name.
func (s *Server) Addrs() map[string]string {
	out := make(map[string]string, len(s.addrs))
	for k, v := range s.addrs {
		out[k] = v
	}
	return out
}

// Registered returns the number of contacts in the location service.
func (s *Server) Registered() int { return s.loc.bindings() }

// ActiveCalls returns the number of calls in progress.
func (s *Server) ActiveCalls() int { return s.calls.count() }

// Dropped returns the messages dropped because their source was banned, and because it
// exceeded its rate.
func (s *Server) Dropped() (banned, limited uint64) {
	return s.guard.banned.Load(), s.guard.limited.Load()
}

// Banned reports whether a source address is banned now.
func (s *Server) Banned(src netip.AddrPort) bool { return s.guard.isBanned(src) }

// SetApps gives the SIP core the call model's applications: the dial plan's application
// stage asks them for numbers that are no extension, and held calls get their music on hold.
func (s *Server) SetApps(a *callmodel.Apps) { s.apps.Store(a) }

// OnDTMF sets a hook that sees every RFC 4733 DTMF event of every call (nil removes it). It
// runs on a media goroutine and must return quickly.
func (s *Server) OnDTMF(f func(c CallInfo, from media.LegID, ev media.DTMFEvent)) {
	if f == nil {
		s.dtmfHook.Store(nil)
		return
	}
	s.dtmfHook.Store(&f)
}

// Start binds the listeners, restores stored registrations and starts serving.
func (s *Server) Start(ctx context.Context) error {
	n, err := restore(ctx, s.db, s.cfg.Node, s.loc)
	if err != nil {
		return fmt.Errorf("sip: restore registrations: %w", err)
	}
	if n > 0 {
		s.log.Info("registrations restored", "contacts", n)
		// The phones registered before the restart authenticated then: spoofable evidence
		// must not ban them now either.
		s.loc.sources(s.guard.vouch)
	}
	if err := s.cdrs.recoverOpen(ctx); err != nil {
		return fmt.Errorf("sip: complete CDRs left open: %w", err)
	}
	if err := s.listen(); err != nil {
		s.closeListeners()
		return err
	}
	s.started = true
	go s.persist.run()
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.housekeeping() }()
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.trunks.run() }()
	s.cdrs.startLoop()
	s.log.Info("sip listening", "addrs", s.addrs, "host", s.host)
	return nil
}

func (s *Server) listen() error {
	var host string
	// Serving starts only once every socket is bound and the ports and host that Via and
	// Contact headers read are set, so request handlers never see them change.
	var serve []func()
	if s.cfg.Addr != "" {
		us, err := listenUDPSock(s.cfg.Addr)
		if err != nil {
			return fmt.Errorf("sip: udp listener: %w", err)
		}
		s.udp = newUDPListener(s, us)
		s.closers = append(s.closers, s.udp.Close)
		s.addrs["sip-udp"] = us.localAddr().String()
		host = us.localAddr().IP.String()
		s.ports[tpUDP] = us.localAddr().Port
		for range udpReaders() {
			serve = append(serve, func() { s.serving("sip-udp", s.udp.readLoop) })
		}
		serve = append(serve, func() { s.serving("sip-udp", func() { s.srv.ServeUDP(s.udp) }) })

		tl, err := net.Listen("tcp", s.cfg.Addr)
		if err != nil {
			return fmt.Errorf("sip: tcp listener: %w", err)
		}
		gl := &guardedListener{Listener: tl, s: s}
		s.tcpListener = tl
		s.closers = append(s.closers, tl.Close)
		s.addrs["sip-tcp"] = tl.Addr().String()
		s.ports[tpTCP] = tl.Addr().(*net.TCPAddr).Port
		serve = append(serve, func() { s.serving("sip-tcp", func() { s.srv.ServeTCP(gl) }) })
	}
	if s.cfg.TLSAddr != "" {
		conf, err := s.loadTLS()
		if err != nil {
			return err
		}
		s.tlsConf = conf
		tl, err := net.Listen("tcp", s.cfg.TLSAddr)
		if err != nil {
			return fmt.Errorf("sip: tls listener: %w", err)
		}
		gl := &guardedListener{Listener: tl, s: s, tls: conf}
		s.closers = append(s.closers, tl.Close)
		s.addrs["sip-tls"] = tl.Addr().String()
		s.ports[tpTLS] = tl.Addr().(*net.TCPAddr).Port
		if host == "" {
			host = tl.Addr().(*net.TCPAddr).IP.String()
		}
		serve = append(serve, func() { s.serving("sip-tls", func() { s.srv.ServeTLS(gl) }) })
	}
	if s.cfg.WebSocket {
		s.wsAccept = newConnListener()
		s.closers = append(s.closers, s.wsAccept.Close)
		serve = append(serve, func() { s.serving("sip-ws", func() { s.srv.ServeWS(s.wsAccept) }) })
	}
	s.host = advertisedHost(s.cfg.PublicHost, host)
	for _, f := range serve {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); f() }()
	}
	return nil
}

// advertisedHost picks the host for Via and Contact headers.
func advertisedHost(public, bound string) string {
	if public != "" {
		if h, _, err := net.SplitHostPort(public); err == nil {
			return h
		}
		return public
	}
	ip, err := netip.ParseAddr(bound)
	if err == nil && !ip.IsUnspecified() {
		return ip.String()
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
				return n.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// SetWebSocketAddr tells the server where its WebSocket endpoint is reachable (the HTTP
// listener), for the Contact it writes on WebSocket connections.
func (s *Server) SetWebSocketAddr(addr string) {
	if _, p, err := net.SplitHostPort(addr); err == nil {
		n, _ := strconv.Atoi(p)
		s.ports[tpWS] = n
		s.ports[tpWSS] = n
	}
}

// WebSocketHandler serves SIP over WebSocket (RFC 7118) on an HTTP path; nil when disabled.
func (s *Server) WebSocketHandler() http.Handler {
	if s.wsAccept == nil && !s.cfg.WebSocket {
		return nil
	}
	return http.HandlerFunc(s.serveWS)
}

func (s *Server) housekeeping() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastPoll, lastSweep time.Time
	for {
		select {
		case <-s.stopping:
			return
		case now := <-t.C:
			if now.Sub(lastPoll) >= s.pol().CredentialPoll {
				lastPoll = now
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if err := s.accounts.poll(ctx); err != nil {
					s.log.Warn("poll changed SIP secrets", "err", err)
				}
				if err := s.forgetBlocked(ctx); err != nil {
					s.log.Warn("poll deactivated users", "err", err)
				}
				cancel()
			}
			if now.Sub(lastSweep) >= 5*time.Second {
				lastSweep = now
				s.loc.sweep()
				s.guard.sweep()
				s.auth.counts.sweep(now, s.pol().NonceLifetime)
			}
		}
	}
}

// Drain refuses new calls and registrations, waits for running calls until ctx ends, then
// hangs up the rest.
func (s *Server) Drain(ctx context.Context) error {
	s.draining.Store(true)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for s.calls.count() > 0 {
		select {
		case <-ctx.Done():
			n := s.calls.count()
			s.log.Info("drain grace period over, hanging up calls", "calls", n)
			s.hangupAll("drain")
			return nil
		case <-t.C:
		}
	}
	return nil
}

// Stop closes listeners, hangs up whatever is left and releases everything.
func (s *Server) Stop() error {
	s.draining.Store(true)
	s.hangupAll("shutdown")
	select {
	case <-s.stopping:
	default:
		close(s.stopping)
	}
	s.closeListeners()
	if s.ua != nil {
		s.ua.Close()
	}
	if s.started {
		s.wg.Wait()
		s.cdrs.close()
		s.persist.close() // flushes pending registrations
	}
	return nil
}

func (s *Server) closeListeners() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

func (s *Server) count(method string) {
	if s.metrics.requests != nil {
		s.metrics.requests.WithLabelValues(method).Inc()
	}
}

func (s *Server) dropped(reason string) {
	if s.metrics.dropped != nil {
		s.metrics.dropped.WithLabelValues(reason).Inc()
	}
}
