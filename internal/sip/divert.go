package sip

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	callmodel "github.com/privox/privox/internal/call"
	"github.com/privox/privox/internal/dialplan"
)

// Calls to an extension that fail (no registered contact, busy, or not answered within the
// ring time-out) are offered to a Diverter before the caller hears the failure: voicemail
// answers them. The call stays one call: its forks are cancelled, its media session is
// replaced by an application session, and the application runs as for a dialled
// application number (appcall.go).

// Diverter says whether an application takes an extension call that was not answered.
// status is why: 480 (no registered contact), 486 (busy), 408 (no answer within the ring
// time-out), or another final status the contacts answered.
type Diverter interface {
	Divert(ctx context.Context, tenantID int64, number string, status int) (callmodel.Route, bool, error)
}

// divert hands the call to the application the Diverter names, if any; it reports whether it
// did. number is the extension called.
func (c *call) divert(number string, status int) bool {
	if number == "" {
		return false
	}
	if c.fallThrough() { // a group's fall-through to a mailbox or a menu
		return true
	}
	if c.forward(number, status) {
		return true
	}
	d := c.s.diverter
	if d == nil {
		return false
	}
	c.mu.Lock()
	outside := c.outside != nil // an outside number has no box; a call from a trunk may leave a message
	c.mu.Unlock()
	if outside {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	rt, ok, err := d.Divert(ctx, c.tenant.ID, number, status)
	cancel()
	if err != nil {
		c.log.Warn("diversion of an unanswered call failed", "err", err)
		return false
	}
	if !ok {
		return false
	}
	if !c.stopRinging(nil) {
		return false
	}
	c.log.Info("unanswered call diverted", "app", rt.App, "status", status)
	c.startApp(rt)
	return true
}

// stopRinging ends the ringing of a call that is taken elsewhere (an application, or a
// forward routed again): its timers stop, its forks are cancelled and no longer count, its
// media session closes, and it is back in routing. then, when set, changes the call under
// the same lock. False, changing nothing, when the call is past ringing.
func (c *call) stopRinging(then func()) bool {
	c.mu.Lock()
	if c.state != stRinging && c.state != stRouting {
		c.mu.Unlock()
		return false
	}
	for _, t := range c.timers {
		t.Stop()
	}
	c.timers = nil
	forks := c.forks
	for _, f := range forks {
		f.stale = true
	}
	c.forks = nil
	old := c.ms
	c.ms = nil
	c.state = stRouting
	if then != nil {
		then()
	}
	c.mu.Unlock()
	for _, f := range forks {
		c.cancelFork(f)
	}
	if old != nil {
		old.Close()
	}
	return true
}

// calleeNumber is the extension the call rings (caller holds c.mu); "" for calls to
// outside numbers.
func (c *call) calleeNumber() string {
	if c.callee == nil || c.outside != nil {
		return ""
	}
	return c.callee.number
}

// Forwarding after ringing: a call to an extension that is busy, does not answer within its
// ring time or has no phone to ring is forwarded as the extension's setting says, before its
// mailbox is offered the call. The call stays one call: its forks are cancelled, its media
// session closed, and it is routed again through the dial plan to the target (which may
// forward it further, up to the hop limit, never back into the chain).

// forwardReason maps the status a call to an extension ended with to the forwarding that
// applies ("" for none).
func forwardReason(status int) dialplan.Reason {
	switch status {
	case 486, 600:
		return dialplan.ReasonBusy
	case 408:
		return dialplan.ReasonNoAnswer
	case 480, 503:
		return dialplan.ReasonUnavailable
	}
	return ""
}

// forward routes the call to number's forwarding target for status, if it has one; it
// reports whether it did.
func (c *call) forward(number string, status int) bool {
	fw := c.s.forwards
	reason := forwardReason(status)
	if fw == nil || reason == "" {
		return false
	}
	c.mu.Lock()
	dnd, req := c.dnd, c.req
	c.mu.Unlock()
	if dnd || req == nil {
		return false
	}
	next := *req
	next.Diverted = append([]dialplan.Diversion(nil), req.Diverted...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	target, why, err := dialplan.AfterRing(ctx, fw, &next, number, reason)
	cancel()
	if err != nil {
		c.log.Warn("forwarding of an unanswered call failed", "err", err)
		return false
	}
	if target == "" {
		if len(next.Diverted) > 0 || why != "" && !strings.Contains(why, "does not forward") {
			c.log.Info("call not forwarded further", "why", why)
		}
		return false
	}
	if !c.stopRinging(func() {
		c.next, c.diverted, c.fwdTarget = &next, next.Diverted, target
		c.callee, c.group = nil, nil
	}) {
		return false
	}
	c.log.Info("call forwarded", "reason", string(reason), "hops", len(next.Diverted))
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	c.setup(rctx)
	return true
}

// addDiversion names the forwards the call followed on an INVITE to the callee (caller holds
// c.mu): a Diversion header per hop, the latest first (RFC 5806), and History-Info (RFC 7044)
// from the number first dialled to the target, each retargeted entry with its cause (RFC 4458)
// and each next one marked as mapped from it.
func (c *call) addDiversion(req *sip.Request) {
	n := len(c.diverted)
	if n == 0 {
		return
	}
	for i := n - 1; i >= 0; i-- {
		d := c.diverted[i]
		req.AppendHeader(sip.NewHeader("Diversion", fmt.Sprintf("<sip:%s@%s>;reason=%s;counter=%d;privacy=off", d.From, c.realm, d.Reason, i+1)))
	}
	entries := make([]string, 0, n+1)
	index := "1"
	for i, d := range c.diverted {
		e := fmt.Sprintf("<sip:%s@%s?Reason=SIP%%3Bcause%%3D%d>;index=%s", d.From, c.realm, historyCause(d.Reason), index)
		if i > 0 {
			e += ";mp=" + index[:len(index)-2]
		}
		entries = append(entries, e)
		index += ".1"
	}
	entries = append(entries, fmt.Sprintf("<sip:%s@%s>;index=%s;mp=%s", c.fwdTarget, c.realm, index, index[:len(index)-2]))
	req.AppendHeader(sip.NewHeader("History-Info", strings.Join(entries, ",")))
}

// historyCause is the SIP status RFC 4458 gives a forwarding reason.
func historyCause(r dialplan.Reason) int {
	switch r {
	case dialplan.ReasonBusy:
		return 486
	case dialplan.ReasonNoAnswer:
		return 408
	case dialplan.ReasonUnavailable:
		return 404
	}
	return 302
}
