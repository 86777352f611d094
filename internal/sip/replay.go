package sip

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Replay protection for digest responses (RFC 2617 §3.2.2, RFC 7616 §3.4.4, RFC 3261 §22.4).
// A response proves knowledge of the password for one method, one Request-URI and one nonce
// count; these checks make it count for nothing else:
//   - the uri parameter must name the Request-URI (sameRequestURI), so an INVITE captured on
//     its way to 1002 cannot be sent again towards an international number;
//   - for each (nonce, user, cnonce) the nonce count must grow from request to request
//     (nonceCounts.use), so the same INVITE cannot be sent a second time. A response without
//     qop (RFC 2069) has no count and is good for one transaction.
// Retransmissions do not grow the count: a REGISTER sent again with the same Call-ID and CSeq
// is the same request and passes (the registrar is stateless and answers it again). INVITE
// retransmissions never get here: the transaction layer absorbs them.

// maxNonceCounts bounds the counts kept. When it is reached the expired ones go; if that is
// not enough, the older half is forgotten and every nonce issued until then becomes stale, so
// that forgetting can never let a replay through (phones answer the stale challenge at once,
// and challenges just issued stay good).
const maxNonceCounts = 1 << 17

type ncKey struct{ nonce, user, cnonce string }

type ncState struct {
	nc     uint32
	issued int64 // unix seconds of the nonce
	method string
	callID string
	cseq   uint32
}

type nonceCounts struct {
	mu sync.Mutex
	m  map[ncKey]ncState
	// floor: nonces issued at or before this unix second are stale (their counts were dropped).
	floor atomic.Int64
}

// forgotten reports whether a nonce's counts may have been dropped.
func (n *nonceCounts) forgotten(issued time.Time) bool {
	f := n.floor.Load()
	return f != 0 && issued.Unix() <= f
}

// parseNC reads an 8-digit hexadecimal nonce count (RFC 2617 §3.2.2); 0 is invalid.
func parseNC(s string) (uint32, bool) {
	if len(s) != 8 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil || v == 0 {
		return 0, false
	}
	return uint32(v), true
}

// use records the nonce count of a response whose hash checked out; it reports false for a
// replay (a count that did not grow, outside a retransmission of the same request).
func (n *nonceCounts) use(c *digestCreds, r digestRequest, issued, now time.Time, lifetime time.Duration) bool {
	var nc uint32
	if c.QOP != "" {
		v, ok := parseNC(c.NC)
		if !ok {
			return false
		}
		nc = v
	}
	k := ncKey{nonce: c.Nonce, user: c.Username, cnonce: c.Cnonce}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil {
		n.m = make(map[ncKey]ncState)
	}
	st, ok := n.m[k]
	if ok {
		same := nc == st.nc && r.method == string(sip.REGISTER) && st.method == r.method && st.callID == r.callID && st.cseq == r.cseq
		if same {
			return true // a retransmission
		}
		if nc <= st.nc || c.QOP == "" {
			return false
		}
	} else if len(n.m) >= maxNonceCounts {
		n.trim(now, lifetime)
		if n.forgotten(issued) {
			return false
		}
	}
	n.m[k] = ncState{nc: nc, issued: issued.Unix(), method: r.method, callID: r.callID, cseq: r.cseq}
	return true
}

// trim drops the counts of expired nonces, or the older half of them (caller holds mu).
func (n *nonceCounts) trim(now time.Time, lifetime time.Duration) {
	oldest := now.Add(-lifetime - time.Minute).Unix()
	perSecond := map[int64]int{}
	for k, st := range n.m {
		if st.issued < oldest {
			delete(n.m, k)
			continue
		}
		perSecond[st.issued]++
	}
	if len(n.m) < maxNonceCounts*3/4 {
		return
	}
	// the second before which half the counts were issued becomes the floor
	secs := make([]int64, 0, len(perSecond))
	for s := range perSecond {
		secs = append(secs, s)
	}
	slices.Sort(secs)
	cut, sum := secs[len(secs)-1], 0
	for _, s := range secs {
		if sum += perSecond[s]; sum >= len(n.m)/2 {
			cut = s
			break
		}
	}
	for k, st := range n.m {
		if st.issued <= cut {
			delete(n.m, k)
		}
	}
	n.floor.Store(max(n.floor.Load(), cut))
}

// sweep drops the counts of nonces that expired (housekeeping).
func (n *nonceCounts) sweep(now time.Time, lifetime time.Duration) {
	oldest := now.Add(-lifetime - time.Minute).Unix()
	n.mu.Lock()
	for k, st := range n.m {
		if st.issued < oldest {
			delete(n.m, k)
		}
	}
	n.mu.Unlock()
}

// size returns the number of counts kept (tests).
func (n *nonceCounts) size() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.m)
}

// sameRequestURI reports whether a response's uri parameter names the request's Request-URI,
// compared as RFC 3261 §19.1.4 compares SIP URIs, a little more tolerantly: scheme and host
// without case, user and password exactly (after %-decoding), a missing port equal to the
// scheme's default; a parameter counts only when both carry it (sipgo's client, among others,
// computes the uri without the Request-URI's parameters), headers are ignored. Privox routes
// by user and host, so none of the tolerances changes where a request goes.
func sameRequestURI(credURI string, r digestRequest) bool {
	if r.raw != "" && credURI == r.raw {
		return true
	}
	var u sip.Uri
	if err := sip.ParseUri(credURI, &u); err != nil {
		return false
	}
	return equivalentURI(&u, &r.ruri)
}

func equivalentURI(a, b *sip.Uri) bool {
	if !strings.EqualFold(a.Scheme, b.Scheme) || a.Wildcard || b.Wildcard {
		return false
	}
	if !sipScheme(a.Scheme) || strings.EqualFold(a.Scheme, "tel") {
		return a.String() == b.String()
	}
	if unescapeURI(a.User) != unescapeURI(b.User) || unescapeURI(a.Password) != unescapeURI(b.Password) {
		return false
	}
	if !strings.EqualFold(strings.Trim(a.Host, "[]"), strings.Trim(b.Host, "[]")) || portOr(a) != portOr(b) {
		return false
	}
	for _, kv := range a.UriParams {
		if vb, ok := b.UriParams.Get(kv.K); ok && !strings.EqualFold(kv.V, vb) {
			return false
		}
	}
	return true
}

func portOr(u *sip.Uri) int {
	if u.Port != 0 {
		return u.Port
	}
	if strings.EqualFold(u.Scheme, "sips") {
		return 5061
	}
	return 5060
}

// unescapeURI decodes %XX escapes (RFC 3261 §19.1.4: escaped and unescaped characters are
// equivalent); a malformed escape is left as it is.
func unescapeURI(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
