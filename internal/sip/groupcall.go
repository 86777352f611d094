package sip

import (
	"time"

	callmodel "github.com/privox/privox/internal/call"
	"github.com/privox/privox/internal/dialplan"
)

// Ring and hunt groups. The dial plan answers a group's number with the steps to ring: one
// step of all members (simultaneous) or one step per member (the hunt strategies, in the
// order the dial plan's GroupState gives), then the fall-through extension; a fall-through
// mailbox or application takes the call once every step is over. The member who
// answers is told to that state (least-recent order). A step rings its members' contacts together for its ring time;
// when it is over, or every contact of the step failed, the step's forks are cancelled and
// the next step rings. The policy's no-answer time still bounds the whole call.

// groupLeg is a group call's steps and the one ringing.
type groupLeg struct {
	number string
	steps  []groupStep
	// owners are the member accounts by contact, so that the one who answers becomes the
	// call's callee (their journal has the call).
	owners map[string]*account
	at     int
	offer  []byte
	maxFwd int
	// then is the application the call goes to when nobody answered (a mailbox, a menu:
	// the group's fall-through); nil: the caller hears the failure.
	then *callmodel.Route
}

type groupStep struct {
	targets []binding
	ring    time.Duration
}

// routeGroup turns a group destination into the first step's forks.
func (s *Server) routeGroup(rc *routeCtx, dst *dialplan.Destination) *routeDecision {
	g := &groupLeg{number: dst.Number, owners: map[string]*account{}}
	for _, st := range dst.Group.Steps {
		var step groupStep
		step.ring = st.RingTime
		for _, ref := range st.Refs {
			if r, ok := ref.(extRef); ok {
				step.targets = append(step.targets, r.targets...)
				for _, b := range r.targets {
					g.owners[b.contact] = r.acct
				}
			}
		}
		if len(step.targets) > 0 {
			g.steps = append(g.steps, step)
		}
	}
	if t := dst.Group.Then; t != nil {
		g.then = &callmodel.Route{App: t.App, Arg: t.Arg}
	}
	if len(g.steps) == 0 {
		if g.then != nil {
			return &routeDecision{app: g.then}
		}
		return &routeDecision{status: 480, reason: "Temporarily Unavailable"}
	}
	callee := &account{tenantID: rc.tenant.ID, number: dst.Number}
	return &routeDecision{callee: callee, targets: g.steps[0].targets, group: g}
}

// memberAnswered makes the group member whose contact answered the call's callee (caller
// holds c.mu). Nil-safe.
func (c *call) memberAnswered(f *fork) {
	if c.group == nil {
		return
	}
	if a := c.group.owners[f.b.contact]; a != nil {
		c.callee = a
		c.s.groups.Answered(c.tenant.ID, c.group.number, a.number, time.Now())
	}
}

// prepareB applies what the decision's outside or group leg needs to leg B before the
// forks start (caller holds c.mu).
func (c *call) prepareB(offer []byte, maxFwd int) {
	c.outside.prepare(&c.b, offer, maxFwd)
	if g := c.group; g != nil {
		g.offer, g.maxFwd = offer, maxFwd
		c.groupTimer(0)
	}
}

// groupTimer arms the ring time of a group's step (caller holds c.mu); answer stops it
// with the call's other timers.
func (c *call) groupTimer(step int) {
	t := time.AfterFunc(c.group.steps[step].ring, func() { c.groupRingTimeOver(step) })
	c.timers = append(c.timers, t)
}

// nextTargets lets the next group step or the route's next trunk take over after every fork
// failed (caller holds c.mu). False, still holding c.mu, when there is none; true once it
// unlocked c.mu and started the next forks.
func (c *call) nextTargets() bool {
	if c.group != nil {
		if !c.forking() || c.group.at+1 >= len(c.group.steps) {
			return false
		}
		c.groupAdvance(nil)
		return true
	}
	return c.nextTrunk()
}

// groupRingTimeOver ends a step that rang its time: the next step rings, or the caller
// hears 480 after the last one.
func (c *call) groupRingTimeOver(step int) {
	c.mu.Lock()
	g := c.group
	if g == nil || !c.forking() || g.at != step {
		c.mu.Unlock()
		return
	}
	var ringing []*fork
	for _, f := range c.forks {
		if !f.done {
			ringing = append(ringing, f)
		}
	}
	if g.at+1 >= len(g.steps) {
		c.log.Debug("group: nobody answered", "group", g.number)
		if g.then != nil && c.bridging == nil {
			c.mu.Unlock()
			if c.fallThrough() { // it cancelled the forks
				return
			}
			c.fail(480, "Temporarily Unavailable", "")
			for _, f := range ringing {
				c.cancelFork(f)
			}
			return
		}
		if c.bridging != nil {
			c.bridgeDone(480) // unlocks; the caller stays with the application
		} else {
			c.mu.Unlock()
			c.fail(480, "Temporarily Unavailable", "")
		}
		for _, f := range ringing {
			c.cancelFork(f)
		}
		return
	}
	c.groupAdvance(ringing)
}

// fallThrough hands a group call nobody answered to the group's fall-through application,
// if it has one; it reports whether it did.
func (c *call) fallThrough() bool {
	c.mu.Lock()
	g := c.group
	c.mu.Unlock()
	if g == nil || g.then == nil {
		return false
	}
	if !c.stopRinging(func() { c.group = nil }) {
		return false
	}
	c.log.Info("group call falls through", "group", g.number, "app", g.then.App)
	c.startApp(*g.then)
	return true
}

// groupAdvance rings the next step and cancels the forks still ringing (caller holds c.mu;
// it unlocks).
func (c *call) groupAdvance(ringing []*fork) {
	g := c.group
	g.at++
	var next []*fork
	for _, b := range g.steps[g.at].targets {
		f := &fork{b: b}
		f.req = c.newForkInvite(b, g.offer, g.maxFwd)
		next = append(next, f)
	}
	// The new forks are in the call before the old ones report their 487, so those do not
	// find every fork failed.
	c.forks = append(c.forks, next...)
	c.groupTimer(g.at)
	c.mu.Unlock()
	c.log.Debug("group: next step", "group", g.number, "step", g.at, "contacts", len(next))
	for _, f := range ringing {
		c.cancelFork(f)
	}
	for _, f := range next {
		c.startFork(f)
	}
}
