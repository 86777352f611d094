package sip

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unique"

	"github.com/emiago/sipgo/sip"

	"github.com/privox/privox/internal/store"
)

// inbound is a request as the handlers see it, whichever transport brought it.
type inbound struct {
	req       *sip.Request
	src       netip.AddrPort
	transport string
}

func uniqueUA(s string) unique.Handle[string] { return unique.Make(s) }

// lookups is how a handler reaches accounts and tenants: from the cache only (on the UDP read
// loop, which must not wait for the store) or through the store.
type lookups struct {
	s         *Server
	ctx       context.Context
	cacheOnly bool
	missed    bool
	err       error
}

func (l *lookups) tenant(domain string) (store.Tenant, bool) {
	if l.cacheOnly {
		t, ok := l.s.accounts.cachedTenant(domain)
		if !ok {
			l.missed = true
		}
		return t, ok
	}
	t, ok, err := l.s.accounts.tenant(l.ctx, domain)
	if err != nil {
		l.err = err
		return t, false
	}
	return t, ok || t.ID != 0
}

func (l *lookups) user(tenantID int64, name string) *account {
	if l.cacheOnly {
		a, ok := l.s.accounts.cachedUser(tenantID, name)
		if !ok {
			l.missed = true
		}
		return a
	}
	a, err := l.s.accounts.byUsername(l.ctx, tenantID, name)
	if err != nil {
		l.err = err
	}
	return a
}

func (l *lookups) number(tenantID int64, number string) *account {
	if l.cacheOnly {
		a, ok := l.s.accounts.cachedNumber(tenantID, number)
		if !ok {
			l.missed = true
		}
		return a
	}
	a, err := l.s.accounts.byNum(l.ctx, tenantID, number)
	if err != nil {
		l.err = err
	}
	return a
}

// target resolves a user part to an extension: by SIP user name, then by number.
func (l *lookups) target(tenantID int64, user string) *account {
	if user == "" {
		return nil
	}
	if a := l.user(tenantID, user); a != nil || l.missed || l.err != nil {
		return a
	}
	return l.number(tenantID, user)
}

// regIn is a REGISTER as the registrar needs it, whichever parser read it: sipgo's (every
// transport) or the UDP fast path's (fastreg.go).
type regIn struct {
	src       netip.AddrPort
	transport string
	ruriHost  string
	ruri      sip.Uri // the Request-URI, which digest responses must name
	ruriRaw   string  // as received, when the fast path read it
	toUser    string
	callID    string
	cseq      uint32
	ua        string
	expires   int // the Expires header field; -1 when absent
	star      bool
	contacts  []contactIn
	auths     []string // Authorization header values
}

// contactIn is one Contact of a REGISTER.
type contactIn struct {
	uri      string // as sipgo writes it, so that both parsers store the same string
	expires  int    // -1 when the contact has no expires parameter
	q        string
	instance string
}

// regOut is the registrar's answer, for either renderer (sipgo response or raw bytes).
type regOut struct {
	code       int
	reason     string
	challenge  bool // add digest challenges (401)
	stale      bool
	realm      string
	contacts   []binding
	minExpires bool
	retryAfter bool
}

// regFromRequest reads a REGISTER parsed by sipgo.
func regFromRequest(in *inbound) (*regIn, *regOut) {
	req := in.req
	r := &regIn{src: in.src, transport: in.transport, ruriHost: req.Recipient.Host, ruri: req.Recipient, toUser: req.To().Address.User,
		callID: req.CallID().Value(), cseq: req.CSeq().SeqNo, expires: -1}
	for _, h := range req.Headers() {
		switch {
		case strings.EqualFold(h.Name(), "Authorization"):
			r.auths = append(r.auths, h.Value())
		case strings.EqualFold(h.Name(), "User-Agent"):
			r.ua = h.Value()
		case strings.EqualFold(h.Name(), "Expires"):
			n, err := strconv.Atoi(strings.TrimSpace(h.Value()))
			if err != nil || n < 0 {
				return nil, &regOut{code: 400, reason: "Bad Expires"}
			}
			r.expires = n
		}
	}
	for _, h := range req.GetHeaders("Contact") {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			return nil, &regOut{code: 400, reason: "Bad Contact"}
		}
		if c.Address.Wildcard {
			r.star = true
			continue
		}
		if !sipScheme(c.Address.Scheme) || c.Address.Host == "" {
			return nil, &regOut{code: 400, reason: "Bad Contact URI"}
		}
		ci := contactIn{uri: c.Address.String(), expires: -1}
		if v, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
				ci.expires = n
			}
		}
		ci.q, _ = c.Params.Get("q")
		ci.instance, _ = c.Params.Get("+sip.instance")
		r.contacts = append(r.contacts, ci)
	}
	if r.star && len(r.contacts) > 0 {
		return nil, &regOut{code: 400, reason: "Bad Wildcard Contact"}
	}
	return r, nil
}

// registerCached answers a REGISTER from cached accounts only; ok is false when the store is
// needed (the caller then runs register off the read loop).
func (s *Server) registerCached(in *inbound) (*sip.Response, bool) {
	r, bad := regFromRequest(in)
	if bad != nil {
		return s.regResponse(in.req, bad), true
	}
	l := &lookups{s: s, cacheOnly: true}
	out := s.registrar(r, l)
	if l.missed {
		return nil, false
	}
	return s.regResponse(in.req, out), true
}

// register answers a REGISTER, asking the store where the cache has no answer.
func (s *Server) register(in *inbound) *sip.Response {
	r, bad := regFromRequest(in)
	if bad != nil {
		return s.regResponse(in.req, bad)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.regResponse(in.req, s.registrar(r, &lookups{s: s, ctx: ctx}))
}

// regResponse renders the registrar's answer as a sipgo response.
func (s *Server) regResponse(req *sip.Request, out *regOut) *sip.Response {
	res := s.reply(req, out.code, out.reason)
	if out.challenge {
		s.auth.challenge(res, false, out.realm, out.stale)
	}
	if out.retryAfter {
		res.AppendHeader(sip.NewHeader("Retry-After", "30"))
	}
	if out.minExpires {
		res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(s.pol().MinExpires)))
	}
	if out.code == 200 {
		now := s.loc.now().Unix()
		for _, b := range out.contacts {
			res.AppendHeader(sip.NewHeader("Contact", "<"+b.contact+">;expires="+strconv.FormatInt(max(b.expires-now, 0), 10)))
		}
		res.AppendHeader(sip.NewHeader("Date", httpDate()))
	}
	return res
}

// registrar is the registrar (RFC 3261 §10.3) with digest authentication. With cache-only
// lookups it may stop early (l.missed): the caller then retries with the store.
func (s *Server) registrar(r *regIn, l *lookups) *regOut {
	if s.draining.Load() {
		return &regOut{code: 503, reason: "Service Unavailable", retryAfter: true}
	}
	t, ok := l.tenant(r.ruriHost)
	if l.missed {
		return nil
	}
	if !ok {
		if l.err != nil {
			s.log.Error("registrar: tenant lookup", "err", l.err)
			return &regOut{code: 500, reason: "Server Internal Error"}
		}
		return &regOut{code: 404, reason: "Not Found"}
	}
	realm := realmOf(t)
	var creds *digestCreds
	for _, v := range r.auths {
		if c, ok := parseDigest(v); ok && c.Realm == realm {
			creds = &c
			break
		}
	}
	if creds == nil {
		// Challenge everyone alike, so that the answer does not reveal whether the user
		// exists; probing for many unknown users still bans the source.
		if a := l.target(t.ID, r.toUser); a == nil && !l.missed && l.err == nil {
			s.guard.unknownTarget(r.src, r.toUser, r.transport)
		}
		if l.missed {
			return nil
		}
		return &regOut{code: 401, reason: "Unauthorized", challenge: true, realm: realm}
	}
	acct := l.user(t.ID, creds.Username)
	if l.missed {
		return nil
	}
	if l.err != nil {
		s.log.Error("registrar: account lookup", "err", l.err)
		return &regOut{code: 500, reason: "Server Internal Error"}
	}
	dr := digestRequest{method: "REGISTER", ruri: r.ruri, raw: r.ruriRaw, callID: r.callID, cseq: r.cseq}
	switch s.auth.verify(creds, dr, acct, realm) {
	case authStale:
		return &regOut{code: 401, reason: "Unauthorized", challenge: true, stale: true, realm: realm}
	case authBadURI:
		return &regOut{code: 400, reason: "Authorization URI Mismatch"}
	case authFailed:
		s.log.Info("registration rejected: wrong credentials", "tenant", t.ID, "user", creds.Username, "peer", r.src.Addr().String())
		s.guard.authFailed(r.src, acct, r.transport)
		return &regOut{code: 403, reason: "Forbidden"}
	}
	if r.toUser != acct.number && r.toUser != acct.username {
		s.guard.authFailed(r.src, nil, r.transport)
		return &regOut{code: 403, reason: "Forbidden"}
	}
	s.guard.vouch(r.src)
	rr, bad := s.locationUpdate(r, acct, realm)
	if bad != nil {
		return bad
	}
	current, outcome := s.loc.apply(rr, s.pol().MaxContacts)
	if outcome == regOutOfOrder {
		return &regOut{code: 500, reason: "Out Of Order"}
	}
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("registered", "tenant", t.ID, "ext", acct.number, "peer", r.src.String(), "transport", r.transport, "contacts", len(current))
	}
	return &regOut{code: 200, reason: "OK", contacts: current}
}

// locationUpdate turns a REGISTER's contacts and expiry into a location update, or returns
// the error answer.
func (s *Server) locationUpdate(r *regIn, acct *account, realm string) (*regRequest, *regOut) {
	p := s.pol()
	defExp := p.DefaultExpires
	if r.expires >= 0 {
		defExp = r.expires
	}
	ua := r.ua
	if len(ua) > 200 {
		ua = ua[:200]
	}
	rr := &regRequest{key: aorKey{acct.tenantID, acct.number}, aor: "sip:" + acct.number + "@" + realm, extID: acct.extID, userID: acct.userID,
		source: r.src, transport: r.transport, callID: r.callID, cseq: r.cseq, ua: ua}
	if len(r.contacts) > 2*p.MaxContacts {
		return nil, &regOut{code: 403, reason: "Too Many Contacts"}
	}
	if r.star {
		if defExp != 0 {
			return nil, &regOut{code: 400, reason: "Bad Wildcard Contact"}
		}
		rr.removeAll = true
	}
	for _, c := range r.contacts {
		if len(c.uri) > 512 {
			return nil, &regOut{code: 400, reason: "Contact Too Long"}
		}
		exp := defExp
		if c.expires >= 0 {
			exp = c.expires
		}
		if exp > 0 && exp < p.MinExpires {
			return nil, &regOut{code: 423, reason: "Interval Too Brief", minExpires: true}
		}
		exp = min(exp, p.MaxExpires)
		cu := contactUpdate{contact: c.uri, expires: int64(exp), q: 1, useSource: needsSource(r.transport, r.src, c.uri)}
		if c.q != "" {
			if q, err := strconv.ParseFloat(c.q, 32); err == nil && q >= 0 && q <= 1 {
				cu.q = float32(q)
			}
		}
		if len(c.instance) <= 128 {
			cu.instance = strings.Trim(c.instance, `"`)
		}
		rr.contacts = append(rr.contacts, cu)
	}
	return rr, nil
}

var dateCache atomic.Pointer[struct {
	sec  int64
	text string
}]

// httpDate is the Date header value (RFC 3261 §20.17), formatted once a second.
func httpDate() string {
	now := time.Now()
	if d := dateCache.Load(); d != nil && d.sec == now.Unix() {
		return d.text
	}
	d := &struct {
		sec  int64
		text string
	}{now.Unix(), now.UTC().Format(http.TimeFormat)}
	dateCache.Store(d)
	return d.text
}

// options answers an out-of-dialog OPTIONS: Privox is the final recipient (RFC 3261 §11).
func (s *Server) options(req *sip.Request) *sip.Response {
	if s.draining.Load() {
		res := s.reply(req, 503, "Service Unavailable")
		res.AppendHeader(sip.NewHeader("Retry-After", "30"))
		return res
	}
	res := s.reply(req, 200, "OK")
	res.AppendHeader(sip.NewHeader("Allow", allowed))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	res.AppendHeader(sip.NewHeader("Supported", "timer"))
	return res
}

// allowed lists the methods Privox handles.
const allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, INFO"
