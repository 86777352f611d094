package app

import (
	"context"
	"fmt"
	"github.com/privox/privox/internal/api"
	"net"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/privox/privox/internal/config"
	"github.com/privox/privox/internal/media"
	"github.com/privox/privox/internal/privacy"
	"github.com/privox/privox/internal/sip"
)

// The SIP core and the media relay it anchors every call in. The relay is built from the RTP
// port range and the SIP listener's address; SIP over WebSocket is served on the HTTP
// listener at /sip.

func init() { registerSubsystem(newSIPSubsystem) }

// sipSubsystem runs the SIP server and owns the relay, which outlives the server's drain
// (calls still carry media until they are hung up) and closes after it.
type sipSubsystem struct {
	*sip.Server
	a     *App
	relay *media.Relay
	apps  *callApps
}

var _ Subsystem = (*sipSubsystem)(nil)

func newSIPSubsystem(a *App) (Subsystem, error) {
	c := a.Cfg
	if c.SIP.Addr == "" && c.SIP.TLSAddr == "" {
		return nil, nil
	}
	lo, hi, err := config.ParsePortRange(c.RTP.Ports)
	if err != nil {
		return nil, fmt.Errorf("sip: %w", err)
	}
	mc := media.Config{PortMin: lo, PortMax: hi, Logger: a.Logger}
	// Media binds where SIP does, so that SIP on loopback advertises loopback media.
	if ip, ok := listenIP(c.SIP.Addr); ok {
		mc.BindIP = ip
	} else if ip, ok := listenIP(c.SIP.TLSListenAddr()); ok && c.SIP.Addr == "" {
		mc.BindIP = ip
	}
	if ip, ok := hostIP(c.SIP.PublicAddr); ok {
		mc.AdvertiseIP = ip
	} else if ip, err := netip.ParseAddr(c.SIP.PublicAddr); err == nil {
		mc.AdvertiseIP = ip
	}
	relay, err := media.NewRelay(mc)
	if err != nil {
		return nil, fmt.Errorf("sip: media relay: %w", err)
	}
	if a.Dialplan != nil {
		a.Dialplan.Boxes = a.voicemail() // DIDs may name mailboxes: checked on save
	}
	srv, err := sip.New(sip.Config{
		Addr:       c.SIP.Addr,
		TLSAddr:    c.SIP.TLSListenAddr(),
		TLSCert:    c.SIP.TLSCert,
		TLSKey:     c.SIP.TLSKey,
		TLSDir:     filepath.Join(c.DataDir, "tls"),
		PublicHost: c.SIP.PublicAddr,
		WebSocket:  true,
		Node:       c.NodeName,
	}, sip.Deps{DB: a.DB, Relay: relay, Logger: a.Logger, Metrics: a.Metrics, Secrets: a.Vault, Names: a.Directory,
		Routes: a.Dialplan, DIDs: a.Dialplan, Guard: a.dialGuard, Blocked: a.blockedCall, Mailboxes: a.voicemail(), Divert: a.voicemail(), MessageCounts: a.voicemail(),
		Forwards: a.forwards()})
	if err != nil {
		relay.Close()
		return nil, err
	}
	trusted, err := config.ParsePrefixes(c.SIP.TrustedSources)
	if err != nil {
		relay.Close()
		return nil, fmt.Errorf("sip: trusted sources: %w", err)
	}
	pol := srv.Policy()
	pol.RateExempt = trusted
	srv.SetPolicy(pol)
	apps, err := newCallApps(a)
	if err != nil {
		relay.Close()
		return nil, err
	}
	s := &sipSubsystem{Server: srv, a: a, relay: relay, apps: apps}
	srv.SetApps(apps.Apps)
	a.voicemail().OnChange(srv.MessagesChanged)
	if a.Privacy != nil {
		a.Privacy.OnSweep(func(rep privacy.SweepReport) {
			for _, t := range rep.Tables {
				// Messages go with their files (content_files) or as rows of their own.
				if t.Removed > 0 && (t.Table == "content_files" || strings.HasPrefix(t.Table, "voicemail_")) {
					srv.RefreshMessageWaiting()
					return
				}
			}
		})
	}
	a.forgetters = append(a.forgetters, srv)
	a.apiDeps = append(a.apiDeps, func(d *api.Deps) {
		d.Explain = srv.Explain
		d.TrunkStates = func(tenantID int64) any { return srv.TrunkStates(tenantID) }
		d.Registrations = func(tenantID, userID int64) any { return srv.Registrations(tenantID, userID) }
		d.ActiveCalls = func(tenantID int64) any { return srv.TenantCalls(tenantID) }
	})
	if err := registerRelayMetrics(a.Metrics, relay); err != nil {
		relay.Close()
		return nil, err
	}
	a.Mux.Handle("GET /sip", srv.WebSocketHandler())
	return s, nil
}

// registerRelayMetrics exports the relay's totals (the benchmarks read packet counts here).
func registerRelayMetrics(reg prometheus.Registerer, r *media.Relay) error {
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "privox_media_sessions", Help: "Media sessions (calls) anchored in the relay."},
			func() float64 { return float64(r.Stats().ActiveSessions) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "privox_media_ports_in_use", Help: "RTP and RTCP ports of the range in use."},
			func() float64 { return float64(r.Stats().PortsInUse) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "privox_media_packets_relayed_total", Help: "RTP and RTCP packets relayed to the other leg."},
			func() float64 { return float64(r.Stats().PacketsRelayed) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "privox_media_packets_received_total", Help: "RTP and RTCP packets accepted from a leg."},
			func() float64 { return float64(r.Stats().PacketsReceived) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "privox_media_packets_dropped_total", Help: "Packets received and not relayed."},
			func() float64 { return float64(r.Stats().PacketsDropped) }),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("sip: media metrics: %w", err)
		}
	}
	return nil
}

// hostIP returns the IP of a host:port listen address, if it names one.
func hostIP(addr string) (netip.Addr, bool) {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(h)
	if err != nil || ip.IsUnspecified() {
		return netip.Addr{}, false
	}
	return ip, true
}

// listenIP is the IP a listener on addr binds: hostIP, or the address a host name such as
// localhost resolves to, as net.Listen resolves it.
func listenIP(addr string) (netip.Addr, bool) {
	if ip, ok := hostIP(addr); ok {
		return ip, true
	}
	if h, _, err := net.SplitHostPort(addr); err != nil || h == "" {
		return netip.Addr{}, false
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return netip.Addr{}, false
	}
	ip, ok := netip.AddrFromSlice(ua.IP)
	if !ok || ip.IsUnspecified() {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}

// Start binds the SIP listeners and records their addresses (tests use port 0).
func (s *sipSubsystem) Start(ctx context.Context) error {
	s.Server.SetWebSocketAddr(s.a.HTTPAddr)
	if err := s.Server.Start(ctx); err != nil {
		return err
	}
	for _, name := range []string{"sip-udp", "sip-tcp", "sip-tls"} {
		if v := s.Server.Addr(name); v != "" {
			s.a.SetAddr(name, v)
		}
	}
	s.a.SetAddr("sip-ws", s.a.HTTPAddr)
	return nil
}

// Stop stops the SIP server, then the relay.
func (s *sipSubsystem) Stop() error {
	err := s.Server.Stop()
	s.apps.Close()
	s.relay.Close()
	return err
}

// SIP returns the running SIP server (nil when SIP is disabled), for tests and tools.
func (a *App) SIP() *sip.Server {
	for _, sub := range a.subsystems {
		if s, ok := sub.(*sipSubsystem); ok {
			return s.Server
		}
	}
	return nil
}

// Relay returns the media relay of the SIP server (nil when SIP is disabled).
func (a *App) Relay() *media.Relay {
	for _, sub := range a.subsystems {
		if s, ok := sub.(*sipSubsystem); ok {
			return s.relay
		}
	}
	return nil
}
