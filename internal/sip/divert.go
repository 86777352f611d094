package sip

import (
	"context"
	"time"

	callmodel "github.com/privox/privox/internal/call"
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
	d := c.s.diverter
	if d == nil || number == "" {
		return false
	}
	c.mu.Lock()
	trunk := c.trunk
	c.mu.Unlock()
	if trunk != "" {
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
	c.mu.Unlock()
	for _, f := range forks {
		c.cancelFork(f)
	}
	if old != nil {
		old.Close()
	}
	c.log.Info("unanswered call diverted", "app", rt.App, "status", status)
	c.startApp(rt)
	return true
}

// calleeNumber is the extension the call rings (caller holds c.mu); "" for outside calls.
func (c *call) calleeNumber() string {
	if c.callee == nil || c.trunk != "" {
		return ""
	}
	return c.callee.number
}
