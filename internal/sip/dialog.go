package sip

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/privox/privox/internal/media"
)

// onRequest is sipgo's handler for every request that reaches its transaction layer: all
// requests over TCP, TLS and WebSocket, and over UDP those the UDP reader hands on (calls).
func (s *Server) onRequest(req *sip.Request, tx sip.ServerTransaction) {
	in := &inbound{req: req, src: parseSource(req.Source()), transport: sip.NetworkToUpper(req.Transport())}
	defer s.survive("request", in.src)
	if in.transport != tpUDP {
		// UDP requests were screened and validated by the UDP reader already.
		if s.screen(req, in.src) {
			return
		}
		if res := s.validate(req); res != nil {
			if !req.IsAck() {
				_ = tx.Respond(res)
			}
			return
		}
	}
	s.count(string(req.Method))
	respond := func(res *sip.Response) {
		if res != nil {
			if err := tx.Respond(res); err != nil {
				s.log.Debug("respond", "method", string(req.Method), "err", err)
			}
		}
	}
	switch {
	case req.IsAck():
		s.onAck(in)
	case req.Method == sip.CANCEL:
		// sipgo answers a CANCEL that matches an INVITE transaction itself; this one did not.
		respond(s.reply(req, 481, "Call/Transaction Does Not Exist"))
	case req.Method == sip.SUBSCRIBE:
		respond(s.subscribe(in)) // mwi.go
	case hasToTag(req):
		s.inDialog(in, tx)
	case req.Method == sip.REGISTER:
		respond(s.register(in))
	case req.Method == sip.OPTIONS:
		respond(s.options(req))
	case req.Method == sip.INVITE:
		s.handleInvite(in, tx)
	case req.Method == sip.BYE || req.Method == sip.UPDATE || req.Method == sip.INFO || req.Method == sip.PRACK:
		respond(s.reply(req, 481, "Call/Transaction Does Not Exist"))
	default:
		res := s.reply(req, 405, "Method Not Allowed")
		res.AppendHeader(sip.NewHeader("Allow", allowed))
		respond(res)
	}
}

// onAck routes an ACK to its call: the ACK for a call's 2xx, or for a re-INVITE's.
func (s *Server) onAck(in *inbound) {
	c, id, ok := s.calls.find(in.req.CallID().Value())
	if !ok {
		return
	}
	c.mu.Lock()
	re := c.reAck
	if re != nil && in.req.CSeq().SeqNo != c.invite.CSeq().SeqNo {
		// The exchange is over with this ACK: the leg may send its next re-INVITE at once
		// (a 491 to it would be Privox's own race, not a glare).
		c.reAck = nil
		c.reinvite = false
	} else {
		re = nil
	}
	c.mu.Unlock()
	if re != nil { // a re-INVITE's 2xx waits for its ACK
		select {
		case re <- in.req:
		default:
		}
		return
	}
	// Only the caller's ACK of the INVITE that was answered counts (not that of a challenge
	// answered earlier in the same call, whose ACK may come late).
	if id == media.LegA && in.req.CSeq().SeqNo == c.invite.CSeq().SeqNo {
		c.onAck(in.req)
	}
}

// strayResponse handles responses no client transaction claims: retransmissions of a
// callee's 2xx after its transaction was closed get the dialog's ACK again.
func (s *Server) strayResponse(res *sip.Response) {
	if res.StatusCode < 200 || res.StatusCode >= 300 || res.CSeq() == nil || res.CSeq().MethodName != sip.INVITE || res.CallID() == nil {
		return
	}
	c, id, ok := s.calls.find(res.CallID().Value())
	if !ok || id != media.LegB {
		return
	}
	c.mu.Lock()
	ack := c.lastAck
	mine := ack != nil && res.To().Params.GetOr("tag", "") == c.b.remoteTag && res.CSeq().SeqNo == ack.CSeq().SeqNo
	c.mu.Unlock()
	if mine {
		_ = s.write(ack.Clone())
	}
}

// inDialog handles a request within one of a call's dialogs.
func (s *Server) inDialog(in *inbound, tx sip.ServerTransaction) {
	req := in.req
	respond := func(res *sip.Response) {
		if err := tx.Respond(res); err != nil {
			s.log.Debug("respond in dialog", "method", string(req.Method), "err", err)
		}
	}
	c, id, ok := s.calls.find(req.CallID().Value())
	if !ok {
		if req.Method == sip.OPTIONS {
			respond(s.options(req))
			return
		}
		respond(s.reply(req, 481, "Call/Transaction Does Not Exist"))
		return
	}
	c.mu.Lock()
	l := c.legOf(id)
	toTag := req.To().Params.GetOr("tag", "")
	fromTag := req.From().Params.GetOr("tag", "")
	if toTag != l.localTag || (l.remoteTag != "" && fromTag != l.remoteTag) {
		c.mu.Unlock()
		respond(s.reply(req, 481, "Call/Transaction Does Not Exist"))
		return
	}
	if seq := req.CSeq().SeqNo; l.remoteCSeq != 0 && seq <= l.remoteCSeq && req.Method != sip.CANCEL {
		c.mu.Unlock()
		respond(s.reply(req, 500, "CSeq Out Of Order"))
		return
	}
	l.remoteCSeq = req.CSeq().SeqNo
	if req.Method == sip.INVITE || req.Method == sip.UPDATE {
		// target refresh (RFC 3261 §12.2.2)
		if ct := req.Contact(); ct != nil {
			l.remoteTarget = *ct.Address.Clone()
			if len(l.routes) == 0 && !needsSource(in.transport, in.src, l.remoteTarget.String()) {
				l.dest = hostPort(l.remoteTarget, l.transport)
			}
		}
	}
	state := c.state
	c.mu.Unlock()

	switch req.Method {
	case sip.BYE:
		respond(s.reply(req, 200, "OK"))
		c.peerBye(id)
	case sip.INVITE:
		if state != stAnswered {
			respond(s.reply(req, 491, "Request Pending"))
			return
		}
		c.reoffer(id, in, tx)
	case sip.UPDATE:
		c.update(id, in, tx, state)
	case sip.INFO:
		if state != stAnswered || c.local() {
			respond(s.reply(req, 200, "OK"))
			return
		}
		c.passInfo(id, in, tx)
	case sip.OPTIONS:
		respond(s.options(req))
	case sip.REFER:
		respond(s.reply(req, 501, "Not Implemented"))
	default:
		res := s.reply(req, 405, "Method Not Allowed")
		res.AppendHeader(sip.NewHeader("Allow", allowed))
		respond(res)
	}
}

// peerBye: one side hung up.
func (c *call) peerBye(from media.LegID) {
	c.mu.Lock()
	state := c.state
	if state == stEnded {
		c.mu.Unlock()
		return
	}
	c.state = stEnded
	c.endAt = time.Now() // the call ends with the BYE, not when the other side answers ours
	c.mu.Unlock()
	by := "caller"
	if from == media.LegB {
		by = "callee"
	}
	if state == stAnswered {
		c.bye(other(from))
		c.finish(200, by)
		return
	}
	// A BYE before the answer completed: end what exists.
	c.decide(c.responseToA(487, "Request Terminated", nil), 487)
	c.finish(487, by)
}

// refresh notes a refresh of a leg's session (any re-INVITE or UPDATE from it).
func (c *call) refresh(id media.LegID, req *sip.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.legOf(id)
	if h := req.GetHeader("Session-Expires"); h != nil {
		v, _, _ := strings.Cut(h.Value(), ";")
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
			l.interval = time.Duration(n) * time.Second
		}
	}
	l.lastRefresh = time.Now()
	if l.interval > 0 {
		c.armSessionTimer()
	}
}

// sessionHeaders adds Session-Expires to a 2xx of a refresh from a leg using timers.
func (c *call) sessionHeaders(id media.LegID, res *sip.Response) {
	c.mu.Lock()
	iv := c.legOf(id).interval
	c.mu.Unlock()
	if iv > 0 {
		res.AppendHeader(sip.NewHeader("Session-Expires", strconv.Itoa(int(iv/time.Second))+";refresher=uac"))
	}
}

// reoffer relays a re-INVITE (hold, resume, codec change, session refresh) from one leg to
// the other through the media session.
func (c *call) reoffer(from media.LegID, in *inbound, tx sip.ServerTransaction) {
	s := c.s
	req := in.req
	respond := func(res *sip.Response) { _ = tx.Respond(res) }
	c.mu.Lock()
	if c.reinvite {
		// A re-INVITE sent right after the previous one's ACK may overtake that ACK here:
		// wait a moment for the previous exchange to end before calling it a glare (491).
		idle := c.reIdle
		c.mu.Unlock()
		if idle != nil {
			t := time.NewTimer(time.Second)
			select {
			case <-idle:
			case <-t.C:
			}
			t.Stop()
		}
		c.mu.Lock()
		if c.reinvite {
			c.mu.Unlock()
			respond(s.reply(req, 491, "Request Pending"))
			return
		}
	}
	c.reinvite = true
	ackCh := make(chan *sip.Request, 1)
	idle := make(chan struct{})
	c.reAck, c.reIdle = ackCh, idle
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.reAck == ackCh { // not ended by its ACK already (onAck), nor followed by another
			c.reAck = nil
			c.reinvite = false
		}
		if c.reIdle == idle {
			c.reIdle = nil
		}
		c.mu.Unlock()
		close(idle)
	}()
	c.refresh(from, req)
	respond(sip.NewResponseFromRequest(req, 100, "Trying", nil))
	if c.local() {
		c.localReoffer(from, req, tx, ackCh)
		return
	}
	offer := sdpOf(req)
	if c.holdLocally(from, req, tx, offer, ackCh) {
		return
	}
	to := other(from)
	var out []byte
	if offer != nil {
		var err error
		if out, err = c.ms.Offer(from, offer); err != nil {
			respond(c.dialogReply(from, req, 488, "Not Acceptable Here", nil))
			return
		}
	}
	c.mu.Lock()
	if c.state != stAnswered {
		c.mu.Unlock()
		respond(c.dialogReply(from, req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	fwd := c.newInDialog(c.legOf(to), sip.INVITE)
	c.mu.Unlock()
	setBody(fwd, out)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	res, err := s.request(ctx, fwd)
	if err != nil || res == nil {
		c.log.Info("re-INVITE to the other leg failed", "err", err)
		respond(c.dialogReply(from, req, 500, "Server Internal Error", nil))
		c.hangup("system:reinvite-failed", 0)
		return
	}
	if res.StatusCode >= 300 {
		respond(c.dialogReply(from, req, res.StatusCode, res.Reason, nil))
		return
	}
	c.mu.Lock()
	toLeg := c.legOf(to)
	if ct := res.Contact(); ct != nil {
		toLeg.remoteTarget = *ct.Address.Clone()
	}
	ack := c.newInDialog(toLeg, sip.ACK)
	ack.CSeq().SeqNo = fwd.CSeq().SeqNo
	c.mu.Unlock()
	answer := sdpOf(res)
	var back []byte
	late := false
	switch {
	case offer != nil && answer != nil:
		back, err = c.ms.Answer(to, answer)
	case offer == nil && answer != nil:
		back, err = c.ms.Offer(to, answer)
		late = true
	}
	if err != nil {
		c.log.Info("answer to re-INVITE not usable", "err", err)
	}
	if !late {
		_ = s.write(ack)
	}
	ok := c.dialogReply(from, req, 200, "OK", back)
	c.sessionHeaders(from, ok)
	respond(ok)
	if !late && err == nil {
		c.holdChanged(from, offer, answer)
	}
	// Wait for the ACK of our 2xx (retransmitting it over UDP); a late answer goes on to the
	// other leg in its ACK.
	got := c.awaitReAck(from, tx, ok, ackCh)
	if late {
		if got != nil {
			if sdp := sdpOf(got); sdp != nil {
				if b, err := c.ms.Answer(from, sdp); err == nil {
					setBody(ack, b)
				}
			}
		}
		_ = s.write(ack)
	}
}

// awaitReAck waits for the ACK of a re-INVITE's 2xx from a leg.
func (c *call) awaitReAck(from media.LegID, tx sip.ServerTransaction, res *sip.Response, ch chan *sip.Request) *sip.Request {
	c.mu.Lock()
	reliable := c.legOf(from).transport != tpUDP
	c.mu.Unlock()
	interval := sip.T1
	deadline := time.NewTimer(64 * sip.T1)
	defer deadline.Stop()
	retrans := time.NewTimer(interval)
	defer retrans.Stop()
	for {
		select {
		case ack := <-ch:
			return ack
		case ack := <-tx.Acks():
			return ack
		case <-c.ended:
			return nil
		case <-retrans.C:
			if !reliable {
				_ = tx.Respond(res)
				interval = min(interval*2, sip.T2)
			}
			retrans.Reset(interval)
		case <-deadline.C:
			return nil
		}
	}
}

// update relays an UPDATE with an offer; one without (a session refresh) is answered here.
func (c *call) update(from media.LegID, in *inbound, tx sip.ServerTransaction, state callState) {
	s := c.s
	req := in.req
	respond := func(res *sip.Response) { _ = tx.Respond(res) }
	c.refresh(from, req)
	offer := sdpOf(req)
	if offer == nil {
		res := c.dialogReply(from, req, 200, "OK", nil)
		c.sessionHeaders(from, res)
		respond(res)
		return
	}
	if state != stAnswered {
		res := c.dialogReply(from, req, 500, "Server Internal Error", nil)
		res.AppendHeader(sip.NewHeader("Retry-After", "1"))
		respond(res)
		return
	}
	c.mu.Lock()
	if c.reinvite {
		c.mu.Unlock()
		respond(c.dialogReply(from, req, 491, "Request Pending", nil))
		return
	}
	c.reinvite = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.reinvite = false
		c.mu.Unlock()
	}()
	if c.holdLocally(from, req, tx, offer, nil) {
		return
	}
	if c.local() {
		ans, err := c.localOffer(offer)
		if err != nil {
			respond(c.dialogReply(from, req, 488, "Not Acceptable Here", nil))
			return
		}
		ok := c.dialogReply(from, req, 200, "OK", ans)
		c.sessionHeaders(from, ok)
		respond(ok)
		return
	}
	out, err := c.ms.Offer(from, offer)
	if err != nil {
		respond(c.dialogReply(from, req, 488, "Not Acceptable Here", nil))
		return
	}
	to := other(from)
	c.mu.Lock()
	fwd := c.newInDialog(c.legOf(to), sip.UPDATE)
	c.mu.Unlock()
	setBody(fwd, out)
	ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
	defer cancel()
	res, err := s.request(ctx, fwd)
	if err != nil || res == nil {
		respond(c.dialogReply(from, req, 500, "Server Internal Error", nil))
		return
	}
	if res.StatusCode >= 300 {
		respond(c.dialogReply(from, req, res.StatusCode, res.Reason, nil))
		return
	}
	var back []byte
	ans := sdpOf(res)
	if ans != nil {
		back, err = c.ms.Answer(to, ans)
	}
	ok := c.dialogReply(from, req, 200, "OK", back)
	c.sessionHeaders(from, ok)
	respond(ok)
	if ans != nil && err == nil {
		c.holdChanged(from, offer, ans)
	}
}

// passInfo relays an INFO (DTMF relay, for instance) to the other leg and mirrors its status.
func (c *call) passInfo(from media.LegID, in *inbound, tx sip.ServerTransaction) {
	req := in.req
	c.mu.Lock()
	fwd := c.newInDialog(c.legOf(other(from)), sip.INFO)
	c.mu.Unlock()
	if body := req.Body(); len(body) > 0 && len(body) <= 4096 {
		if ct := req.ContentType(); ct != nil {
			fwd.AppendHeader(sip.NewHeader("Content-Type", ct.Value()))
		}
		fwd.SetBody(body)
	} else {
		fwd.SetBody(nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
	defer cancel()
	res, err := c.s.request(ctx, fwd)
	code, reason := 200, "OK"
	if err != nil || res == nil {
		code, reason = 408, "Request Timeout"
	} else if res.StatusCode >= 300 {
		code, reason = res.StatusCode, res.Reason
	}
	_ = tx.Respond(c.dialogReply(from, req, code, reason, nil))
}

// dialogReply builds a response in a dialog: our tag is already in the request's To.
func (c *call) dialogReply(from media.LegID, req *sip.Request, code int, reason string, sdp []byte) *sip.Response {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	c.mu.Lock()
	tr := c.legOf(from).transport
	c.mu.Unlock()
	if code >= 200 && code < 300 && (req.Method == sip.INVITE || req.Method == sip.UPDATE) {
		res.AppendHeader(c.s.contactFor(tr, ""))
		setBody(res, sdp)
	}
	return res
}
