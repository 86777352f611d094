package sip

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/emiago/sipgo/sip"
)

// Digest authentication (RFC 3261 §22, RFC 8760 for SHA-256) against the HA1 values the store
// keeps. Nonces are stateless: a timestamp and an HMAC over it and the realm under a key that
// lives as long as the process, so any node restart simply re-challenges. A response counts
// only for the request it was made for and only once: the method is part of the hash, the
// uri parameter must name the Request-URI (replay.go), and the nonce count of every
// (nonce, user, cnonce) must grow from one request to the next, so a captured Authorization
// replayed to another destination or a second time is answered with a fresh challenge.
//
// This is the registrar's hot path (two passes per registration), so credentials are parsed
// and challenges written here directly rather than with github.com/icholy/digest, whose
// general parser costs more than the rest of a REGISTER; the tests check both against it.

// Digest algorithms (RFC 8760).
const (
	algSHA256 = "SHA-256"
	algMD5    = "MD5"
)

type digestAuth struct {
	key      [32]byte
	lifetime func() time.Duration
	now      func() time.Time
	// algorithms are offered in this order, one challenge header each.
	algorithms func() []string
	macs       sync.Pool // of *macState: HMAC-SHA256 under key
	seenMu     sync.RWMutex
	seen       [nonceSeenSlots]seenNonce // nonces whose MAC checked out, by their MAC's first bytes
	counts     nonceCounts               // nonce counts in use (replay.go)
	serial     atomic.Uint32
}

func newDigestAuth(lifetime func() time.Duration, algorithms func() []string) *digestAuth {
	a := &digestAuth{lifetime: lifetime, now: time.Now, algorithms: algorithms}
	if _, err := rand.Read(a.key[:]); err != nil {
		panic("sip: no randomness for digest nonces: " + err.Error())
	}
	a.macs.New = func() any { return &macState{h: hmac.New(sha256.New, a.key[:])} }
	return a
}

// macState is a pooled HMAC with scratch space: what goes through the hash.Hash interface
// is copied here first, so that the caller's buffers stay on its stack.
type macState struct {
	h   hash.Hash
	buf [256]byte
	sum [sha256.Size]byte
}

// nonceMAC computes the 16-byte MAC of a nonce's timestamp for realm into out.
func (a *digestAuth) nonceMAC(ts []byte, realm string, out []byte) {
	m := a.macs.Get().(*macState)
	m.h.Reset()
	n := copy(m.buf[:], ts)
	if len(realm) <= len(m.buf)-n {
		n += copy(m.buf[n:], realm)
		m.h.Write(m.buf[:n])
	} else {
		m.h.Write(m.buf[:n])
		m.h.Write([]byte(realm))
	}
	copy(out, m.h.Sum(m.sum[:0])[:16])
	a.macs.Put(m)
}

// nonce returns a fresh nonce for realm: the second it was issued (upper 40 bits) and a
// counter (lower 24) under the MAC. Every challenge gets a nonce of its own, so that nonce
// counts (replay.go) belong to one client even when it starts each nonce at nc=1 with the
// same cnonce.
func (a *digestAuth) nonce(realm string) string {
	var b [24]byte
	binary.BigEndian.PutUint64(b[:8], uint64(a.now().Unix())<<24|uint64(a.serial.Add(1)&0xffffff))
	a.nonceMAC(b[:8], realm, b[8:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// nonceState says whether a nonce is ours for realm, and whether it is still fresh.
func (a *digestAuth) nonceState(n, realm string) (ours, fresh bool) {
	if len(n) != 32 {
		return false, false
	}
	var b [24]byte
	if _, err := base64.RawURLEncoding.Decode(b[:], []byte(n)); err != nil {
		return false, false
	}
	if !a.knownNonce(n, &b, realm) {
		var mac [16]byte
		a.nonceMAC(b[:8], realm, mac[:])
		if !hmac.Equal(mac[:], b[8:]) {
			return false, false
		}
		a.rememberNonce(n, &b, realm)
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b[:8])>>24), 0)
	age := a.now().Sub(issued)
	return true, age >= -time.Minute && age <= a.lifetime() && !a.counts.forgotten(issued)
}

// nonceIssued returns when a nonce (already checked by nonceState) was issued.
func nonceIssued(n string) time.Time {
	var b [24]byte
	if _, err := base64.RawURLEncoding.Decode(b[:], []byte(n)); err != nil {
		return time.Time{}
	}
	return time.Unix(int64(binary.BigEndian.Uint64(b[:8])>>24), 0)
}

// Nonces in use are remembered once their MAC checked out: a phone's every REGISTER then
// costs no HMAC (a nonce's freshness is still checked each time). The memory is a table of
// nonceSeenSlots entries indexed by bytes of the nonce's MAC, which an attacker cannot choose
// for a nonce that checks out; a nonce simply takes the place of the one in its slot. It holds
// the nonce's text by value, so it neither allocates nor keeps a request's header alive.
const nonceSeenSlots = 4096

type seenNonce struct {
	nonce [32]byte // base64 text of the 24 bytes
	realm string
}

func nonceSlot(b *[24]byte) int { return int(binary.BigEndian.Uint16(b[8:10])) % nonceSeenSlots }

func (a *digestAuth) knownNonce(n string, b *[24]byte, realm string) bool {
	e := &a.seen[nonceSlot(b)]
	a.seenMu.RLock()
	ok := string(e.nonce[:]) == n && e.realm == realm
	a.seenMu.RUnlock()
	return ok
}

func (a *digestAuth) rememberNonce(n string, b *[24]byte, realm string) {
	e := &a.seen[nonceSlot(b)]
	a.seenMu.Lock()
	copy(e.nonce[:], n)
	e.realm = realm
	a.seenMu.Unlock()
}

// challenge adds one WWW-Authenticate (or Proxy-Authenticate) header per algorithm.
func (a *digestAuth) challenge(res *sip.Response, proxy bool, realm string, stale bool) {
	name := "WWW-Authenticate"
	if proxy {
		name = "Proxy-Authenticate"
	}
	n := a.nonce(realm)
	for _, alg := range a.algorithms() {
		var b strings.Builder
		b.Grow(100 + len(realm))
		b.WriteString(`Digest realm="`)
		b.WriteString(quote(realm))
		b.WriteString(`", nonce="`)
		b.WriteString(n)
		b.WriteString(`"`)
		if stale {
			b.WriteString(", stale=true")
		}
		b.WriteString(", algorithm=")
		b.WriteString(alg)
		b.WriteString(`, qop="auth"`)
		res.AppendHeader(sip.NewHeader(name, b.String()))
	}
}

// quote escapes a value for a quoted-string.
func quote(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// authResult is the outcome of checking a request's credentials.
type authResult int

const (
	// authNone: no credentials for our realm; challenge.
	authNone authResult = iota
	// authOK: the response matches the stored secret.
	authOK
	// authStale: the response matches but the nonce expired; challenge with stale=true.
	authStale
	// authFailed: wrong response, unknown user, or a realm the user has no secret for.
	authFailed
	// authBadURI: the response was computed for another Request-URI; answer 400.
	authBadURI
)

// digestCreds is a parsed Authorization (or Proxy-Authorization) header.
type digestCreds struct {
	Username, Realm, Nonce, URI, Response, Algorithm, Cnonce, QOP, NC string
}

// parseDigest parses a Digest credentials value; ok is false for other schemes and for
// syntax it cannot read.
func parseDigest(v string) (c digestCreds, ok bool) {
	v = strings.TrimLeft(v, " \t")
	if len(v) < 7 || !strings.EqualFold(v[:6], "Digest") || (v[6] != ' ' && v[6] != '\t') {
		return c, false
	}
	v = v[7:]
	for {
		v = strings.TrimLeft(v, " \t,")
		if v == "" {
			return c, true
		}
		eq := strings.IndexByte(v, '=')
		if eq <= 0 {
			return c, false
		}
		key := strings.TrimRight(v[:eq], " \t")
		v = strings.TrimLeft(v[eq+1:], " \t")
		var val string
		if strings.HasPrefix(v, `"`) {
			end, esc := 1, false
			for ; end < len(v); end++ {
				if v[end] == '\\' {
					esc = true
					end++
					continue
				}
				if v[end] == '"' {
					break
				}
			}
			if end >= len(v) {
				return c, false // unterminated quoted string
			}
			val = v[1:end]
			if esc {
				val = unescape(val)
			}
			v = v[end+1:]
		} else {
			end := strings.IndexAny(v, ", \t")
			if end < 0 {
				end = len(v)
			}
			val, v = v[:end], v[end:]
		}
		switch strings.ToLower(key) {
		case "username":
			c.Username = val
		case "realm":
			c.Realm = val
		case "nonce":
			c.Nonce = val
		case "uri":
			c.URI = val
		case "response":
			c.Response = val
		case "algorithm":
			c.Algorithm = val
		case "cnonce":
			c.Cnonce = val
		case "qop":
			c.QOP = val
		case "nc":
			c.NC = val
		}
	}
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// credentials returns the parsed credentials for realm from the request's Authorization (or
// Proxy-Authorization) headers, or nil.
func credentials(req *sip.Request, proxy bool, realm string) *digestCreds {
	name := "authorization"
	if proxy {
		name = "proxy-authorization"
	}
	for _, h := range req.Headers() {
		if len(h.Name()) != len(name) || !strings.EqualFold(h.Name(), name) {
			continue
		}
		c, ok := parseDigest(h.Value())
		if ok && c.Realm == realm {
			return &c
		}
	}
	return nil
}

// digestRequest is what a response must have been computed for: the request's method and
// Request-URI, and what identifies its transaction (a retransmission of the same REGISTER
// carries the same nonce count again and is not a replay).
type digestRequest struct {
	method string
	ruri   sip.Uri // a copy: a pointer would move the fast path's parsed REGISTER to the heap
	raw    string  // the Request-URI as received, when the reader kept it ("" otherwise)
	callID string
	cseq   uint32
}

// requestOf describes a request parsed by sipgo for verify.
func requestOf(req *sip.Request) digestRequest {
	return digestRequest{method: string(req.Method), ruri: req.Recipient, callID: req.CallID().Value(), cseq: req.CSeq().SeqNo}
}

// verify checks credentials against an account's stored secret and the request they came
// with.
func (a *digestAuth) verify(c *digestCreds, r digestRequest, acct *account, realm string) authResult {
	method := r.method
	if acct == nil || acct.realm != realm {
		return authFailed
	}
	var ha1 string
	var sum func(dst []byte, parts ...string) []byte
	switch {
	case c.Algorithm == "" || strings.EqualFold(c.Algorithm, algMD5):
		ha1, sum = acct.ha1MD5, appendMD5Hex
	case strings.EqualFold(c.Algorithm, algSHA256):
		ha1, sum = acct.ha1SHA256, appendSHA256Hex
	default:
		return authFailed
	}
	if ha1 == "" {
		return authFailed
	}
	var ha2Buf, expectBuf [2 * sha256.Size]byte
	ha2 := sum(ha2Buf[:0], method, ":", c.URI)
	var expect []byte
	switch {
	case c.QOP == "":
		expect = sum(expectBuf[:0], ha1, ":", c.Nonce, ":", unsafeString(ha2))
	case strings.EqualFold(c.QOP, "auth"):
		expect = sum(expectBuf[:0], ha1, ":", c.Nonce, ":", c.NC, ":", c.Cnonce, ":", "auth", ":", unsafeString(ha2))
	default:
		return authFailed // auth-int is not offered
	}
	if subtle.ConstantTimeCompare(expect, []byte(strings.ToLower(c.Response))) != 1 {
		return authFailed
	}
	ours, fresh := a.nonceState(c.Nonce, realm)
	if !ours || !fresh {
		// The password is right but the nonce is not (an old or foreign one): RFC 2617 stale.
		return authStale
	}
	if !sameRequestURI(c.URI, r) {
		// Computed for another destination (RFC 2617 §3.2.2.5 asks for a 400): a replay, or
		// a confused client. Either way it proves nothing about this request.
		return authBadURI
	}
	if !a.counts.use(c, r, nonceIssued(c.Nonce), a.now(), a.lifetime()) {
		return authStale // replayed, or a nonce count that did not grow
	}
	return authOK
}

// join concatenates parts into a stack buffer when they fit.
func join(buf []byte, parts []string) []byte {
	for _, p := range parts {
		buf = append(buf, p...)
	}
	return buf
}

// appendMD5Hex appends the hexadecimal MD5 of the concatenated parts to dst.
func appendMD5Hex(dst []byte, parts ...string) []byte {
	var stack [256]byte
	sum := md5.Sum(join(stack[:0], parts))
	return hex.AppendEncode(dst, sum[:])
}

// appendSHA256Hex appends the hexadecimal SHA-256 of the concatenated parts to dst.
func appendSHA256Hex(dst []byte, parts ...string) []byte {
	var stack [256]byte
	sum := sha256.Sum256(join(stack[:0], parts))
	return hex.AppendEncode(dst, sum[:])
}

// unsafeString views b as a string for the duration of a call that does not keep it.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
