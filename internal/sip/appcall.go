package sip

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/emiago/sipgo/sip"

	callmodel "github.com/privox/privox/internal/call"
	"github.com/privox/privox/internal/media"
)

// Calls whose far end is an application of the call model (a menu, later a mailbox). The
// dial plan decided "run application X"; SIP makes the call's media session, hands the call
// model a Leg whose Signalling is implemented here, and starts the application. The
// application answers (200 with an SDP answer made by the media session for its local leg),
// plays and collects digits through the call model, and may connect the caller to a callee:
// then SIP forks to the callee as for any call, and on answer the session's relay joins both
// legs (the two-party path) and the caller is re-INVITEd if its media description changed.

// appSig is the signalling a call offers its application leg.
type appSig struct{ c *call }

var _ callmodel.Signalling = appSig{}

// errCallOver: the call ended before the application's request could be carried out.
var errCallOver = errors.New("sip: call is over")

// startApp runs an application for a routed call (from setup; A's INVITE is unanswered).
func (c *call) startApp(rt callmodel.Route) {
	s := c.s
	apps := s.apps.Load()
	offer := sdpOf(c.invite)
	switch {
	case apps == nil || !apps.Has(rt.App):
		c.log.Warn("dial plan names an application that is not running", "app", rt.App)
		c.fail(503, "Service Unavailable", "system")
		return
	case offer == nil:
		// An application answers with an SDP answer; a caller that offers nothing (late
		// offer) would need Privox to offer in the 200. Not supported for applications yet.
		c.fail(488, "Not Acceptable Here", "")
		return
	case s.relay == nil:
		c.fail(503, "Service Unavailable", "system")
		return
	}
	ms, err := s.relay.NewSession(c.id)
	if err != nil {
		c.log.Warn("no media session", "err", err)
		c.fail(503, "Service Unavailable", "system")
		return
	}
	out, err := ms.Offer(media.LegA, offer)
	if err != nil {
		ms.Close()
		c.log.Info("caller's SDP not usable", "err", err)
		c.fail(488, "Not Acceptable Here", "")
		return
	}
	leg := callmodel.NewLeg(callmodel.LegConfig{
		Info:  callmodel.LegInfo{CallID: c.id, TenantID: c.tenant.ID, Caller: c.caller.number, Dialed: c.dialed},
		Sig:   appSig{c},
		Media: ms, Side: media.LegA, Pacer: apps.Pacer(), Log: c.log,
	})
	c.mu.Lock()
	if c.state != stRouting {
		c.mu.Unlock()
		ms.Close()
		return // cancelled meanwhile
	}
	c.state = stRinging
	c.ms = ms
	c.aOffer = true
	c.aSDP = offer
	c.appOffer = out
	c.appLeg = leg
	c.mu.Unlock()
	ms.OnTimeout(func() { c.hangup("system:media-timeout", 0) })
	ms.OnDTMF(func(from media.LegID, ev media.DTMFEvent) {
		if from == media.LegA {
			leg.DTMF(ev)
		}
		if h := s.dtmfHook.Load(); h != nil {
			(*h)(c.info(), from, ev)
		}
	})
	c.log = c.log.With("app", rt.App)
	if err := apps.Run(leg, rt); err != nil {
		c.log.Warn("application did not start", "err", err)
		c.fail(503, "Service Unavailable", "system")
	}
}

// Answer implements callmodel.Signalling: 200 to A with the session's local answer.
func (a appSig) Answer(ctx context.Context) (media.Format, error) {
	c := a.c
	c.mu.Lock()
	if c.state != stRinging || !c.aOffer {
		c.mu.Unlock()
		return media.Format{}, errCallOver
	}
	sdp, f, err := c.ms.AnswerLocal(c.appOffer)
	if err != nil {
		c.mu.Unlock()
		c.log.Info("no codec in common with the application", "err", err)
		c.fail(488, "Not Acceptable Here", "")
		return media.Format{}, err
	}
	c.state = stAnswered
	c.answerAt = time.Now()
	c.appLocal = true
	c.appFormat = f
	c.armSessionTimer()
	c.mu.Unlock()
	c.decide(c.responseToA(200, "OK", sdp), 200)
	c.log.Info("call answered by application")
	select {
	case <-c.acked:
		return f, nil
	case <-c.ended:
		return f, errCallOver
	case <-ctx.Done():
		return f, ctx.Err()
	}
}

// Hangup implements callmodel.Signalling.
func (a appSig) Hangup() { a.c.hangup("app", 0) }

// Connect implements callmodel.Signalling: ring number and join it with A on answer.
func (a appSig) Connect(ctx context.Context, number string) error {
	c := a.c
	s := c.s
	rc := &routeCtx{ctx: ctx, s: s, tenant: c.tenant, caller: c.caller, dialed: number, src: parseSource(c.invite.Source())}
	d, err := s.routeCall(rc)
	if err != nil {
		return err
	}
	switch {
	case d.status != 0:
		return &callmodel.ConnectError{Status: d.status}
	case d.app != nil:
		// The number is another application's: the call model hands the leg over to it.
		return &callmodel.AppRouteError{Route: *d.app}
	}
	c.mu.Lock()
	if c.state != stAnswered || !c.appLocal || c.bridging != nil {
		c.mu.Unlock()
		d.released()
		return errCallOver
	}
	restricted, err := media.RestrictOffer(c.aSDP, c.appFormat)
	if err == nil {
		restricted, err = c.ms.Offer(media.LegA, restricted)
	}
	if err != nil {
		c.mu.Unlock()
		d.released()
		return err
	}
	done := make(chan int, 1)
	c.bridging = done
	// The destination's leg as a call from a phone gets it (invite.go setup): an outside
	// number's trunks, identity and guard, a group's steps and strategy.
	c.callee = d.callee
	c.outsideDone, c.trunk = d.outsideDone, d.trunk
	c.outside, c.group = d.outside, d.group
	c.forks = nil
	c.b = leg{id: media.LegB, callID: c.bCallID, localTag: c.bFromTag,
		localURI:     sip.Uri{Scheme: "sip", User: cmp.Or(d.fromUser, c.caller.number), Host: c.realm},
		localDisplay: c.caller.display,
		remoteURI:    sip.Uri{Scheme: "sip", User: d.callee.number, Host: c.realm}, cseq: 1}
	c.prepareB(restricted, 69)
	for _, b := range d.targets {
		f := &fork{b: b}
		f.req = c.newForkInvite(b, restricted, 69)
		c.forks = append(c.forks, f)
	}
	ring := s.pol().NoAnswer
	if d.ringFor > 0 {
		ring = d.ringFor
	}
	forks := append([]*fork(nil), c.forks...)
	c.timers = append(c.timers, time.AfterFunc(ring, func() { c.noAnswer() }))
	c.mu.Unlock()
	c.log.Debug("application connects the caller", "contacts", len(forks))
	for _, f := range forks {
		c.startFork(f)
	}
	select {
	case st := <-done:
		if st >= 200 && st < 300 {
			return nil
		}
		return &callmodel.ConnectError{Status: st}
	case <-c.ended:
		return errCallOver
	case <-ctx.Done():
		c.mu.Lock()
		if c.bridging == done {
			c.bridgeDone(487) // unlocks
		} else {
			c.mu.Unlock()
		}
		for _, f := range forks {
			c.cancelFork(f)
		}
		return ctx.Err()
	}
}

// bridgeForkFailed: a fork of an application's connect failed (caller holds c.mu; unlocks).
func (c *call) bridgeForkFailed(code int) {
	if code >= 600 {
		others := append([]*fork(nil), c.forks...)
		c.bridgeDone(code)
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
	if c.nextTargets() { // the group's next step or the route's next trunk (groupcall.go); it unlocked
		return
	}
	status, _ := bestFailure(c.forks)
	c.bridgeDone(status)
}

// bridgeDone ends an application's connect attempt with a status (caller holds c.mu;
// unlocks). The caller stays with the application.
func (c *call) bridgeDone(status int) {
	done := c.bridging
	c.bridging = nil
	for _, t := range c.timers {
		t.Stop()
	}
	c.timers = nil
	// The attempt's outside or group leg ends with it: the guard hears of an unanswered
	// outside call, and a later connect starts clean.
	outside := c.outsideDone
	c.outsideDone, c.outside, c.group = nil, nil, nil
	c.trunk = c.caller.trunk
	c.mu.Unlock()
	if outside != nil {
		outside(0)
	}
	if done != nil {
		done <- status
	}
}

// bridged: the callee answered an application's connect; the relay joins A and B and the
// application lets go of A. toA is the session's SDP for A after the callee's answer: when A
// must send another format than it does, A is re-INVITEd with it.
func (c *call) bridged(toA []byte) {
	c.mu.Lock()
	done := c.bridging
	c.bridging = nil
	c.appLocal = false
	if c.outside != nil {
		c.outsideAt = time.Now() // the outside call's talk time starts here, not at the application's answer
	}
	app := c.appLeg
	c.mu.Unlock()
	app.Relayed()
	c.ms.Mute(media.LegA, false)
	c.ms.Mute(media.LegB, false)
	if done != nil {
		done <- 200
	}
	c.log.Info("application connected the caller", "callee", c.callee.number)
	// The callee answered an offer narrowed to A's format, so A's media rarely changes; when
	// the format it must now send differs (no telephone-events, another codec), A is told.
	c.mu.Lock()
	f, ok := media.FormatOf(toA)
	changed := !ok || f != c.appFormat
	c.mu.Unlock()
	if len(toA) > 0 && changed {
		go c.reinviteA(toA)
	}
}

// reinviteA sends A a re-INVITE with new SDP (a leg moved between bridges) and acknowledges
// the answer.
func (c *call) reinviteA(sdp []byte) {
	c.mu.Lock()
	if c.state != stAnswered || c.reinvite {
		c.mu.Unlock()
		return
	}
	c.reinvite = true
	req := c.newInDialog(&c.a, sip.INVITE)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.reinvite = false
		c.mu.Unlock()
	}()
	setBody(req, sdp)
	ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
	defer cancel()
	res, err := c.s.request(ctx, req)
	if err != nil || res == nil {
		c.log.Info("re-INVITE to the caller failed", "err", err)
		return
	}
	if res.StatusCode >= 300 {
		c.log.Info("caller refused the re-INVITE", "status", res.StatusCode)
		return
	}
	c.mu.Lock()
	ack := c.newInDialog(&c.a, sip.ACK)
	ack.CSeq().SeqNo = req.CSeq().SeqNo
	c.mu.Unlock()
	// A keeps its address in practice; should it move, the relay latches onto its packets.
	_ = c.s.write(ack)
}

// localOffer answers an offer from A while the application is A's far end: the session
// answers for its local leg again (hold, codec change, session refresh).
func (c *call) localOffer(offer []byte) ([]byte, error) {
	out, err := c.ms.Offer(media.LegA, offer)
	if err != nil {
		return nil, err
	}
	ans, _, err := c.ms.AnswerLocal(out)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.aSDP = offer
	c.appOffer = out
	c.mu.Unlock()
	return ans, nil
}

// Hold and resume of a two-party call. A leg that offers sendonly or inactive (or c=0.0.0.0)
// is answered by Privox itself and its peer is not re-INVITEd: the peer's stream stays as it
// was and carries the tenant's music on hold instead of the holder's audio (the holder is
// muted), until the holder offers sendrecv again. A hold/resume storm from one leg thus never
// reaches the other. An offer Privox cannot answer that way (new SRTP keys) is passed on as
// before, and the music plays to the peer all the same.

// holdLocally answers an offer of a hold or resume itself; false when the offer must go on
// to the other leg.
// ack carries the ACK of a re-INVITE's 2xx (nil for UPDATE).
func (c *call) holdLocally(from media.LegID, req *sip.Request, tx sip.ServerTransaction, offer []byte, ack chan *sip.Request) bool {
	if c.s.apps.Load() == nil || offer == nil || c.local() {
		return false
	}
	held := media.Held(offer)
	c.mu.Lock()
	playing := c.moh[other(from)] != nil
	c.mu.Unlock()
	if !held && !playing {
		return false
	}
	ans, err := c.ms.AnswerHold(from, offer)
	if err != nil {
		c.log.Debug("hold offer passed on", "err", err)
		return false
	}
	ok := c.dialogReply(from, req, 200, "OK", ans)
	c.sessionHeaders(from, ok)
	_ = tx.Respond(ok)
	c.holdChanged(from, offer, c.ms.LastSDP(other(from)))
	if ack != nil {
		c.awaitReAck(from, tx, ok, ack)
	}
	return true
}

// holdChanged starts or stops music on hold after leg `from` offered offer; peerSDP is an SDP
// of the other leg's that names the format it receives in. While `from` holds, the other leg
// hears the tenant's music and what `from` sends is not relayed.
func (c *call) holdChanged(from media.LegID, offer, peerSDP []byte) {
	apps := c.s.apps.Load()
	if apps == nil || offer == nil {
		return
	}
	to := other(from)
	held := media.Held(offer)
	c.mu.Lock()
	playing := c.moh[to] != nil
	if held == playing || c.state != stAnswered {
		c.mu.Unlock()
		return
	}
	if !held {
		stop := c.moh[to]
		c.moh[to] = nil
		c.mu.Unlock()
		stop()
		c.ms.Mute(from, false)
		c.log.Debug("call resumed", "leg", from.String())
		return
	}
	f, ok := media.FormatOf(peerSDP)
	if !ok {
		c.mu.Unlock()
		return // the held peer talks no G.711 with us: it hears silence
	}
	c.ms.Mute(from, true)
	var cont *media.StreamState
	if st, ok := c.ms.LastRTP(from); ok {
		cont = &st
	}
	c.moh[to] = apps.Hold(c.tenant.ID, c.ms, to, f, cont)
	c.mu.Unlock()
	c.log.Debug("call on hold: music on hold", "leg", to.String())
}

// local reports whether A's far end is the application (no B dialog to relay to).
func (c *call) local() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.appLocal
}

// localReoffer answers a re-INVITE from A while the application is its far end.
func (c *call) localReoffer(from media.LegID, req *sip.Request, tx sip.ServerTransaction, ack chan *sip.Request) {
	offer := sdpOf(req)
	var ans []byte
	if offer != nil {
		var err error
		if ans, err = c.localOffer(offer); err != nil {
			_ = tx.Respond(c.dialogReply(from, req, 488, "Not Acceptable Here", nil))
			return
		}
	} else {
		// No offer: Privox offers in the 200 what A has, and takes A's answer from the ACK.
		ans = c.ms.LastSDP(media.LegA)
	}
	ok := c.dialogReply(from, req, 200, "OK", ans)
	c.sessionHeaders(from, ok)
	_ = tx.Respond(ok)
	c.awaitReAck(from, tx, ok, ack)
}
