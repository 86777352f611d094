package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// maxSDP bounds the SDP accepted from the network.
const maxSDP = 64 << 10

// SDP errors. Each is wrapped with the detail; the SIP layer answers 488 Not Acceptable Here.
var (
	// ErrBadSDP: the SDP does not parse or lacks what a relay needs (a c= line, ports).
	ErrBadSDP = errors.New("media: malformed SDP")
	// ErrNoMedia: the SDP has no audio (RTP) or image (T.38) stream the relay can anchor.
	ErrNoMedia = errors.New("media: no stream to anchor")
	// ErrUnsupported: the SDP asks for something the relay does not do (DTLS-SRTP, or SRTP
	// with no crypto suite in common).
	ErrUnsupported = errors.New("media: unsupported SDP")
	// ErrNoOffer: Answer without an outstanding Offer from the other leg.
	ErrNoOffer = errors.New("media: answer without offer")
)

// negotiation is the offer/answer state of a session (under Session.mu).
type negotiation struct {
	offer *offerState
	// ourKeys[leg][suite] is the master key||salt the relay sends to that leg with, kept for the
	// whole session so re-INVITEs don't re-key needlessly.
	ourKeys [2]map[string][]byte
	// origin[leg] is the o= line the relay presents to that leg (RFC 3264 §8: one session id,
	// a version that grows when the SDP changes), whichever endpoint the SDP came from.
	origin [2]origin
}

type origin struct {
	id, version uint64
	last        []byte // the last SDP sent to the leg
}

// offerState remembers, until the answer, what the offering leg proposed.
type offerState struct {
	from    LegID
	index   int      // anchored m-line
	protos  []string // the offerer's transport, e.g. RTP/SAVP; the answer to it must match
	cryptos []sdesCrypto
}

// mediaInfo is what the relay takes from one SDP for the anchored stream.
type mediaInfo struct {
	index     int
	rtpAddr   netip.AddrPort // zero when unknown, on hold (c=0.0.0.0) or disabled (port 0)
	rtcpAddr  netip.AddrPort
	zeroAddr  bool // c=0.0.0.0 (or ::): RFC 2543 hold
	disabled  bool // port 0
	direction string
	protos    []string
	secure    bool // RTP/SAVP(F)
	udptl     bool // T.38
	cryptos   []sdesCrypto
	events    map[uint8]uint32 // telephone-event payload type -> clock rate
}

// parseSDP parses untrusted SDP. pion/sdp is fuzzed upstream; the recover is a second line of
// defence so that no input can take the call's goroutine down.
func parseSDP(raw []byte) (desc *sdp.SessionDescription, err error) {
	if len(raw) > maxSDP {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadSDP, len(raw))
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadSDP)
	}
	defer func() {
		if r := recover(); r != nil {
			desc, err = nil, fmt.Errorf("%w: parser panic: %v", ErrBadSDP, r)
		}
	}()
	raw, images := maskImageStreams(raw)
	desc = &sdp.SessionDescription{}
	if err := desc.Unmarshal(raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSDP, err)
	}
	for i, protos := range images {
		if i < len(desc.MediaDescriptions) {
			desc.MediaDescriptions[i].MediaName.Media = "image"
			desc.MediaDescriptions[i].MediaName.Protos = protos
		}
	}
	return desc, nil
}

// maskImageStreams lets pion/sdp parse T.38 streams: it only knows the media types and
// transports of RFC 4566, not "m=image <port> udptl t38" (RFC 3362, ITU-T T.38 Annex D). Such
// lines are handed to pion as "m=application <port> UDP ..." and restored after parsing; images
// maps the index of each such m-line to its original transport.
func maskImageStreams(raw []byte) ([]byte, map[int][]string) {
	if !bytes.Contains(raw, []byte("m=image ")) {
		return raw, nil
	}
	images := map[int][]string{}
	lines := bytes.SplitAfter(raw, []byte("\n"))
	m := -1
	for i, line := range lines {
		if !bytes.HasPrefix(line, []byte("m=")) {
			continue
		}
		m++
		f := strings.Fields(string(line[2:]))
		if len(f) < 3 || f[0] != "image" {
			continue
		}
		images[m] = strings.Split(f[2], "/")
		end := line[len(bytes.TrimRight(line, "\r\n")):]
		lines[i] = []byte("m=application " + f[1] + " UDP " + strings.Join(f[3:], " ") + string(end))
	}
	return bytes.Join(lines, nil), images
}

// anchorIndex picks the stream the relay carries: the first audio or image (T.38) m-line with
// a non-zero port.
func anchorIndex(desc *sdp.SessionDescription) int {
	for i, md := range desc.MediaDescriptions {
		if md.MediaName.Port.Value != 0 && (md.MediaName.Media == "audio" || md.MediaName.Media == "image") {
			return i
		}
	}
	return -1
}

// inspect extracts the anchored stream at index from desc.
func inspect(desc *sdp.SessionDescription, index int) (*mediaInfo, error) {
	if index < 0 || index >= len(desc.MediaDescriptions) {
		return nil, fmt.Errorf("%w: stream %d missing", ErrBadSDP, index)
	}
	md := desc.MediaDescriptions[index]
	info := &mediaInfo{index: index, protos: md.MediaName.Protos, direction: "sendrecv"}
	proto := strings.ToUpper(strings.Join(md.MediaName.Protos, "/"))
	if strings.Contains(proto, "TLS") {
		return nil, fmt.Errorf("%w: DTLS-SRTP transport %s", ErrUnsupported, proto)
	}
	switch {
	case md.MediaName.Media == "image" || strings.Contains(proto, "UDPTL"):
		if !strings.Contains(proto, "UDPTL") {
			return nil, fmt.Errorf("%w: image stream over %s", ErrUnsupported, proto)
		}
		info.udptl = true
	case strings.HasPrefix(proto, "RTP/"):
		info.secure = strings.HasPrefix(proto, "RTP/SAVP")
	default:
		return nil, fmt.Errorf("%w: transport %q", ErrUnsupported, proto)
	}
	port := md.MediaName.Port.Value
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("%w: port %d", ErrBadSDP, port)
	}
	info.disabled = port == 0

	conn := md.ConnectionInformation
	if conn == nil {
		conn = desc.ConnectionInformation
	}
	if conn == nil || conn.Address == nil {
		return nil, fmt.Errorf("%w: no c= line for stream %d", ErrBadSDP, index)
	}
	addr, addrErr := netip.ParseAddr(conn.Address.Address)
	if addrErr == nil {
		addr = addr.Unmap()
		info.zeroAddr = addr.IsUnspecified()
	}
	// A host name (allowed by RFC 4566 but rare on phones) leaves the address unknown: the
	// relay then learns it from the first packet.
	if addrErr == nil && !info.zeroAddr && !info.disabled {
		info.rtpAddr = netip.AddrPortFrom(addr, uint16(port))
		info.rtcpAddr = netip.AddrPortFrom(addr, uint16(port+1))
	}

	for _, a := range desc.Attributes {
		if isDirection(a.Key) {
			info.direction = a.Key
		}
	}
	for _, a := range md.Attributes {
		switch {
		case isDirection(a.Key):
			info.direction = a.Key
		case a.Key == "rtcp" && info.rtpAddr.IsValid():
			rtcpAddr, err := parseRTCPAttr(a.Value, info.rtpAddr.Addr())
			if err != nil {
				return nil, err
			}
			info.rtcpAddr = rtcpAddr
		case a.Key == "rtpmap":
			pt, enc, ok := strings.Cut(a.Value, " ")
			name, rate, _ := strings.Cut(enc, "/")
			n, err := strconv.ParseUint(pt, 10, 8)
			if !ok || err != nil || n > 127 || !strings.EqualFold(name, "telephone-event") {
				continue
			}
			rate, _, _ = strings.Cut(rate, "/") // telephone-event/8000[/channels]
			r, _ := strconv.ParseUint(strings.TrimSpace(rate), 10, 32)
			if info.events == nil {
				info.events = make(map[uint8]uint32)
			}
			info.events[uint8(n)] = uint32(r)
		case a.Key == "crypto":
			c, err := parseCrypto(a.Value)
			if errors.Is(err, errUnsupportedCrypto) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrBadSDP, err)
			}
			info.cryptos = append(info.cryptos, c)
		}
	}
	return info, nil
}

func isDirection(k string) bool {
	return k == "sendrecv" || k == "sendonly" || k == "recvonly" || k == "inactive"
}

// parseRTCPAttr parses a=rtcp:<port> [IN IP4 <addr>] (RFC 3605).
func parseRTCPAttr(v string, def netip.Addr) (netip.AddrPort, error) {
	f := strings.Fields(v)
	if len(f) == 0 {
		return netip.AddrPort{}, fmt.Errorf("%w: empty a=rtcp", ErrBadSDP)
	}
	port, err := strconv.ParseUint(f[0], 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}, fmt.Errorf("%w: a=rtcp port %q", ErrBadSDP, f[0])
	}
	addr := def
	if len(f) >= 4 {
		if a, err := netip.ParseAddr(f[3]); err == nil {
			addr = a.Unmap()
		}
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// Offer takes the SDP offer received from leg `from` (an INVITE or re-INVITE body) and returns
// the SDP to send to the other leg: addresses and ports point at the other leg's local socket,
// the o= line is the relay's own for that leg, codecs and payload types are unchanged, SRTP keys are Privox's own for that leg, and
// ICE/DTLS/rtcp-mux attributes the relay does not implement are removed. The remote of `from`
// is taken from the SDP (and re-latched if it changed). Streams other than the first audio or
// T.38 image stream are disabled (port 0) in the returned SDP.
func (s *Session) Offer(from LegID, raw []byte) ([]byte, error) {
	if !from.valid() {
		return nil, ErrBadLeg
	}
	desc, err := parseSDP(raw)
	if err != nil {
		return nil, fmt.Errorf("media: offer from %s: %w", from, err)
	}
	index := anchorIndex(desc)
	if index < 0 {
		return nil, fmt.Errorf("media: offer from %s: %w", from, ErrNoMedia)
	}
	info, err := inspect(desc, index)
	if err != nil {
		return nil, fmt.Errorf("media: offer from %s: %w", from, err)
	}
	if info.secure && len(info.cryptos) == 0 {
		return nil, fmt.Errorf("media: offer from %s: %w: RTP/SAVP without a supported a=crypto", from, ErrUnsupported)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, ErrClosed
	}
	to := from ^ 1
	var attrs []sdp.Attribute
	for _, c := range info.cryptos {
		key, err := s.ourKey(to, c.suite)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, sdp.NewAttribute("crypto", cryptoValue(c.tag, c.suite, key)))
	}
	s.neg.offer = &offerState{from: from, index: index, protos: info.protos, cryptos: info.cryptos}
	s.learn(from, info)
	if len(info.cryptos) > 0 {
		// Until the answer installs keys, nothing from or to the offerer passes in the clear.
		s.legs[from].secure.Store(true)
	}
	s.rewrite(desc, info, to, attrs, nil)
	out, err := s.marshal(desc, to)
	if err != nil {
		return nil, fmt.Errorf("media: offer from %s: %w", from, err)
	}
	return out, nil
}

// Answer takes the SDP answer received from leg `from` to the outstanding offer of the other leg
// and returns the SDP to send to the offerer, rewritten like Offer's. It completes the SRTP
// negotiation of both legs and starts the media timeout. It may be called again for the same
// offer (183 then 200 with the same SDP); identical keys keep the SRTP state.
func (s *Session) Answer(from LegID, raw []byte) ([]byte, error) {
	if !from.valid() {
		return nil, ErrBadLeg
	}
	desc, err := parseSDP(raw)
	if err != nil {
		return nil, fmt.Errorf("media: answer from %s: %w", from, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, ErrClosed
	}
	o := s.neg.offer
	if o == nil || o.from == from {
		return nil, fmt.Errorf("media: answer from %s: %w", from, ErrNoOffer)
	}
	info, err := inspect(desc, o.index)
	if err != nil {
		return nil, fmt.Errorf("media: answer from %s: %w", from, err)
	}
	to := o.from

	// The answerer's crypto: the one line it kept of those the relay offered (same tags).
	var answered *sdesCrypto
	for i := range info.cryptos {
		for _, oc := range o.cryptos {
			if info.cryptos[i].tag == oc.tag && info.cryptos[i].suite == oc.suite {
				answered = &info.cryptos[i]
				break
			}
		}
		if answered != nil {
			break
		}
	}
	if info.secure && answered == nil && !info.disabled {
		return nil, fmt.Errorf("media: answer from %s: %w: RTP/SAVP without a crypto line the relay offered", from, ErrUnsupported)
	}
	if answered != nil {
		key, err := s.ourKey(from, answered.suite)
		if err != nil {
			return nil, err
		}
		if err := s.setCrypto(from, *answered, key); err != nil {
			return nil, fmt.Errorf("media: answer from %s: %w", from, err)
		}
	} else {
		s.clearCrypto(from)
	}

	// The offerer gets SRTP if it asked for it, whatever the answerer chose: each leg's SRTP is
	// terminated separately.
	var attrs []sdp.Attribute
	if len(o.cryptos) > 0 && !info.disabled {
		chosen := o.cryptos[0]
		if answered != nil {
			for _, c := range o.cryptos {
				if c.tag == answered.tag {
					chosen = c
				}
			}
		}
		key, err := s.ourKey(to, chosen.suite)
		if err != nil {
			return nil, err
		}
		if err := s.setCrypto(to, chosen, key); err != nil {
			return nil, fmt.Errorf("media: answer from %s: %w", from, err)
		}
		attrs = append(attrs, sdp.NewAttribute("crypto", cryptoValue(chosen.tag, chosen.suite, key)))
	} else {
		s.clearCrypto(to)
	}

	s.learn(from, info)
	s.rewrite(desc, info, to, attrs, o.protos)
	s.armedAt.Store(s.relay.now())
	s.armed.Store(true)
	s.fired.Store(false)
	out, err := s.marshal(desc, to)
	if err != nil {
		return nil, fmt.Errorf("media: answer from %s: %w", from, err)
	}
	return out, nil
}

// marshal writes desc for leg `to` with the relay's own origin line for that leg: a
// transfer that puts another endpoint behind the same leg must not change its o= session id,
// and the version grows only when the SDP sent to the leg actually changes.
func (s *Session) marshal(desc *sdp.SessionDescription, to LegID) ([]byte, error) {
	o := &s.neg.origin[to]
	if o.id == 0 {
		var b [8]byte
		if _, err := io.ReadFull(s.relay.rand, b[:]); err != nil {
			return nil, fmt.Errorf("session id: %w", err)
		}
		o.id = binary.BigEndian.Uint64(b[:])>>2 + 1 // positive, fits a signed 64-bit integer
		o.version = 1
	}
	addrType := "IP4"
	if s.relay.adv.Is6() {
		addrType = "IP6"
	}
	desc.Origin = sdp.Origin{
		Username: "privox", SessionID: o.id, SessionVersion: o.version,
		NetworkType: "IN", AddressType: addrType, UnicastAddress: s.relay.adv.String(),
	}
	out, err := desc.Marshal()
	if err != nil {
		return nil, err
	}
	if o.last != nil && !bytes.Equal(out, o.last) {
		o.version++
		desc.Origin.SessionVersion = o.version
		if out, err = desc.Marshal(); err != nil {
			return nil, err
		}
	}
	o.last = out
	return out, nil
}

// ourKey returns the relay's sending key for a leg and suite, drawing it on first use.
func (s *Session) ourKey(l LegID, suite string) ([]byte, error) {
	if k, ok := s.neg.ourKeys[l][suite]; ok {
		return k, nil
	}
	p := srtpSuites[suite]
	k, err := newKey(s.relay.rand, p)
	if err != nil {
		return nil, err
	}
	if s.neg.ourKeys[l] == nil {
		s.neg.ourKeys[l] = make(map[string][]byte)
	}
	s.neg.ourKeys[l][suite] = k
	return k, nil
}

// setCrypto installs SRTP on a leg unless the same keys are already in place (a repeated
// answer or a re-INVITE that keeps its keys must not reset rollover counters).
func (s *Session) setCrypto(id LegID, in sdesCrypto, out []byte) error {
	l := &s.legs[id]
	if cur := l.crypto.Load(); cur != nil && cur.profile == in.profile && cur.inKey == in.material() && cur.outKey == string(out) {
		l.secure.Store(true)
		return nil
	}
	c, err := newLegCrypto(in, out)
	if err != nil {
		return err
	}
	l.crypto.Store(c)
	l.secure.Store(true)
	return nil
}

func (s *Session) clearCrypto(id LegID) {
	l := &s.legs[id]
	l.secure.Store(false)
	l.crypto.Store(nil)
}

// learn applies what an SDP from leg id says about its remote. Called with s.mu held.
func (s *Session) learn(id LegID, info *mediaInfo) {
	l := &s.legs[id]
	if info.rtpAddr.IsValid() {
		l.rtp.setSDP(info.rtpAddr, l.sdpRTP)
		l.rtcp.setSDP(info.rtcpAddr, l.sdpRTCP)
		l.sdpRTP, l.sdpRTCP = info.rtpAddr, info.rtcpAddr
	}
	l.hold.Store(info.zeroAddr || info.disabled)
	l.sdpHeld = info.zeroAddr || info.direction != "sendrecv"
	l.sdpEvents = info.events
	s.held.Store(s.legs[0].sdpHeld || s.legs[1].sdpHeld)
	s.events.Store(newPTTable(s.legs[0].sdpEvents, s.legs[1].sdpEvents))
	if s.udptl.Load() != info.udptl {
		s.udptl.Store(info.udptl)
	}
	s.log.Debug("sdp", "leg", id, "remote", info.rtpAddr, "direction", info.direction, "srtp", len(info.cryptos) > 0)
}

// rewrite turns desc, received from one leg, into the SDP for leg `to`. Called with s.mu held.
func (s *Session) rewrite(desc *sdp.SessionDescription, info *mediaInfo, to LegID, crypto []sdp.Attribute, protos []string) {
	adv := s.relay.adv
	addrType := "IP4"
	if adv.Is6() {
		addrType = "IP6"
	}
	advertise := func(c *sdp.ConnectionInformation, keepZero bool) {
		if c == nil || c.Address == nil {
			return
		}
		if a, err := netip.ParseAddr(c.Address.Address); keepZero && err == nil && a.Unmap().IsUnspecified() {
			return // c=0.0.0.0 stays: the other side must still see the hold
		}
		c.NetworkType, c.AddressType = "IN", addrType
		c.Address = &sdp.Address{Address: adv.String()}
	}
	advertise(desc.ConnectionInformation, true)
	desc.Attributes = filterAttrs(desc.Attributes, nil)
	port := s.legs[to].port
	for i, md := range desc.MediaDescriptions {
		advertise(md.ConnectionInformation, true)
		if i != info.index {
			md.MediaName.Port = sdp.RangedPort{Value: 0}
			md.Attributes = filterAttrs(md.Attributes, nil)
			continue
		}
		if md.MediaName.Port.Value != 0 {
			md.MediaName.Port = sdp.RangedPort{Value: port}
		}
		if protos != nil {
			md.MediaName.Protos = protos
		}
		rtcp := strconv.Itoa(port + 1)
		md.Attributes = filterAttrs(md.Attributes, func(a *sdp.Attribute) {
			if a.Key == "rtcp" {
				v := rtcp
				if f := strings.Fields(a.Value); len(f) >= 4 {
					v += " IN " + addrType + " " + adv.String()
				}
				a.Value = v
			}
		})
		md.Attributes = append(md.Attributes, crypto...)
	}
}

// dropped attributes: ICE, DTLS and BUNDLE would let the endpoints bypass or confuse the relay;
// rtcp-mux is not offered because the relay keeps RTCP on port+1; crypto lines are replaced.
var droppedAttrs = map[string]bool{
	"candidate": true, "remote-candidates": true, "end-of-candidates": true,
	"ice-ufrag": true, "ice-pwd": true, "ice-options": true, "ice-lite": true, "ice-mismatch": true,
	"fingerprint": true, "setup": true, "tls-id": true,
	"group": true, "rtcp-mux": true, "rtcp-mux-only": true,
	"crypto": true,
}

func filterAttrs(attrs []sdp.Attribute, edit func(*sdp.Attribute)) []sdp.Attribute {
	out := attrs[:0]
	for _, a := range attrs {
		if droppedAttrs[a.Key] {
			continue
		}
		if edit != nil {
			edit(&a)
		}
		out = append(out, a)
	}
	return out
}
