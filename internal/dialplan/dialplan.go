// Package dialplan owns the routing of calls: the ordered stages a dialled number passes
// through (declared in one place, Stages), the typed destinations a stage decides on
// (extension, group, application, mailbox, outbound route), the outbound route patterns and
// the number rules (E.164 for the tenant's country, international and premium-rate
// classification, the toll-fraud policy), the time rules that route by a business-hours
// calendar, and the decision trace that explains any call.
// It knows nothing of SIP: the SIP core asks it where a call goes and acts on the answer;
// accounts, registrations, applications and mailboxes are read through small interfaces.
package dialplan

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Kind is the type of a destination.
type Kind string

const (
	// KindExtension: an extension of the tenant; Number is its number.
	KindExtension Kind = "extension"
	// KindGroup: a ring or hunt group of the tenant; Number is its number.
	KindGroup Kind = "group"
	// KindApplication: an application of the call model (a menu, a conference, a park
	// slot); App and Arg name it.
	KindApplication Kind = "application"
	// KindMailbox: a voicemail box; Number is the box's number. Resolved through Mailboxes.
	KindMailbox Kind = "mailbox"
	// KindOutbound: an outside number through an outbound route; Number is what the trunk
	// is sent (after stripping and adding), E164 the normalised number, Route and Trunks the
	// route and the trunks to try in order.
	KindOutbound Kind = "outbound"
)

// Destination is where a decision sends the call.
type Destination struct {
	Kind   Kind   `json:"kind"`
	Number string `json:"number,omitempty"`
	// App and Arg name the application (KindApplication).
	App string `json:"app,omitempty"`
	Arg string `json:"arg,omitempty"`
	// E164, Class, Route and Trunks describe an outbound destination.
	E164   string   `json:"e164,omitempty"`
	Class  Class    `json:"class,omitempty"`
	Route  string   `json:"route,omitempty"`
	Trunks []string `json:"trunks,omitempty"`
	// CallerID is the number an outside call presents (the tenant's main number; "" to
	// present the caller's own).
	CallerID string `json:"caller_id,omitempty"`
	// Anonymous: the caller's number is withheld (CLIR for the user or by feature code):
	// an anonymous From, and the identity only asserted to trusted trunks (RFC 3325).
	Anonymous bool `json:"anonymous,omitempty"`
	// Group is how a group destination rings (KindGroup).
	Group *Group `json:"group,omitempty"`
	// Done reports the end of an outside call and its talk time to the outside-call guard;
	// whoever acts on the decision calls it once (nil when nothing counts the call).
	Done func(talk time.Duration) `json:"-"`
	// RingFor is how long an extension rings before its no-answer forwarding takes the call
	// (0: the server's ring time-out).
	RingFor time.Duration `json:"ring_for,omitempty"`
	// Ref is the resolver's own handle on the destination (the SIP core's account and
	// contacts for an extension); dialplan never looks inside it.
	Ref any `json:"-"`
}

// Request is a call to be routed.
type Request struct {
	TenantID int64
	// From is the caller's extension number ("" for a call from outside).
	From string
	// FromUser is the caller's user id (0: none); FromExt the caller's extension id (0:
	// none), which limits and suspensions apply to.
	FromUser int64
	FromExt  int64
	// To is the dialled number as received.
	To string
	// Trunk names the trunk a call from outside arrived on ("" for calls from phones);
	// To is then the DID as the provider sent it.
	Trunk string
	// OutOfHours is where the DID's time rule sends the call while its calendar is closed
	// (the time stage sets it, the DID stage routes there; nil: the DID's own destination).
	OutOfHours *Target
	// Withheld: the caller dialled the suppression code (the CLIR stage sets it).
	Withheld bool
	// Diverted lists the forwards the call followed so far, first first (the forward
	// stage and AfterRing append to it); From is then the last forwarding extension, which
	// an outside target is counted for, and Caller the extension that placed the call
	// ("outside" for a call from outside).
	Diverted []Diversion
	Caller   string
	// RingFor is the ring time of the dialled extension's no-answer forwarding (the
	// forward stage sets it).
	RingFor time.Duration

	// explain: the call is being explained (Explaining), so stages spell out why they pass
	// and what they plan; for a call they need not (Plan.Route sets it).
	explain bool
}

// Step is one line of the decision trace: what a stage did with the call.
type Step struct {
	Stage   string `json:"stage"`
	Decided bool   `json:"decided"`
	Why     string `json:"why"`
}

// Decision is the dial plan's verdict: a destination, or a SIP status for the caller.
type Decision struct {
	// Dest is where the call goes (nil when Status is set).
	Dest *Destination `json:"destination,omitempty"`
	// Status and Reason reject the call (Status 0: not rejected).
	Status int    `json:"status,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Stage names the stage that decided, Why says why.
	Stage string `json:"stage"`
	Why   string `json:"why"`
	// Blocked is set when the toll-fraud guard refused the call (the reason code).
	Blocked string `json:"blocked,omitempty"`
	// Mailbox is the extension whose voicemail box may take a rejected call (not
	// registered, do-not-disturb) before the caller hears the status.
	Mailbox string `json:"mailbox,omitempty"`
	// Diverted lists the forwards the call followed to its destination.
	Diverted []Diversion `json:"diverted,omitempty"`
	// Trace lists every stage the call passed through, the deciding one last.
	Trace []Step `json:"trace"`
}

// Outcome is what one stage says about a request: Decide it, or Pass it on with a reason.
type Outcome struct {
	Decision *Decision // nil: passed on
	Why      string    // why the stage passed (ignored when Decision is set)
}

// Pass is an Outcome that hands the call to the next stage. Its reason is for people: a
// stage on the path of every call says it only while explaining (Request.Explaining), so
// that a call formats nothing it does not need.
func Pass(format string, args ...any) Outcome { return Outcome{Why: fmt.Sprintf(format, args...)} }

// Passed hands the call to the next stage without a reason (a call that is not explained).
var Passed = Outcome{}

// quiet passes with a fixed reason, said only while explaining.
func quiet(req *Request, why string) Outcome {
	if !req.explain {
		return Passed
	}
	return Outcome{Why: why}
}

// decided is a decision with its destination and the last line of its trace, allocated
// together: a call's decision costs one allocation.
type decided struct {
	d    Decision
	dest Destination
	last [1]Step
}

// To decides on a destination.
func To(d Destination, format string, args ...any) Outcome {
	return Outcome{Decision: decide(d, fmt.Sprintf(format, args...))}
}

// ToWhy decides on a destination with a reason formatted already ("" when no one reads it).
func ToWhy(d Destination, why string) Outcome { return Outcome{Decision: decide(d, why)} }

func decide(d Destination, why string) *Decision {
	a := &decided{dest: d}
	a.d.Dest, a.d.Why = &a.dest, why
	a.d.Trace = a.last[:0]
	return &a.d
}

// Reject decides to refuse the call with a status.
func Reject(status int, reason, format string, args ...any) Outcome {
	a := &decided{}
	a.d = Decision{Status: status, Reason: reason, Why: fmt.Sprintf(format, args...), Trace: a.last[:0]}
	return Outcome{Decision: &a.d}
}

// Stage is one step of the dial plan. Route must not block on the network and must be safe
// for concurrent use; an error aborts routing (the caller gets 500).
type Stage interface {
	Name() string
	Route(ctx context.Context, req *Request) (Outcome, error)
}

// Plan is the ordered chain of stages.
type Plan struct {
	stages []Stage
}

// New returns a plan running stages in order.
func New(stages ...Stage) *Plan { return &Plan{stages: stages} }

// Stages returns the names of the plan's stages in order.
func (p *Plan) Stages() []string {
	out := make([]string, len(p.stages))
	for i, s := range p.stages {
		out[i] = s.Name()
	}
	return out
}

// MaxDialled bounds a dialled number: longer ones are refused before any stage sees them.
const MaxDialled = 64

// Route runs the stages until one decides. A number no stage decides on gets 404.
//
// The trace of an explained call lists every stage with its reason; a call's trace has only
// the deciding stage (the passing stages' reasons are not even formatted: Pass).
func (p *Plan) Route(ctx context.Context, req *Request) (*Decision, error) {
	req.explain = explaining(ctx)
	if len(req.To) > MaxDialled {
		return &Decision{Status: 484, Reason: "Address Incomplete", Stage: "input",
			Why:   fmt.Sprintf("dialled number longer than %d characters", MaxDialled),
			Trace: []Step{{Stage: "input", Decided: true, Why: "dialled number too long"}}}, nil
	}
	var trace []Step
	if req.explain {
		trace = make([]Step, 0, len(p.stages))
	}
	for _, s := range p.stages {
		o, err := s.Route(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("dialplan: stage %s: %w", s.Name(), err)
		}
		if o.Decision == nil {
			if req.explain {
				trace = append(trace, Step{Stage: s.Name(), Why: o.Why})
			}
			continue
		}
		d := o.Decision
		d.Stage = s.Name()
		if req.explain {
			d.Trace = append(trace, Step{Stage: d.Stage, Decided: true, Why: d.Why})
		} else {
			d.Trace = append(d.Trace[:0], Step{Stage: d.Stage, Decided: true, Why: d.Why}) // in the decision's own room
		}
		d.Diverted = req.Diverted
		return d, nil
	}
	return &Decision{Status: 404, Reason: "Not Found", Stage: "end", Why: "no stage matched", Diverted: req.Diverted,
		Trace: append(trace, Step{Stage: "end", Decided: true, Why: "no stage matched"})}, nil
}

// Explaining reports whether the request is being explained to people (route explain), so
// that a stage spells out why it passes (Pass) rather than passing quietly (Passed).
func (r *Request) Explaining() bool { return r.explain }

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Explain renders a decision's trace for people.
func (d *Decision) Explain() string {
	var b strings.Builder
	for _, st := range d.Trace {
		mark := "pass"
		if st.Decided {
			mark = "DECIDED"
		}
		fmt.Fprintf(&b, "%-12s %-8s %s\n", st.Stage, mark, st.Why)
	}
	switch {
	case d.Dest != nil:
		fmt.Fprintf(&b, "=> %s", d.Dest.Kind)
		if d.Dest.Number != "" {
			fmt.Fprintf(&b, " %s", d.Dest.Number)
		}
		if d.Dest.App != "" {
			fmt.Fprintf(&b, " %s(%s)", d.Dest.App, d.Dest.Arg)
		}
		if d.Dest.RingFor > 0 {
			fmt.Fprintf(&b, " (rings %s, then forwards)", d.Dest.RingFor)
		}
		if d.Dest.Route != "" {
			fmt.Fprintf(&b, " via route %s (e164 %s, %s, trunks %s)", d.Dest.Route, d.Dest.E164, d.Dest.Class, strings.Join(d.Dest.Trunks, ","))
			switch {
			case d.Dest.Anonymous:
				fmt.Fprintf(&b, ", caller-ID withheld (asserted %s to trusted trunks)", cmpOr(d.Dest.CallerID, "the caller's number"))
			case d.Dest.CallerID != "":
				fmt.Fprintf(&b, ", caller-ID %s", d.Dest.CallerID)
			}
		}
		b.WriteString("\n")
	default:
		fmt.Fprintf(&b, "=> reject %d %s", d.Status, d.Reason)
		if d.Mailbox != "" {
			fmt.Fprintf(&b, " (or the mailbox of %s)", d.Mailbox)
		}
		b.WriteString("\n")
	}
	for _, dv := range d.Diverted {
		fmt.Fprintf(&b, "   forwarded by %s (%s)\n", dv.From, dv.Reason)
	}
	return b.String()
}
