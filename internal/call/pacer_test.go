package call

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtp"

	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/media"
)

type sentPacket struct {
	at      time.Duration
	seq     uint16
	ts      uint32
	ssrc    uint32
	pt      uint8
	marker  bool
	payload int
}

// capture records what one endpoint sends, with the (fake) time it left.
type capture struct {
	start time.Time
	mu    sync.Mutex
	pkts  []sentPacket
}

func (c *capture) out(_ media.LegID, p *rtp.Packet) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pkts = append(c.pkts, sentPacket{at: time.Since(c.start), seq: p.SequenceNumber, ts: p.Timestamp, ssrc: p.SSRC, pt: p.PayloadType, marker: p.Marker, payload: len(p.Payload)})
	return nil
}

func (c *capture) packets() []sentPacket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sentPacket(nil), c.pkts...)
}

// fakeEndpoint is an endpoint of the pacer p whose packets go to a capture.
func fakeEndpoint(p *Pacer, start time.Time) (*Endpoint, *capture) {
	c := &capture{start: start}
	e := newEndpoint(nil, media.LegA, media.Format{PT: 8}, p)
	e.out = c.out
	return e, c
}

// tone is a continuous tone of length d.
func tone(d time.Duration) Source {
	return audio.Tone{Freqs: []int{1000}, Level: -10, Cadence: []time.Duration{d}}.Open()
}

// TestPacerSteadyClock: over a minute of fake time, each of 100 streams sends one packet every
// 20 ms exactly, with contiguous sequence numbers and timestamps (+160) and the marker bit on
// its first packet only; the streams of a shard leave at ten different instants of the frame
// (its phases), not as one burst; nothing is late.
func TestPacerSteadyClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer()
		defer p.Close()
		start := time.Now()
		var caps []*capture
		var eps []*Endpoint
		for range 100 {
			e, c := fakeEndpoint(p, start)
			e.play(tone(time.Minute))
			eps, caps = append(eps, e), append(caps, c)
		}
		time.Sleep(time.Minute + time.Second)
		offsets := map[time.Duration]int{}
		for n, c := range caps {
			pk := c.packets()
			if len(pk) < 2999 || len(pk) > 3001 {
				t.Fatalf("stream %d: %d packets in a minute, want 3000", n, len(pk))
			}
			for i, x := range pk {
				if x.ssrc != eps[n].ssrc || x.pt != 8 || x.payload != 160 {
					t.Fatalf("stream %d packet %d: ssrc %x pt %d payload %d", n, i, x.ssrc, x.pt, x.payload)
				}
				if x.marker != (i == 0) {
					t.Fatalf("stream %d packet %d: marker %v", n, i, x.marker)
				}
				if i == 0 {
					offsets[x.at%Frame]++
					continue
				}
				prev := pk[i-1]
				if x.seq != prev.seq+1 || x.ts != prev.ts+160 {
					t.Fatalf("stream %d packet %d: seq %d ts %d after seq %d ts %d", n, i, x.seq, x.ts, prev.seq, prev.ts)
				}
				if d := x.at - prev.at; d != Frame {
					t.Fatalf("stream %d packet %d sent %v after the previous one", n, i, d)
				}
			}
		}
		if len(offsets) != Phases {
			t.Errorf("streams leave at %d instants of the frame (%v), want %d", len(offsets), offsets, Phases)
		}
		for off, n := range offsets {
			if n > 100/Phases+1 {
				t.Errorf("%d streams leave at %v into the frame: a burst", n, off)
			}
		}
		if st := p.Stats(); st.Late != 0 || st.Sent < 300000 || st.Streams != 0 {
			t.Errorf("stats %+v", st)
		}
	})
}

// TestPacerStall: a shard that falls more than ten frames behind (a machine that stalled)
// skips whole frames instead of bursting to catch up, and each stream keeps its phase.
func TestPacerStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer()
		defer p.Close()
		start := time.Now()
		e, c := fakeEndpoint(p, start)
		var stalled sync.Once
		e.out = func(side media.LegID, pkt *rtp.Packet) error {
			err := c.out(side, pkt)
			if pkt.SequenceNumber == e.pkt.SequenceNumber && time.Since(start) > time.Second {
				stalled.Do(func() { time.Sleep(300 * time.Millisecond) }) // the send blocks the shard
			}
			return err
		}
		e.play(tone(3 * time.Second))
		time.Sleep(4 * time.Second)
		pk := c.packets()
		burst := 0
		for i := 1; i < len(pk); i++ {
			d := pk[i].at - pk[i-1].at
			if d < Frame {
				burst++
			}
			if d%Frame != 0 {
				t.Fatalf("packet %d left %v after the previous one: off its phase", i, d)
			}
		}
		if burst > 0 {
			t.Errorf("%d packets left less than a frame after the one before", burst)
		}
		if st := p.Stats(); st.Late != 1 {
			t.Errorf("late %d, want 1 (the frame after the stall)", st.Late)
		}
	})
}
