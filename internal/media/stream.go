package media

import (
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/privox/privox/internal/audio"
)

// StreamConfig configures an outgoing RTP stream served by a [Pacer].
type StreamConfig struct {
	// Codec is the G.711 law sent; PayloadType defaults to its static type (0 or 8).
	Codec       audio.Codec
	PayloadType uint8
	// SSRC, first sequence number and first timestamp; zero picks random ones (RFC 3550 §5.1).
	SSRC      uint32
	Seq       uint16
	Timestamp uint32
	// Send hands one RTP packet to the network (a relay leg's Inject, an SRTP encrypter, a
	// socket). It runs on the pacer's goroutine, must not block and must not keep pkt.
	Send func(pkt []byte) error
	// PauseWhenIdle sends nothing while no playback runs (then the first packet of the next
	// playback carries the marker bit); otherwise idle periods send silence, which keeps NAT
	// bindings open and the far end's jitter buffer steady.
	PauseWhenIdle bool
}

// ErrStreamClosed is returned by Play on a closed stream.
var ErrStreamClosed = errors.New("media: stream closed")

// Stream is one outgoing RTP stream: every 20 ms its pacer asks it for a frame, which it takes
// from the playback in progress (or silence), encodes in G.711, stamps and sends. Play, Stop and
// Close may be called from any goroutine.
type Stream struct {
	p    *Pacer
	cfg  StreamConfig
	slot int

	codec atomic.Uint32 // codec | payload type << 8, swappable by SetCodec
	cur   atomic.Pointer[Playback]

	// Owned by the pacer goroutine.
	started     bool
	startPeriod int64
	lastPeriod  int64
	seq         uint16
	sending     bool // the previous period sent a packet (no marker needed)
	pcm         [audio.FrameSamples]int16
	pkt         [12 + audio.FrameSamples]byte

	closeOnce sync.Once
	closed    atomic.Bool
	sent      atomic.Uint64
	sendErrs  atomic.Uint64
}

// Open adds a stream to the pacer. It sends from the next instant of its slot on.
func (p *Pacer) Open(cfg StreamConfig) (*Stream, error) {
	if !cfg.Codec.Valid() {
		return nil, errors.New("media: stream codec must be PCMU or PCMA")
	}
	if cfg.Send == nil {
		return nil, errors.New("media: stream needs a Send function")
	}
	if cfg.PayloadType == 0 {
		cfg.PayloadType = uint8(cfg.Codec)
	}
	if cfg.SSRC == 0 {
		cfg.SSRC = random32()
	}
	if cfg.Seq == 0 {
		cfg.Seq = uint16(random32())
	}
	if cfg.Timestamp == 0 {
		cfg.Timestamp = random32()
	}
	s := &Stream{p: p, cfg: cfg, seq: cfg.Seq}
	s.codec.Store(uint32(cfg.Codec) | uint32(cfg.PayloadType)<<8)
	p.add(s)
	return s, nil
}

// SSRC returns the stream's synchronisation source.
func (s *Stream) SSRC() uint32 { return s.cfg.SSRC }

// SetCodec switches the law and payload type from the next frame on (a re-INVITE changed the
// codec); pt 0 means the law's static type.
func (s *Stream) SetCodec(c audio.Codec, pt uint8) {
	if pt == 0 {
		pt = uint8(c)
	}
	s.codec.Store(uint32(c) | uint32(pt)<<8)
}

// Packets returns how many packets the stream sent and how many Send calls failed.
func (s *Stream) Packets() (sent, failed uint64) { return s.sent.Load(), s.sendErrs.Load() }

// Play starts playing snd now, cutting off whatever played before (whose Playback ends as
// stopped).
func (s *Stream) Play(snd audio.Sound) (*Playback, error) {
	pb := &Playback{s: s, src: snd.Open(), done: make(chan struct{})}
	if s.closed.Load() {
		return nil, ErrStreamClosed
	}
	if old := s.cur.Swap(pb); old != nil {
		old.finish(true)
	}
	if s.closed.Load() { // Close raced with us
		if s.cur.CompareAndSwap(pb, nil) {
			pb.finish(true)
		}
		return nil, ErrStreamClosed
	}
	return pb, nil
}

// Stop ends the playback in progress, if any (barge-in).
func (s *Stream) Stop() {
	if old := s.cur.Swap(nil); old != nil {
		old.finish(true)
	}
}

// Close stops the playback and removes the stream from its pacer. It is idempotent.
func (s *Stream) Close() {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.Stop()
		s.p.remove(s)
	})
}

// tick builds and sends the frame of one period; it reports whether a packet went out.
func (s *Stream) tick(period int64) bool {
	if s.closed.Load() {
		return false
	}
	if !s.started {
		s.started, s.startPeriod, s.lastPeriod = true, period, period-1
	}
	gap := period != s.lastPeriod+1
	s.lastPeriod = period
	playing := false
	if pb := s.cur.Load(); pb != nil {
		if pb.src.Read(s.pcm[:]) {
			playing = true
		} else if s.cur.CompareAndSwap(pb, nil) {
			pb.finish(false)
		}
	}
	if !playing {
		if s.cfg.PauseWhenIdle {
			s.sending = false
			return false
		}
		clear(s.pcm[:])
	}
	cp := s.codec.Load()
	codec, pt := audio.Codec(cp&0xff), byte(cp>>8)
	marker := !s.sending || gap
	s.sending = true
	b := s.pkt[:]
	b[0] = 0x80 // version 2, no padding, extension or CSRC
	b[1] = pt & 0x7f
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], s.seq)
	ts := s.cfg.Timestamp + uint32(period-s.startPeriod)*audio.FrameSamples
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], s.cfg.SSRC)
	codec.Encode(b[12:], s.pcm[:])
	s.seq++
	if err := s.cfg.Send(b); err != nil {
		s.sendErrs.Add(1)
	} else {
		s.sent.Add(1)
	}
	return true
}

// Playback is one sound being played on a stream.
type Playback struct {
	s       *Stream
	src     audio.Source
	done    chan struct{}
	once    sync.Once
	stopped atomic.Bool
}

func (pb *Playback) finish(stopped bool) {
	pb.once.Do(func() {
		pb.stopped.Store(stopped)
		close(pb.done)
	})
}

// Done is closed when the sound has played to its end or was stopped.
func (pb *Playback) Done() <-chan struct{} { return pb.done }

// Stop ends this playback if it is still the stream's current one (barge-in on a digit).
func (pb *Playback) Stop() {
	if pb.s.cur.CompareAndSwap(pb, nil) {
		pb.finish(true)
	}
}

// Stopped reports, once Done is closed, whether the playback was cut off rather than played to
// its end.
func (pb *Playback) Stopped() bool { return pb.stopped.Load() }
