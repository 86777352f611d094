package sip

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"

	callmodel "github.com/privox/privox/internal/call"
	"github.com/privox/privox/internal/dialplan"
	"github.com/privox/privox/internal/store"
)

// The dial plan lives in package dialplan: its stages, in the order declared there, decide
// where a call goes. The SIP core gives it the extensions (the account cache and the
// location service, so the extension path reaches no database) and the call model's
// applications, and acts on the typed destination it answers with.

// routeCtx is what the dial plan is asked about a call being routed.
type routeCtx struct {
	ctx    context.Context
	s      *Server
	tenant store.Tenant
	caller *account
	dialed string
	src    netip.AddrPort
	// next is the request of a call forwarded after it rang (divert.go): routed instead of
	// the dialled number.
	next *dialplan.Request
}

// routeDecision is what the SIP core does with a call: the callee and the contacts to fork
// to, an application to run (the call model starts it; SIP does not know what it does), or
// a status for the caller.
type routeDecision struct {
	callee  *account
	targets []binding
	app     *callmodel.Route
	status  int
	reason  string
	// unreachable is the extension whose mailbox may take the rejected call (no contact,
	// do-not-disturb: dnd, which is never forwarded further) (divert.go).
	unreachable string
	dnd         bool
	// req is the request as the dial plan left it (the forwards it followed, the number it
	// routed); ringFor the callee's ring time before its no-answer forwarding.
	req     *dialplan.Request
	ringFor time.Duration
	// Outside calls: the caller-ID the trunk is sent (the From user), the guard's report of
	// the call's end, and the trunk.
	fromUser    string
	outsideDone func(time.Duration)
	trunk       string
	outside     *outsideLeg
	group       *groupLeg
}

// released tells the outside-call guard that a decision's outside call will not be made.
func (d *routeDecision) released() {
	if d.outsideDone != nil {
		d.outsideDone(0)
	}
}

// extRef is the SIP core's handle on an extension destination.
type extRef struct {
	acct    *account
	targets []binding
}

// sipExtensions implements dialplan.Extensions over the account cache and the location.
type sipExtensions struct{ s *Server }

var _ dialplan.Extensions = sipExtensions{}

func (e sipExtensions) Extension(ctx context.Context, tenantID int64, number string) (dialplan.Extension, bool, error) {
	a, err := e.s.accounts.byNum(ctx, tenantID, number)
	if err != nil || a == nil {
		return dialplan.Extension{}, false, err
	}
	targets := e.s.loc.lookup(aorKey{tenantID, a.number})
	return dialplan.Extension{Number: a.number, Reachable: len(targets) > 0, Busy: e.s.busy.busy(aorKey{tenantID, a.number}), Ref: extRef{a, targets}}, true, nil
}

// sipApps implements dialplan.Applications over the call model set at start-up.
type sipApps struct{ s *Server }

func (a sipApps) RouteApp(ctx context.Context, tenantID int64, number string) (callmodel.Route, bool, error) {
	apps := a.s.apps.Load()
	if apps == nil {
		return callmodel.Route{}, false, nil
	}
	return apps.RouteApp(ctx, tenantID, number)
}

// newPlan builds the dial plan over the server's extensions and applications and the
// dependencies given to New.
func newPlan(s *Server, deps Deps) *dialplan.Plan {
	if deps.DIDs != nil {
		s.trunkIn = newTrunkIndex(s, deps.DIDs)
	}
	d := dialplan.Deps{Extensions: sipExtensions{s}, Applications: sipApps{s}, Mailboxes: deps.Mailboxes, Routes: deps.Routes, DIDs: deps.DIDs, Guard: deps.Guard, Blocked: deps.Blocked,
		Forwards: deps.Forwards, GroupState: s.groups}
	if g, ok := deps.Routes.(dialplan.Groups); ok { // the route tables keep the groups too
		d.Groups = g
	}
	return dialplan.New(dialplan.Stages(d)...)
}

func (rc *routeCtx) request() *dialplan.Request {
	if rc.next != nil {
		return rc.next
	}
	req := &dialplan.Request{TenantID: rc.tenant.ID, To: rc.dialed}
	if rc.caller != nil && rc.caller.trunk != "" {
		// A call from outside: routed by its DID; a number an application connects the
		// caller to later (a menu's option) is routed as from outside, never out again.
		if rc.dialed == rc.caller.did {
			req.Trunk = rc.caller.trunk
		}
	} else if rc.caller != nil {
		req.From, req.FromUser, req.FromExt = rc.caller.number, rc.caller.userID, rc.caller.extID
	}
	return req
}

// routeCall runs the dial plan and turns its decision into what the SIP core does.
func (s *Server) routeCall(rc *routeCtx) (*routeDecision, error) {
	dec, err := s.planCall(rc)
	if err == nil && dec.trunk == "" && rc.caller != nil {
		dec.trunk = rc.caller.trunk // a call from outside: the CDR names the trunk it came in on
	}
	return dec, err
}

func (s *Server) planCall(rc *routeCtx) (*routeDecision, error) {
	req := rc.request()
	d, err := s.plan.Route(rc.ctx, req)
	if err != nil {
		return nil, err
	}
	rd, err := s.decision(rc, d)
	if rd != nil {
		rd.req = req
	}
	return rd, err
}

func (s *Server) decision(rc *routeCtx, d *dialplan.Decision) (*routeDecision, error) {
	if d.Status != 0 {
		if (d.Stage == "end" || d.Stage == "input") && len(d.Diverted) == 0 {
			s.guard.unknownTarget(rc.src, rc.dialed, "") // after authentication: not forged
		}
		rd := &routeDecision{status: d.Status, reason: d.Reason, unreachable: d.Mailbox}
		rd.dnd = d.Stage == "forward" && d.Mailbox != ""
		return rd, nil
	}
	switch dst := d.Dest; dst.Kind {
	case dialplan.KindExtension:
		ref := dst.Ref.(extRef)
		return &routeDecision{callee: ref.acct, targets: ref.targets, ringFor: dst.RingFor}, nil
	case dialplan.KindApplication, dialplan.KindMailbox:
		return &routeDecision{app: &callmodel.Route{App: dst.App, Arg: dst.Arg}}, nil
	case dialplan.KindGroup:
		return s.routeGroup(rc, dst), nil
	case dialplan.KindOutbound:
		return s.routeTrunk(rc, dst)
	default:
		s.log.Error("dial plan destination not handled", "kind", string(dst.Kind), "stage", d.Stage)
		return &routeDecision{status: 500, reason: "Server Internal Error"}, nil
	}
}

// Explain runs the dial plan for a call from an extension's number (or from outside when
// from is "", from outside on a trunk when it is dialplan.TrunkCaller+name) to a number, with nothing reported or audited, and returns its decision and
// trace.
func (s *Server) Explain(ctx context.Context, tenantID int64, from, to string) (*dialplan.Decision, error) {
	req := &dialplan.Request{TenantID: tenantID, To: to}
	if name, ok := strings.CutPrefix(from, dialplan.TrunkCaller); ok {
		if _, err := s.db.Trunk(ctx, tenantID, name); errors.Is(err, store.ErrNotFound) {
			return nil, &dialplan.FieldError{Field: "from", Err: dialplan.ErrNoSuchTrunk}
		} else if err != nil {
			return nil, err
		}
		req.Trunk = name
	} else if from != "" {
		a, err := s.accounts.byNum(ctx, tenantID, from)
		if err != nil {
			return nil, err
		}
		if a == nil {
			return nil, &dialplan.FieldError{Field: "from", Err: dialplan.ErrNoSuchCaller}
		}
		req.From, req.FromUser, req.FromExt = a.number, a.userID, a.extID
	}
	return s.plan.Route(dialplan.Explaining(ctx), req)
}

// routeTrunk sends an outside call to its route's trunks, the first one first (the others
// take over when it fails, see nextTrunk): the Request-URI names the number at the trunk's
// server, the From the presented caller-ID. A trunk the route names but that no longer
// exists is skipped; a route left with none gets 503.
func (s *Server) routeTrunk(rc *routeCtx, dst *dialplan.Destination) (*routeDecision, error) {
	fail := func(status int, reason string) (*routeDecision, error) {
		if dst.Done != nil {
			dst.Done(0)
		}
		return &routeDecision{status: status, reason: reason}, nil
	}
	o := &outsideLeg{number: dst.Number}
	for _, name := range dst.Trunks {
		t, err := s.db.Trunk(rc.ctx, rc.tenant.ID, name)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			if dst.Done != nil {
				dst.Done(0)
			}
			return nil, err
		}
		o.trunks = append(o.trunks, t)
	}
	if len(o.trunks) == 0 {
		return fail(503, "Service Unavailable")
	}
	o.fromUser = rc.caller.number
	if dst.CallerID != "" {
		o.fromUser = dst.CallerID
	}
	o.anonymous, o.asserted = dst.Anonymous, o.fromUser
	callee := &account{tenantID: rc.tenant.ID, number: dst.Number}
	return &routeDecision{callee: callee, targets: []binding{trunkBinding(o.trunks[0], o.number)}, fromUser: o.fromUser,
		outsideDone: dst.Done, trunk: o.trunks[0].Name, outside: o}, nil
}
