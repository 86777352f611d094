package media

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
)

func TestRelayPlainRTPLatchingRTCPDTMFTapInject(t *testing.T) {
	engines(t, testRelayPlainRTPLatchingRTCPDTMFTapInject)
}

func testRelayPlainRTPLatchingRTCPDTMFTapInject(t *testing.T) {
	r := newTestRelay(t, nil)
	a, b := newPhone(t, 0xA), newPhone(t, 0xB)
	s := call(t, r, a, b)

	var mu sync.Mutex
	var digits []DTMFEvent
	var digitFrom []LegID
	s.OnDTMF(func(from LegID, ev DTMFEvent) {
		mu.Lock()
		defer mu.Unlock()
		digits = append(digits, ev)
		digitFrom = append(digitFrom, from)
	})
	var tapped [2]int
	s.Tap(func(from LegID, pkt *rtp.Packet) {
		mu.Lock()
		defer mu.Unlock()
		tapped[from]++
	})

	// A -> B before B sent anything: the relay uses B's SDP address.
	payload := bytes.Repeat([]byte{0xff}, 160)
	a.send(nil, a.packet(0, payload, true))
	got, src := b.recv(nil)
	if got.PayloadType != 0 || !bytes.Equal(got.Payload, payload) || got.SSRC != 0xA || !got.Marker {
		t.Fatalf("B got %v", got.Header)
	}
	if src != s.LocalAddr(LegB) {
		t.Fatalf("B got the packet from %s, want the relay's leg B %s", src, s.LocalAddr(LegB))
	}

	// B is behind a NAT: it sends from another port than its SDP says. The relay latches to it.
	nat := listen(t)
	b.send(nat, b.packet(8, []byte("pcma"), false))
	got, src = a.recv(nil)
	if got.PayloadType != 8 || string(got.Payload) != "pcma" || src != s.LocalAddr(LegA) {
		t.Fatalf("A got %v from %s", got.Header, src)
	}
	a.send(nil, a.packet(0, payload, false))
	if got, _ := b.recv(nat); got.SSRC != 0xA {
		t.Fatalf("latched B got %v", got.Header)
	}

	// A stranger sending to leg B after latching is dropped.
	stranger := listen(t)
	b.send(stranger, b.packet(8, []byte("spoof"), false))
	b.send(nat, b.packet(8, []byte("real"), false))
	if got, _ := a.recv(nil); string(got.Payload) != "real" {
		t.Fatalf("A got %q, want the latched source's packet", got.Payload)
	}
	expectNothing(t, a.rtp)
	expectNothing(t, b.rtp) // nothing went to B's SDP port after latching

	// RTCP on port+1, relayed to the other leg's a=rtcp port.
	a.sendRTCP(rtcpRR(0xA))
	if got := b.recvRTCP(); !bytes.Equal(got, rtcpRR(0xA)) {
		t.Fatalf("B got RTCP %x", got)
	}
	b.sendRTCP(rtcpRR(0xB))
	if got := a.recvRTCP(); !bytes.Equal(got, rtcpRR(0xB)) {
		t.Fatalf("A got RTCP %x", got)
	}

	// DTMF '5' from A: start, update, three end retransmissions; then '#'. One callback each.
	for _, ev := range []byte{5, 11} {
		ts := a.ts + 1000
		a.send(nil, a.packetAt(101, ts, dtmfPayload(ev, false, 160)))
		a.send(nil, a.packetAt(101, ts, dtmfPayload(ev, false, 320)))
		for range 3 {
			a.send(nil, a.packetAt(101, ts, dtmfPayload(ev, true, 800)))
		}
		a.ts = ts
		for range 5 { // events are relayed too
			if got, _ := b.recv(nat); got.PayloadType != 101 {
				t.Fatalf("B got PT %d, want the telephone-event", got.PayloadType)
			}
		}
	}
	mu.Lock()
	if len(digits) != 2 || digits[0].Digit != '5' || digits[1].Digit != '#' || digitFrom[0] != LegA {
		t.Fatalf("DTMF events %+v from %v, want '5' and '#' from A", digits, digitFrom)
	}
	if digits[0].Duration != 100*time.Millisecond || digits[0].Volume != 10 || digits[0].SSRC != 0xA {
		t.Fatalf("DTMF event %+v", digits[0])
	}
	if tapped[LegA] != 12 || tapped[LegB] != 2 {
		t.Fatalf("tap saw %v packets, want 12 from A and 2 from B", tapped)
	}
	mu.Unlock()

	// Inject towards both legs: A gets it on its RTP socket, B on its latched address.
	inj := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1, SSRC: 0x5EED}, Payload: []byte("prompt")}
	if err := s.Inject(LegA, inj); err != nil {
		t.Fatal(err)
	}
	if got, src := a.recv(nil); got.SSRC != 0x5EED || string(got.Payload) != "prompt" || src != s.LocalAddr(LegA) {
		t.Fatalf("A got injected %v %q from %s", got.Header, got.Payload, src)
	}
	if err := s.Inject(LegB, inj); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.recv(nat); got.SSRC != 0x5EED {
		t.Fatalf("B got injected %v", got.Header)
	}

	c := s.Counters()
	if c[LegA].Packets != 12 || c[LegA].RTCPPackets != 1 || c[LegA].Forwarded != 13 || c[LegA].Dropped != 0 {
		t.Errorf("leg A counters %+v", c[LegA])
	}
	if c[LegB].Packets != 2 || c[LegB].Dropped != 1 || c[LegB].RTCPPackets != 1 || c[LegB].Injected != 1 {
		t.Errorf("leg B counters %+v", c[LegB])
	}
	if c[LegA].LastSeen.IsZero() {
		t.Error("leg A LastSeen not set")
	}
	st := r.Stats()
	if st.ActiveSessions != 1 || st.PacketsRelayed != 16 || st.PacketsDropped != 1 || st.PortsInUse != 4 {
		t.Errorf("relay stats %+v", st)
	}
}

// TestRelayReINVITERelatches: a new address in a re-INVITE re-arms the latch; the same address
// (hold and resume) keeps it.
func TestRelayReINVITERelatches(t *testing.T) { engines(t, testRelayReINVITERelatches) }

func testRelayReINVITERelatches(t *testing.T) {
	r := newTestRelay(t, nil)
	a, b := newPhone(t, 1), newPhone(t, 2)
	s := call(t, r, a, b)

	a.send(nil, a.packet(0, []byte("x"), false))
	b.recv(nil)
	b.send(nil, b.packet(0, []byte("y"), false)) // B latched at its SDP address
	a.recv(nil)

	// B moves (new Wi-Fi): re-INVITE from B with its new socket.
	moved := newPhone(t, 2)
	moved.relayRTP, moved.relayRTCP = b.relayRTP, b.relayRTCP
	if _, err := s.Offer(LegB, moved.sdp("sendrecv", "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Answer(LegA, a.sdp("sendrecv", "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	// Until B's new socket sends, the relay sends to the new SDP address.
	a.send(nil, a.packet(0, []byte("to new sdp address"), false))
	if got, _ := moved.recv(nil); string(got.Payload) != "to new sdp address" {
		t.Fatalf("moved B got %q", got.Payload)
	}
	// The first packet from B's new place latches again.
	moved.send(nil, moved.packet(0, []byte("from new"), false))
	if got, _ := a.recv(nil); string(got.Payload) != "from new" {
		t.Fatalf("A got %q", got.Payload)
	}
	// The old socket is now a stranger.
	b.send(nil, b.packet(0, []byte("old"), false))
	moved.send(nil, moved.packet(0, []byte("new"), false))
	if got, _ := a.recv(nil); string(got.Payload) != "new" {
		t.Fatalf("A got %q, want the packet of the re-latched source", got.Payload)
	}
	if d := s.Counters()[LegB].Dropped; d != 1 {
		t.Fatalf("leg B dropped %d, want 1", d)
	}
}

// TestRelayHoldZeroAddress: c=0.0.0.0 from A (RFC 2543 hold) stops media towards A and is
// passed on as such; resuming with the same address keeps the latch.
func TestRelayHoldZeroAddress(t *testing.T) { engines(t, testRelayHoldZeroAddress) }

func testRelayHoldZeroAddress(t *testing.T) {
	r := newTestRelay(t, nil)
	a, b := newPhone(t, 1), newPhone(t, 2)
	s := call(t, r, a, b)
	a.send(nil, a.packet(0, []byte("x"), false))
	b.recv(nil)

	toB, err := s.Offer(LegA, a.sdp("sendonly", "0.0.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(toB, []byte("c=IN IP4 0.0.0.0")) || !bytes.Contains(toB, []byte("a=sendonly")) {
		t.Fatalf("hold offer to B lost the hold:\n%s", toB)
	}
	if _, err := s.Answer(LegB, b.sdp("recvonly", "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if !s.held.Load() {
		t.Fatal("session not marked held")
	}
	b.send(nil, b.packet(0, []byte("to held A"), false))
	a.send(nil, a.packet(0, []byte("moh"), false)) // A still sends (music on hold)
	if got, _ := b.recv(nil); string(got.Payload) != "moh" {
		t.Fatalf("B got %q", got.Payload)
	}
	expectNothing(t, a.rtp)
	if err := s.Inject(LegA, &rtp.Packet{Header: rtp.Header{Version: 2}}); !errors.Is(err, ErrNoRemote) {
		t.Fatalf("inject to held leg: %v, want ErrNoRemote", err)
	}

	// Resume.
	if _, err := s.Offer(LegA, a.sdp("sendrecv", "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Answer(LegB, b.sdp("sendrecv", "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if s.held.Load() {
		t.Fatal("session still held after resume")
	}
	b.send(nil, b.packet(0, []byte("resumed"), false))
	if got, _ := a.recv(nil); string(got.Payload) != "resumed" {
		t.Fatalf("A got %q", got.Payload)
	}
}

func TestRelaySRTPBothLegs(t *testing.T) { engines(t, testRelaySRTPBothLegs) }

func testRelaySRTPBothLegs(t *testing.T) {
	for _, suite := range []string{"AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AES_256_CM_HMAC_SHA1_80", "AEAD_AES_128_GCM"} {
		t.Run(suite, func(t *testing.T) {
			r := newTestRelay(t, nil)
			a, b := newPhone(t, 0xA).withSRTP(suite, 1), newPhone(t, 0xB).withSRTP(suite, 100)
			s := call(t, r, a, b)
			var tapped []byte
			var mu sync.Mutex
			s.Tap(func(from LegID, pkt *rtp.Packet) {
				mu.Lock()
				defer mu.Unlock()
				tapped = append(tapped, pkt.Payload...)
			})
			var dtmf []rune
			s.OnDTMF(func(from LegID, ev DTMFEvent) { mu.Lock(); dtmf = append(dtmf, ev.Digit); mu.Unlock() })

			for i := range 3 {
				a.send(nil, a.packet(0, []byte{'a', byte(i)}, false))
				if got, _ := b.recv(nil); !bytes.Equal(got.Payload, []byte{'a', byte(i)}) {
					t.Fatalf("B decrypted %q", got.Payload)
				}
				b.send(nil, b.packet(0, []byte{'b', byte(i)}, false))
				if got, _ := a.recv(nil); !bytes.Equal(got.Payload, []byte{'b', byte(i)}) {
					t.Fatalf("A decrypted %q", got.Payload)
				}
			}
			ts := b.ts + 500
			for range 3 {
				b.send(nil, b.packetAt(101, ts, dtmfPayload(9, true, 400)))
				a.recv(nil)
			}
			a.sendRTCP(rtcpRR(0xA))
			if got := b.recvRTCP(); !bytes.Equal(got, rtcpRR(0xA)) {
				t.Fatalf("B got SRTCP payload %x", got)
			}
			b.sendRTCP(rtcpRR(0xB))
			if got := a.recvRTCP(); !bytes.Equal(got, rtcpRR(0xB)) {
				t.Fatalf("A got SRTCP payload %x", got)
			}
			inj := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 7, SSRC: 0x5EED}, Payload: []byte("prompt")}
			if err := s.Inject(LegB, inj); err != nil {
				t.Fatal(err)
			}
			if got, _ := b.recv(nil); string(got.Payload) != "prompt" {
				t.Fatalf("B decrypted injected %q", got.Payload)
			}
			mu.Lock()
			if !bytes.Contains(tapped, []byte{'a', 2}) || !bytes.Contains(tapped, []byte{'b', 2}) {
				t.Fatalf("tap saw %q, want the plaintext of both legs", tapped)
			}
			if string(dtmf) != "9" {
				t.Fatalf("DTMF over SRTP: %q", string(dtmf))
			}
			mu.Unlock()
			if c := s.Counters(); c[LegA].Dropped+c[LegB].Dropped != 0 {
				t.Fatalf("drops: %+v", c)
			}

			// A packet that fails authentication is dropped, not relayed.
			bad, _ := a.encRTP.EncryptRTP(nil, a.packet(0, []byte("tampered"), false), nil)
			bad[len(bad)-1] ^= 1
			if _, err := a.rtp.WriteToUDPAddrPort(bad, a.relayRTP); err != nil {
				t.Fatal(err)
			}
			a.send(nil, a.packet(0, []byte("ok"), false))
			if got, _ := b.recv(nil); string(got.Payload) != "ok" {
				t.Fatalf("B got %q", got.Payload)
			}
			if d := s.Counters()[LegA].Dropped; d != 1 {
				t.Fatalf("leg A dropped %d, want the tampered packet", d)
			}
		})
	}
}

// TestRelaySRTPToPlain: an SRTP caller and a plain callee (B answers RTP/AVP): the relay
// decrypts from A and sends plain RTP to B, and still answers SRTP to A.
func TestRelaySRTPToPlain(t *testing.T) { engines(t, testRelaySRTPToPlain) }

func testRelaySRTPToPlain(t *testing.T) {
	r := newTestRelay(t, nil)
	a, b := newPhone(t, 0xA).withSRTP("AES_CM_128_HMAC_SHA1_80", 1), newPhone(t, 0xB)
	s, err := r.NewSession("mixed")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	toB, err := s.Offer(LegA, a.sdp("sendrecv", "127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	b.learn(toB)
	b.decRTP, b.decRTCP = nil, nil // B ignores the crypto lines and answers plain
	toA, err := s.Answer(LegB, b.sdp("sendrecv", "127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(toA, []byte("RTP/SAVP")) || !bytes.Contains(toA, []byte("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:")) {
		t.Fatalf("answer to A is not SRTP:\n%s", toA)
	}
	a.learn(toA)
	a.send(nil, a.packet(0, []byte("secret"), false))
	if got, _ := b.recv(nil); string(got.Payload) != "secret" {
		t.Fatalf("B got %q", got.Payload)
	}
	b.send(nil, b.packet(0, []byte("plain"), false))
	if got, _ := a.recv(nil); string(got.Payload) != "plain" {
		t.Fatalf("A got %q", got.Payload)
	}
}

func TestRelayMediaTimeout(t *testing.T) { engines(t, testRelayMediaTimeout) }

func testRelayMediaTimeout(t *testing.T) {
	r := newTestRelay(t, func(c *Config) {
		c.MediaTimeout = 50 * time.Millisecond
		c.HoldTimeout = time.Hour
	})
	// A held call, answered first: it has been silent at least as long as the active one
	// below when that one times out, and must not time out itself.
	ha, hb := newPhone(t, 1), newPhone(t, 2)
	held, err := r.NewSession("held")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := held.Offer(LegA, ha.sdp("sendonly", "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if _, err := held.Answer(LegB, hb.sdp("recvonly", "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	heldFired := make(chan struct{}, 1)
	held.OnTimeout(func() { heldFired <- struct{}{} })

	a, b := newPhone(t, 3), newPhone(t, 4)
	s := call(t, r, a, b)
	fired := make(chan struct{})
	s.OnTimeout(func() {
		close(fired)
		s.Close() // what the SIP layer does: hang up
	})
	// Some media first: activity keeps the session alive, then it stops.
	a.send(nil, a.packet(0, []byte("x"), false))
	b.recv(nil)
	select {
	case <-fired:
	case <-time.After(waitTimeout):
		t.Fatal("media timeout callback did not fire")
	}
	_ = r.Close() // waits for callbacks still running
	select {
	case <-heldFired:
		t.Fatal("held session timed out with the active-call timeout")
	default:
	}
}

func TestRelayPortExhaustionAndRelease(t *testing.T) { engines(t, testRelayPortExhaustionAndRelease) }

func testRelayPortExhaustionAndRelease(t *testing.T) {
	min, _ := portRange(8)
	r, err := NewRelay(Config{PortMin: min, PortMax: min + 7, BindIP: netip.MustParseAddr("127.0.0.1"), Engine: engineUnderTest})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s1, err := r.NewSession("1")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := r.NewSession("2")
	if err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.PortsInUse != 8 || st.PortsTotal != 8 || st.ActiveSessions != 2 {
		t.Fatalf("stats %+v", st)
	}
	if _, err := r.NewSession("3"); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("third session: %v, want ErrNoPorts", err)
	}
	s1.Close()
	s1.Close() // idempotent
	if st := r.Stats(); st.PortsInUse != 4 || st.ActiveSessions != 1 {
		t.Fatalf("after close: %+v", st)
	}
	// The ports are really free again: a new session binds them.
	s3, err := r.NewSession("3")
	if err != nil {
		t.Fatalf("after close: %v", err)
	}
	s3.Close()
	s2.Close()
	if st := r.Stats(); st.PortsInUse != 0 || st.ActiveSessions != 0 {
		t.Fatalf("after closing all: %+v", st)
	}
	if err := s2.Inject(LegA, &rtp.Packet{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("inject after close: %v", err)
	}
	if _, err := s2.Offer(LegA, []byte("v=0\r\n")); err == nil {
		t.Fatal("offer after close succeeded")
	}
	_ = r.Close()
	if _, err := r.NewSession("late"); !errors.Is(err, ErrClosed) {
		t.Fatalf("new session on closed relay: %v", err)
	}
}

// TestRelayCloseFromCallback: closing the session from its own DTMF callback must not deadlock.
func TestRelayCloseFromCallback(t *testing.T) { engines(t, testRelayCloseFromCallback) }

func testRelayCloseFromCallback(t *testing.T) {
	r := newTestRelay(t, nil)
	a, b := newPhone(t, 1), newPhone(t, 2)
	s := call(t, r, a, b)
	closed := make(chan struct{})
	s.OnDTMF(func(LegID, DTMFEvent) { s.Close(); close(closed) })
	a.send(nil, a.packetAt(101, 1, dtmfPayload(1, true, 160)))
	select {
	case <-closed:
	case <-time.After(waitTimeout):
		t.Fatal("DTMF callback did not run")
	}
	_ = r.Close()
	if st := r.Stats(); st.PortsInUse != 0 {
		t.Fatalf("ports in use after close: %d", st.PortsInUse)
	}
}

func TestRelayConfig(t *testing.T) {
	for _, cfg := range []Config{{}, {PortMin: 2000, PortMax: 1000}, {PortMin: 1000, PortMax: 70000}, {PortMin: 1000, PortMax: 1002}} {
		if r, err := NewRelay(cfg); err == nil {
			_ = r.Close()
			t.Errorf("NewRelay(%+v) succeeded", cfg)
		}
	}
	r, err := NewRelay(Config{PortMin: 1001, PortMax: 1006})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if adv := r.AdvertiseIP(); !adv.IsValid() || adv.IsUnspecified() {
		t.Fatalf("advertise %s", adv)
	}
	if r.cfg.MediaTimeout != DefaultMediaTimeout || r.cfg.HoldTimeout != DefaultHoldTimeout {
		t.Fatalf("defaults %+v", r.cfg)
	}
	r2, err := NewRelay(Config{PortMin: 1000, PortMax: 1003, BindIP: netip.MustParseAddr("127.0.0.1"), AdvertiseIP: netip.MustParseAddr("203.0.113.7")})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if r2.AdvertiseIP() != netip.MustParseAddr("203.0.113.7") {
		t.Fatal(r2.AdvertiseIP())
	}
}

// TestRelayConcurrentSignallingAndClose: re-INVITEs, taps, counters and Close while media
// flows both ways; run with -race.
func TestRelayConcurrentSignallingAndClose(t *testing.T) {
	engines(t, testRelayConcurrentSignallingAndClose)
}

func testRelayConcurrentSignallingAndClose(t *testing.T) {
	r := newTestRelay(t, nil)
	a, b := newPhone(t, 1).withSRTP("AES_CM_128_HMAC_SHA1_80", 1), newPhone(t, 2).withSRTP("AES_CM_128_HMAC_SHA1_80", 2)
	s := call(t, r, a, b)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range []*phone{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc := p.encRTP
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(i) * 160, SSRC: p.ssrc}, Payload: make([]byte, 160)}
				raw, _ := pkt.Marshal()
				raw, _ = enc.EncryptRTP(nil, raw, nil)
				_, _ = p.rtp.WriteToUDPAddrPort(raw, p.relayRTP)
				if i%50 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	for i := range 20 {
		dir := []string{"sendonly", "sendrecv"}[i%2]
		if _, err := s.Offer(LegA, a.sdp(dir, "127.0.0.1")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Answer(LegB, b.sdp("sendrecv", "127.0.0.1")); err != nil {
			t.Fatal(err)
		}
		s.Tap(func(LegID, *rtp.Packet) {})
		s.OnDTMF(func(LegID, DTMFEvent) {})
		_ = s.Counters()
		_ = r.Stats()
		_ = s.Inject(LegB, &rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 9, SequenceNumber: uint16(i)}})
		s.Tap(nil)
	}
	// Close while media flows: wait until both legs have been heard.
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(time.Millisecond) {
		if c := s.Counters(); c[LegA].Packets > 0 && c[LegB].Packets > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no media reached the relay")
		}
	}
	s.Close()
	close(stop)
	wg.Wait()
	if st := r.Stats(); st.ActiveSessions != 0 || st.PortsInUse != 0 || st.PacketsReceived == 0 {
		t.Fatalf("after close: %+v", st)
	}
}

// TestRelayMuxedRTCPAndT38: RTCP multiplexed on the RTP port goes out on the other leg's RTCP
// port; after a re-INVITE to T.38 the relay forwards UDPTL datagrams (not RTP) unchanged.
func TestRelayMuxedRTCPAndT38(t *testing.T) { engines(t, testRelayMuxedRTCPAndT38) }

func testRelayMuxedRTCPAndT38(t *testing.T) {
	r := newTestRelay(t, nil)
	a, b := newPhone(t, 1), newPhone(t, 2)
	s := call(t, r, a, b)
	a.send(nil, rtcpRR(0xA)) // on the RTP socket, to the relay's RTP port
	if got := b.recvRTCP(); !bytes.Equal(got, rtcpRR(0xA)) {
		t.Fatalf("B got %x on its RTCP socket", got)
	}

	t38 := func(p *phone) []byte {
		return []byte("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
			"m=image " + strconv.Itoa(port(p.rtp)) + " udptl t38\r\na=T38FaxVersion:0\r\n")
	}
	toA, err := s.Offer(LegB, t38(b))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(toA, []byte("m=image ")) {
		t.Fatalf("T.38 offer to A:\n%s", toA)
	}
	if _, err := s.Answer(LegA, t38(a)); err != nil {
		t.Fatal(err)
	}
	udptl := []byte{0x00, 0x01, 0x02, 0x80, 0x05} // not an RTP header
	if _, err := a.rtp.WriteToUDPAddrPort(udptl, a.relayRTP); err != nil {
		t.Fatal(err)
	}
	if got, _ := readWithin(t, b.rtp); !bytes.Equal(got, udptl) {
		t.Fatalf("B got %x, want the UDPTL datagram unchanged", got)
	}
}

// TestRelayIPv6: a relay on ::1 with IPv6 endpoints.
func TestRelayIPv6(t *testing.T) { engines(t, testRelayIPv6) }

func testRelayIPv6(t *testing.T) {
	l6 := func() *net.UDPConn {
		c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
		if err != nil {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	r := newTestRelay(t, func(c *Config) { c.BindIP = netip.IPv6Loopback() })
	s, err := r.NewSession("v6")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, b := l6(), l6()
	sdp6 := func(c *net.UDPConn) []byte {
		return []byte("v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nm=audio " +
			strconv.Itoa(port(c)) + " RTP/AVP 0\r\n")
	}
	toB, err := s.Offer(LegA, sdp6(a))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(toB, []byte("c=IN IP6 ::1")) {
		t.Fatalf("offer to B:\n%s", toB)
	}
	if _, err := s.Answer(LegB, sdp6(b)); err != nil {
		t.Fatal(err)
	}
	pkt, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 6}, Payload: []byte("six")}).Marshal()
	if _, err := a.WriteToUDPAddrPort(pkt, s.LocalAddr(LegA)); err != nil {
		t.Fatal(err)
	}
	if got, src := readWithin(t, b); !bytes.Equal(got, pkt) || src != s.LocalAddr(LegB) {
		t.Fatalf("B got %x from %s", got, src)
	}
}
