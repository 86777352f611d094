package dialplan

import (
	"context"
	"strings"
)

// Caller-ID of outside calls. An outside call presents the caller's own DID when a single
// DID of the tenant routes to the caller's extension, else the tenant's main number. The
// number is withheld (CLIR) for users who chose so, and for one call when the number is
// dialled behind the suppression code (*31 by default: *310301234567). A withheld call
// still carries the caller's identity to trusted trunks (RFC 3325), which the SIP core
// sends with Privacy: id.

// DefaultCLIRCode is the feature code that withholds the caller's number for one call.
const DefaultCLIRCode = "*31"

// CLIRStage strips the suppression code from a dialled number and marks the call withheld.
type CLIRStage struct{ Code string }

var _ Stage = CLIRStage{}

// Name implements Stage.
func (CLIRStage) Name() string { return "clir" }

// Route implements Stage.
func (s CLIRStage) Route(_ context.Context, req *Request) (Outcome, error) {
	if req.Trunk != "" || req.From == "" {
		return quiet(req, "only phones withhold their number"), nil
	}
	rest, ok := strings.CutPrefix(req.To, s.Code)
	if !ok || rest == "" {
		if !req.explain {
			return Passed, nil
		}
		return Pass("%s does not start with %s", req.To, s.Code), nil
	}
	req.To, req.Withheld = rest, true
	if !req.explain {
		return Passed, nil
	}
	return Pass("%s: the caller's number is withheld on this call, %s dialled", s.Code, rest), nil
}

// callerID decides what an outside call presents and whether it is withheld.
func (s OutboundStage) callerID(ctx context.Context, req *Request, main string) (number string, withheld bool, why string, err error) {
	number, why = main, "main number"
	withheld = req.Withheld
	if s.DIDs == nil || req.Trunk != "" {
		return number, withheld, why, nil
	}
	t, err := s.DIDs.DIDTable(ctx, req.TenantID)
	if err != nil {
		return "", false, "", err
	}
	if d := t.ExtensionDID(req.From); d != "" {
		number, why = d, "own DID"
	}
	if t.Withheld(req.FromUser) {
		withheld = true
	}
	return number, withheld, why, nil
}
