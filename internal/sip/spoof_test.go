package sip_test

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gosip "github.com/emiago/sipgo/sip"

	"github.com/privox/privox/internal/config"
	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/sip"
)

// rawUDP is a socket that writes SIP datagrams by hand, as a scanner (or a forger) does.
type rawUDP struct {
	t    *testing.T
	conn *net.UDPConn
}

func newRawUDP(t *testing.T, ip string) *rawUDP {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawUDP{t: t, conn: c}
}

func (r *rawUDP) send(to, msg string) {
	r.t.Helper()
	a, err := net.ResolveUDPAddr("udp", to)
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.conn.WriteToUDP([]byte(strings.ReplaceAll(msg, "\n", "\r\n")), a); err != nil {
		r.t.Fatal(err)
	}
}

// collect reads datagrams until for has passed and returns them.
func (r *rawUDP) collect(d time.Duration) []string {
	var out []string
	deadline := time.Now().Add(d)
	buf := make([]byte, 65536)
	for {
		_ = r.conn.SetReadDeadline(deadline)
		n, _, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			return out
		}
		out = append(out, string(buf[:n]))
	}
}

func (r *rawUDP) port() int { return r.conn.LocalAddr().(*net.UDPAddr).Port }

// TestSpoofedScannerBan is the spoofed-ban attack: a phone registered from 127.0.0.2; the
// attacker sends datagrams that carry a scanner User-Agent with the phone's source address
// (on loopback it simply sends from that address: what a forger achieves with raw sockets).
// The phone must not be banned and must go on registering; the same datagram from an address
// that never authenticated still bans it.
func TestSpoofedScannerBan(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	phone := newSIPClient(t, "127.0.0.2")
	reg := func() *gosip.Request {
		req := gosip.NewRequest(gosip.REGISTER, gosip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: port(e.addr("udp"))})
		req.AppendHeader(&gosip.FromHeader{Address: gosip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1"}, Params: tagParam()})
		req.AppendHeader(&gosip.ToHeader{Address: gosip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1"}})
		req.AppendHeader(&gosip.ContactHeader{Address: gosip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.2", Port: 5999}})
		return req
	}
	if res := phone.do(reg(), "1001", "secret-1001"); res.StatusCode != 200 {
		t.Fatalf("phone REGISTER: %d", res.StatusCode)
	}
	scanner := func(from *rawUDP, ip string, method string) string {
		return fmt.Sprintf(`%[1]s sip:100@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP %[2]s:%[3]d;branch=z9hG4bK-%[4]d
From: <sip:100@127.0.0.1>;tag=x%[4]d
To: <sip:100@127.0.0.1>
Call-ID: forged-%[4]d
CSeq: 1 %[1]s
Max-Forwards: 70
User-Agent: friendly-scanner
Content-Length: 0

`, method, ip, from.port(), time.Now().UnixNano())
	}
	forger := newRawUDP(t, "127.0.0.2")
	forger.send(e.addr("udp"), scanner(forger, "127.0.0.2", "REGISTER")) // the REGISTER fast path
	forger.send(e.addr("udp"), scanner(forger, "127.0.0.2", "OPTIONS"))  // the full path
	stranger := newRawUDP(t, "127.0.0.3")
	stranger.send(e.addr("udp"), scanner(stranger, "127.0.0.3", "OPTIONS"))
	waitFor(t, "the stranger's ban", func() bool { return e.srv().Banned(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.3"), 0)) })
	if e.srv().Banned(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), 0)) {
		t.Fatal("forged scanner datagrams banned the registered phone")
	}
	if res := phone.do(reg(), "1001", "secret-1001"); res.StatusCode != 200 {
		t.Fatalf("phone re-REGISTER after the forged datagrams: %d", res.StatusCode)
	}
}

// TestChallengeSentOnce: the 407 to an INVITE without credentials over UDP goes out once,
// not retransmitted toward a source address anyone can forge.
func TestChallengeSentOnce(t *testing.T) {
	e := start(t, func(p *sip.Policy) {})
	e.ext("1001", "secret-1001")
	c := newRawUDP(t, "127.0.0.2")
	// the first INVITE may find the tenant uncached; the second one surely finds it cached
	for i := 0; i < 2; i++ {
		c.send(e.addr("udp"), fmt.Sprintf(`INVITE sip:1002@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.2:%[1]d;branch=z9hG4bK-once-%[2]d;rport
From: <sip:1001@127.0.0.1>;tag=once%[2]d
To: <sip:1002@127.0.0.1>
Call-ID: challenge-once-%[2]d
CSeq: 1 INVITE
Contact: <sip:1001@127.0.0.2:%[1]d>
Max-Forwards: 70
Content-Length: 0

`, c.port(), i))
		// a transaction would retransmit its 407 after 0.5 s, 1.5 s, 3.5 s… (Timer G)
		got := c.collect(4 * time.Second)
		n := 0
		for _, m := range got {
			if strings.HasPrefix(m, "SIP/2.0 407") {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("INVITE %d: %d 407 responses, want exactly 1:\n%s", i, n, strings.Join(got, "\n---\n"))
		}
	}
}

// TestTrustedSourcesConfigured: sip.trusted_sources is the guard's list of sources exempt
// from the rate limit (loopback unless configured).
func TestTrustedSourcesConfigured(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{Configure: func(c *config.Config) {
		c.SIP.TrustedSources = []string{"10.20.0.0/16", "2001:db8::/32"}
	}})
	got := p.App.SIP().Policy().RateExempt
	if len(got) != 2 || got[0].String() != "10.20.0.0/16" || got[1].String() != "2001:db8::/32" {
		t.Fatalf("rate-exempt sources %v, want the configured ones", got)
	}
}

// TestRestoredRegistrationsVouched: a phone registered before a restart is still spared bans
// on forgeable evidence after it, before it registers again.
func TestRestoredRegistrationsVouched(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first := privoxtest.Start(t, privoxtest.Options{DataDir: dir})
	e := &env{t: t, p: first}
	e.ext("1002", "secret-1002")
	e.register("1002", "secret-1002", e.newPeer("udp"))
	first.Stop()
	second := privoxtest.Start(t, privoxtest.Options{DataDir: dir})
	if !second.App.SIP().VouchedForTest(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0)) {
		t.Fatal("the restored registration's source is not known to have authenticated")
	}
}
