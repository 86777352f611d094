package media

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pion/sdp/v3"
)

// A leg of a session can end inside Privox instead of at a remote peer: an application (a
// menu, a mailbox) answers the other leg's offer itself with AnswerLocal, sends its audio with
// Inject and hears the other leg through Tap. The local leg is muted, so the relay forwards
// nothing in either direction until a real peer takes the leg over (Answer from it, then
// Mute(…, false)). The two-party path is unchanged: a muted check is one atomic load on the
// forwarding path.

// Format is the payload format an endpoint inside Privox uses on a leg: one G.711 codec and,
// when the peer offered it, RFC 4733 telephone-events.
type Format struct {
	// PT is the payload type of the audio codec: 0 (PCMU) or 8 (PCMA).
	PT uint8
	// EventPT is the payload type of telephone-event/8000; valid only when Events is set.
	EventPT uint8
	Events  bool
}

// ALaw reports whether the format's codec is G.711 A-law (PCMA); otherwise it is µ-law.
func (f Format) ALaw() bool { return f.PT == 8 }

// Mute stops (on) or resumes (off) forwarding what leg `from` receives to the other leg. Tap
// and DTMF callbacks still see the packets; Inject is not affected.
func (s *Session) Mute(from LegID, on bool) {
	if from.valid() {
		s.legs[from].muted.Store(on)
	}
}

// discard is where the local leg "sends": the relay never sends there, since the leg is muted.
const discard = "127.0.0.1"

// AnswerLocal answers the outstanding offer on behalf of the leg it was made for, as an
// endpoint inside Privox: offer is the SDP that Offer returned for that leg. The answer keeps
// one G.711 codec of the offer (PCMU preferred) and telephone-event, mirrors the offered
// direction, and is plain RTP (the offerer's SRTP is terminated by the relay as usual). It
// returns the SDP for the offerer and the format to send and expect, and mutes both legs.
func (s *Session) AnswerLocal(offer []byte) ([]byte, Format, error) {
	s.mu.Lock()
	o := s.neg.offer
	s.mu.Unlock()
	if o == nil {
		return nil, Format{}, ErrNoOffer
	}
	desc, err := parseSDP(offer)
	if err != nil {
		return nil, Format{}, fmt.Errorf("media: local answer: %w", err)
	}
	if o.index >= len(desc.MediaDescriptions) {
		return nil, Format{}, fmt.Errorf("media: local answer: %w: stream %d missing", ErrBadSDP, o.index)
	}
	md := desc.MediaDescriptions[o.index]
	f, ok := pickFormat(md)
	if !ok {
		return nil, Format{}, fmt.Errorf("media: local answer: %w: no G.711 codec offered", ErrUnsupported)
	}
	direction := "sendrecv"
	for _, a := range append(append([]sdp.Attribute(nil), desc.Attributes...), md.Attributes...) {
		if isDirection(a.Key) {
			direction = a.Key
		}
	}
	switch direction {
	case "sendonly":
		direction = "recvonly"
	case "recvonly":
		direction = "sendonly"
	}
	desc.Attributes = nil
	desc.ConnectionInformation = &sdp.ConnectionInformation{NetworkType: "IN", AddressType: "IP4", Address: &sdp.Address{Address: discard}}
	formats := []string{strconv.Itoa(int(f.PT))}
	attrs := []sdp.Attribute{sdp.NewAttribute("rtpmap", rtpmapOf(f.PT))}
	if f.Events {
		ev := strconv.Itoa(int(f.EventPT))
		formats = append(formats, ev)
		attrs = append(attrs, sdp.NewAttribute("rtpmap", ev+" telephone-event/8000"), sdp.NewAttribute("fmtp", ev+" 0-16"))
	}
	attrs = append(attrs, sdp.NewAttribute("ptime", "20"), sdp.NewPropertyAttribute(direction))
	for i, m := range desc.MediaDescriptions {
		m.ConnectionInformation = nil
		if i != o.index {
			m.MediaName.Port = sdp.RangedPort{Value: 0}
			m.Attributes = nil
			continue
		}
		m.MediaName.Port = sdp.RangedPort{Value: 9}
		m.MediaName.Protos = []string{"RTP", "AVP"}
		m.MediaName.Formats = formats
		m.Attributes = attrs
	}
	raw, err := desc.Marshal()
	if err != nil {
		return nil, Format{}, fmt.Errorf("media: local answer: %w", err)
	}
	s.Mute(LegA, true)
	s.Mute(LegB, true)
	out, err := s.Answer(o.from^1, raw)
	if err != nil {
		return nil, Format{}, err
	}
	return out, f, nil
}

// pickFormat chooses the G.711 codec (PCMU before PCMA) and the telephone-event payload type
// of an offered stream.
func pickFormat(md *sdp.MediaDescription) (Format, bool) {
	var f Format
	has := map[string]bool{}
	for _, v := range md.MediaName.Formats {
		has[v] = true
	}
	switch {
	case has["0"]:
		f.PT = 0
	case has["8"]:
		f.PT = 8
	default:
		return f, false
	}
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		pt, enc, _ := strings.Cut(a.Value, " ")
		if !has[pt] || !strings.HasPrefix(strings.ToLower(enc), "telephone-event/8000") {
			continue
		}
		if n, err := strconv.ParseUint(pt, 10, 8); err == nil && n < 128 {
			f.EventPT, f.Events = uint8(n), true
			break
		}
	}
	return f, true
}

func rtpmapOf(pt uint8) string {
	if pt == 8 {
		return "8 PCMA/8000"
	}
	return "0 PCMU/8000"
}

// RestrictOffer returns raw (an SDP offer) with the anchored audio stream narrowed to the
// formats of f, so that a peer joining a leg that already talks f (to an application) must
// answer with the same codec. Attributes of other payload types are dropped.
func RestrictOffer(raw []byte, f Format) ([]byte, error) {
	desc, err := parseSDP(raw)
	if err != nil {
		return nil, err
	}
	index := anchorIndex(desc)
	if index < 0 {
		return nil, ErrNoMedia
	}
	md := desc.MediaDescriptions[index]
	keep := map[string]bool{strconv.Itoa(int(f.PT)): true}
	if f.Events {
		keep[strconv.Itoa(int(f.EventPT))] = true
	}
	var formats []string
	for _, v := range md.MediaName.Formats {
		if keep[v] {
			formats = append(formats, v)
		}
	}
	if len(formats) == 0 {
		return nil, fmt.Errorf("%w: format %d not in the offer", ErrUnsupported, f.PT)
	}
	md.MediaName.Formats = formats
	out := md.Attributes[:0]
	for _, a := range md.Attributes {
		if a.Key == "rtpmap" || a.Key == "fmtp" {
			pt, _, _ := strings.Cut(a.Value, " ")
			if !keep[pt] {
				continue
			}
		}
		out = append(out, a)
	}
	md.Attributes = out
	return desc.Marshal()
}

// FormatOf returns the G.711 format (and telephone-event) of an SDP's anchored audio stream,
// the one an endpoint inside Privox would send the SDP's author; false when it has no G.711.
func FormatOf(raw []byte) (Format, bool) {
	desc, err := parseSDP(raw)
	if err != nil {
		return Format{}, false
	}
	index := anchorIndex(desc)
	if index < 0 {
		return Format{}, false
	}
	return pickFormat(desc.MediaDescriptions[index])
}

// Held reports whether an SDP offer puts its author's peer on hold: its anchored stream is
// sendonly or inactive, or its address is 0.0.0.0 (RFC 2543 hold).
func Held(raw []byte) bool {
	desc, err := parseSDP(raw)
	if err != nil {
		return false
	}
	index := anchorIndex(desc)
	if index < 0 {
		return false
	}
	info, err := inspect(desc, index)
	if err != nil {
		return false
	}
	return info.zeroAddr || info.direction == "sendonly" || info.direction == "inactive"
}

// LastSDP returns a copy of the SDP the session last wrote for a leg (nil when none).
func (s *Session) LastSDP(l LegID) []byte {
	if !l.valid() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.neg.origin[l].last...)
}

// StreamState is where the RTP stream a leg sends stood at its last packet.
type StreamState struct {
	SSRC      uint32
	Seq       uint16
	Timestamp uint32
	// At is when that packet arrived.
	At time.Time
}

// LastRTP returns the state of the RTP stream received from a leg (false before any packet).
func (s *Session) LastRTP(from LegID) (StreamState, bool) {
	if !from.valid() {
		return StreamState{}, false
	}
	l := &s.legs[from]
	seen := l.lastSeen.Load()
	v := l.lastSSRCSeq.Load()
	if seen == 0 || v == 0 {
		return StreamState{}, false
	}
	return StreamState{SSRC: uint32(v >> 16), Seq: uint16(v), Timestamp: l.lastTS.Load(), At: s.relay.epoch.Add(time.Duration(seen))}, true
}

// AnswerHold answers an offer from leg `from` that only changes the direction of its stream
// (hold and resume), on the session's own behalf, leaving the other leg as it is: the answer
// is the SDP the session last sent `from`, with the direction mirrored (sendonly → recvonly,
// inactive → inactive, sendrecv → sendrecv). What the offer says about `from` (its address,
// direction) is applied. It fails with ErrUnsupported when the offer would need more than
// that (new SRTP keys, no earlier SDP), so that the caller can pass the offer through instead.
func (s *Session) AnswerHold(from LegID, raw []byte) ([]byte, error) {
	if !from.valid() {
		return nil, ErrBadLeg
	}
	desc, err := parseSDP(raw)
	if err != nil {
		return nil, fmt.Errorf("media: hold offer from %s: %w", from, err)
	}
	index := anchorIndex(desc)
	if index < 0 {
		return nil, fmt.Errorf("media: hold offer from %s: %w", from, ErrNoMedia)
	}
	info, err := inspect(desc, index)
	if err != nil {
		return nil, fmt.Errorf("media: hold offer from %s: %w", from, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, ErrClosed
	}
	last := s.neg.origin[from].last
	if last == nil {
		return nil, fmt.Errorf("media: hold offer from %s: %w: no earlier SDP", from, ErrUnsupported)
	}
	cur := s.legs[from].crypto.Load()
	if len(info.cryptos) > 0 || cur != nil {
		same := false
		for _, c := range info.cryptos {
			if cur != nil && c.material() == cur.inKey {
				same = true
			}
		}
		if !same {
			return nil, fmt.Errorf("media: hold offer from %s: %w: SRTP keys change", from, ErrUnsupported)
		}
	}
	ans, err := parseSDP(last)
	if err != nil {
		return nil, err
	}
	ai := anchorIndex(ans)
	if ai < 0 {
		return nil, fmt.Errorf("media: hold offer from %s: %w", from, ErrNoMedia)
	}
	direction := info.direction
	switch {
	case info.zeroAddr && direction == "sendrecv":
		direction = "recvonly" // RFC 2543 hold: the holder sends nothing and would hear us
	case direction == "sendonly":
		direction = "recvonly"
	case direction == "recvonly":
		direction = "sendonly"
	}
	strip := func(attrs []sdp.Attribute) []sdp.Attribute {
		out := attrs[:0]
		for _, a := range attrs {
			if !isDirection(a.Key) {
				out = append(out, a)
			}
		}
		return out
	}
	ans.Attributes = strip(ans.Attributes)
	md := ans.MediaDescriptions[ai]
	// An answer lists only formats of the offer.
	offered := map[string]bool{}
	for _, f := range desc.MediaDescriptions[index].MediaName.Formats {
		offered[f] = true
	}
	var formats []string
	for _, f := range md.MediaName.Formats {
		if offered[f] {
			formats = append(formats, f)
		}
	}
	if len(formats) == 0 {
		return nil, fmt.Errorf("media: hold offer from %s: %w: no format in common", from, ErrUnsupported)
	}
	md.MediaName.Formats = formats
	attrs := md.Attributes[:0]
	for _, a := range strip(md.Attributes) {
		if a.Key == "rtpmap" || a.Key == "fmtp" {
			if pt, _, _ := strings.Cut(a.Value, " "); !offered[pt] {
				continue
			}
		}
		attrs = append(attrs, a)
	}
	md.Attributes = append(attrs, sdp.NewPropertyAttribute(direction))
	s.learn(from, info)
	return s.marshal(ans, from)
}
