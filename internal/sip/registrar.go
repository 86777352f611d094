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

// registerCached answers a REGISTER from cached accounts only; ok is false when the store is
// needed (the caller then runs register off the read loop).
func (s *Server) registerCached(in *inbound) (*sip.Response, bool) {
	l := &lookups{s: s, cacheOnly: true}
	res := s.doRegister(in, l)
	if l.missed {
		return nil, false
	}
	return res, true
}

// register answers a REGISTER, asking the store where the cache has no answer.
func (s *Server) register(in *inbound) *sip.Response {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.doRegister(in, &lookups{s: s, ctx: ctx})
}

// doRegister is the registrar (RFC 3261 §10.3) with digest authentication.
func (s *Server) doRegister(in *inbound, l *lookups) *sip.Response {
	req := in.req
	if s.draining.Load() {
		res := s.reply(req, 503, "Service Unavailable")
		res.AppendHeader(sip.NewHeader("Retry-After", "30"))
		return res
	}
	t, ok := l.tenant(req.Recipient.Host)
	if l.missed {
		return nil
	}
	if !ok {
		if l.err != nil {
			s.log.Error("registrar: tenant lookup", "err", l.err)
			return s.reply(req, 500, "Server Internal Error")
		}
		return s.reply(req, 404, "Not Found")
	}
	realm := realmOf(t)
	to := req.To()
	aorUser := to.Address.User
	creds := credentials(req, false, realm)
	if creds == nil {
		// Challenge everyone alike, so that the answer does not reveal whether the user
		// exists; probing for many unknown users still bans the source.
		if a := l.target(t.ID, aorUser); a == nil && !l.missed && l.err == nil {
			s.guard.unknownTarget(in.src, aorUser)
		}
		if l.missed {
			return nil
		}
		res := s.reply(req, 401, "Unauthorized")
		s.auth.challenge(res, false, realm, false)
		return res
	}
	acct := l.user(t.ID, creds.Username)
	if l.missed {
		return nil
	}
	if l.err != nil {
		s.log.Error("registrar: account lookup", "err", l.err)
		return s.reply(req, 500, "Server Internal Error")
	}
	switch s.auth.verify(creds, string(req.Method), acct, realm) {
	case authStale:
		res := s.reply(req, 401, "Unauthorized")
		s.auth.challenge(res, false, realm, true)
		return res
	case authFailed:
		s.log.Info("registration rejected: wrong credentials", "tenant", t.ID, "user", creds.Username, "peer", in.src.Addr().String())
		s.guard.authFailed(in.src)
		return s.reply(req, 403, "Forbidden")
	}
	if aorUser != acct.number && aorUser != acct.username {
		s.guard.authFailed(in.src)
		return s.reply(req, 403, "Forbidden")
	}
	rr, bad := s.parseRegister(in, acct, realm)
	if bad != nil {
		return bad
	}
	current, outcome := s.loc.apply(rr, s.pol().MaxContacts)
	if outcome == regOutOfOrder {
		return s.reply(req, 500, "Out Of Order")
	}
	res := s.reply(req, 200, "OK")
	now := s.loc.now().Unix()
	for _, b := range current {
		var u sip.Uri
		if err := sip.ParseUri(b.contact, &u); err != nil {
			continue
		}
		h := &sip.ContactHeader{Address: u}
		h.Params.Add("expires", strconv.FormatInt(max(b.expires-now, 0), 10))
		res.AppendHeader(h)
	}
	res.AppendHeader(sip.NewHeader("Date", httpDate()))
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("registered", "tenant", t.ID, "ext", acct.number, "peer", in.src.String(), "transport", in.transport, "contacts", len(current))
	}
	return res
}

// parseRegister turns a REGISTER's Contact and Expires header fields into a location update,
// or returns the error response.
func (s *Server) parseRegister(in *inbound, acct *account, realm string) (*regRequest, *sip.Response) {
	req := in.req
	p := s.pol()
	defExp := p.DefaultExpires
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.Atoi(strings.TrimSpace(h.Value()))
		if err != nil || n < 0 {
			return nil, s.reply(req, 400, "Bad Expires")
		}
		defExp = n
	}
	ua := ""
	if h := req.GetHeader("User-Agent"); h != nil {
		ua = h.Value()
		if len(ua) > 200 {
			ua = ua[:200]
		}
	}
	rr := &regRequest{key: aorKey{acct.tenantID, acct.number}, aor: "sip:" + acct.number + "@" + realm, extID: acct.extID, userID: acct.userID,
		source: in.src, transport: in.transport, callID: req.CallID().Value(), cseq: req.CSeq().SeqNo, ua: ua}
	contacts := req.GetHeaders("Contact")
	if len(contacts) > 2*p.MaxContacts {
		return nil, s.reply(req, 403, "Too Many Contacts")
	}
	for _, h := range contacts {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			return nil, s.reply(req, 400, "Bad Contact")
		}
		if c.Address.Wildcard {
			if len(contacts) != 1 || defExp != 0 {
				return nil, s.reply(req, 400, "Bad Wildcard Contact")
			}
			rr.removeAll = true
			continue
		}
		if !sipScheme(c.Address.Scheme) || c.Address.Host == "" {
			return nil, s.reply(req, 400, "Bad Contact URI")
		}
		uri := c.Address.String()
		if len(uri) > 512 {
			return nil, s.reply(req, 400, "Contact Too Long")
		}
		exp := defExp
		if v, ok := c.Params.Get("expires"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 0 {
				n = defExp
			}
			exp = n
		}
		if exp > 0 && exp < p.MinExpires {
			res := s.reply(req, 423, "Interval Too Brief")
			res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(p.MinExpires)))
			return nil, res
		}
		exp = min(exp, p.MaxExpires)
		cu := contactUpdate{contact: uri, expires: int64(exp), q: 1}
		if v, ok := c.Params.Get("q"); ok {
			if q, err := strconv.ParseFloat(v, 32); err == nil && q >= 0 && q <= 1 {
				cu.q = float32(q)
			}
		}
		if v, ok := c.Params.Get("+sip.instance"); ok && len(v) <= 128 {
			cu.instance = strings.Trim(v, `"`)
		}
		rr.contacts = append(rr.contacts, cu)
		rr.useSource = needsSource(in.transport, in.src, uri)
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
