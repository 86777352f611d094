package media

import (
	"testing"
	"time"

	"github.com/privox/privox/internal/audio"
)

// TestStreamIntoSession plays a tone from a pacer stream into a relay session's leg, plain and
// over SRTP: the phone receives consecutive RTP packets carrying the tone.
func TestStreamIntoSession(t *testing.T) {
	for _, suite := range []string{"", "AES_CM_128_HMAC_SHA1_80"} {
		t.Run("srtp="+suite, func(t *testing.T) {
			r := newTestRelay(t, nil)
			pa, pb := newPhone(t, 1), newPhone(t, 2)
			if suite != "" {
				pa.withSRTP(suite, 1)
				pb.withSRTP(suite, 2)
			}
			s := call(t, r, pa, pb)
			p := NewPacer(PacerConfig{})
			p.Start()
			defer p.Stop()
			st, err := p.Open(StreamConfig{Codec: audio.PCMA, SSRC: 0xC0FFEE, Send: func(pkt []byte) error { return s.InjectRaw(LegA, pkt) }})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			pb2, err := st.Play(audio.Tone{Freqs: []int{1000}, Level: -10, Cadence: []time.Duration{time.Second}})
			if err != nil {
				t.Fatal(err)
			}
			var prevSeq uint16
			pcm := make([]int16, audio.FrameSamples)
			for i := 0; i < 10; i++ {
				got, src := pa.recv(nil)
				if got.SSRC != 0xC0FFEE || got.PayloadType != 8 || src != s.LocalAddr(LegA) {
					t.Fatalf("packet %d: %v from %s", i, got.Header, src)
				}
				if i > 0 && got.SequenceNumber != prevSeq+1 {
					t.Fatalf("sequence %d after %d", got.SequenceNumber, prevSeq)
				}
				prevSeq = got.SequenceNumber
				audio.PCMA.Decode(pcm, got.Payload)
				if lvl := audio.LevelDBm0(pcm); lvl < -11 || lvl > -9 {
					t.Fatalf("packet %d at %.1f dBm0", i, lvl)
				}
			}
			pb2.Stop()
			if err := s.InjectRaw(LegA, []byte("short")); err == nil {
				t.Fatal("not RTP accepted")
			}
		})
	}
}
