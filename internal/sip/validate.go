package sip

import (
	"bytes"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/emiago/sipgo/sip"
)

// Request validation: what RFC 3261 §8.2 and §16.3 ask a UAS to check before it acts on a
// request, and what the RFC 4475 torture messages exercise beyond the parser. The golden test
// (testdata/torture) pins the status each torture message gets.

// screen drops requests from scanners: a known scanner User-Agent bans its source at once
// (unless the request came in one UDP datagram and the source authenticated recently: anyone
// can forge that). It reports whether the request must be dropped without an answer.
func (s *Server) screen(req *sip.Request, src netip.AddrPort) bool {
	if ua := req.GetHeader("User-Agent"); ua != nil && s.guard.scanner(ua.Value()) {
		s.guard.ban(src, "scanner user agent", sip.NetworkToUpper(req.Transport()) == tpUDP || req.Transport() == "")
		s.dropped("scanner")
		return true
	}
	return false
}

// supported is what Privox understands in Require (RFC 3261 §8.2.2.3).
var supported = map[string]bool{"timer": true, "replaces": false, "100rel": false, "path": false, "outbound": false}

// singular header fields that must appear once (RFC 4475 §3.3.8, §3.3.9).
var singular = []string{"From", "To", "Call-ID", "CSeq", "Max-Forwards", "Content-Length"}

// validate returns the error response a request deserves, or nil when it may be processed.
func (s *Server) validate(req *sip.Request) *sip.Response {
	if req.SipVersion != "SIP/2.0" {
		return s.reply(req, 505, "Version Not Supported")
	}
	if req.Via() == nil || req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil ||
		strings.TrimSpace(req.CallID().Value()) == "" {
		return s.reply(req, 400, "Missing Required Header")
	}
	// The top Via is what responses are routed by; the others are echoed back, so each must
	// be well-formed too, or the response itself would be malformed (sipgo's parser is
	// lenient with them; found by FuzzSIPMessage).
	if !goodVia(req.Via()) {
		return s.reply(req, 400, "Bad Via")
	}
	// One pass over the header fields (GetHeaders would allocate per name): the singular
	// ones must appear once (RFC 4475 §3.3.8, §3.3.9); Require and Accept are kept for later.
	var nFrom, nTo, nCallID, nCSeq, nMF, nCL int
	var require, accept []sip.Header
	for _, h := range req.Headers() {
		switch h.(type) {
		case *sip.FromHeader:
			nFrom++
		case *sip.ToHeader:
			nTo++
		case *sip.CallIDHeader:
			nCallID++
		case *sip.CSeqHeader:
			nCSeq++
		case *sip.MaxForwardsHeader:
			nMF++
		case *sip.ContentLengthHeader:
			nCL++
		case *sip.ViaHeader:
			// sipgo folds odd white space of lower Vias into the host (RFC 4475 wsinv), so
			// only what makes the echoed field unparseable is refused there.
			if v := h.(*sip.ViaHeader); v.ProtocolName != "SIP" || v.ProtocolVersion != "2.0" || v.Host == "" {
				return s.reply(req, 400, "Bad Via")
			}
		default:
			switch name := h.Name(); {
			case strings.EqualFold(name, "Require"):
				require = append(require, h)
			case strings.EqualFold(name, "Accept"):
				accept = append(accept, h)
			}
		}
	}
	for i, n := range [...]int{nFrom, nTo, nCallID, nCSeq, nMF, nCL} {
		if n > 1 {
			return s.reply(req, 400, "Repeated "+singular[i])
		}
	}
	cseq := req.CSeq()
	// sipgo upper-cases the method of the request line but not the CSeq's, so compare
	// without case (methods are case-sensitive, but an extension method in two spellings
	// is no real ambiguity for a UAS that does not implement it).
	if !strings.EqualFold(string(cseq.MethodName), string(req.Method)) {
		return s.reply(req, 400, "CSeq Method Mismatch")
	}
	if req.IsAck() {
		return nil // ACK gets no response in any case
	}
	switch strings.ToLower(req.Recipient.Scheme) {
	case "sip", "sips", "tel":
	default:
		res := s.reply(req, 416, "Unsupported URI Scheme")
		return res
	}
	if req.Recipient.Host == "" && strings.ToLower(req.Recipient.Scheme) != "tel" {
		return s.reply(req, 400, "Bad Request-URI")
	}
	if from, to := req.From(), req.To(); !sipScheme(from.Address.Scheme) || !sipScheme(to.Address.Scheme) {
		return s.reply(req, 400, "Bad From or To URI")
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() > 255 {
		return s.reply(req, 400, "Bad Max-Forwards")
	}
	if req.Method != sip.CANCEL {
		var unsupported []string
		for _, h := range require {
			for _, opt := range strings.Split(h.Value(), ",") {
				opt = strings.ToLower(strings.TrimSpace(opt))
				if opt != "" && !supported[opt] {
					unsupported = append(unsupported, opt)
				}
			}
		}
		if len(unsupported) > 0 {
			res := s.reply(req, 420, "Bad Extension")
			res.AppendHeader(sip.NewHeader("Unsupported", strings.Join(unsupported, ", ")))
			return res
		}
	}
	if len(req.Body()) > 0 {
		if cl := req.ContentLength(); cl != nil && int(*cl) != len(req.Body()) {
			return s.reply(req, 400, "Bad Content-Length")
		}
		if req.Method == sip.INVITE || req.Method == sip.UPDATE || req.Method == sip.ACK || req.Method == sip.PRACK {
			if ct := req.ContentType(); ct == nil || !isSDP(ct.Value()) {
				res := s.reply(req, 415, "Unsupported Media Type")
				res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
				return res
			}
		}
	}
	if req.Method == sip.INVITE || req.Method == sip.UPDATE {
		if len(accept) > 0 && !acceptsSDP(accept) {
			res := s.reply(req, 406, "Not Acceptable")
			res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
			return res
		}
		if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 && !hasToTag(req) {
			return s.reply(req, 483, "Too Many Hops")
		}
	}
	return nil
}

// goodVia reports whether a Via header value is well-formed enough to be echoed back.
func goodVia(v *sip.ViaHeader) bool {
	return v.ProtocolName == "SIP" && v.ProtocolVersion == "2.0" && v.Transport != "" && v.Host != "" &&
		!strings.ContainsAny(v.Transport, "/ ")
}

func sipScheme(s string) bool {
	switch strings.ToLower(s) {
	case "sip", "sips", "tel":
		return true
	}
	return false
}

func isSDP(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/sdp")
}

func acceptsSDP(hs []sip.Header) bool {
	for _, h := range hs {
		for _, v := range strings.Split(h.Value(), ",") {
			mt, _, _ := strings.Cut(v, ";")
			switch strings.ToLower(strings.TrimSpace(mt)) {
			case "application/sdp", "application/*", "*/*", "":
				return true
			}
		}
	}
	return false
}

// reply builds a response to req (RFC 3261 §8.2.6): its Via, From, To (with our tag),
// Call-ID and CSeq, and rport/received on the top Via (RFC 3581). Unlike
// sip.NewResponseFromRequest it takes the tag from a counter, not from crypto/rand: this runs
// twice per registration.
func (s *Server) reply(req *sip.Request, code int, reason string) *sip.Response {
	res := sip.NewResponse(code, reason)
	top := true
	for _, h := range req.Headers() {
		v, ok := h.(*sip.ViaHeader)
		if !ok {
			continue
		}
		v = v.Clone()
		if top {
			top = false
			if val, ok := v.Params.Get("rport"); ok && val == "" {
				if host, port, err := net.SplitHostPort(req.Source()); err == nil {
					v.Params.Add("rport", port)
					v.Params.Add("received", host)
				}
			}
		}
		res.AppendHeader(v)
	}
	if h := req.From(); h != nil {
		res.AppendHeader(sip.HeaderClone(h))
	}
	if h := req.To(); h != nil {
		to := sip.HeaderClone(h).(*sip.ToHeader)
		if code != 100 && !to.Params.Has("tag") {
			to.Params.Add("tag", newTag())
		}
		res.AppendHeader(to)
	}
	if h := req.CallID(); h != nil {
		res.AppendHeader(sip.HeaderClone(h))
	}
	if h := req.CSeq(); h != nil {
		res.AppendHeader(sip.HeaderClone(h))
	}
	// Over a stream the Content-Length is what ends a message (RFC 3261 §18.3); sipgo's
	// stream parser refuses a response without it. SetBody updates it.
	cl := sip.ContentLengthHeader(0)
	res.AppendHeader(&cl)
	res.SetTransport(req.Transport())
	res.SetDestination(req.Source())
	return res
}

var (
	tagPrefix = sip.GenerateTagN(8) + "-"
	tagSeq    atomic.Uint64
)

// newTag returns a tag unique to this process run (RFC 3261 §19.3 asks for 32 bits of
// randomness across runs: the random prefix provides them).
func newTag() string { return tagPrefix + strconv.FormatUint(tagSeq.Add(1), 36) }

// rawBadRequest builds a stateless 400 for a request the parser rejected, from the raw lines
// of the header fields a response needs (Via, From, To, Call-ID, CSeq). It returns nil when
// the message is a response or lacks any of them: then it is simply dropped.
func rawBadRequest(data []byte, perr error) []byte {
	lines := bytes.Split(data, []byte("\r\n"))
	if len(lines) < 2 {
		return nil
	}
	first := string(lines[0])
	if strings.HasPrefix(first, "SIP/") || !strings.Contains(first, " ") {
		return nil // a response, or not SIP at all
	}
	status := "400 Bad Request"
	if f := strings.Fields(first); len(f) == 3 {
		if f[2] != "SIP/2.0" && strings.HasPrefix(f[2], "SIP/") {
			status = "505 Version Not Supported"
		} else if scheme, _, ok := strings.Cut(f[1], ":"); ok && !sipScheme(scheme) && !strings.ContainsAny(scheme, "<>\"\\ ") {
			status = "416 Unsupported URI Scheme"
		}
	}
	var vias []string
	var from, to, callID, cseq string
	for _, l := range lines[1:] {
		if len(l) == 0 {
			break
		}
		if l[0] == ' ' || l[0] == '\t' {
			continue // folded continuation: ignore
		}
		name, value, ok := strings.Cut(string(l), ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		if len(value) > 1024 || strings.ContainsAny(value, "\x00\r\n") {
			return nil
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "via", "v":
			vias = append(vias, value)
		case "from", "f":
			from = value
		case "to", "t":
			to = value
		case "call-id", "i":
			callID = value
		case "cseq":
			cseq = value
		}
	}
	if len(vias) == 0 || from == "" || to == "" || callID == "" || cseq == "" {
		return nil
	}
	if !strings.Contains(strings.ToLower(to), ";tag=") {
		to += ";tag=" + sip.GenerateTagN(10)
	}
	var b bytes.Buffer
	b.WriteString("SIP/2.0 " + status + "\r\n")
	for _, v := range vias {
		b.WriteString("Via: " + v + "\r\n")
	}
	b.WriteString("From: " + from + "\r\nTo: " + to + "\r\nCall-ID: " + callID + "\r\nCSeq: " + cseq + "\r\n")
	b.WriteString("Warning: 399 privox \"" + strconv.Quote(firstWords(perr.Error()))[1:])
	b.WriteString("\r\nContent-Length: 0\r\n\r\n")
	return b.Bytes()
}

// firstWords shortens a parser error for the Warning header (never message content).
func firstWords(s string) string {
	if i := strings.IndexAny(s, "\"'\r\n:"); i > 0 {
		s = s[:i]
	}
	if len(s) > 60 {
		s = s[:60]
	}
	return strings.TrimSpace(s)
}
