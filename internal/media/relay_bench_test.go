package media

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// benchWindow packets are in flight at most, so the benchmark measures the relay's throughput
// on one call without overflowing socket buffers.
const benchWindow = 32

// BenchmarkRelayPlain pushes G.711 packets through one session over loopback: one op is one
// packet sent by the caller's phone, relayed, and read by the callee's phone (so it includes the
// phones' syscalls too). allocs/op shows the relay's plain path allocates nothing.
func BenchmarkRelayPlain(b *testing.B) {
	benchEngines(b, "")
}

// BenchmarkRelaySRTP is BenchmarkRelayPlain with SRTP on both legs: the relay decrypts and
// re-encrypts every packet; the phones' own encryption and decryption are included.
func BenchmarkRelaySRTP(b *testing.B) {
	benchEngines(b, "AES_CM_128_HMAC_SHA1_80")
}

func benchEngines(b *testing.B, suite string) {
	for _, e := range []Engine{EngineEpoll, EngineGoroutines} {
		b.Run(e.String(), func(b *testing.B) {
			engineUnderTest = e
			defer func() { engineUnderTest = EngineAuto }()
			benchRelay(b, suite)
		})
	}
}

func benchRelay(b *testing.B, suite string) {
	r := newTestRelay(b, nil)
	pa, pb := newPhone(b, 1), newPhone(b, 2)
	if suite != "" {
		pa.withSRTP(suite, 1)
		pb.withSRTP(suite, 2)
	}
	call(b, r, pa, pb)
	payload := bytes.Repeat([]byte{0xff}, 160)
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 1}, Payload: payload}
	plain, _ := pkt.Marshal()
	out := make([]byte, 0, 2048)
	in := make([]byte, 2048)
	dec := make([]byte, 0, 2048)
	_ = pb.rtp.SetReadDeadline(time.Now().Add(10 * time.Minute))
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; {
		n := min(benchWindow, b.N-sent)
		for range n {
			msg := plain
			if pa.encRTP != nil {
				pkt.SequenceNumber++
				pkt.Timestamp += 160
				hdr, _ := pkt.Header.Marshal()
				copy(plain, hdr)
				msg, _ = pa.encRTP.EncryptRTP(out[:0], plain, nil)
			}
			if _, err := pa.rtp.WriteToUDPAddrPort(msg, pa.relayRTP); err != nil {
				b.Fatal(err)
			}
		}
		for range n {
			m, _, err := pb.rtp.ReadFromUDPAddrPort(in)
			if err != nil {
				b.Fatal(err)
			}
			if pb.decRTP != nil {
				if _, err := pb.decRTP.DecryptRTP(dec[:0], in[:m], nil); err != nil {
					b.Fatal(err)
				}
			}
		}
		sent += n
	}
}

// TestPlainPathDoesNotAllocate checks the relay's per-packet work (latch check, counters,
// forward) on plain RTP, without the phones' syscalls in the way.
func TestPlainPathDoesNotAllocate(t *testing.T) {
	r := newTestRelay(t, nil)
	pa, pb := newPhone(t, 1), newPhone(t, 2)
	s := call(t, r, pa, pb)
	pkt := pa.packet(0, bytes.Repeat([]byte{0xff}, 160), false)
	st := newReaderState()
	src := netipAddrPort(pa.rtp)
	x, y := &s.legs[LegA], &s.legs[LegB]
	s.onRTP(x, y, pkt, src, st) // latch first
	if n := testing.AllocsPerRun(1000, func() { s.onRTP(x, y, pkt, src, st) }); n != 0 && !raceEnabled {
		t.Fatalf("plain RTP path allocates %v times per packet", n)
	}
	if got := s.Counters()[LegA].Forwarded; got < 1000 {
		t.Fatalf("forwarded %d", got)
	}
}

// TestSRTPPathAllocations reports the relay's allocations per SRTP packet (decrypt from one
// leg, re-encrypt to the other).
func TestSRTPPathAllocations(t *testing.T) {
	r := newTestRelay(t, nil)
	pa := newPhone(t, 1).withSRTP("AES_CM_128_HMAC_SHA1_80", 1)
	pb := newPhone(t, 2).withSRTP("AES_CM_128_HMAC_SHA1_80", 2)
	s := call(t, r, pa, pb)
	const runs = 200
	pkts := make([][]byte, runs+2)
	for i := range pkts {
		pkts[i], _ = pa.encRTP.EncryptRTP(nil, pa.packet(0, bytes.Repeat([]byte{0xff}, 160), false), nil)
	}
	st := newReaderState()
	src := netipAddrPort(pa.rtp)
	x, y := &s.legs[LegA], &s.legs[LegB]
	i := 0
	s.onRTP(x, y, pkts[i], src, st)
	n := testing.AllocsPerRun(runs, func() { i++; s.onRTP(x, y, pkts[i], src, st) })
	if c := s.Counters()[LegA]; c.Dropped != 0 {
		t.Fatalf("dropped %d", c.Dropped)
	}
	if n > 0 && !raceEnabled {
		t.Fatalf("SRTP path allocates %v times per packet", n)
	}
}
