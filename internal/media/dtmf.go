package media

import (
	"encoding/binary"
	"log/slog"
	"time"
)

// DTMFEvent is one RFC 4733 telephone-event, reported when it ends.
type DTMFEvent struct {
	// Event is the RFC 4733 event code: 0-9 digits, 10 '*', 11 '#', 12-15 'A'-'D', 16 flash.
	Event uint8
	// Digit is the character of a DTMF event ('0'-'9', '*', '#', 'A'-'D'), or 0 for other events.
	Digit rune
	// Duration is the event's duration as the sender reported it in its end packet.
	Duration time.Duration
	// Volume is the power level, in -dBm0 (0 is loudest, 63 quietest).
	Volume uint8
	// SSRC and Timestamp identify the event in its RTP stream.
	SSRC, Timestamp uint32
}

// LogValue keeps the digit out of logs (a DTMF digit may be part of a PIN): an event logs
// its duration and stream only.
func (e DTMFEvent) LogValue() slog.Value {
	return slog.GroupValue(slog.Duration("duration", e.Duration), slog.Any("ssrc", e.SSRC))
}

const dtmfDigits = "0123456789*#ABCD"

// ptTable says which payload types carry telephone-events, and their clock rates. It is built
// from both legs' SDP and swapped as a whole, so the hot path reads it with one atomic load.
type ptTable struct {
	mask [2]uint64
	rate [128]uint32
}

func (t *ptTable) has(pt uint8) bool {
	return t.mask[pt>>6&1]&(1<<(pt&63)) != 0
}

func newPTTable(maps ...map[uint8]uint32) *ptTable {
	t := &ptTable{}
	n := 0
	for _, m := range maps {
		for pt, rate := range m {
			if pt > 127 {
				continue
			}
			t.mask[pt>>6] |= 1 << (pt & 63)
			t.rate[pt] = rate
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return t
}

// dtmfState deduplicates the end packet of an event, which senders transmit three times.
type dtmfState struct {
	seen      bool
	ssrc, ts  uint32
	lastEvent uint8
}

// rtpPayload returns the payload of a well-formed RTP packet.
func rtpPayload(pkt []byte) ([]byte, bool) {
	if len(pkt) < 12 {
		return nil, false
	}
	off := 12 + 4*int(pkt[0]&0x0f)
	if pkt[0]&0x10 != 0 {
		if len(pkt) < off+4 {
			return nil, false
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(pkt[off+2:]))
	}
	end := len(pkt)
	if pkt[0]&0x20 != 0 && end > 0 {
		pad := int(pkt[end-1])
		if pad == 0 || pad > end-off {
			return nil, false
		}
		end -= pad
	}
	if off > end {
		return nil, false
	}
	return pkt[off:end], true
}

// dtmf looks at a telephone-event packet received on leg x and reports the event once, at its
// end. pkt is plain RTP.
func (s *Session) dtmf(x *leg, pkt []byte, t *ptTable, st *dtmfState) {
	payload, ok := rtpPayload(pkt)
	if !ok || len(payload) < 4 || payload[1]&0x80 == 0 {
		return
	}
	ts := binary.BigEndian.Uint32(pkt[4:])
	ssrc := binary.BigEndian.Uint32(pkt[8:])
	if st.seen && st.ssrc == ssrc && st.ts == ts && st.lastEvent == payload[0] {
		return
	}
	st.seen, st.ssrc, st.ts, st.lastEvent = true, ssrc, ts, payload[0]
	cb := s.onDTMF.Load()
	if cb == nil {
		return
	}
	rate := t.rate[pkt[1]&0x7f]
	if rate == 0 {
		rate = 8000
	}
	ev := DTMFEvent{
		Event:     payload[0],
		Duration:  time.Duration(binary.BigEndian.Uint16(payload[2:])) * time.Second / time.Duration(rate),
		Volume:    payload[1] & 0x3f,
		SSRC:      ssrc,
		Timestamp: ts,
	}
	if int(ev.Event) < len(dtmfDigits) {
		ev.Digit = rune(dtmfDigits[ev.Event])
	}
	s.cb.Add(1)
	(*cb)(x.id, ev)
	s.cb.Add(-1)
}
