package app_test

import (
	"testing"

	"github.com/privox/privox/internal/config"
	"github.com/privox/privox/internal/privoxtest"
)

// TestLoopbackSIPAdvertisesLoopbackMedia: with SIP on a loopback address and no public_addr,
// the media address written into SDP is a loopback address too, never a LAN address that the
// phones on loopback were not told about (and that a firewall may close).
func TestLoopbackSIPAdvertisesLoopbackMedia(t *testing.T) {
	for _, c := range []struct{ name, addr, tls string }{
		{"ip", "127.0.0.1:0", "127.0.0.1:0"},
		{"localhost", "localhost:0", ":0"},
		{"tls only", "", "127.0.0.1:0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := privoxtest.Start(t, privoxtest.Options{Configure: func(cfg *config.Config) { cfg.SIP.Addr, cfg.SIP.TLSAddr = c.addr, c.tls }})
			if ip := p.App.Relay().AdvertiseIP(); !ip.IsLoopback() {
				t.Fatalf("sip.addr %q, tls_addr %q: media advertised at %s, want a loopback address", c.addr, c.tls, ip)
			}
		})
	}
}
