package media

import (
	"encoding/binary"
	"maps"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/privox/privox/internal/audio"
)

type sentPacket struct {
	at     time.Duration
	marker bool
	pt     uint8
	seq    uint16
	ts     uint32
	ssrc   uint32
	pay    []byte
}

type capture struct {
	mu    sync.Mutex
	start time.Time
	pkts  []sentPacket
	stall func(n int) // called before recording packet n, may sleep
}

func (c *capture) send(pkt []byte) error {
	c.mu.Lock()
	n := len(c.pkts)
	stall := c.stall
	c.mu.Unlock()
	if stall != nil {
		stall(n)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pkts = append(c.pkts, sentPacket{
		at:     time.Since(c.start),
		marker: pkt[1]&0x80 != 0,
		pt:     pkt[1] & 0x7f,
		seq:    binary.BigEndian.Uint16(pkt[2:]),
		ts:     binary.BigEndian.Uint32(pkt[4:]),
		ssrc:   binary.BigEndian.Uint32(pkt[8:]),
		pay:    append([]byte(nil), pkt[12:]...),
	})
	return nil
}

func (c *capture) packets() []sentPacket {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sentPacket(nil), c.pkts...)
}

// TestStreamSteadyClock: over a minute of fake time, one packet every 20 ms exactly, sequence
// numbers and timestamps (+160) contiguous, the marker bit on the first packet only.
func TestStreamSteadyClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer(PacerConfig{})
		p.Start()
		defer p.Stop()
		c := &capture{start: time.Now()}
		s, err := p.Open(StreamConfig{Codec: audio.PCMA, Send: c.send, SSRC: 42, Seq: 65530, Timestamp: 1<<32 - 320})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		s.Close()
		pk := c.packets()
		if len(pk) < 2999 || len(pk) > 3001 {
			t.Fatalf("%d packets in a minute, want 3000", len(pk))
		}
		for i, x := range pk {
			if x.ssrc != 42 || x.pt != 8 || len(x.pay) != 160 {
				t.Fatalf("packet %d: ssrc %d pt %d len %d", i, x.ssrc, x.pt, len(x.pay))
			}
			if x.marker != (i == 0) {
				t.Fatalf("packet %d: marker %v", i, x.marker)
			}
			if i == 0 {
				continue
			}
			prev := pk[i-1]
			if x.seq != prev.seq+1 || x.ts != prev.ts+160 {
				t.Fatalf("packet %d: seq %d ts %d after seq %d ts %d", i, x.seq, x.ts, prev.seq, prev.ts)
			}
			if d := x.at - prev.at; d != 20*time.Millisecond {
				t.Fatalf("packet %d sent %v after the previous one", i, d)
			}
		}
		if st := p.Stats(); st.Late != 0 || st.Skipped != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// TestStreamStallCatchUp: after a stall of 200 ms the stream sends at most MaxCatchUp+1
// overdue frames back to back, the timestamps jump with the clock (no drift afterwards), and
// the first packet after the skip carries the marker bit.
func TestStreamStallCatchUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer(PacerConfig{MaxCatchUp: 3})
		p.Start()
		defer p.Stop()
		c := &capture{start: time.Now()}
		c.stall = func(n int) {
			if n == 50 {
				time.Sleep(200 * time.Millisecond)
			}
		}
		s, err := p.Open(StreamConfig{Codec: audio.PCMU, Send: c.send})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		s.Close()
		pk := c.packets()
		burst := 0
		for i := 51; i < len(pk); i++ {
			if pk[i].at == pk[50].at {
				burst++
			}
		}
		if burst > 4 {
			t.Fatalf("%d packets sent at once after the stall", burst)
		}
		markers := 0
		for i := 1; i < len(pk); i++ {
			if pk[i].seq != pk[i-1].seq+1 {
				t.Fatalf("sequence gap at %d", i)
			}
			if pk[i].marker {
				markers++
				if pk[i].ts-pk[i-1].ts <= 160 {
					t.Fatalf("marker at %d without a timestamp jump", i)
				}
			}
		}
		if markers != 1 {
			t.Fatalf("%d markers after the first packet, want 1 (after the skip)", markers)
		}
		// The timestamp follows the clock: the last packet's timestamp is its send time.
		last := pk[len(pk)-1]
		want := uint32(last.at / (125 * time.Microsecond))
		if got := last.ts - pk[0].ts; got != want {
			t.Fatalf("last timestamp %d samples after the first, sent %v later (%d samples)", got, last.at, want)
		}
		if p.Stats().Skipped == 0 {
			t.Fatal("no skipped frames counted")
		}
	})
}

// TestPlaybackSequenceAndBargeIn plays a sequence, then a looping tone stopped mid-way.
func TestPlaybackSequenceAndBargeIn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer(PacerConfig{})
		p.Start()
		defer p.Stop()
		c := &capture{start: time.Now()}
		s, err := p.Open(StreamConfig{Codec: audio.PCMU, Send: c.send, PauseWhenIdle: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		tone := audio.Tone{Freqs: []int{1000}, Level: -10, Cadence: []time.Duration{100 * time.Millisecond}}
		pb, err := s.Play(audio.Sequence(tone, audio.Silence(100*time.Millisecond), tone))
		if err != nil {
			t.Fatal(err)
		}
		<-pb.Done()
		if pb.Stopped() {
			t.Fatal("sequence reported stopped")
		}
		if n := len(c.packets()); n != 15 {
			t.Fatalf("%d packets for 300 ms, want 15", n)
		}
		time.Sleep(time.Second) // idle: nothing sent
		if n := len(c.packets()); n != 15 {
			t.Fatalf("%d packets after an idle second, want 15", n)
		}
		pb, _ = s.Play(audio.Loop(tone, 0))
		time.Sleep(time.Second)
		pb.Stop()
		<-pb.Done()
		if !pb.Stopped() {
			t.Fatal("stopped loop not reported stopped")
		}
		pk := c.packets()
		// The pause lasted the idle second plus one or two periods (the tick at which the
		// sequence ended and, depending on who wakes first, the one at which Play came).
		if step := pk[15].ts - pk[14].ts; !pk[15].marker || step%160 != 0 || step/160 < 51 || step/160 > 53 {
			t.Fatalf("packet after the pause: marker %v, ts step %d", pk[15].marker, pk[15].ts-pk[14].ts)
		}
		if n := len(pk) - 15; n < 49 || n > 51 {
			t.Fatalf("%d packets for a second of looping", n)
		}
		pcm := make([]int16, 160)
		audio.PCMU.Decode(pcm, pk[20].pay)
		if lvl := audio.LevelDBm0(pcm); lvl < -13 || lvl > -7 {
			t.Fatalf("tone frame at %.1f dBm0", lvl)
		}
	})
}

// TestPacerManyStreams: 1,500 streams are spread evenly over the wheel's slots, every stream
// sends exactly one packet per period, and streams opened, played, stopped and closed from
// other goroutines while the pacer runs disturb nobody else.
func TestPacerManyStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewPacer(PacerConfig{})
		p.Start()
		defer p.Stop()
		const n = 1500
		var mu sync.Mutex
		counts := map[uint32]int{}
		send := func(pkt []byte) error {
			mu.Lock()
			counts[binary.BigEndian.Uint32(pkt[8:])]++
			mu.Unlock()
			return nil
		}
		clip := audio.NewClip(audio.PCMU, make([]int16, 8000))
		streams := make([]*Stream, n)
		for i := range streams {
			s, err := p.Open(StreamConfig{Codec: audio.PCMU, SSRC: uint32(i + 1), Send: send})
			if err != nil {
				t.Fatal(err)
			}
			s.Play(audio.Loop(clip, 0))
			streams[i] = s
		}
		p.mu.Lock()
		for slot, c := range p.counts {
			if c != n/DefaultPacerSlots {
				t.Errorf("slot %d holds %d streams", slot, c)
			}
		}
		p.mu.Unlock()
		// Churn: other calls come and go, and play and stop, all the time.
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 20; i++ {
					s, err := p.Open(StreamConfig{Codec: audio.PCMA, SSRC: uint32(100000 + g*1000 + i), Send: send})
					if err != nil {
						t.Error(err)
						return
					}
					pb, _ := s.Play(audio.Tones("de").Busy)
					time.Sleep(time.Duration(10+i) * time.Millisecond)
					pb.Stop()
					s.Close()
					<-pb.Done()
				}
			}()
		}
		// Count between two instants that fall between slots (the slots are whole
		// milliseconds), so that each slot comes round exactly 100 times in 2 s.
		time.Sleep(time.Millisecond / 2)
		mu.Lock()
		before := maps.Clone(counts)
		mu.Unlock()
		time.Sleep(2 * time.Second)
		mu.Lock()
		after := maps.Clone(counts)
		mu.Unlock()
		wg.Wait()
		mu.Lock()
		for i := 1; i <= n; i++ {
			if c := after[uint32(i)] - before[uint32(i)]; c != 100 {
				t.Fatalf("stream %d sent %d packets in 2 s, want 100", i, c)
			}
		}
		mu.Unlock()
		for _, s := range streams {
			s.Close()
		}
		if st := p.Stats(); st.Streams != 0 || st.Late != 0 || st.Skipped != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
}
