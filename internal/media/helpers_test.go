package media

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/srtp/v3"
)

// nextRange hands each test its own slice of ports so that parallel packages and tests don't
// fight over the same ones (the allocator would cope, but golden ports and exhaustion counts
// are easier to reason about). The block sits below the Linux ephemeral range.
var nextRange atomic.Int32

func portRange(n int) (int, int) {
	start := 12000 + int(nextRange.Add(int32(n))) - n
	return start, start + n - 1
}

func newTestRelay(t testing.TB, mod func(*Config)) *Relay {
	t.Helper()
	min, max := portRange(40)
	cfg := Config{
		PortMin: min, PortMax: max,
		BindIP: netip.MustParseAddr("127.0.0.1"),
	}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg.Engine = engineUnderTest
	if mod != nil {
		mod(&cfg)
	}
	r, err := NewRelay(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// waitTimeout is a fail-safe against hangs, never a performance bound.
const waitTimeout = 10 * time.Second

// phone is a fake SIP endpoint's media side: an RTP socket and a separate RTCP socket
// (announced with a=rtcp), optionally SRTP with its own send key.
type phone struct {
	t         testing.TB
	rtp, rtcp *net.UDPConn
	// SRTP: sendKey is the key the phone announces; recvKey the one it learnt from the SDP it
	// received.
	suite               string
	sendKey             []byte
	encRTP, encRTCP     *srtp.Context
	decRTP, decRTCP     *srtp.Context
	relayRTP, relayRTCP netip.AddrPort // where to send, from the SDP received
	seq                 uint16
	ts                  uint32
	ssrc                uint32
}

func newPhone(t testing.TB, ssrc uint32) *phone {
	t.Helper()
	p := &phone{t: t, rtp: listen(t), rtcp: listen(t), ssrc: ssrc, ts: ssrc * 7}
	return p
}

func listen(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func port(c *net.UDPConn) int { return c.LocalAddr().(*net.UDPAddr).Port }

// withSRTP makes the phone offer/answer SDES with a fixed key.
func (p *phone) withSRTP(suite string, seed byte) *phone {
	p.suite = suite
	prof := srtpSuites[suite]
	keyLen, _ := prof.KeyLen()
	saltLen, _ := prof.SaltLen()
	p.sendKey = bytes.Repeat([]byte{seed}, keyLen+saltLen)
	for i := range p.sendKey {
		p.sendKey[i] += byte(i)
	}
	var err error
	if p.encRTP, err = srtp.CreateContext(p.sendKey[:keyLen], p.sendKey[keyLen:], prof); err != nil {
		p.t.Fatal(err)
	}
	if p.encRTCP, err = srtp.CreateContext(p.sendKey[:keyLen], p.sendKey[keyLen:], prof); err != nil {
		p.t.Fatal(err)
	}
	return p
}

// sdp returns the phone's SDP, with a direction attribute and c= address.
func (p *phone) sdp(direction, addr string) []byte {
	proto := "RTP/AVP"
	crypto := ""
	if p.suite != "" {
		proto = "RTP/SAVP"
		crypto = "a=crypto:1 " + p.suite + " inline:" + base64.StdEncoding.EncodeToString(p.sendKey) + "\r\n"
	}
	return []byte(fmt.Sprintf("v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"+
		"m=audio %d %s 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"+
		"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=rtcp:%d\r\na=ptime:20\r\na=%s\r\n%s",
		addr, port(p.rtp), proto, port(p.rtcp), direction, crypto))
}

// learn takes the SDP the relay sent to this phone: the relay's address and, with SRTP, the
// relay's key to decrypt with.
func (p *phone) learn(raw []byte) {
	p.t.Helper()
	var d sdp.SessionDescription
	if err := d.Unmarshal(raw); err != nil {
		p.t.Fatalf("relay SDP does not parse: %v\n%s", err, raw)
	}
	md := d.MediaDescriptions[0]
	c := md.ConnectionInformation
	if c == nil {
		c = d.ConnectionInformation
	}
	addr := netip.MustParseAddr(c.Address.Address)
	p.relayRTP = netip.AddrPortFrom(addr, uint16(md.MediaName.Port.Value))
	p.relayRTCP = netip.AddrPortFrom(addr, uint16(md.MediaName.Port.Value+1))
	if v, ok := md.Attribute("rtcp"); ok {
		n, _ := strconv.Atoi(strings.Fields(v)[0])
		p.relayRTCP = netip.AddrPortFrom(addr, uint16(n))
	}
	if v, ok := md.Attribute("crypto"); ok {
		c, err := parseCrypto(v)
		if err != nil {
			p.t.Fatal(err)
		}
		if p.decRTP, err = srtp.CreateContext(c.key, c.salt, c.profile); err != nil {
			p.t.Fatal(err)
		}
		if p.decRTCP, err = srtp.CreateContext(c.key, c.salt, c.profile); err != nil {
			p.t.Fatal(err)
		}
	}
}

// packet builds the phone's next RTP packet.
func (p *phone) packet(pt uint8, payload []byte, marker bool) []byte {
	p.seq++
	p.ts += 160
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: p.seq, Timestamp: p.ts, SSRC: p.ssrc, Marker: marker}, Payload: payload}
	b, err := pkt.Marshal()
	if err != nil {
		p.t.Fatal(err)
	}
	return b
}

// send sends an RTP packet to the relay from conn (the phone's RTP socket unless given).
func (p *phone) send(from *net.UDPConn, b []byte) {
	p.t.Helper()
	if from == nil {
		from = p.rtp
	}
	if p.encRTP != nil {
		var err error
		if b, err = p.encRTP.EncryptRTP(nil, b, nil); err != nil {
			p.t.Fatal(err)
		}
	}
	if _, err := from.WriteToUDPAddrPort(b, p.relayRTP); err != nil {
		p.t.Fatal(err)
	}
}

func (p *phone) sendRTCP(b []byte) {
	p.t.Helper()
	if p.encRTCP != nil {
		var err error
		if b, err = p.encRTCP.EncryptRTCP(nil, b, nil); err != nil {
			p.t.Fatal(err)
		}
	}
	if _, err := p.rtcp.WriteToUDPAddrPort(b, p.relayRTCP); err != nil {
		p.t.Fatal(err)
	}
}

// recv reads one RTP packet on conn (the phone's RTP socket unless given), decrypting it.
func (p *phone) recv(on *net.UDPConn) (*rtp.Packet, netip.AddrPort) {
	p.t.Helper()
	if on == nil {
		on = p.rtp
	}
	b, src := readWithin(p.t, on)
	if p.decRTP != nil {
		var err error
		if b, err = p.decRTP.DecryptRTP(nil, b, nil); err != nil {
			p.t.Fatalf("SRTP from relay: %v", err)
		}
	}
	var pkt rtp.Packet
	if err := pkt.Unmarshal(b); err != nil {
		p.t.Fatal(err)
	}
	return &pkt, src
}

func (p *phone) recvRTCP() []byte {
	p.t.Helper()
	b, _ := readWithin(p.t, p.rtcp)
	if p.decRTCP != nil {
		var err error
		if b, err = p.decRTCP.DecryptRTCP(nil, b, nil); err != nil {
			p.t.Fatalf("SRTCP from relay: %v", err)
		}
	}
	return b
}

func readWithin(t testing.TB, c *net.UDPConn) ([]byte, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	n, src, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("no packet on %s: %v", c.LocalAddr(), err)
	}
	return buf[:n], src
}

// expectNothing checks that nothing is pending on c, after a round trip through the relay has
// shown that earlier packets were processed.
func expectNothing(t testing.TB, c *net.UDPConn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
	buf := make([]byte, 2048)
	if n, src, err := c.ReadFromUDPAddrPort(buf); err == nil {
		t.Fatalf("unexpected %d-byte packet from %s on %s", n, src, c.LocalAddr())
	} else if ne := (net.Error)(nil); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatal(err)
	}
}

// call sets up a session between two phones: A offers, B answers.
func call(t testing.TB, r *Relay, a, b *phone) *Session {
	t.Helper()
	s, err := r.NewSession(t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	toB, err := s.Offer(LegA, a.sdp("sendrecv", "127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	b.learn(toB)
	toA, err := s.Answer(LegB, b.sdp("sendrecv", "127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	a.learn(toA)
	return s
}

// rtcpRR is a minimal RTCP receiver report.
func rtcpRR(ssrc uint32) []byte {
	return []byte{0x80, 201, 0, 1, byte(ssrc >> 24), byte(ssrc >> 16), byte(ssrc >> 8), byte(ssrc)}
}

// dtmfPayload is an RFC 4733 event payload.
func dtmfPayload(event byte, end bool, duration uint16) []byte {
	e := byte(10)
	if end {
		e |= 0x80
	}
	return []byte{event, e, byte(duration >> 8), byte(duration)}
}

// packetAt builds the phone's next RTP packet with a given timestamp (telephone-events keep
// the timestamp of the event's start).
func (p *phone) packetAt(pt uint8, ts uint32, payload []byte) []byte {
	p.seq++
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: p.seq, Timestamp: ts, SSRC: p.ssrc}, Payload: payload}
	b, err := pkt.Marshal()
	if err != nil {
		p.t.Fatal(err)
	}
	return b
}

func netipAddrPort(c *net.UDPConn) netip.AddrPort {
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// engineUnderTest is the engine newTestRelay uses; engines switches it.
var engineUnderTest = EngineAuto

// engines runs a test once per receive engine (the protocol tests run over every transport).
func engines(t *testing.T, f func(t *testing.T)) {
	for _, e := range []Engine{EngineEpoll, EngineGoroutines} {
		t.Run(e.String(), func(t *testing.T) {
			engineUnderTest = e
			defer func() { engineUnderTest = EngineAuto }()
			f(t)
		})
	}
}
