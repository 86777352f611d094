package call

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/media"
)

// Endpoint is the media of a leg whose far end is inside Privox: it sends frames from a
// Source on the pacer's clock (one SSRC, consecutive sequence numbers, timestamps that follow
// the clock across pauses, the marker bit at the start of each talk spurt) and hears the leg
// through the session's tap, decoding it for the in-band DTMF detector and for recorders.
type Endpoint struct {
	ms    *media.Session
	side  media.LegID // the session leg the peer is on
	f     media.Format
	codec audio.Codec
	pacer *Pacer
	out   func(media.LegID, *rtp.Packet) error // the session's Inject

	mu       sync.Mutex
	src      Source
	done     chan struct{} // closed when src ends or is stopped
	sh       *shard
	phase    int // the shard's phase the endpoint sends in (set and read under the shard's lock)
	ssrc     uint32
	seq      uint16
	ts       uint32
	lastSend time.Time
	marker   bool
	idle     bool // between sounds, send silence (an answered application leg) rather than nothing
	frame    [FrameSamples]int16
	payload  [FrameSamples]byte
	pkt      rtp.Packet

	// receive side, only touched on the media goroutine (tap)
	det     *audio.DTMFDetector
	dec     []int16
	lastRFC atomic.Int64 // unix nanos of the last RFC 4733 event: in-band waits a little after one

	digits   chan rune
	dropped  atomic.Uint64 // digits that found the buffer full (a flood)
	recorder atomic.Pointer[func([]int16)]
	closed   atomic.Bool
}

// digitBuffer bounds the digits waiting for an application; more are dropped.
const digitBuffer = 32

func newEndpoint(ms *media.Session, side media.LegID, f media.Format, p *Pacer) *Endpoint {
	codec := audio.PCMU
	if f.ALaw() {
		codec = audio.PCMA
	}
	e := &Endpoint{ms: ms, side: side, f: f, codec: codec, pacer: p, ssrc: rand.Uint32(), seq: uint16(rand.Uint32()), ts: rand.Uint32(),
		det: audio.NewDTMFDetector(audio.DTMFOptions{}), digits: make(chan rune, digitBuffer)}
	if ms != nil {
		e.out = ms.Inject
	}
	e.pkt.Version = 2
	e.pkt.PayloadType = f.PT
	e.pkt.SSRC = e.ssrc
	return e
}

// keepAlive makes the endpoint send silence between sounds, from now until it is closed: a
// caller waiting for a menu choice keeps a live stream, as phones and NAT bindings expect.
func (e *Endpoint) keepAlive() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.idle = true
	if e.sh == nil && !e.closed.Load() {
		e.marker = true
		e.sh = e.pacer.add(e)
	}
}

// continueStream makes the endpoint's stream carry on from another's last packet.
func (e *Endpoint) continueStream(st media.StreamState) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ssrc = st.SSRC
	e.pkt.SSRC = st.SSRC
	e.seq = st.Seq + 1
	e.ts = st.Timestamp + FrameSamples
	e.lastSend = st.At
}

// Format returns the payload format the endpoint uses.
func (e *Endpoint) Format() media.Format { return e.f }

// play starts src, replacing what plays; the returned channel closes when it has ended.
func (e *Endpoint) play(src Source) <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done != nil {
		close(e.done)
	}
	done := make(chan struct{})
	if e.closed.Load() {
		close(done)
		e.src, e.done = nil, nil
		return done
	}
	e.src, e.done = src, done
	// A new talk spurt: the timestamp jumps by the time that passed (RFC 3550 §5.1) and the
	// first packet carries the marker bit.
	if !e.lastSend.IsZero() {
		if gap := time.Since(e.lastSend); gap > Frame {
			e.ts += uint32(gap/Frame-1) * FrameSamples
		}
	}
	e.marker = true
	if e.sh == nil {
		e.sh = e.pacer.add(e)
	}
	return done
}

// stop ends what plays (if anything).
func (e *Endpoint) stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done != nil {
		close(e.done)
		e.done = nil
	}
	e.src = nil
}

// tick sends one frame; it reports false when the endpoint has nothing more to play, after
// leaving its shard.
func (e *Endpoint) tick() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	playing := e.src != nil && !e.closed.Load() && e.src.Read(e.frame[:])
	if !playing {
		if e.done != nil {
			close(e.done)
			e.done = nil
		}
		e.src = nil
		if !e.idle || e.closed.Load() {
			if e.sh != nil {
				e.sh.remove(e) // under e.mu, so that a play racing with this re-joins a shard
				e.sh = nil
			}
			return false
		}
		clear(e.frame[:])
	}
	e.codec.Encode(e.payload[:], e.frame[:])
	e.pkt.Marker = e.marker
	e.pkt.SequenceNumber = e.seq
	e.pkt.Timestamp = e.ts
	e.pkt.Payload = e.payload[:]
	e.marker = false
	e.seq++
	e.ts += FrameSamples
	e.lastSend = time.Now()
	// A leg with no remote yet (or on c=0.0.0.0 hold) just misses the frame; the clock goes on.
	_ = e.out(e.side, &e.pkt)
	return true
}

// onPacket takes one RTP packet the peer sent (tap; media goroutine, must be quick).
func (e *Endpoint) onPacket(pkt *rtp.Packet) {
	if pkt.PayloadType != e.f.PT || len(pkt.Payload) == 0 || len(pkt.Payload) > 4*FrameSamples {
		return
	}
	if cap(e.dec) < len(pkt.Payload) {
		e.dec = make([]int16, 4*FrameSamples)
	}
	dec := e.dec[:len(pkt.Payload)]
	e.codec.Decode(dec, pkt.Payload)
	if r := e.recorder.Load(); r != nil {
		(*r)(dec)
	}
	// A phone that sends RFC 4733 may also leave the tones in its audio: in-band detection
	// pauses for a second after an event so that one key press counts once.
	if d := e.det.Feed(dec); d != 0 && time.Since(time.Unix(0, e.lastRFC.Load())) > time.Second {
		e.digit(d)
	}
}

// onEvent takes an RFC 4733 event.
func (e *Endpoint) onEvent(ev media.DTMFEvent) {
	if ev.Digit == 0 {
		return
	}
	e.lastRFC.Store(time.Now().UnixNano())
	e.digit(ev.Digit)
}

func (e *Endpoint) digit(d rune) {
	select {
	case e.digits <- d:
	default:
		e.dropped.Add(1)
	}
}

// flushDigits discards digits pressed before now.
func (e *Endpoint) flushDigits() {
	for {
		select {
		case <-e.digits:
		default:
			return
		}
	}
}

func (e *Endpoint) close() {
	e.closed.Store(true)
	e.stop()
	e.recorder.Store(nil)
}

// errStopped is returned by waitPlay when the context ended before the source.
var errStopped = errors.New("call: playback stopped")

// waitPlay plays src to its end or until ctx ends.
func (e *Endpoint) waitPlay(ctx context.Context, src Source) error {
	done := e.play(src)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		e.stop()
		return ctx.Err()
	}
}
