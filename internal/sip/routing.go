package sip

import (
	"context"
	"net/netip"

	callmodel "github.com/privox/privox/internal/call"
	"github.com/privox/privox/internal/store"
)

// The dial plan: the routing stages every call passes through, in order, declared in one
// place (dialPlan). A stage either decides where the call goes (or that it fails) or passes
// it on to the next. Call forwarding, do-not-disturb, voicemail, ring groups and trunks slot
// in here as further stages.

// routeCtx is what a stage sees of a call being routed.
type routeCtx struct {
	ctx    context.Context
	s      *Server
	tenant store.Tenant
	caller *account
	dialed string
	src    netip.AddrPort
}

// routeDecision is a stage's verdict: the callee and the contacts to fork to, an
// application to run (the call model starts it; SIP does not know what it does), or a status
// for the caller.
type routeDecision struct {
	callee  *account
	targets []binding
	app     *callmodel.Route
	status  int
	reason  string
}

// routeStage is one step of the dial plan; it returns nil to pass the call on.
type routeStage struct {
	name string
	run  func(rc *routeCtx) (*routeDecision, error)
}

// dialPlan is the order of the routing stages.
func dialPlan(s *Server) []routeStage {
	return []routeStage{
		{"extension", s.routeExtension},     // the dialled number is an extension of the caller's tenant
		{"application", s.routeApplication}, // the number runs an application (an attendant number)
		{"not-found", routeNotFound},        // nothing matched
	}
}

// routeCall runs the dial plan.
func (s *Server) routeCall(rc *routeCtx) (*routeDecision, error) {
	for _, st := range s.routes {
		d, err := st.run(rc)
		if err != nil {
			return nil, err
		}
		if d != nil {
			return d, nil
		}
	}
	return routeNotFound(rc)
}

// routeExtension routes to an extension of the tenant: its registered contacts, or 480 when
// none is registered.
func (s *Server) routeExtension(rc *routeCtx) (*routeDecision, error) {
	if rc.dialed == "" {
		return nil, nil
	}
	a, err := s.accounts.byNum(rc.ctx, rc.tenant.ID, rc.dialed)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, nil
	}
	targets := s.loc.lookup(aorKey{rc.tenant.ID, a.number})
	if len(targets) == 0 {
		return &routeDecision{callee: a, status: 480, reason: "Temporarily Unavailable"}, nil
	}
	return &routeDecision{callee: a, targets: targets}, nil
}

// routeApplication asks the call model whether the number runs an application of the tenant.
func (s *Server) routeApplication(rc *routeCtx) (*routeDecision, error) {
	apps := s.apps.Load()
	if apps == nil || rc.dialed == "" {
		return nil, nil
	}
	rt, ok, err := apps.RouteApp(rc.ctx, rc.tenant.ID, rc.dialed)
	if err != nil || !ok {
		return nil, err
	}
	return &routeDecision{app: &rt}, nil
}

// routeNotFound rejects the call with 404; dialling many unknown numbers bans the source.
func routeNotFound(rc *routeCtx) (*routeDecision, error) {
	rc.s.guard.unknownTarget(rc.src, rc.dialed, "") // after authentication: not forged
	return &routeDecision{status: 404, reason: "Not Found"}, nil
}
