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
		{"auth failures", func(g *guard, src netip.AddrPort, i int) bool { return g.authFailed(src, nil, tpUDP) }, 3},
		{"unknown targets", func(g *guard, src netip.AddrPort, i int) bool {
			return g.unknownTarget(src, string(rune('a'+i)), tpUDP)
		}, 4},
		{"scanner", func(g *guard, src netip.AddrPort, i int) bool { return g.ban(src, "scanner", true) }, 1},
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
	g.authFailed(src, nil, tpUDP)
	g.authFailed(src, nil, tpUDP)
	clk.add(2 * time.Minute) // the window restarts: a phone with a stale password is not banned for hours of retries
	if g.authFailed(src, nil, tpUDP) || g.authFailed(src, nil, tpUDP) {
		t.Fatal("failures of an old window counted")
	}
	// the same unknown target again and again is one probe, not an enumeration
	for i := 0; i < 10; i++ {
		if g.unknownTarget(src, "1234", tpUDP) {
			t.Fatal("repeating one unknown number banned the source")
		}
	}
}

func TestGuardKeyByPort(t *testing.T) {
	p := DefaultPolicy()
	p.KeyByPort = true
	g, _ := newTestGuard(p)
	g.ban(netip.MustParseAddrPort("192.0.2.1:5060"), "test", false)
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

// TestGuardSpoofedEvidence: evidence a forged UDP datagram can carry (a scanner User-Agent,
// failed responses, probes) does not ban a source that authenticated; the same evidence over
// a connection, or against a source that never authenticated, does.
func TestGuardSpoofedEvidence(t *testing.T) {
	p := DefaultPolicy()
	p.AuthFailures, p.UnknownTargets = 3, 3
	g, clk := newTestGuard(p)
	phone := netip.MustParseAddrPort("192.0.2.50:5060")
	stranger := netip.MustParseAddrPort("192.0.2.51:5060")
	g.vouch(phone)
	if g.ban(phone, "scanner user agent", true) || g.isBanned(phone) {
		t.Fatal("a forged scanner datagram banned a phone that authenticated")
	}
	for i := 0; i < 10; i++ {
		g.authFailed(phone, nil, tpUDP)
		g.unknownTarget(phone, string(rune('a'+i)), tpUDP)
	}
	if g.isBanned(phone) {
		t.Fatal("forged failures banned a phone that authenticated")
	}
	if !g.ban(stranger, "scanner user agent", true) || !g.isBanned(stranger) {
		t.Fatal("a scanner that never authenticated was not banned")
	}
	if !g.ban(phone, "scanner on a connection", false) {
		t.Fatal("evidence over a connection (not forgeable) did not ban")
	}
	// the voucher expires with VouchTime
	other := netip.MustParseAddrPort("192.0.2.52:5060")
	g.vouch(other)
	clk.add(p.VouchTime + time.Second)
	if !g.ban(other, "scanner user agent", true) {
		t.Fatal("an old voucher still spared the source")
	}
}

// TestGuardIPv6Prefix: IPv6 sources are banned by /64.
func TestGuardIPv6Prefix(t *testing.T) {
	g, _ := newTestGuard(DefaultPolicy())
	g.ban(netip.MustParseAddrPort("[2001:db8:1:2::1]:5060"), "test", false)
	if !g.isBanned(netip.MustParseAddrPort("[2001:db8:1:2:ffff::9]:5070")) {
		t.Fatal("another address of the same /64 is not banned")
	}
	if g.isBanned(netip.MustParseAddrPort("[2001:db8:1:3::1]:5060")) {
		t.Fatal("the next /64 got banned")
	}
	if g.isBanned(netip.MustParseAddrPort("192.0.2.1:5060")) {
		t.Fatal("an IPv4 source got banned")
	}
}

// TestGuardBoundedState: a flood of (spoofed) sources keeps the guard within MaxSources, and
// what matters (a ban, a phone that authenticated) outlives the flood.
func TestGuardBoundedState(t *testing.T) {
	p := DefaultPolicy()
	p.MaxSources = 64 * 16
	p.RateExempt = nil
	g, _ := newTestGuard(p)
	phone := netip.MustParseAddrPort("198.51.100.1:5060")
	scanner := netip.MustParseAddrPort("198.51.100.2:5060")
	g.vouch(phone)
	g.ban(scanner, "test", false)
	for i := 0; i < 100_000; i++ {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		g.admit(netip.AddrPortFrom(a, 5060))
	}
	if n := g.size(); n > p.MaxSources {
		t.Fatalf("%d sources kept, cap %d", n, p.MaxSources)
	}
	if !g.vouched(phone) {
		t.Error("the flood evicted a phone that authenticated")
	}
	if !g.isBanned(scanner) {
		t.Error("the flood evicted a ban")
	}
}

// TestGuardAccountBudget: guessing one account's password slower than the per-source limit
// (9 a minute from one address) is caught by the account's failure budget.
func TestGuardAccountBudget(t *testing.T) {
	p := DefaultPolicy()
	g, clk := newTestGuard(p)
	acct := &account{tenantID: 1, username: "1001"}
	src := netip.MustParseAddrPort("203.0.113.77:5060")
	banned := false
	for minute := 0; minute < 10 && !banned; minute++ {
		for i := 0; i < 9; i++ {
			if g.authFailed(src, acct, tpTCP) {
				banned = true
				break
			}
			clk.add(time.Minute / 9)
		}
	}
	if !banned || !g.isBanned(src) {
		t.Fatal("9 wrong passwords a minute for one account were never banned")
	}
	// another account is not affected: one failure there bans nobody
	other := netip.MustParseAddrPort("203.0.113.78:5060")
	if g.authFailed(other, &account{tenantID: 1, username: "1002"}, tpTCP) {
		t.Fatal("another account's budget was spent")
	}
}
