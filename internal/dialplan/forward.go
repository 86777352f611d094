package dialplan

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Call forwarding and do-not-disturb. An extension forwards unconditionally, on busy, on
// no answer (after its own ring time) and when no phone of it is registered, to any number
// the dial plan routes: an extension, a group, a menu, a mailbox or an outside number (which
// goes through the outbound routes and the toll-fraud guard as an outside call of the
// forwarding extension). Unconditional and unreachable forwarding and do-not-disturb are
// decided before the call rings (ForwardStage); busy and no answer once it has rung, by the
// SIP core asking AfterRing. Every hop is recorded in the request (Diverted), so that a
// chain A→B→C→A is noticed when it closes and ends at its last valid target, and a chain
// longer than the tenant's hop limit ends where the limit is reached.

// Reason is why a call was forwarded, in the words of the Diversion header (RFC 5806).
type Reason string

const (
	ReasonUnconditional Reason = "unconditional"
	ReasonBusy          Reason = "user-busy"
	ReasonNoAnswer      Reason = "no-answer"
	ReasonUnavailable   Reason = "unavailable"
	ReasonDND           Reason = "do-not-disturb"
)

// Diversion is one hop of a forwarded call: the extension that forwarded it and why.
type Diversion struct {
	From   string `json:"from"`
	Reason Reason `json:"reason"`
	// ExtID and UserID name the forwarding extension and its owner, whom an outside target
	// is counted for.
	ExtID  int64 `json:"-"`
	UserID int64 `json:"-"`
}

// DefaultMaxHops is how many forwards a call follows when the tenant set no limit.
const DefaultMaxHops = 5

// MaxHopsLimit bounds the limit a tenant may set.
const MaxHopsLimit = 20

// Forward is the forwarding setting of one extension (zero: none).
type Forward struct {
	ExtID, UserID int64
	Always        string
	Busy          string
	NoAnswer      string
	// RingFor is how long the extension rings before NoAnswer takes the call (0: the
	// server's ring time-out).
	RingFor     time.Duration
	Unreachable string
	DND         bool
}

// Forwarding gives extensions' forwarding settings and a tenant's forwarding configuration.
type Forwarding interface {
	// Forward returns the setting of the extension with that number (zero for a number
	// that is no extension or forwards nothing).
	Forward(ctx context.Context, tenantID int64, number string) (Forward, error)
	// ForwardConfig returns the tenant's hop limit and feature codes.
	ForwardConfig(ctx context.Context, tenantID int64) (ForwardConfig, error)
}

// ForwardConfig is a tenant's forwarding configuration.
type ForwardConfig struct {
	MaxHops int
	Codes   Codes
}

func (c ForwardConfig) maxHops() int {
	if c.MaxHops <= 0 {
		return DefaultMaxHops
	}
	return c.MaxHops
}

// ForwardStage follows unconditional and unreachable forwarding and applies do-not-disturb
// to the dialled extension, before anything rings: it rewrites the request to the chain's
// last target, which the stages after it route. Do-not-disturb rejects the call with 486;
// the SIP core offers it to the extension's mailbox first (Decision.Mailbox).
type ForwardStage struct {
	Fwd Forwarding
	// Ext tells whether an extension has a phone registered (unreachable forwarding); nil:
	// unreachable forwarding is left to the SIP core.
	Ext Extensions
}

var _ Stage = ForwardStage{}

// Name implements Stage.
func (ForwardStage) Name() string { return "forward" }

// Route implements Stage.
func (s ForwardStage) Route(ctx context.Context, req *Request) (Outcome, error) {
	if req.To == "" {
		return quiet(req, "no number dialled"), nil
	}
	cfg, err := s.Fwd.ForwardConfig(ctx, req.TenantID)
	if err != nil {
		return Outcome{}, err
	}
	var steps []string
	num := req.To
	for {
		f, err := s.Fwd.Forward(ctx, req.TenantID, num)
		if err != nil {
			return Outcome{}, err
		}
		target, reason := f.Always, ReasonUnconditional
		if target == "" && f.DND {
			req.To = num
			s.charge(req)
			o := Reject(486, "Busy Here", "%sextension %s is on do-not-disturb: its mailbox takes the call if it has one, else 486", join(steps), num)
			o.Decision.Mailbox = num
			return o, nil
		}
		if target == "" && f.Unreachable != "" && s.Ext != nil {
			e, ok, err := s.Ext.Extension(ctx, req.TenantID, num)
			if err != nil {
				return Outcome{}, err
			}
			if ok && !e.Reachable {
				target, reason = f.Unreachable, ReasonUnavailable
			}
		}
		if target == "" {
			req.To = num
			if f.NoAnswer != "" {
				req.RingFor = f.RingFor
			}
			if len(steps) == 0 {
				if !req.explain {
					return Passed, nil
				}
				return Pass("%s", cmpOr(describe(num, f), num+" does not forward before ringing")), nil
			}
			s.charge(req)
			if !req.explain {
				return Passed, nil
			}
			return Pass("%s%s", join(steps), cmpOr(describe(num, f), num+" does not forward")), nil
		}
		next, why := nextHop(req, cfg.maxHops(), num, target)
		if next == "" {
			req.To = num
			s.charge(req)
			if !req.explain {
				return Passed, nil
			}
			return Pass("%s%s: %s rings", join(steps), why, num), nil
		}
		req.Diverted = append(req.Diverted, Diversion{From: num, Reason: reason, ExtID: f.ExtID, UserID: f.UserID})
		steps = append(steps, fmt.Sprintf("%s forwards (%s) to %s", num, reason, next))
		num = next
	}
}

// nextHop checks a forward from num to target against the chain so far: it returns target
// when the call may go there, else "" and why not (a loop, or the hop limit).
func nextHop(req *Request, maxHops int, num, target string) (string, string) {
	if len(req.Diverted) >= maxHops {
		return "", fmt.Sprintf("%s forwards to %s, but the call was forwarded %d times already (the limit)", num, target, len(req.Diverted))
	}
	if target == num || target == req.origin() {
		return "", fmt.Sprintf("loop: %s forwards to %s, where the call started", num, target)
	}
	for _, d := range req.Diverted {
		if d.From == target {
			return "", fmt.Sprintf("loop: %s forwards to %s, which forwarded the call already", num, target)
		}
	}
	if req.From != "" && target == req.callerNumber() {
		return "", fmt.Sprintf("%s forwards to %s, the caller", num, target)
	}
	return target, ""
}

// charge makes a forwarded call count as a call of the last extension that forwarded it:
// an outside target goes out under its limits and caller-ID.
func (s ForwardStage) charge(req *Request) {
	if len(req.Diverted) == 0 {
		return
	}
	if req.Caller == "" {
		req.Caller = cmpOr(req.From, "outside")
	}
	d := req.Diverted[len(req.Diverted)-1]
	req.From, req.FromExt, req.FromUser = d.From, d.ExtID, d.UserID
	req.Trunk = ""
}

// AfterRing decides where a call goes that rang extension number and was not taken (busy,
// no answer or unreachable): the forwarding target and why, or "" when the call is not
// forwarded (no setting, a loop, the hop limit). req is the call's request as routed; on a
// forward it is returned ready to be routed again (To the target, the hop recorded).
func AfterRing(ctx context.Context, fwd Forwarding, req *Request, number string, reason Reason) (string, string, error) {
	f, err := fwd.Forward(ctx, req.TenantID, number)
	if err != nil {
		return "", "", err
	}
	var target string
	switch reason {
	case ReasonBusy:
		target = f.Busy
	case ReasonNoAnswer:
		target = f.NoAnswer
	case ReasonUnavailable:
		target = f.Unreachable
	}
	if target == "" || f.DND {
		return "", number + " does not forward on " + string(reason), nil
	}
	cfg, err := fwd.ForwardConfig(ctx, req.TenantID)
	if err != nil {
		return "", "", err
	}
	next, why := nextHop(req, cfg.maxHops(), number, target)
	if next == "" {
		return "", why, nil
	}
	req.Diverted = append(req.Diverted, Diversion{From: number, Reason: reason, ExtID: f.ExtID, UserID: f.UserID})
	req.To = next
	ForwardStage{}.charge(req)
	return next, fmt.Sprintf("%s forwards (%s) to %s", number, reason, next), nil
}

// origin is the number first dialled.
func (r *Request) origin() string {
	if len(r.Diverted) > 0 {
		return r.Diverted[0].From
	}
	return r.To
}

// callerNumber is the extension that placed the call ("" from outside).
func (r *Request) callerNumber() string {
	if r.Caller != "" {
		if r.Caller == "outside" {
			return ""
		}
		return r.Caller
	}
	return r.From
}

func join(steps []string) string {
	if len(steps) == 0 {
		return ""
	}
	return strings.Join(steps, "; ") + "; "
}

// describe says what forwarding after ringing an extension has ("" for none).
func describe(num string, f Forward) string {
	var parts []string
	if f.Busy != "" {
		parts = append(parts, "on busy to "+f.Busy)
	}
	if f.NoAnswer != "" {
		ring := "the ring time-out"
		if f.RingFor > 0 {
			ring = f.RingFor.String()
		}
		parts = append(parts, "on no answer after "+ring+" to "+f.NoAnswer)
	}
	if f.Unreachable != "" {
		parts = append(parts, "when unreachable to "+f.Unreachable)
	}
	if len(parts) == 0 {
		return ""
	}
	return num + " forwards " + strings.Join(parts, ", ")
}
