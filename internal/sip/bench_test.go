package sip

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// BenchmarkRegisterUDP measures the server side of one digest-authenticated REGISTER over UDP
// as the read loop handles it: parse, guard, validate, digest verification against the
// cached secret, the location service and the response written to a socket. (bench/register.sh
// measures the whole box with sipp and compares with Kamailio.)
func BenchmarkRegisterUDP(b *testing.B) {
	s := fuzzServer(b)
	u, src := benchUDP(b, s)

	nonce := s.auth.nonce("default")
	msgs := make([][]byte, 1000)
	for i := range msgs {
		user := "1001"
		chal := &digest.Challenge{Realm: "default", Nonce: nonce, Algorithm: "MD5", QOP: []string{"auth"}}
		cred, _ := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:127.0.0.1", Username: user, Password: "secret", Count: 1})
		msgs[i] = []byte(strings.ReplaceAll(fmt.Sprintf(`REGISTER sip:127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-bench-%d
Max-Forwards: 70
From: <sip:%s@bench.local>;tag=b%d
To: <sip:%s@bench.local>
Call-ID: bench-%d
CSeq: 2 REGISTER
Contact: <sip:%s@127.0.0.1:%d>
%s
Expires: 3600
User-Agent: sipp-anchor
Content-Length: 0

`, src.Port(), i, user, i, user, i, user, src.Port(), "Authorization: "+cred.String()), "\n", "\r\n"))
	}
	// warm: the first answer must be a 200
	if _, err := sip.ParseMessage(msgs[0]); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.udpDatagram(u, nil, msgs[i%len(msgs)], src)
	}
	b.StopTimer()
	if s.loc.bindings() == 0 {
		b.Fatal("nothing registered")
	}
}

// BenchmarkRegisterChallenge measures the first half of a registration: a REGISTER without
// credentials answered with a digest challenge.
func BenchmarkRegisterChallenge(b *testing.B) {
	s := fuzzServer(b)
	u, src := benchUDP(b, s)
	msg := []byte(strings.ReplaceAll(fmt.Sprintf(`REGISTER sip:127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-bench-1
Max-Forwards: 70
From: <sip:1001@bench.local>;tag=b1
To: <sip:1001@bench.local>
Call-ID: bench-1
CSeq: 1 REGISTER
Contact: <sip:1001@127.0.0.1:%d>
Expires: 3600
User-Agent: sipp-anchor
Content-Length: 0

`, src.Port(), src.Port()), "\n", "\r\n"))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.udpDatagram(u, nil, msg, src)
	}
}

// benchUDP gives s a UDP listener on loopback and a source address whose answers are read and
// dropped, both closed when the benchmark ends.
func benchUDP(b *testing.B, s *Server) (*udpListener, netip.AddrPort) {
	sock, err := listenUDPSock("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sink.Close() })
	go func() { // drain the answers
		buf := make([]byte, 65536)
		for {
			if _, _, err := sink.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	u := newUDPListener(s, sock)
	b.Cleanup(func() { u.Close() })
	src := sink.LocalAddr().(*net.UDPAddr).AddrPort()
	return u, netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
}
