package sip

import (
	"cmp"
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/privox/privox/internal/media"
)

// handleInvite runs an initial INVITE from a caller: authentication, routing, forking to the
// callee's contacts and the answer. It returns once A's INVITE has its final response and, for
// a 2xx, once A acknowledged it (or gave up); the call then lives on in the call table.
func (s *Server) handleInvite(in *inbound, tx sip.ServerTransaction) {
	req := in.req
	respond := func(res *sip.Response) {
		if err := tx.Respond(res); err != nil {
			s.log.Debug("respond to INVITE", "err", err, "call_id", req.CallID().Value())
		}
	}
	if s.draining.Load() {
		res := s.reply(req, 503, "Service Unavailable")
		res.AppendHeader(sip.NewHeader("Retry-After", "30"))
		respond(res)
		return
	}
	if s.fromTrunk(in, tx) { // a provider's call (trunkin.go)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l := &lookups{s: s, ctx: ctx}
	t, ok := l.tenant(req.Recipient.Host)
	if !ok {
		respond(s.reply(req, 404, "Not Found"))
		return
	}
	realm := realmOf(t)
	creds := credentials(req, true, realm)
	if creds == nil {
		res := s.reply(req, 407, "Proxy Authentication Required")
		s.auth.challenge(res, true, realm, false)
		respond(res)
		return
	}
	caller := l.user(t.ID, creds.Username)
	if l.err != nil {
		s.log.Error("invite: account lookup", "err", l.err)
		respond(s.reply(req, 500, "Server Internal Error"))
		return
	}
	switch s.auth.verify(creds, requestOf(req), caller, realm) {
	case authBadURI:
		respond(s.reply(req, 400, "Authorization URI Mismatch"))
		return
	case authStale:
		res := s.reply(req, 407, "Proxy Authentication Required")
		s.auth.challenge(res, true, realm, true)
		respond(res)
		return
	case authFailed:
		s.log.Info("call rejected: wrong credentials", "tenant", t.ID, "user", creds.Username, "peer", in.src.Addr().String())
		s.guard.authFailed(in.src, caller, in.transport)
		respond(s.reply(req, 403, "Forbidden"))
		return
	}
	s.guard.vouch(in.src)

	c := &call{tenant: t, realm: realm, caller: caller, dialed: req.Recipient.User}
	c.log = s.log.With("call_id", req.CallID().Value(), "tenant", t.ID, "user", caller.number)
	s.runInvite(ctx, in, tx, respond, c)
}

// runInvite checks an INVITE's session interval (RFC 4028), completes the call c it opens
// (the caller's handler has set its tenant, realm, caller, dialled number, trunk and log),
// routes it and waits for its outcome: one path for the INVITEs of phones and of trunks.
func (s *Server) runInvite(ctx context.Context, in *inbound, tx sip.ServerTransaction, respond func(*sip.Response), c *call) {
	req := in.req
	// RFC 4028: the caller's session interval must not be below our minimum.
	p := s.pol()
	var interval time.Duration
	if h := req.GetHeader("Session-Expires"); h != nil {
		v, _, _ := strings.Cut(h.Value(), ";")
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n <= 0 {
			respond(s.reply(req, 400, "Bad Session-Expires"))
			return
		}
		interval = time.Duration(n) * time.Second
		if interval < p.MinSE {
			res := s.reply(req, 422, "Session Interval Too Small")
			res.AppendHeader(sip.NewHeader("Min-SE", strconv.Itoa(int(p.MinSE/time.Second))))
			respond(res)
			return
		}
	}
	supportsTimer := headerHasOption(req, "Supported", "timer") || headerHasOption(req, "Require", "timer")
	if interval == 0 && supportsTimer {
		interval = p.SessionExpires
	}

	c.s, c.id, c.invite, c.inviteTx, c.startAt = s, req.CallID().Value(), req, tx, time.Now()
	c.bCallID, c.bFromTag, c.aSupportsTimer = newID(), newID(), supportsTimer
	c.decided, c.acked, c.ended = make(chan struct{}), make(chan struct{}), make(chan struct{})
	c.a = leg{id: media.LegA, callID: c.id, localTag: newID(), remoteTag: req.From().Params.GetOr("tag", ""),
		localURI: *req.To().Address.Clone(), remoteURI: *req.From().Address.Clone(), localDisplay: req.To().DisplayName,
		remoteCSeq: req.CSeq().SeqNo, transport: in.transport, interval: interval, lastRefresh: time.Now()}
	if ct := req.Contact(); ct != nil {
		c.a.remoteTarget = *ct.Address.Clone()
	} else {
		// RFC 2543 did not require a Contact: the From URI is where the caller is.
		c.a.remoteTarget = *req.From().Address.Clone()
	}
	for _, h := range req.GetHeaders("Record-Route") {
		if rr, ok := h.(*sip.RecordRouteHeader); ok {
			c.a.routes = append(c.a.routes, *rr.Address.Clone())
		}
	}
	c.a.dest = legDest(&c.a, in.src, needsSource(in.transport, in.src, c.a.remoteTarget.String()))
	if !s.calls.add(c) {
		// A second INVITE with the same Call-ID (not a retransmission: the transaction layer
		// absorbs those) is a loop or a confused client.
		respond(s.reply(req, 482, "Loop Detected"))
		return
	}
	// The transaction outlives the call by its timers: it must not keep the call (and its
	// media session and messages) alive, so the callback reaches it through a reference the
	// call clears when it ends.
	ref := &c.self
	ref.Store(c)
	tx.OnCancel(func(*sip.Request) {
		if c := ref.Load(); c != nil {
			go c.cancelledByCaller()
		}
	})
	respond(sip.NewResponseFromRequest(req, 100, "Trying", nil))

	c.setup(ctx)

	select {
	case <-c.decided:
	case <-tx.Done():
		// The transaction ended under us (a transport failure towards the caller).
		c.hangup("caller-gone", 0)
		return
	}
	c.mu.Lock()
	final := c.final
	c.mu.Unlock()
	if final == nil || final.StatusCode >= 300 {
		return
	}
	c.awaitAck(tx, final)
}

// setup routes the call and forks it; on failure it gives A its final response.
func (c *call) setup(ctx context.Context) {
	s := c.s
	c.mu.Lock()
	next := c.next
	c.next = nil
	c.mu.Unlock()
	rc := &routeCtx{ctx: ctx, s: s, tenant: c.tenant, caller: c.caller, dialed: c.dialed, src: parseSource(c.invite.Source()), next: next}
	d, err := s.routeCall(rc)
	if err != nil {
		c.log.Error("routing failed", "err", err)
		c.fail(500, "Server Internal Error", "system")
		return
	}
	c.mu.Lock()
	c.req, c.dnd = d.req, d.dnd
	if d.req != nil && len(d.req.Diverted) > 0 {
		c.diverted, c.fwdTarget = d.req.Diverted, d.req.To
	}
	c.mu.Unlock()
	if d.status != 0 {
		if c.divert(d.unreachable, d.status) {
			return
		}
		c.fail(d.status, d.reason, "")
		return
	}
	if d.app != nil {
		c.startApp(*d.app)
		return
	}
	c.mu.Lock() // ForgetUser reads it
	c.callee = d.callee
	c.outsideDone, c.trunk = d.outsideDone, d.trunk
	c.outside, c.group = d.outside, d.group
	c.mu.Unlock()
	c.log = c.log.With("callee", d.callee.number)
	if s.relay == nil {
		c.fail(503, "Service Unavailable", "system")
		return
	}
	ms, err := s.relay.NewSession(c.id)
	if err != nil {
		c.log.Warn("no media session", "err", err)
		c.fail(503, "Service Unavailable", "system")
		return
	}
	c.mu.Lock()
	c.ms = ms
	c.mu.Unlock()
	ms.OnTimeout(func() { c.hangup("system:media-timeout", 0) })
	ms.OnDTMF(func(from media.LegID, ev media.DTMFEvent) {
		c.log.Debug("dtmf event", "leg", from.String()) // never the digit: it may be a PIN
		if h := s.dtmfHook.Load(); h != nil {
			(*h)(c.info(), from, ev)
		}
	})
	var offerB []byte
	if sdp := sdpOf(c.invite); sdp != nil {
		offerB, err = ms.Offer(media.LegA, sdp)
		if err != nil {
			c.log.Info("caller's SDP not usable", "err", err)
			c.fail(488, "Not Acceptable Here", "")
			return
		}
		c.aOffer = true
	}
	mf := 70
	if h := c.invite.MaxForwards(); h != nil {
		mf = int(h.Val()) - 1
	}
	c.mu.Lock()
	if c.state != stRouting {
		c.mu.Unlock()
		return // cancelled meanwhile
	}
	c.state = stRinging
	c.b = leg{id: media.LegB, callID: c.bCallID, localTag: c.bFromTag,
		localURI:     sip.Uri{Scheme: "sip", User: cmp.Or(d.fromUser, c.caller.number), Host: c.realm},
		localDisplay: c.callerDisplay(d.callee),
		remoteURI:    sip.Uri{Scheme: "sip", User: d.callee.number, Host: c.realm}, cseq: 1}
	c.prepareB(offerB, mf) // groupcall.go
	for _, b := range d.targets {
		f := &fork{b: b}
		f.req = c.newForkInvite(b, offerB, mf)
		c.forks = append(c.forks, f)
	}
	forks := append([]*fork(nil), c.forks...)
	ring := s.pol().NoAnswer
	if d.ringFor > 0 {
		ring = d.ringFor // the callee's own ring time before its no-answer forwarding
	}
	noAnswer := time.AfterFunc(ring, func() { c.noAnswer() })
	c.timers = append(c.timers, noAnswer)
	c.mu.Unlock()
	c.log.Debug("forking", "contacts", len(forks))
	for _, f := range forks {
		c.startFork(f)
	}
}

// newForkInvite builds the INVITE to one contact of the callee (caller holds c.mu).
func (c *call) newForkInvite(b binding, sdp []byte, maxForwards int) *sip.Request {
	s := c.s
	var target sip.Uri
	if err := sip.ParseUri(b.contact, &target); err != nil {
		target = sip.Uri{Scheme: "sip", User: c.callee.number, Host: b.source.Addr().String(), Port: int(b.source.Port())}
	}
	req := sip.NewRequest(sip.INVITE, target)
	req.AppendHeader(s.via(b.transport))
	mf := sip.MaxForwardsHeader(uint32(max(maxForwards, 1)))
	req.AppendHeader(&mf)
	from := &sip.FromHeader{DisplayName: c.b.localDisplay, Address: *c.b.localURI.Clone(), Params: sip.NewParams()}
	from.Params.Add("tag", c.b.localTag)
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: *c.b.remoteURI.Clone(), Params: sip.NewParams()})
	cid := sip.CallIDHeader(c.b.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	req.AppendHeader(s.contactFor(b.transport, ""))
	req.AppendHeader(sip.NewHeader("Allow", allowed))
	req.AppendHeader(sip.NewHeader("User-Agent", "Privox"))
	c.addDiversion(req)
	c.outside.decorate(req, c.realm)
	setBody(req, sdp)
	dest := hostPort(target, b.transport)
	if b.useSource {
		dest = b.source.String()
		// The phone registered over a connection that is gone: when its contact names the
		// same host it registered from (no NAT in between), open a new connection there.
		if b.transport != tpUDP && !s.hasConn(b.transport, dest) && sameHost(target, b.source.Addr()) {
			dest = hostPort(target, b.transport)
		}
	}
	s.route(req, b.transport, dest)
	return req
}

// hasConn reports whether sipgo holds an open connection to addr over transport.
func (s *Server) hasConn(transport, addr string) bool {
	c, err := s.ua.TransportLayer().GetConnection(transport, addr)
	if err != nil || c == nil {
		return false
	}
	c.TryClose() // GetConnection took a reference
	return true
}

// sameHost reports whether a URI's host is the IP ip.
func sameHost(u sip.Uri, ip netip.Addr) bool {
	a, err := netip.ParseAddr(strings.Trim(u.Host, "[]"))
	return err == nil && a.Unmap() == ip.Unmap()
}

// startFork sends a fork's INVITE and follows its responses.
func (c *call) startFork(f *fork) {
	s := c.s
	tx, err := s.ua.TransactionLayer().Request(context.Background(), f.req)
	if err != nil {
		c.log.Debug("fork failed", "contact", f.b.contact, "err", err)
		c.forkFinal(f, 503, nil)
		return
	}
	c.mu.Lock()
	f.tx = tx
	c.mu.Unlock()
	go func() {
		for {
			select {
			case res := <-tx.Responses():
				if res.StatusCode < 200 {
					c.forkProvisional(f, res)
					continue
				}
				c.forkFinal(f, res.StatusCode, res)
				if res.StatusCode < 300 {
					// Retransmitted 2xx now arrive as stray responses and are re-ACKed
					// from the dialog (see strayResponse); the transaction has done its job.
					tx.Terminate()
				}
				return
			case <-tx.Done():
				code := 503
				if errors.Is(tx.Err(), sip.ErrTransactionTimeout) {
					code = 408
				}
				c.mu.Lock()
				f.timeout = code == 408
				c.mu.Unlock()
				c.forkFinal(f, code, nil)
				return
			}
		}
	}()
}

// forkProvisional handles 1xx from a fork: 180 and 183 go on to the caller, 183 with its SDP
// answered through the media session (early media).
func (c *call) forkProvisional(f *fork, res *sip.Response) {
	c.mu.Lock()
	f.early = true
	if f.stale {
		cancelNow := !f.cancelled
		f.cancelled = true
		c.mu.Unlock()
		if cancelNow {
			c.sendCancel(f)
		}
		return
	}
	cancelNow := f.cancelDue && !f.cancelled
	if cancelNow {
		f.cancelled = true
	}
	state := c.state
	c.mu.Unlock()
	if cancelNow {
		c.sendCancel(f)
		return
	}
	if state != stRinging || res.StatusCode == 100 {
		return
	}
	var body []byte
	if sdp := sdpOf(res); sdp != nil && c.aOffer {
		a, err := c.ms.Answer(media.LegB, sdp)
		if err == nil {
			body = a
		}
	}
	code, reason := 180, "Ringing"
	if res.StatusCode == 183 && body != nil {
		code, reason = 183, "Session Progress"
	}
	out := c.responseToA(code, reason, body)
	if err := c.inviteTx.Respond(out); err != nil {
		c.log.Debug("provisional to caller", "err", err)
	}
}

// responseToA builds a response to A's INVITE with our To tag and Contact.
func (c *call) responseToA(code int, reason string, sdp []byte) *sip.Response {
	res := sip.NewResponseFromRequest(c.invite, code, reason, nil)
	if to := res.To(); to != nil {
		to.Params.Add("tag", c.a.localTag)
	}
	if code > 100 && code < 300 {
		res.AppendHeader(c.s.contactFor(c.a.transport, ""))
	}
	if code >= 200 && code < 300 {
		res.AppendHeader(sip.NewHeader("Allow", allowed))
		if c.a.interval > 0 {
			res.AppendHeader(sip.NewHeader("Session-Expires", strconv.Itoa(int(c.a.interval/time.Second))+";refresher=uac"))
			if c.aSupportsTimer {
				res.AppendHeader(sip.NewHeader("Require", "timer"))
			}
		}
	}
	if len(sdp) > 0 || (code >= 200 && code < 300) {
		setBody(res, sdp)
	}
	return res
}

// forkFinal handles a fork's final outcome.
func (c *call) forkFinal(f *fork, code int, res *sip.Response) {
	c.mu.Lock()
	f.done = true
	f.final = code
	if f.stale {
		c.mu.Unlock()
		if code >= 200 && code < 300 && res != nil {
			c.dropFork(f, res)
		}
		return
	}
	if c.trunkChallenge(f, code, res) { // a provider's challenge, answered; it unlocked
		return
	}
	if code >= 200 && code < 300 && res != nil {
		if c.state == stRinging || (c.bridging != nil && c.state == stAnswered) {
			c.answer(f, res) // unlocks
			return
		}
		// A second fork answered, or the call ended meanwhile: acknowledge and hang it up.
		c.mu.Unlock()
		c.dropFork(f, res)
		return
	}
	if c.bridging != nil && c.state == stAnswered {
		c.bridgeForkFailed(code) // unlocks
		return
	}
	if c.state != stRinging {
		c.mu.Unlock()
		return
	}
	if code >= 600 {
		// A global failure ends the call at once (RFC 3261 §16.7 step 5).
		others := append([]*fork(nil), c.forks...)
		c.mu.Unlock()
		c.fail(code, reasonFor(code), "callee")
		for _, o := range others {
			c.cancelFork(o)
		}
		return
	}
	for _, o := range c.forks {
		if !o.done {
			c.mu.Unlock()
			return
		}
	}
	if c.nextTargets() { // the next group step or trunk takes over (groupcall.go); it unlocked
		return
	}
	// Every fork failed: pick what the caller hears (RFC 3261 §16.7 in spirit).
	status, reason := bestFailure(c.forks)
	callee := c.calleeNumber()
	c.mu.Unlock()
	if c.divert(callee, status) {
		return
	}
	c.fail(status, reason, "")
}

// bestFailure chooses the final response for the caller when no contact answered: a global
// failure (6xx) wins; then busy; then what a contact said; a contact that never answered at
// all counts as 408, and the caller hears 480 for contacts that were unreachable.
func bestFailure(forks []*fork) (int, string) {
	best := 0
	rank := func(code int) int {
		switch {
		case code >= 600:
			return 0
		case code == 486:
			return 1
		case code >= 400 && code < 500 && code != 408 && code != 487:
			return 2
		case code == 408:
			return 3
		case code == 487:
			return 4
		default:
			return 5
		}
	}
	for _, f := range forks {
		if best == 0 || rank(f.final) < rank(best) {
			best = f.final
		}
	}
	switch {
	case best >= 600:
		return best, reasonFor(best)
	case best == 486, best == 408, best == 404, best == 487:
		return best, reasonFor(best)
	case best >= 400 && best < 500:
		return best, reasonFor(best)
	default:
		return 480, reasonFor(480)
	}
}

func reasonFor(code int) string {
	switch code {
	case 404:
		return "Not Found"
	case 408:
		return "Request Timeout"
	case 480:
		return "Temporarily Unavailable"
	case 486:
		return "Busy Here"
	case 487:
		return "Request Terminated"
	case 488:
		return "Not Acceptable Here"
	case 600:
		return "Busy Everywhere"
	case 603:
		return "Decline"
	case 604:
		return "Does Not Exist Anywhere"
	case 606:
		return "Not Acceptable"
	}
	switch code / 100 {
	case 4:
		return "Request Failed"
	case 5:
		return "Server Error"
	case 6:
		return "Global Failure"
	}
	return "Call Failed"
}

// answer takes a fork's 2xx as the call's answer (caller holds c.mu; answer unlocks).
func (c *call) answer(f *fork, res *sip.Response) {
	s := c.s
	bridging := c.bridging != nil
	c.state = stAnswered
	c.memberAnswered(f) // groupcall.go
	c.markBusy()        // busy.go
	if !bridging {
		c.answerAt = time.Now()
		s.cdrs.started(c)
	}
	for _, t := range c.timers {
		t.Stop()
	}
	c.b.remoteTag = res.To().Params.GetOr("tag", "")
	c.b.transport = f.b.transport
	if ct := res.Contact(); ct != nil {
		c.b.remoteTarget = *ct.Address.Clone()
	} else {
		c.b.remoteTarget = *f.req.Recipient.Clone()
	}
	rrs := res.GetHeaders("Record-Route")
	c.b.routes = c.b.routes[:0]
	for i := len(rrs) - 1; i >= 0; i-- {
		if rr, ok := rrs[i].(*sip.RecordRouteHeader); ok {
			c.b.routes = append(c.b.routes, *rr.Address.Clone())
		}
	}
	c.b.dest = forkDest(&c.b, f)
	c.b.remoteCSeq = 0
	if h := res.GetHeader("Session-Expires"); h != nil {
		v, params, _ := strings.Cut(h.Value(), ";")
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 && strings.Contains(params, "refresher=uas") {
			c.b.interval = time.Duration(n) * time.Second
			c.b.lastRefresh = time.Now()
		}
	}
	var others []*fork
	for _, o := range c.forks {
		if o != f && !o.done {
			others = append(others, o)
		}
	}
	sdp := sdpOf(res)
	var toA []byte
	var err error
	late := false
	switch {
	case sdp != nil && c.aOffer:
		toA, err = c.ms.Answer(media.LegB, sdp)
	case sdp != nil:
		toA, err = c.ms.Offer(media.LegB, sdp) // late offer: the callee offers, the caller answers in its ACK
		late = true
	case c.aOffer:
		err = errors.New("2xx without an answer to our offer")
	}
	ack := c.newAckB(f.req)
	if err != nil && bridging {
		c.mu.Unlock()
		c.log.Info("callee's answer not usable", "err", err)
		_ = s.write(ack)
		c.byeB()
		for _, o := range others {
			c.cancelFork(o)
		}
		c.mu.Lock()
		c.bridgeDone(488) // unlocks
		return
	}
	if err != nil {
		// Not an answer Privox can use: the callee's dialog is acknowledged and hung up,
		// the caller hears 488.
		c.state = stRinging
		c.mu.Unlock()
		c.log.Info("callee's answer not usable", "err", err)
		_ = s.write(ack)
		c.byeB()
		for _, o := range others {
			c.cancelFork(o)
		}
		c.fail(488, "Not Acceptable Here", "callee")
		return
	}
	if !late {
		c.lastAck = ack
	} else {
		c.lateAckTo = f
	}
	c.armSessionTimer()
	c.mu.Unlock()

	if !late {
		if err := s.write(ack); err != nil {
			c.log.Debug("ACK to callee", "err", err)
		}
	}
	for _, o := range others {
		c.cancelFork(o)
	}
	if bridging {
		c.bridged(toA)
		return
	}
	c.decide(c.responseToA(200, "OK", toA), 200)
	c.log.Info("call answered", "contact_transport", f.b.transport)
}

// forkDest decides where requests in the callee's dialog go: the first route when there is a
// route set; the flow the INVITE took when the phone is behind NAT or on a connection; its
// Contact otherwise.
func forkDest(l *leg, f *fork) string {
	if len(l.routes) > 0 {
		return hostPort(l.routes[0], l.transport)
	}
	if f.b.useSource || f.b.transport != tpUDP {
		return f.req.Destination()
	}
	return hostPort(l.remoteTarget, l.transport)
}

// newAckB builds the ACK for the callee's 2xx (caller holds c.mu).
func (c *call) newAckB(inv *sip.Request) *sip.Request {
	ack := c.newInDialog(&c.b, sip.ACK)
	ack.CSeq().SeqNo = inv.CSeq().SeqNo
	return ack
}

// dropFork acknowledges a 2xx nobody wants any more and hangs that dialog up.
func (c *call) dropFork(f *fork, res *sip.Response) {
	l := leg{id: media.LegB, callID: c.bCallID, localTag: c.bFromTag, remoteTag: res.To().Params.GetOr("tag", ""),
		localURI: sip.Uri{Scheme: "sip", User: c.caller.number, Host: c.realm}, remoteURI: *res.To().Address.Clone(),
		transport: f.b.transport, cseq: 1}
	if ct := res.Contact(); ct != nil {
		l.remoteTarget = *ct.Address.Clone()
	} else {
		l.remoteTarget = *f.req.Recipient.Clone()
	}
	l.dest = forkDest(&l, f)
	c.mu.Lock()
	ack := c.newInDialog(&l, sip.ACK)
	ack.CSeq().SeqNo = 1
	bye := c.newInDialog(&l, sip.BYE)
	c.mu.Unlock()
	_ = c.s.write(ack)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
		defer cancel()
		_, _ = c.s.request(ctx, bye)
	}()
}

// cancelFork cancels a pending fork (once it has had a provisional response).
func (c *call) cancelFork(f *fork) {
	c.mu.Lock()
	if f.done || f.cancelled {
		c.mu.Unlock()
		return
	}
	if !f.early {
		f.cancelDue = true // RFC 3261 §9.1: wait for a provisional response
		c.mu.Unlock()
		return
	}
	f.cancelled = true
	c.mu.Unlock()
	c.sendCancel(f)
}

func (c *call) sendCancel(f *fork) {
	inv := f.req
	req := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	req.AppendHeader(sip.HeaderClone(inv.Via()))
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.AppendHeader(sip.HeaderClone(inv.From()))
	req.AppendHeader(sip.HeaderClone(inv.To()))
	req.AppendHeader(sip.HeaderClone(inv.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	for _, h := range inv.GetHeaders("Route") {
		req.AppendHeader(sip.HeaderClone(h))
	}
	req.AppendHeader(sip.NewHeader("Reason", `SIP;cause=200;text="Call completed elsewhere"`))
	cl := sip.ContentLengthHeader(0)
	req.AppendHeader(&cl)
	c.s.route(req, inv.Transport(), inv.Destination())
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
		defer cancel()
		if _, err := c.s.request(ctx, req); err != nil {
			c.log.Debug("CANCEL to contact", "err", err)
		}
	}()
}

// noAnswer gives up ringing: forks are cancelled and the caller hears 480.
func (c *call) noAnswer() {
	c.mu.Lock()
	if c.bridging != nil && c.state == stAnswered {
		forks := append([]*fork(nil), c.forks...)
		c.bridgeDone(480) // unlocks
		for _, f := range forks {
			c.cancelFork(f)
		}
		return
	}
	if c.state != stRinging {
		c.mu.Unlock()
		return
	}
	forks := append([]*fork(nil), c.forks...)
	callee := c.calleeNumber()
	c.mu.Unlock()
	c.log.Debug("no answer")
	if c.divert(callee, 408) {
		return
	}
	c.fail(480, "Temporarily Unavailable", "")
	for _, f := range forks {
		c.cancelFork(f)
	}
}

// cancelledByCaller: the caller sent CANCEL; sipgo already answered it and sent 487.
func (c *call) cancelledByCaller() {
	c.mu.Lock()
	if c.state >= stAnswered {
		c.mu.Unlock()
		return
	}
	c.state = stEnded
	forks := append([]*fork(nil), c.forks...)
	c.mu.Unlock()
	for _, f := range forks {
		c.cancelFork(f)
	}
	c.decide(nil, 487)
	c.finish(487, "caller")
}

// fail ends an unanswered call with a final response to the caller.
func (c *call) fail(code int, reason, by string) {
	c.mu.Lock()
	if c.state >= stAnswered {
		c.mu.Unlock()
		return
	}
	c.state = stEnded
	// The outside-call guard hears of the end before the caller does, so that a caller who
	// dials again at once is not counted twice (an unanswered call has no talk time).
	done := c.outsideDone
	c.outsideDone = nil
	c.mu.Unlock()
	if done != nil {
		done(0)
	}
	res := c.responseToA(code, reason, nil)
	c.decide(res, code)
	if by == "" {
		by = "callee"
	}
	c.finish(code, by)
}

// decide sends A's final response (res nil: already sent by sipgo) once.
func (c *call) decide(res *sip.Response, code int) {
	c.mu.Lock()
	select {
	case <-c.decided:
		c.mu.Unlock()
		return
	default:
	}
	c.final = res
	close(c.decided)
	c.mu.Unlock()
	if res != nil {
		if err := c.inviteTx.Respond(res); err != nil {
			c.log.Debug("final response to caller", "err", err, "status", code)
		}
	}
}

// awaitAck retransmits the 2xx to the caller over UDP until the ACK arrives (RFC 3261
// §13.3.1.4); without an ACK within 64*T1 the call is hung up.
func (c *call) awaitAck(tx sip.ServerTransaction, res *sip.Response) {
	reliable := c.a.transport != tpUDP
	interval := sip.T1
	deadline := time.NewTimer(64 * sip.T1)
	defer deadline.Stop()
	retrans := time.NewTimer(interval)
	defer retrans.Stop()
	for {
		select {
		case <-c.acked:
			return
		case <-c.ended:
			return
		case ack := <-tx.Acks():
			// An ACK that matched the INVITE transaction (same branch) lands here.
			c.onAck(ack)
			return
		case <-retrans.C:
			if !reliable {
				_ = tx.Respond(res)
				interval = min(interval*2, sip.T2)
			}
			retrans.Reset(interval)
		case <-deadline.C:
			c.log.Info("caller never acknowledged the answer")
			c.hangup("system:no-ack", 0)
			return
		}
	}
}

// onAck handles A's ACK for the 2xx (and carries a late answer on to the callee).
func (c *call) onAck(ack *sip.Request) {
	c.mu.Lock()
	select {
	case <-c.acked:
		c.mu.Unlock()
		return
	default:
		close(c.acked)
	}
	f := c.lateAckTo
	c.lateAckTo = nil
	var out *sip.Request
	if f != nil {
		out = c.newAckB(f.req)
		if sdp := sdpOf(ack); sdp != nil {
			if b, err := c.ms.Answer(media.LegA, sdp); err == nil {
				setBody(out, b)
			}
		}
		c.lastAck = out
	}
	c.mu.Unlock()
	if out != nil {
		_ = c.s.write(out)
	}
}

// hangup ends a call for a reason of Privox's own (media timeout, session timer, drain).
// status is the final response an unanswered caller gets (0: 480, or 503 when draining).
func (c *call) hangup(reason string, status int) {
	c.mu.Lock()
	state := c.state
	forks := append([]*fork(nil), c.forks...)
	c.mu.Unlock()
	switch state {
	case stRouting, stRinging:
		if status == 0 {
			status = 480
			if reason == "drain" || reason == "shutdown" {
				status = 503
			}
		}
		c.fail(status, reasonFor(status), "system:"+strings.TrimPrefix(reason, "system:"))
		for _, f := range forks {
			c.cancelFork(f)
		}
	case stAnswered:
		c.mu.Lock()
		if c.state != stAnswered {
			c.mu.Unlock()
			return
		}
		c.state = stEnded
		c.endAt = time.Now() // before the BYEs, which may wait for slow phones
		c.mu.Unlock()
		c.log.Info("hanging up", "reason", reason)
		done := make(chan struct{}, 2)
		go func() { c.byeA(); done <- struct{}{} }()
		go func() { c.byeB(); done <- struct{}{} }()
		<-done
		<-done
		by := reason
		if !strings.HasPrefix(by, "system:") {
			by = "system:" + by
		}
		c.finish(200, by)
	}
}

// byeA and byeB hang up one leg (and wait for its answer, bounded).
func (c *call) byeA() { c.bye(media.LegA) }
func (c *call) byeB() { c.bye(media.LegB) }

func (c *call) bye(id media.LegID) {
	c.mu.Lock()
	l := c.legOf(id)
	if l.remoteTag == "" && id == media.LegB {
		c.mu.Unlock()
		return
	}
	req := c.newInDialog(l, sip.BYE)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.s.request(ctx, req); err != nil {
		c.log.Debug("BYE", "leg", id.String(), "err", err)
	}
}

// finish ends the call once: timers, media, the call table, and the CDR.
func (c *call) finish(cause int, by string) {
	c.endOnce.Do(func() {
		c.mu.Lock()
		c.state = stEnded
		if c.endAt.IsZero() {
			c.endAt = time.Now()
		}
		c.cause = cause
		c.hangupBy = by
		c.unmarkBusy()
		for _, t := range c.timers {
			t.Stop()
		}
		if c.sessTimer != nil {
			c.sessTimer.Stop()
		}
		ms := c.ms
		moh := c.moh
		c.moh = [2]func(){}
		forks := append([]*fork(nil), c.forks...)
		app := c.appLeg
		c.mu.Unlock()
		close(c.ended)
		for _, stop := range moh {
			if stop != nil {
				stop()
			}
		}
		if app != nil {
			app.End() // the application's context ends with the call
			for _, f := range forks {
				c.cancelFork(f) // it was still ringing someone
			}
		}
		c.self.Store(nil)
		if ms != nil {
			ms.Close()
		}
		c.s.calls.remove(c)
		c.mu.Lock()
		done, answerAt, endAt := c.outsideDone, c.answerAt, c.endAt
		if c.appLeg != nil {
			answerAt = c.outsideAt // an application's call talks outside from its connect's answer
		}
		c.mu.Unlock()
		if done != nil {
			talk := time.Duration(0)
			if !answerAt.IsZero() {
				talk = endAt.Sub(answerAt)
			}
			done(talk)
		}
		c.s.cdrs.record(c)
		c.log.Debug("call ended", "cause", cause, "by", by)
	})
}

// armSessionTimer (re)starts the session timer of the call (caller holds c.mu): the call ends
// when a leg that uses session timers stops refreshing (RFC 4028 §10: at the interval minus
// the lesser of 32 seconds and a third of it).
func (c *call) armSessionTimer() {
	if c.sessTimer != nil {
		c.sessTimer.Stop()
		c.sessTimer = nil
	}
	var due time.Time
	for _, l := range []*leg{&c.a, &c.b} {
		if l.interval <= 0 {
			continue
		}
		t := l.lastRefresh.Add(l.interval - min(32*time.Second, l.interval/3))
		if due.IsZero() || t.Before(due) {
			due = t
		}
	}
	if due.IsZero() {
		return
	}
	c.sessTimer = time.AfterFunc(time.Until(due), func() {
		c.mu.Lock()
		expired := false
		now := time.Now()
		for _, l := range []*leg{&c.a, &c.b} {
			if l.interval > 0 && !now.Before(l.lastRefresh.Add(l.interval-min(32*time.Second, l.interval/3))) {
				expired = true
			}
		}
		if !expired {
			c.armSessionTimer()
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		c.hangup("system:session-timer", 0)
	})
}

// headerHasOption reports whether a header field lists an option tag.
func headerHasOption(req *sip.Request, name, tag string) bool {
	for _, h := range req.GetHeaders(name) {
		for _, v := range strings.Split(h.Value(), ",") {
			if strings.EqualFold(strings.TrimSpace(v), tag) {
				return true
			}
		}
	}
	return false
}

// hangupAll ends every call (drain and stop), waiting a little for the BYEs.
func (s *Server) hangupAll(reason string) {
	calls := s.calls.all()
	if len(calls) == 0 {
		return
	}
	done := make(chan struct{}, len(calls))
	for _, c := range calls {
		go func() { c.hangup(reason, 0); done <- struct{}{} }()
	}
	t := time.NewTimer(6 * time.Second)
	defer t.Stop()
	for range calls {
		select {
		case <-done:
		case <-t.C:
			return
		}
	}
}
