package media

import "github.com/privox/privox/internal/audio"

// DigitDetector finds the key presses of one received leg: RFC 4733 telephone-events and
// in-band DTMF in its G.711 audio. A phone that sends telephone-events may also leave the tones
// in its audio; once a leg has sent one event, its in-band detection is switched off, so that
// no press counts twice. Not safe for concurrent use: feed it from the leg's receive path.
type DigitDetector struct {
	inband   *audio.DTMFDetector
	pcm      [audio.FrameSamples]int16
	rfc4733  bool
	lastTS   uint32
	haveLast bool
}

// NewDigitDetector returns a detector with the in-band options opt.
func NewDigitDetector(opt audio.DTMFOptions) *DigitDetector {
	return &DigitDetector{inband: audio.NewDTMFDetector(opt)}
}

// FeedRTP processes the payload of one received RTP packet of payload type pt and returns the
// digit whose press was recognised in it, or 0. Payload types other than PCMU and PCMA are
// ignored.
func (d *DigitDetector) FeedRTP(pt uint8, payload []byte) rune {
	c := audio.Codec(pt)
	if d.rfc4733 || !c.Valid() {
		return 0
	}
	var got rune
	for len(payload) > 0 {
		n := c.Decode(d.pcm[:], payload[:min(len(payload), len(d.pcm))])
		if r := d.inband.Feed(d.pcm[:n]); r != 0 {
			got = r
		}
		payload = payload[n:]
	}
	return got
}

// FeedEvent processes one RFC 4733 event the relay reported and returns its digit (0 for
// events that are not keys, and for a repeat of the event just seen).
func (d *DigitDetector) FeedEvent(ev DTMFEvent) rune {
	d.rfc4733 = true
	if d.haveLast && ev.Timestamp == d.lastTS {
		return 0
	}
	d.haveLast, d.lastTS = true, ev.Timestamp
	return ev.Digit
}

// InBand reports whether in-band detection is still on (no telephone-event seen).
func (d *DigitDetector) InBand() bool { return !d.rfc4733 }
