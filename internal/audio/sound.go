package audio

import "time"

// Source is one playing of a sound: it yields 8 kHz PCM frame by frame. A Source is used by one
// goroutine at a time.
type Source interface {
	// Read fills frame (FrameSamples long) with the next 20 ms and returns true, or returns
	// false once the sound has ended (frame is then left as it was). A sound whose length is
	// not a multiple of 20 ms pads its last frame with silence.
	Read(frame []int16) bool
}

// Sound is an immutable piece of audio that can be played any number of times, by many
// streams at once: each Open returns an independent Source.
type Sound interface {
	Open() Source
}

// Clip is a sound held in memory as G.711 at 8 kHz. Prompts are clips; a clip is shared by every
// stream that plays it.
type Clip struct {
	Codec Codec
	Data  []byte
}

// NewClip encodes 8 kHz PCM as a clip.
func NewClip(c Codec, pcm []int16) *Clip {
	b := make([]byte, len(pcm))
	c.Encode(b, pcm)
	return &Clip{Codec: c, Data: b}
}

// Duration is the clip's length.
func (c *Clip) Duration() time.Duration { return Duration(len(c.Data)) }

// PCM decodes the whole clip.
func (c *Clip) PCM() []int16 {
	out := make([]int16, len(c.Data))
	c.Codec.Decode(out, c.Data)
	return out
}

// Open starts playing the clip from its beginning.
func (c *Clip) Open() Source { return &clipSource{c: c} }

type clipSource struct {
	c   *Clip
	pos int
}

func (s *clipSource) Read(frame []int16) bool {
	d := s.c.Data
	if s.pos >= len(d) {
		return false
	}
	n := s.c.Codec.Decode(frame, d[s.pos:min(len(d), s.pos+len(frame))])
	clear(frame[n:])
	s.pos += n
	return true
}

// Silence is a sound of d of digital silence.
func Silence(d time.Duration) Sound { return silence(Samples(d)) }

type silence int

func (s silence) Open() Source { n := int(s); return &silenceSource{left: n} }

type silenceSource struct{ left int }

func (s *silenceSource) Read(frame []int16) bool {
	if s.left <= 0 {
		return false
	}
	clear(frame)
	s.left -= len(frame)
	return true
}

// Sequence plays sounds one after the other.
func Sequence(sounds ...Sound) Sound { return sequence(sounds) }

type sequence []Sound

func (q sequence) Open() Source { return &seqSource{q: q} }

type seqSource struct {
	q   []Sound
	i   int
	cur Source
}

func (s *seqSource) Read(frame []int16) bool {
	for s.i < len(s.q) {
		if s.cur == nil {
			s.cur = s.q[s.i].Open()
		}
		if s.cur.Read(frame) {
			return true
		}
		s.cur = nil
		s.i++
	}
	return false
}

// Loop plays snd times times over; times <= 0 loops until the playing is stopped. A sound that
// yields no frame at all ends the loop (instead of spinning).
func Loop(snd Sound, times int) Sound { return loop{snd: snd, times: times} }

type loop struct {
	snd   Sound
	times int
}

func (l loop) Open() Source { return &loopSource{l: l} }

type loopSource struct {
	l     loop
	done  int
	cur   Source
	empty bool
}

func (s *loopSource) Read(frame []int16) bool {
	for s.l.times <= 0 || s.done < s.l.times {
		if s.cur == nil {
			s.cur = s.l.snd.Open()
			s.empty = true
		}
		if s.cur.Read(frame) {
			s.empty = false
			return true
		}
		s.cur = nil
		s.done++
		if s.empty {
			return false
		}
	}
	return false
}
