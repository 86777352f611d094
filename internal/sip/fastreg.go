package sip

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// The REGISTER fast path for UDP. Phones re-register all day, two transactions each time, and
// that traffic decides how many phones one Privox serves; so a plainly written REGISTER is
// read here in one pass over its header lines, without building sipgo's message objects, and
// answered with a response assembled from the request's own Via, From, To, Call-ID and CSeq
// lines, as a stateless registrar does. The registrar logic itself is shared with the full
// path (registrar). Anything this reader does not expect (folded lines, several values on one
// line, a Require, a Route, a body, unusual URIs) makes it step aside: the datagram then takes
// the full path through sipgo's parser and validate, which answers every oddity properly.
// FuzzFastRegister checks that whatever this reader accepts, sipgo reads the same way.

// rawReg is a REGISTER as read by parseRawRegister: slices of the datagram and a few strings.
type rawReg struct {
	in       regIn
	vias     [][]byte // values, in order
	topHost  string   // sent-by of the top Via
	topPort  int
	rport    bool // the top Via has an rport parameter without a value
	from     []byte
	to       []byte
	toTag    bool
	callID   []byte
	cseq     []byte
	maxFwd   int // -1 when absent
	contacts [][]byte
}

var crlf = []byte("\r\n")

// parseRawRegister reads a REGISTER; ok is false when the datagram is not one this reader
// handles (the caller then uses the full path).
func parseRawRegister(data []byte) (r rawReg, ok bool) {
	i := bytes.Index(data, crlf)
	if i < 0 {
		return r, false
	}
	line := data[:i]
	if hasControl(line) || len(line) <= len("REGISTER  SIP/2.0") || !bytes.HasPrefix(line, []byte("REGISTER ")) || !bytes.HasSuffix(line, []byte(" SIP/2.0")) {
		return r, false
	}
	rawURI := line[len("REGISTER ") : len(line)-len(" SIP/2.0")]
	ruri, ok := uriOf(rawURI)
	if !ok {
		return r, false
	}
	r.in.ruri = ruri
	r.in.ruriHost = r.in.ruri.Host
	r.in.ruriRaw = string(rawURI)
	r.in.expires = -1
	r.maxFwd = -1
	rest := data[i+2:]
	var nFrom, nTo, nCallID, nCSeq, nCL int
	for {
		j := bytes.Index(rest, crlf)
		if j < 0 {
			return r, false
		}
		line, rest = rest[:j], rest[j+2:]
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' || hasControl(line) {
			return r, false // folded header line, or a stray CR, LF, NUL…
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return r, false
		}
		name := bytes.TrimRight(line[:colon], " \t")
		value := bytes.TrimSpace(line[colon+1:])
		switch {
		case isName(name, "via", "v"):
			if bytes.IndexByte(value, ',') >= 0 {
				return r, false
			}
			r.vias = append(r.vias, value)
		case isName(name, "from", "f"):
			nFrom++
			r.from = value
		case isName(name, "to", "t"):
			nTo++
			r.to = value
		case isName(name, "call-id", "i"):
			nCallID++
			r.callID = value
		case isName(name, "cseq", ""):
			nCSeq++
			r.cseq = value
		case isName(name, "contact", "m"):
			r.contacts = append(r.contacts, value)
		case isName(name, "expires", ""):
			n, ok := atoi(value)
			if !ok {
				return r, false
			}
			r.in.expires = n
		case isName(name, "authorization", ""):
			r.in.auths = append(r.in.auths, string(value))
		case isName(name, "user-agent", ""):
			r.in.ua = string(value)
		case isName(name, "max-forwards", ""):
			n, ok := atoi(value)
			if !ok || n > 255 || r.maxFwd >= 0 {
				return r, false
			}
			r.maxFwd = n
		case isName(name, "content-length", "l"):
			nCL++
			if n, ok := atoi(value); !ok || n != 0 {
				return r, false
			}
		case isName(name, "require", ""), isName(name, "route", ""), isName(name, "path", ""),
			isName(name, "content-type", "c"), isName(name, "content-encoding", "e"):
			return r, false
		}
	}
	if len(bytes.Trim(rest, "\r\n")) != 0 || len(r.vias) == 0 || nFrom != 1 || nTo != 1 || len(r.from) == 0 || len(r.to) == 0 ||
		nCallID != 1 || nCSeq != 1 || nCL > 1 || len(r.callID) == 0 {
		return r, false
	}
	r.in.callID = string(r.callID)
	// CSeq: number REGISTER
	sp := bytes.IndexByte(r.cseq, ' ')
	if sp < 0 || !bytes.Equal(r.cseq[sp+1:], []byte("REGISTER")) {
		return r, false
	}
	n, ok := atoi(r.cseq[:sp])
	if !ok || n > 1<<31-1 {
		return r, false
	}
	r.in.cseq = uint32(n)
	// top Via: SIP/2.0/TRANSPORT host[:port];params
	if !r.topVia(r.vias[0]) {
		return r, false
	}
	for _, v := range r.vias[1:] { // rare in a REGISTER (a proxy in between): sipgo must read them
		if _, err := headerParsers["via"]([]byte("via"), string(v)); err != nil {
			return r, false
		}
	}
	// To: the user of the address of record, and whether it has a tag
	user, tag, ok := addrUser(r.to)
	if !ok {
		return r, false
	}
	r.in.toUser, r.toTag = user, tag
	if _, _, ok := addrUser(r.from); !ok {
		return r, false
	}
	for _, c := range r.contacts {
		ci, star, ok := parseRawContact(c)
		if !ok {
			return r, false
		}
		if star {
			r.in.star = true
			continue
		}
		r.in.contacts = append(r.in.contacts, ci)
	}
	if r.in.star && (len(r.contacts) != 1) {
		return r, false
	}
	return r, true
}

// hasControl reports whether a line holds a control character other than tab.
func hasControl(line []byte) bool {
	for _, c := range line {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}

func isName(name []byte, long, compact string) bool {
	if len(name) == len(long) {
		return strings.EqualFold(string(name), long)
	}
	return compact != "" && len(name) == 1 && (name[0]|0x20) == compact[0]
}

// atoi parses a non-negative decimal of at most 10 digits.
func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// uriOf reads a sip: or sips: Request-URI with sipgo's URI parser.
func uriOf(b []byte) (sip.Uri, bool) {
	var u sip.Uri
	if bytes.IndexAny(b, " \t") >= 0 {
		return u, false
	}
	if err := sip.ParseUri(string(b), &u); err != nil || u.Wildcard || !sipScheme(u.Scheme) || u.Host == "" {
		return u, false
	}
	return u, true
}

// headerParsers are sipgo's own parsers of single header values: where the fast path needs
// structure (Via, From, To, Contact), it uses them, so that it cannot read a value differently
// from the full path.
var headerParsers = sip.DefaultHeadersParser()

// topVia reads the top Via's sent-by and rport parameter, with validate's conditions.
func (r *rawReg) topVia(v []byte) bool {
	h, err := headerParsers["via"]([]byte("via"), string(v))
	if err != nil {
		return false
	}
	via, ok := h.(*sip.ViaHeader)
	if !ok || via.ProtocolName != "SIP" || via.ProtocolVersion != "2.0" || via.Transport == "" || via.Host == "" ||
		strings.ContainsAny(via.Transport, "/ ") {
		return false
	}
	if _, ok := via.Params.Get("received"); ok {
		return false // filled in by a proxy already: leave it to the full path
	}
	if rp, ok := via.Params.Get("rport"); ok {
		if rp != "" {
			return false
		}
		r.rport = true
	}
	r.topHost, r.topPort = via.Host, via.Port
	return true
}

// addrUser reads a From or To value: the user of its sip/sips URI and whether it has a tag.
// The plain forms phones send are read here; anything else goes to sipgo's address parser,
// so that both paths agree (FuzzFastRegister holds them to it).
func addrUser(v []byte) (user string, tag bool, ok bool) {
	if user, tag, ok := simpleAddr(v); ok {
		return user, tag, true
	}
	h, err := headerParsers["to"]([]byte("to"), string(v))
	if err != nil {
		return "", false, false
	}
	to, isTo := h.(*sip.ToHeader)
	if !isTo || !sipScheme(to.Address.Scheme) {
		return "", false, false
	}
	return to.Address.User, to.Params.Has("tag"), true
}

// simpleAddr reads <sip:user@host[:port]>[;name=value…] (or the same without brackets and
// without parameters), with a token display name or none, where every character is one of
// plainChars. ok is false for anything else.
func simpleAddr(v []byte) (user string, tag, ok bool) {
	i := bytes.IndexByte(v, '<')
	if i < 0 {
		// bare sip:user@host (no parameters, which would be ambiguous without brackets)
		if bytes.IndexByte(v, ';') >= 0 {
			return "", false, false
		}
		u, ok := simpleURI(v)
		return u, false, ok
	}
	display := bytes.TrimRight(v[:i], " ")
	for _, c := range display {
		if !plainChar(c) {
			return "", false, false
		}
	}
	end := bytes.IndexByte(v, '>')
	if end < i {
		return "", false, false
	}
	u, ok := simpleURI(v[i+1 : end])
	if !ok {
		return "", false, false
	}
	rest := v[end+1:]
	for len(rest) > 0 {
		if rest[0] != ';' {
			return "", false, false
		}
		rest = rest[1:]
		p := rest
		if n := bytes.IndexByte(rest, ';'); n >= 0 {
			p, rest = rest[:n], rest[n:]
		} else {
			rest = nil
		}
		name, val, _ := bytes.Cut(p, []byte("="))
		if len(name) == 0 || len(val) == 0 {
			return "", false, false
		}
		for _, c := range p {
			if c != '=' && !plainChar(c) {
				return "", false, false
			}
		}
		if string(name) == "tag" {
			tag = true
		}
	}
	return u, tag, true
}

// simpleURI reads sip:user@host[:port] with plain characters; the user is returned.
func simpleURI(b []byte) (string, bool) {
	rest, ok := bytes.CutPrefix(b, []byte("sip:"))
	if !ok {
		return "", false
	}
	at := bytes.IndexByte(rest, '@')
	if at <= 0 {
		return "", false
	}
	host := rest[at+1:]
	if c := bytes.IndexByte(host, ':'); c >= 0 {
		if _, ok := atoi(host[c+1:]); !ok {
			return "", false
		}
		host = host[:c]
	}
	if len(host) == 0 {
		return "", false
	}
	for _, c := range rest[:at] {
		if !plainChar(c) {
			return "", false
		}
	}
	for _, c := range host {
		if !plainChar(c) {
			return "", false
		}
	}
	return string(rest[:at]), true
}

func plainChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '+'
}

// parseRawContact reads one Contact value ("*", or an address with parameters) with sipgo's
// address parser.
func parseRawContact(v []byte) (c contactIn, star, ok bool) {
	if len(v) == 1 && v[0] == '*' {
		return c, true, true
	}
	if bytes.IndexByte(v, ',') >= 0 {
		return c, false, false // several contacts on one line: the full path splits them
	}
	h, err := headerParsers["contact"]([]byte("contact"), string(v))
	if err != nil {
		return c, false, false
	}
	ch, isContact := h.(*sip.ContactHeader)
	if !isContact || ch.Address.Wildcard || !sipScheme(ch.Address.Scheme) || ch.Address.Host == "" {
		return c, false, false
	}
	params := ch.Params
	c.uri = ch.Address.String()
	c.expires = -1
	if e, ok := params.Get("expires"); ok {
		if n, err := strconv.Atoi(strings.TrimSpace(e)); err == nil && n >= 0 {
			c.expires = n
		}
	}
	c.q, _ = params.Get("q")
	c.instance, _ = params.Get("+sip.instance")
	return c, false, true
}

// fastRegister handles a REGISTER datagram on the fast path. It returns false when the
// datagram must take the full path instead.
func (s *Server) fastRegister(u *udpListener, out *udpBatch, data []byte, src netip.AddrPort) bool {
	r, ok := parseRawRegister(data)
	if !ok {
		return false
	}
	if r.in.ua != "" && s.guard.scanner(r.in.ua) {
		s.guard.ban(src, "scanner user agent", true)
		s.dropped("scanner")
		return true
	}
	if r.in.star && r.in.expires != 0 {
		return false // the full path answers 400
	}
	s.count("REGISTER")
	r.in.src, r.in.transport = src, tpUDP
	l := &lookups{s: s, cacheOnly: true}
	res := s.registrar(&r.in, l)
	if l.missed {
		return false // the full path asks the store off the read loop
	}
	b := bufPool.Get().(*bytes.Buffer)
	b.Reset()
	s.writeRawResponse(b, &r, src, res)
	// As udpRespond (the full path) and sipgo do: the Via port unless rport asks for the
	// source port, and the source port when the Via names none.
	dst := src
	if !r.rport && r.topPort > 0 {
		dst = netip.AddrPortFrom(src.Addr(), uint16(r.topPort))
	}
	u.emit(out, b.Bytes(), dst)
	bufPool.Put(b)
	return true
}

// writeRawResponse assembles the answer to a fast-path REGISTER from the request's lines.
func (s *Server) writeRawResponse(b *bytes.Buffer, r *rawReg, src netip.AddrPort, out *regOut) {
	var num [24]byte
	b.WriteString("SIP/2.0 ")
	b.Write(strconv.AppendInt(num[:0], int64(out.code), 10))
	b.WriteByte(' ')
	b.WriteString(out.reason)
	b.WriteString("\r\n")
	for i, v := range r.vias {
		b.WriteString("Via: ")
		if i > 0 {
			b.Write(v)
			b.WriteString("\r\n")
			continue
		}
		// RFC 3581: fill in rport; RFC 3261 §18.2.1: received when the host differs
		var ipBuf [64]byte
		ip := src.Addr().AppendTo(ipBuf[:0])
		if r.rport {
			writeViaWithRport(b, v, src.Port())
			b.WriteString(";received=")
			b.Write(ip)
		} else {
			b.Write(v)
			if r.topHost != string(ip) {
				b.WriteString(";received=")
				b.Write(ip)
			}
		}
		b.WriteString("\r\n")
	}
	b.WriteString("From: ")
	b.Write(r.from)
	b.WriteString("\r\nTo: ")
	b.Write(r.to)
	if !r.toTag {
		b.WriteString(";tag=")
		b.WriteString(newTag())
	}
	b.WriteString("\r\nCall-ID: ")
	b.Write(r.callID)
	b.WriteString("\r\nCSeq: ")
	b.Write(r.cseq)
	b.WriteString("\r\n")
	if out.challenge {
		n := s.auth.nonce(out.realm)
		for _, alg := range s.auth.algorithms() {
			b.WriteString(`WWW-Authenticate: Digest realm="`)
			b.WriteString(quote(out.realm))
			b.WriteString(`", nonce="`)
			b.WriteString(n)
			b.WriteString(`"`)
			if out.stale {
				b.WriteString(", stale=true")
			}
			b.WriteString(", algorithm=")
			b.WriteString(alg)
			b.WriteString(`, qop="auth"` + "\r\n")
		}
	}
	if out.retryAfter {
		b.WriteString("Retry-After: 30\r\n")
	}
	if out.minExpires {
		b.WriteString("Min-Expires: ")
		b.Write(strconv.AppendInt(num[:0], int64(s.pol().MinExpires), 10))
		b.WriteString("\r\n")
	}
	if out.code == 200 {
		now := s.loc.now().Unix()
		for _, c := range out.contacts {
			b.WriteString("Contact: <")
			b.WriteString(c.contact)
			b.WriteString(">;expires=")
			b.Write(strconv.AppendInt(num[:0], max(c.expires-now, 0), 10))
			b.WriteString("\r\n")
		}
		b.WriteString("Date: ")
		b.WriteString(httpDate())
		b.WriteString("\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
}

// writeViaWithRport writes a Via value with its empty rport parameter given the port.
func writeViaWithRport(b *bytes.Buffer, v []byte, port uint16) {
	semi := bytes.IndexByte(v, ';')
	b.Write(v[:semi])
	rest := v[semi+1:]
	for {
		p := rest
		next := bytes.IndexByte(rest, ';')
		if next >= 0 {
			p = rest[:next]
		}
		b.WriteByte(';')
		if bytes.EqualFold(bytes.TrimSpace(p), []byte("rport")) {
			var num [8]byte
			b.WriteString("rport=")
			b.Write(strconv.AppendUint(num[:0], uint64(port), 10))
		} else {
			b.Write(p)
		}
		if next < 0 {
			return
		}
		rest = rest[next+1:]
	}
}
