package call

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/media"
)

// localSig answers through the media session the way the SIP core does, without SIP: the
// call model's side of the contract is what these tests exercise (the SIP side has its own
// integration tests with real phones).
type localSig struct {
	ms    *media.Session
	offer []byte
	hung  chan struct{}
}

func (s *localSig) Answer(context.Context) (media.Format, error) {
	_, f, err := s.ms.AnswerLocal(s.offer)
	return f, err
}
func (s *localSig) Connect(context.Context, string) error { return &ConnectError{Status: 404} }
func (s *localSig) Hangup()                               { close(s.hung) }

// testLeg is a leg whose peer is a UDP socket of the test.
func testLeg(t *testing.T) (*Leg, *net.UDPConn, *Pacer) {
	t.Helper()
	relay, err := media.NewRelay(media.Config{PortMin: 42000, PortMax: 42999, BindIP: netip.MustParseAddr("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })
	ms, err := relay.NewSession("test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ms.Close)
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	port := peer.LocalAddr().(*net.UDPAddr).Port
	sdp := fmt.Sprintf("v=0\r\no=t 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n", port)
	offer, err := ms.Offer(media.LegA, []byte(sdp))
	if err != nil {
		t.Fatal(err)
	}
	p := NewPacer()
	t.Cleanup(p.Close)
	l := NewLeg(LegConfig{Info: LegInfo{CallID: "test", TenantID: 1}, Sig: &localSig{ms: ms, offer: offer, hung: make(chan struct{})}, Media: ms, Side: media.LegA, Pacer: p})
	t.Cleanup(l.End)
	return l, peer, p
}

// TestPlayStream: a prompt goes out as one RTP stream in the answered format: one SSRC,
// consecutive sequence numbers, timestamps 160 apart, the marker on the first packet.
func TestPlayStream(t *testing.T) {
	l, peer, _ := testLeg(t)
	h := NewHandle(l)
	if err := h.Answer(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- h.Play(context.Background(), audio.Tone{Freqs: []int{1000}, Level: -10, Cadence: []time.Duration{500 * time.Millisecond}})
	}()
	buf := make([]byte, 1500)
	var pkts []rtp.Packet
	_ = peer.SetReadDeadline(time.Now().Add(20 * time.Second))
	for len(pkts) < 25 {
		n, err := peer.Read(buf)
		if err != nil {
			t.Fatalf("after %d packets: %v", len(pkts), err)
		}
		var p rtp.Packet
		if err := p.Unmarshal(append([]byte(nil), buf[:n]...)); err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, p)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	first := pkts[0]
	if !first.Marker || first.PayloadType != 0 || len(first.Payload) != 160 {
		t.Errorf("first packet: marker %v pt %d payload %d, want marker, PCMU, 160 bytes", first.Marker, first.PayloadType, len(first.Payload))
	}
	// Silence (the answered leg's keep-alive) may come first; the tone then starts a talk
	// spurt with the marker bit, in the same stream.
	silence := audio.PCMU.Silence()
	toneStarted := false
	for i, p := range pkts[1:] {
		prev := pkts[i]
		if p.SSRC != first.SSRC || p.SequenceNumber != prev.SequenceNumber+1 || p.Timestamp != prev.Timestamp+160 {
			t.Fatalf("packet %d: ssrc %x seq %d ts %d after seq %d ts %d", i+1, p.SSRC, p.SequenceNumber, p.Timestamp, prev.SequenceNumber, prev.Timestamp)
		}
		quiet := func(b []byte) bool {
			for _, x := range b {
				if x != silence && x != silence^0x80 {
					return false
				}
			}
			return true
		}
		starts := !toneStarted && !quiet(p.Payload)
		if p.Marker && !starts || starts && !p.Marker && quiet(prev.Payload) {
			t.Fatalf("packet %d: marker %v, tone starts %v", i+1, p.Marker, starts)
		}
		toneStarted = toneStarted || starts
	}
}

// TestDigitFlood: 10,000 RFC 4733 digits at once. The collection returns its maximum, the
// leg's buffer stays bounded (the rest are counted as dropped), and the next collection with
// Flush starts clean.
func TestDigitFlood(t *testing.T) {
	l, _, _ := testLeg(t)
	h := NewHandle(l)
	if err := h.Answer(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range 10000 {
		l.DTMF(media.DTMFEvent{Event: uint8(i % 10), Digit: rune('0' + i%10)})
	}
	got, err := h.CollectDigits(context.Background(), Collect{Max: 10000})
	if err != nil || len(got) != MaxDigits {
		t.Fatalf("collected %d digits (%v), want the bound %d", len(got), err, MaxDigits)
	}
	l.mu.Lock()
	ep := l.ep
	l.mu.Unlock()
	if d := ep.dropped.Load(); d != 10000-digitBuffer {
		t.Errorf("dropped %d digits, want %d", d, 10000-digitBuffer)
	}
	_, err = h.CollectDigits(context.Background(), Collect{Max: 1, First: 50 * time.Millisecond, Flush: true})
	if !errors.Is(err, ErrNoInput) {
		t.Errorf("after Flush: %v, want no input", err)
	}
}

// TestHangupEndsEverything: when the call ends, a running collection returns ErrHungUp and
// the endpoint leaves the pacer.
func TestHangupEndsEverything(t *testing.T) {
	l, _, p := testLeg(t)
	h := NewHandle(l)
	if err := h.Answer(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := h.CollectDigits(context.Background(), Collect{Max: 4, First: time.Hour, Prompts: []audio.Sound{audio.Silence(time.Hour)}})
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	l.End()
	if err := <-done; !errors.Is(err, ErrHungUp) {
		t.Fatalf("collect after hang-up: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.Stats().Streams != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the endpoint still plays after the hang-up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := h.Play(context.Background(), audio.Silence(time.Second)); !errors.Is(err, ErrHungUp) {
		t.Errorf("play after hang-up: %v", err)
	}
}

// TestPacerPhases: streams are spread evenly over the shards and the phases of the frame, and
// a shard sleeps from one occupied phase to the next (a whole frame when it has one).
func TestPacerPhases(t *testing.T) {
	p := NewPacer()
	p.Close() // the shards' state is examined, not their sending
	n := len(p.shards) * Phases * 3
	eps := make([]*Endpoint, n)
	for i := range eps {
		eps[i] = &Endpoint{}
		eps[i].sh = p.add(eps[i])
	}
	for si, sh := range p.shards {
		for ph := range sh.phases {
			if got := len(sh.phases[ph]); got != 3 {
				t.Errorf("shard %d phase %d: %d streams, want 3", si, ph, got)
			}
		}
	}
	if st := p.Stats(); st.Streams != n {
		t.Errorf("stats: %d streams, want %d", st.Streams, n)
	}
	for _, e := range eps {
		e.sh.remove(e)
		e.sh.remove(e) // twice: counted once
	}
	if st := p.Stats(); st.Streams != 0 {
		t.Fatalf("after removal: %d streams", st.Streams)
	}
	sh := p.shards[0]
	one, two := &Endpoint{}, &Endpoint{}
	sh.mu.Lock()
	one.phase, two.phase = 2, 7
	sh.phases[2][one], sh.phases[7][two] = struct{}{}, struct{}{}
	sh.n += 2
	sh.mu.Unlock()
	defer func() { sh.remove(one); sh.remove(two) }()
	for _, c := range []struct {
		ph   int
		want int64
		got  int
	}{{2, 5, 1}, {7, 5, 1}, {0, 2, 0}} {
		batch, step := sh.due(c.ph, nil)
		if step != c.want || len(batch) != c.got {
			t.Errorf("due(%d): %d streams, next in %d phases; want %d, %d", c.ph, len(batch), step, c.got, c.want)
		}
	}
	sh.remove(two)
	if _, step := sh.due(2, nil); step != Phases {
		t.Errorf("a single occupied phase: next in %d, want %d", step, Phases)
	}
}
