package sip

import (
	"log/slog"
	"net/netip"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newTestGuard(p Policy) (*guard, *fakeClock) {
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	g := newGuard(func() *Policy { return &p }, slog.New(slog.DiscardHandler))
	g.now = clk.now
	return g, clk
}

func TestGuardRateLimit(t *testing.T) {
	p := DefaultPolicy()
	p.RatePerSource, p.BurstPerSource = 10, 20
	p.RateExempt = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	g, clk := newTestGuard(p)
	src := netip.MustParseAddrPort("192.0.2.1:5060")
	for i := 0; i < 20; i++ {
		if v := g.admit(src); v != pass {
			t.Fatalf("message %d of the burst refused: %v", i, v)
		}
	}
	if v := g.admit(src); v != dropRate {
		t.Fatalf("message beyond the burst: %v, want dropRate", v)
	}
	// another port of the same address shares the bucket (sources are keyed by IP)
	if v := g.admit(netip.MustParseAddrPort("192.0.2.1:5099")); v != dropRate {
		t.Fatalf("same IP, other port: %v", v)
	}
	clk.add(time.Second) // refills 10
	for i := 0; i < 10; i++ {
		if v := g.admit(src); v != pass {
			t.Fatalf("after refill, message %d refused", i)
		}
	}
	if v := g.admit(src); v != dropRate {
		t.Fatal("refill exceeded the rate")
	}
	// another source is unaffected; an exempt one is never limited
	if v := g.admit(netip.MustParseAddrPort("192.0.2.2:5060")); v != pass {
		t.Fatal("another source limited")
	}
	for i := 0; i < 1000; i++ {
		if v := g.admit(netip.MustParseAddrPort("10.1.2.3:5060")); v != pass {
			t.Fatal("exempt source limited")
		}
	}
	if g.limited.Load() != 3 {
		t.Errorf("limited counter %d, want 3", g.limited.Load())
	}
}

func TestGuardBans(t *testing.T) {
	p := DefaultPolicy()
	p.AuthFailures, p.UnknownTargets, p.BanTime, p.AuthWindow = 3, 4, time.Minute, time.Minute
	tests := []struct {
		name string
		hit  func(g *guard, src netip.AddrPort, i int) bool
		n    int
	}{
		{"auth failures", func(g *guard, src netip.AddrPort, i int) bool { return g.authFailed(src) }, 3},
		{"unknown targets", func(g *guard, src netip.AddrPort, i int) bool { return g.unknownTarget(src, string(rune('a'+i))) }, 4},
		{"scanner", func(g *guard, src netip.AddrPort, i int) bool { g.ban(src, "scanner"); return true }, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, clk := newTestGuard(p)
			src := netip.MustParseAddrPort("198.51.100.9:5060")
			for i := 0; i < tc.n; i++ {
				if g.isBanned(src) {
					t.Fatalf("banned after %d", i)
				}
				banned := tc.hit(g, src, i)
				if banned != (i == tc.n-1) {
					t.Fatalf("hit %d: banned=%v", i, banned)
				}
			}
			if !g.isBanned(src) || g.admit(src) != dropBanned {
				t.Fatal("not banned")
			}
			if !g.isBanned(netip.MustParseAddrPort("198.51.100.9:40000")) {
				t.Fatal("the ban is per address, not per port")
			}
			if g.isBanned(netip.MustParseAddrPort("198.51.100.10:5060")) {
				t.Fatal("a neighbour got banned")
			}
			clk.add(p.BanTime + time.Second)
			if g.isBanned(src) || g.admit(src) != pass {
				t.Fatal("ban did not expire")
			}
		})
	}
}

func TestGuardWindowAndRepeats(t *testing.T) {
	p := DefaultPolicy()
	p.AuthFailures, p.UnknownTargets, p.AuthWindow = 3, 3, time.Minute
	g, clk := newTestGuard(p)
	src := netip.MustParseAddrPort("203.0.113.5:5060")
	g.authFailed(src)
	g.authFailed(src)
	clk.add(2 * time.Minute) // the window restarts: a phone with a stale password is not banned for hours of retries
	if g.authFailed(src) || g.authFailed(src) {
		t.Fatal("failures of an old window counted")
	}
	// the same unknown target again and again is one probe, not an enumeration
	for i := 0; i < 10; i++ {
		if g.unknownTarget(src, "1234") {
			t.Fatal("repeating one unknown number banned the source")
		}
	}
}

func TestGuardKeyByPort(t *testing.T) {
	p := DefaultPolicy()
	p.KeyByPort = true
	g, _ := newTestGuard(p)
	g.ban(netip.MustParseAddrPort("192.0.2.1:5060"), "test")
	if !g.isBanned(netip.MustParseAddrPort("192.0.2.1:5060")) || g.isBanned(netip.MustParseAddrPort("192.0.2.1:5061")) {
		t.Fatal("KeyByPort should ban one address and port only")
	}
}

func TestScannerAgents(t *testing.T) {
	g, _ := newTestGuard(DefaultPolicy())
	for ua, want := range map[string]bool{
		"friendly-scanner":        true,
		"sipvicious":              true,
		"SIPVicious 0.3.3":        true,
		"sipcli/v1.8":             true,
		"VaxSIPUserAgent/3.1":     true,
		"Yealink SIP-T46S":        false,
		"baresip v1.0.0 (x86_64)": false,
		"":                        false,
	} {
		if got := g.scanner(ua); got != want {
			t.Errorf("scanner(%q) = %v", ua, got)
		}
	}
}
