package dialplan

import (
	"context"
	"strings"
	"time"

	"github.com/privox/privox/internal/call"
)

// Deps are what the stages read. Nil members leave their stage out of the plan.
type Deps struct {
	Extensions   Extensions
	Applications Applications
	// Mailboxes resolves voicemail boxes (the voicemail engine provides it).
	Mailboxes Mailboxes
	Routes    Routes
	// Groups gives the ring and hunt groups (nil: no group stage).
	Groups Groups
	// DIDs routes calls from trunks by their DID (nil: calls from trunks are not routed).
	DIDs DIDs
	// CLIRCode is the code that withholds the caller's number for one call ("": *31).
	CLIRCode string
	// Guard counts outside calls per extension (nil: no limits).
	Guard *Guard
	// Blocked is told of every call the toll-fraud guard refuses (not of explanations).
	Blocked func(ctx context.Context, req *Request, d *Decision)
	// Forwards gives forwarding, do-not-disturb and feature codes (nil: no forward and
	// feature stages).
	Forwards Forwarding
	// GroupState orders round-robin and least-recent groups across calls (nil: they ring
	// in configured order).
	GroupState *GroupState
	// Now is the clock the time rules of DIDs, the default destination and the groups'
	// fall-throughs are judged by (nil: time.Now; the guard has its own).
	Now func() time.Time
}

// Stages is the order in which a call passes through the dial plan: the one place it is
// declared. A new stage (forwarding, do-not-disturb, groups, time rules) goes here.
func Stages(d Deps) []Stage {
	var out []Stage
	add := func(ok bool, s Stage) {
		if ok {
			out = append(out, s)
		}
	}
	var ext, groups, apps, boxes, outbound Stage
	if d.Extensions != nil {
		ext = ExtensionStage{d.Extensions}
	}
	if d.Groups != nil && d.Extensions != nil {
		groups = GroupStage{Groups: d.Groups, Ext: d.Extensions, Fwd: d.Forwards, State: d.GroupState, Apps: d.Applications, Boxes: d.Mailboxes, Now: d.Now}
	}
	if d.Applications != nil {
		apps = ApplicationStage{d.Applications}
	}
	if d.Mailboxes != nil {
		boxes = MailboxStage{d.Mailboxes}
	}
	if d.Routes != nil {
		outbound = OutboundStage{Routes: d.Routes, Guard: d.Guard, Blocked: d.Blocked, DIDs: d.DIDs}
	}
	if d.DIDs != nil { // a call from a trunk: its DID decides, resolved by the stages below
		out = append(out, TimeStage{DIDs: d.DIDs, Now: d.Now}) // the DID's calendar: closed, its out-of-hours destination
		out = append(out, DIDStage{DIDs: d.DIDs, Ext: ext, Groups: groups, Apps: apps, Boxes: boxes, Outbound: outbound, Fwd: d.Forwards})
	}
	add(d.Forwards != nil, FeatureStage{Fwd: d.Forwards})                     // *21… #21 *78 …: forwarding and DND from the phone
	add(d.Forwards != nil, ForwardStage{Fwd: d.Forwards, Ext: d.Extensions})  // unconditional/unreachable forwarding, DND
	add(ext != nil, ext)                                                      // an extension of the tenant
	add(groups != nil, groups)                                                // a ring or hunt group's number
	add(apps != nil, apps)                                                    // a menu or other application's number
	add(boxes != nil, boxes)                                                  // a voicemail box's number
	add(outbound != nil, CLIRStage{Code: cmpOr(d.CLIRCode, DefaultCLIRCode)}) // *31 before an outside number: withheld
	add(outbound != nil, outbound)                                            // an outside number
	return out
}

// Extensions finds an extension of a tenant by number.
type Extensions interface {
	Extension(ctx context.Context, tenantID int64, number string) (Extension, bool, error)
}

// Extension is what the extension stage needs of one.
type Extension struct {
	Number string
	// Reachable: the extension has a contact to ring now.
	Reachable bool
	// Busy: the extension is on an answered call now (false when the resolver cannot
	// tell).
	Busy bool
	// Ref is the resolver's handle, handed back in the destination.
	Ref any
}

// Applications finds the application a number runs (call.Apps implements it).
type Applications interface {
	RouteApp(ctx context.Context, tenantID int64, number string) (call.Route, bool, error)
}

// Mailboxes finds the voicemail box a number reaches (a box's own number or an access
// number) and the application that serves it (Route.App the voicemail application's
// registered name, Route.Arg the box); the voicemail engine implements it.
type Mailboxes interface {
	Mailbox(ctx context.Context, tenantID int64, number string) (call.Route, bool, error)
}

// ExtensionStage routes to an extension of the tenant; 480 when it has no contact.
type ExtensionStage struct{ Ext Extensions }

// Name implements Stage.
func (ExtensionStage) Name() string { return "extension" }

// Route implements Stage.
func (s ExtensionStage) Route(ctx context.Context, req *Request) (Outcome, error) {
	if req.To == "" {
		return quiet(req, "no number dialled"), nil
	}
	e, ok, err := s.Ext.Extension(ctx, req.TenantID, req.To)
	if err != nil || !ok {
		if !req.explain {
			return Passed, err
		}
		return Pass("%s is not an extension", req.To), err
	}
	if !e.Reachable {
		o := Reject(480, "Temporarily Unavailable", "extension %s has no registered contact", e.Number)
		o.Decision.Mailbox = e.Number
		return o, nil
	}
	dst := Destination{Kind: KindExtension, Number: e.Number, RingFor: req.RingFor, Ref: e.Ref}
	if !req.explain {
		return ToWhy(dst, ""), nil
	}
	return To(dst, "extension %s is registered", e.Number), nil
}

// ApplicationStage routes to an application the number runs.
type ApplicationStage struct{ Apps Applications }

// Name implements Stage.
func (ApplicationStage) Name() string { return "application" }

// Route implements Stage.
func (s ApplicationStage) Route(ctx context.Context, req *Request) (Outcome, error) {
	if req.To == "" {
		return quiet(req, "no number dialled"), nil
	}
	rt, ok, err := s.Apps.RouteApp(ctx, req.TenantID, req.To)
	if err != nil || !ok {
		if !req.explain {
			return Passed, err
		}
		return Pass("%s runs no application", req.To), err
	}
	dst := Destination{Kind: KindApplication, Number: req.To, App: rt.App, Arg: rt.Arg}
	if !req.explain {
		return ToWhy(dst, ""), nil
	}
	return To(dst, "%s runs %s %q", req.To, rt.App, rt.Arg), nil
}

// MailboxStage routes to a voicemail box.
type MailboxStage struct{ Boxes Mailboxes }

var (
	_ Stage = ExtensionStage{}
	_ Stage = ApplicationStage{}
	_ Stage = MailboxStage{}
	_ Stage = OutboundStage{}
)

// Name implements Stage.
func (MailboxStage) Name() string { return "mailbox" }

// Route implements Stage.
func (s MailboxStage) Route(ctx context.Context, req *Request) (Outcome, error) {
	if req.To == "" {
		return quiet(req, "no number dialled"), nil
	}
	rt, ok, err := s.Boxes.Mailbox(ctx, req.TenantID, req.To)
	if err != nil || !ok {
		if !req.explain {
			return Passed, err
		}
		return Pass("%s is no mailbox", req.To), err
	}
	dst := Destination{Kind: KindMailbox, Number: rt.Arg, App: rt.App, Arg: rt.Arg}
	if !req.explain {
		return ToWhy(dst, ""), nil
	}
	return To(dst, "%s reaches mailbox %s", req.To, rt.Arg), nil
}

// Routes gives the outbound route table of a tenant.
type Routes interface {
	Table(ctx context.Context, tenantID int64) (*Table, error)
}

// OutboundStage sends outside numbers to the first outbound route whose pattern matches,
// after the toll-fraud policy allowed the destination class.
type OutboundStage struct {
	Routes  Routes
	Guard   *Guard
	Blocked func(ctx context.Context, req *Request, d *Decision)
	// DIDs gives the callers' own DIDs and CLIR (nil: the main number, never withheld but
	// by the code).
	DIDs DIDs
}

// Name implements Stage.
func (OutboundStage) Name() string { return "outbound" }

// Route implements Stage.
func (s OutboundStage) Route(ctx context.Context, req *Request) (Outcome, error) {
	if req.From == "" {
		return quiet(req, "calls from outside do not go out again"), nil
	}
	t, err := s.Routes.Table(ctx, req.TenantID)
	if err != nil {
		return Outcome{}, err
	}
	r := t.Match(req.To)
	if r == nil {
		if !req.explain {
			return Passed, nil
		}
		return Pass("no outbound route matches %s", req.To), nil
	}
	num := req.To
	if r.Strip > 0 {
		if r.Strip >= len(num) {
			return Reject(484, "Address Incomplete", "route %s strips %d digits of %s", r.Name, r.Strip, req.To), nil
		}
		num = num[r.Strip:]
	}
	num = r.Prepend + num
	e164, class := Classify(num, t.Country)
	if class == ClassInvalid {
		return Reject(484, "Address Incomplete", "route %s matches, but %s is not a valid number (country %q)", r.Name, mask(num), t.Country), nil
	}
	if reason := t.Policy.refuse(class); reason != "" {
		return s.block(ctx, req, reason, "route %s matches %s (%s), but %s destinations are not allowed for this tenant", r.Name, mask(num), class, class), nil
	}
	var done func(time.Duration)
	hours := ""
	if s.Guard != nil && class != ClassEmergency {
		closed, why := s.Guard.unusual(req, t.Limits)
		if closed {
			return s.block(ctx, req, BlockUnusual, "%s: outside calls from %s are refused outside its hours", why, req.From), nil
		}
		if why != "" {
			hours = "; " + why
		}
		var reason string
		done, reason, err = s.Guard.admit(ctx, req, t.Limits, explaining(ctx))
		if err != nil {
			return Outcome{}, err
		}
		switch reason {
		case BlockSuspended:
			return s.block(ctx, req, reason, "outside calls of %s are suspended until an admin resumes them", req.From), nil
		case BlockBurst:
			return s.block(ctx, req, reason, "%s placed %d outside calls within %s: outside calls suspended until an admin resumes them", req.From, t.Limits.BurstCalls, t.Limits.BurstWindow), nil
		case BlockConcurrent:
			return s.block(ctx, req, reason, "%s already has %d outside calls", req.From, t.Limits.MaxConcurrent), nil
		case BlockMinutes:
			return s.block(ctx, req, reason, "%s used its %d outside minutes of today", req.From, t.Limits.MinutesPerDay), nil
		}
	}
	send := num
	if e164 != "" && r.E164 {
		send = e164
	}
	cid, withheld, cidWhy, err := s.callerID(ctx, req, t.MainNumber)
	if err != nil {
		if done != nil {
			done(0)
		}
		return Outcome{}, err
	}
	dst := Destination{Kind: KindOutbound, Number: send, E164: e164, Class: class, Route: r.Name, Trunks: r.Trunks, Done: done, CallerID: cid, Anonymous: withheld}
	if !req.explain {
		return ToWhy(dst, ""), nil
	}
	presents := "presents " + cidWhy + " " + cmpOr(cid, "(none: the extension's number)")
	if withheld {
		presents = "number withheld"
	}
	return To(dst, "route %s (pattern %s) matches %s: %s, %s; %s%s", r.Name, r.Pattern, req.To, class, strings.Join(r.Trunks, ","), presents, hours), nil
}

// block refuses an outside call for the toll-fraud guard, reporting it unless explaining.
func (s OutboundStage) block(ctx context.Context, req *Request, reason, format string, args ...any) Outcome {
	o := Reject(403, "Forbidden", format, args...)
	o.Decision.Blocked = reason
	if s.Blocked != nil && !explaining(ctx) {
		d := *o.Decision
		d.Stage = s.Name()
		s.Blocked(ctx, req, &d)
	}
	return o
}

// mask hides the last digits of a number (traces and audit entries outlive calls).
func mask(n string) string {
	if len(n) <= 4 {
		return strings.Repeat("x", len(n))
	}
	return n[:len(n)-3] + "xxx"
}

type explainKey struct{}

// Explaining marks a context as an explanation: stages report nothing (no audit, no
// counters) for it.
func Explaining(ctx context.Context) context.Context {
	return context.WithValue(ctx, explainKey{}, true)
}

func explaining(ctx context.Context) bool { return ctx.Value(explainKey{}) != nil }
