package sip

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/privox/privox/internal/dialplan"
	"github.com/privox/privox/internal/store"
)

// Outside calls through a route's trunks. The dial plan names the trunks in order; the call
// tries the first, and when that trunk fails as a trunk (it is unreachable, never answers,
// or answers 408 or a server error) the next one takes over with the same offer. An answer
// about the callee (busy, declined, no such number) ends the attempt: another provider
// would only hear the same.

// outsideLeg is what an outside call through trunks carries beyond the fork: the trunks
// still to try and the identity the caller presents.
type outsideLeg struct {
	number string        // what every trunk is sent in the Request-URI
	trunks []store.Trunk // the route's trunks that exist, in order
	at     int           // the trunk being tried
	offer  []byte        // B's offer, for the next trunk
	maxFwd int

	// Identity: fromUser is the presented number; anonymous hides it in From (CLIR);
	// asserted is the caller's identity for P-Asserted-Identity towards trusted trunks.
	fromUser  string
	anonymous bool
	asserted  string
}

// trunkBinding is where an INVITE through a trunk goes: the number at the trunk's server.
func trunkBinding(t store.Trunk, number string) binding {
	transport := strings.ToUpper(t.Transport)
	b := binding{contact: "sip:" + number + "@" + t.Server, transport: transport, expires: time.Now().Add(24 * time.Hour).Unix()}
	if transport != tpUDP {
		b.contact += ";transport=" + t.Transport
	}
	return b
}

// trunkRetry reports whether a trunk's failure lets the next trunk try: 408 (also a
// transaction time-out) and server errors (503 also stands for a transport error).
func trunkRetry(code int) bool {
	return code == 408 || code >= 500 && code < 600
}

// prepare records the offer for later trunks and applies the caller's identity to leg B
// (caller holds c.mu). Nil-safe: calls not through a trunk have no outsideLeg.
func (o *outsideLeg) prepare(b *leg, offer []byte, maxFwd int) {
	if o == nil {
		return
	}
	o.offer, o.maxFwd = offer, maxFwd
	if o.anonymous {
		// RFC 3323 §4.1.1.3: an anonymous From hides the caller from the far end.
		b.localURI = sip.Uri{Scheme: "sip", User: "anonymous", Host: "anonymous.invalid"}
		b.localDisplay = "Anonymous"
	}
}

// decorate adds the identity headers for the trunk being tried to an INVITE (caller holds
// c.mu): towards a trusted trunk, P-Asserted-Identity with the caller's number and, when
// the number is withheld, Privacy: id (RFC 3325 §9.3); an untrusted trunk learns nothing
// beyond the (then anonymous) From.
func (o *outsideLeg) decorate(req *sip.Request, realm string) {
	if o == nil || o.at >= len(o.trunks) || !o.trunks[o.at].Trusted || o.asserted == "" {
		return
	}
	req.AppendHeader(sip.NewHeader("P-Asserted-Identity", "<sip:"+o.asserted+"@"+realm+">"))
	if o.anonymous {
		req.AppendHeader(sip.NewHeader("Privacy", "id"))
	}
}

// nextTrunk lets the route's next trunk take over after every fork failed (caller holds
// c.mu). It returns false, still holding c.mu, when there is none or the failure was the
// callee's; true once it unlocked c.mu and sent the INVITE to the next trunk.
func (c *call) nextTrunk() bool {
	o := c.outside
	if o == nil || len(c.forks) == 0 || !c.forking() {
		return false
	}
	last := c.forks[len(c.forks)-1]
	if !trunkRetry(last.final) || o.at+1 >= len(o.trunks) {
		return false
	}
	failed := o.trunks[o.at].Name
	o.at++
	t := o.trunks[o.at]
	c.trunk = t.Name
	f := &fork{b: trunkBinding(t, o.number)}
	f.req = c.newForkInvite(f.b, o.offer, o.maxFwd)
	c.forks = append(c.forks, f)
	c.mu.Unlock()
	c.log.Info("trunk failed, trying the route's next trunk", "trunk", failed, "status", last.final, "next", t.Name)
	c.s.trunks.failovers.WithLabelValues(strconv.FormatInt(c.tenant.ID, 10), failed).Inc()
	c.startFork(f)
	return true
}

// trunkChallenge answers a provider's digest challenge (401 or 407) to an INVITE through a
// registering trunk, once per trunk: the INVITE goes again with the trunk's credentials and
// the next CSeq (RFC 3261 §22.2). Caller holds c.mu; true once it unlocked c.mu and sent the
// answer, false (still holding c.mu) when the challenge is not the trunk's to answer.
func (c *call) trunkChallenge(f *fork, code int, res *sip.Response) bool {
	o := c.outside
	if o == nil || res == nil || f.authed || (code != 401 && code != 407) || o.at >= len(o.trunks) || !c.forking() {
		return false
	}
	t := o.trunks[o.at]
	if t.Kind != dialplan.TrunkRegister || t.Username == "" {
		return false
	}
	hname, aname := "WWW-Authenticate", "Authorization"
	if code == 407 {
		hname, aname = "Proxy-Authenticate", "Proxy-Authorization"
	}
	h := res.GetHeader(hname)
	if h == nil {
		return false
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		c.log.Info("provider's challenge unreadable", "trunk", t.Name, "err", err)
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	pw, err := c.s.trunkPassword(ctx, t)
	cancel()
	if err != nil {
		c.log.Warn("cannot answer the provider's challenge", "trunk", t.Name, "err", err)
		return false
	}
	nf := &fork{b: f.b, authed: true}
	nf.req = c.newForkInvite(nf.b, o.offer, o.maxFwd)
	cred, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: nf.req.Recipient.String(), Username: t.Username, Password: pw, Count: 1})
	if err != nil {
		c.log.Info("cannot answer the provider's challenge", "trunk", t.Name, "err", err)
		return false
	}
	if cs := nf.req.CSeq(); cs != nil && f.req != nil && f.req.CSeq() != nil {
		cs.SeqNo = f.req.CSeq().SeqNo + 1
	}
	nf.req.AppendHeader(sip.NewHeader(aname, cred.String()))
	c.forks = append(c.forks, nf)
	c.mu.Unlock()
	c.startFork(nf)
	return true
}
