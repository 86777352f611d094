package dialplan

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/call"
)

// Feature codes set forwarding and do-not-disturb from the phone. Each forwarding condition
// has a code that sets it, followed by the target (with or without a * between, and an
// optional closing #), and the same code with # for * clears it; do-not-disturb has a code
// to switch it on and one to switch it off. The defaults:
//
//	*21<n>  *21*<n>#  unconditional forwarding to n     #21  clear
//	*67<n>            forwarding on busy to n           #67  clear
//	*61<n>  *61*<n>*<s>#  on no answer to n (after s seconds ringing, default 20)  #61  clear
//	*62<n>            forwarding when unreachable to n  #62  clear
//	*78               do-not-disturb on                 *79  off
//
// A tenant may choose other codes (Codes, stored as "always=*21,busy=*67,..."). The dial
// plan recognises a code (FeatureStage) and routes the call to the feature application
// (FeatureApp), which changes the setting, audits the change and confirms it with a tone
// and a short prompt.

// Codes are a tenant's feature codes; each starts with '*'.
type Codes struct {
	Always, Busy, NoAnswer, Unreachable, DNDOn, DNDOff string
}

// DefaultCodes are the codes of a tenant that chose none.
var DefaultCodes = Codes{Always: "*21", Busy: "*67", NoAnswer: "*61", Unreachable: "*62", DNDOn: "*78", DNDOff: "*79"}

// DefaultNoAnswerRing is the ring time of no-answer forwarding set without one.
const DefaultNoAnswerRing = 20 * time.Second

// MaxForwardRing bounds a no-answer ring time.
const MaxForwardRing = 300 * time.Second

// FeatureApp is the registered name of the feature application.
const FeatureApp = "feature"

func (c *Codes) fields() []struct {
	name string
	p    *string
} {
	return []struct {
		name string
		p    *string
	}{{"always", &c.Always}, {"busy", &c.Busy}, {"no_answer", &c.NoAnswer}, {"unreachable", &c.Unreachable}, {"dnd_on", &c.DNDOn}, {"dnd_off", &c.DNDOff}}
}

// String renders the codes as they are stored.
func (c Codes) String() string {
	var parts []string
	for _, f := range c.fields() {
		parts = append(parts, f.name+"="+*f.p)
	}
	return strings.Join(parts, ",")
}

// ParseCodes reads stored codes; names left out keep their default. It rejects a code that
// is not '*' and 1 to 4 digits, and two conditions sharing a code.
func ParseCodes(s string) (Codes, error) {
	c := DefaultCodes
	fs := c.fields()
	if strings.TrimSpace(s) != "" {
		for _, kv := range strings.Split(s, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			found := false
			for _, f := range fs {
				if ok && f.name == k {
					*f.p, found = strings.TrimSpace(v), true
				}
			}
			if !found {
				return c, fieldErr("codes", "%q: want name=code, names always, busy, no_answer, unreachable, dnd_on, dnd_off", kv)
			}
		}
	}
	seen := map[string]string{}
	for _, f := range fs {
		v := *f.p
		if len(v) < 2 || len(v) > 5 || v[0] != '*' || strings.Trim(v[1:], "0123456789") != "" {
			return c, fieldErr("codes", "%s=%q: a code is '*' and 1 to 4 digits", f.name, v)
		}
		if v == DefaultCLIRCode {
			return c, fieldErr("codes", "%s=%q: the code that withholds the caller's number", f.name, v)
		}
		if o, dup := seen[v]; dup {
			return c, fieldErr("codes", "%s and %s share the code %s", o, f.name, v)
		}
		seen[v] = f.name
	}
	return c, nil
}

// MaxTarget bounds a forwarding target's length.
const MaxTarget = 32

// ValidTarget checks a forwarding target: digits, optionally a leading +.
func ValidTarget(t string) error {
	d := strings.TrimPrefix(t, "+")
	if d == "" || len(t) > MaxTarget || strings.Trim(d, "0123456789") != "" {
		return fmt.Errorf("%q: a number of 1 to %d digits, optionally with a leading +", t, MaxTarget)
	}
	return nil
}

// Change is one change a feature code makes: Field is always, busy, no_answer, unreachable
// or dnd; Target the new target ("" clears it); Ring the no-answer ring time; DND the new
// do-not-disturb state.
type Change struct {
	Field  string
	Target string
	Ring   time.Duration
	DND    bool
}

// Arg renders the change as the feature application's argument.
func (c Change) Arg() string {
	switch c.Field {
	case "dnd":
		return "dnd=" + strconv.FormatBool(c.DND)
	case "no_answer":
		return fmt.Sprintf("no_answer=%s/%d", c.Target, int(c.Ring/time.Second))
	}
	return c.Field + "=" + c.Target
}

// ParseChange reads a feature application's argument.
func ParseChange(arg string) (Change, error) {
	k, v, ok := strings.Cut(arg, "=")
	if !ok {
		return Change{}, fmt.Errorf("dialplan: feature argument %q", arg)
	}
	c := Change{Field: k}
	switch k {
	case "dnd":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("dialplan: feature argument %q", arg)
		}
		c.DND = b
	case "no_answer":
		t, s, _ := strings.Cut(v, "/")
		n, _ := strconv.Atoi(s)
		c.Target, c.Ring = t, time.Duration(n)*time.Second
	case "always", "busy", "unreachable":
		c.Target = v
	default:
		return c, fmt.Errorf("dialplan: feature argument %q", arg)
	}
	if c.Target != "" {
		if err := ValidTarget(c.Target); err != nil {
			return c, fmt.Errorf("dialplan: feature argument: %w", err)
		}
	}
	return c, nil
}

// Recognise reads a dialled number as a feature code: the change it asks for, whether it is
// one, and an error for a code with a malformed number behind it.
func (c Codes) Recognise(dialled string) (Change, bool, error) {
	d := strings.TrimSuffix(dialled, "#")
	switch d {
	case c.DNDOn:
		return Change{Field: "dnd", DND: true}, true, nil
	case c.DNDOff:
		return Change{Field: "dnd"}, true, nil
	}
	for _, f := range []struct{ field, code string }{{"always", c.Always}, {"busy", c.Busy}, {"no_answer", c.NoAnswer}, {"unreachable", c.Unreachable}} {
		if d == "#"+f.code[1:] {
			return Change{Field: f.field}, true, nil
		}
		rest, ok := strings.CutPrefix(d, f.code)
		if !ok {
			continue
		}
		rest = strings.TrimPrefix(rest, "*")
		ch := Change{Field: f.field, Target: rest}
		if f.field == "no_answer" {
			ch.Ring = DefaultNoAnswerRing
			if t, s, ok := strings.Cut(rest, "*"); ok {
				n, err := strconv.Atoi(s)
				if err != nil || n < 1 || time.Duration(n)*time.Second > MaxForwardRing {
					return ch, true, fmt.Errorf("ring time %q: 1 to %d seconds", s, int(MaxForwardRing/time.Second))
				}
				ch.Target, ch.Ring = t, time.Duration(n)*time.Second
			}
		}
		if err := ValidTarget(ch.Target); err != nil {
			return ch, true, err
		}
		return ch, true, nil
	}
	return Change{}, false, nil
}

// Describe says what the change does, for traces and the audit log.
func (c Change) Describe() string {
	what := map[string]string{"always": "unconditional forwarding", "busy": "forwarding on busy", "no_answer": "forwarding on no answer",
		"unreachable": "forwarding when unreachable"}[c.Field]
	switch {
	case c.Field == "dnd" && c.DND:
		return "do-not-disturb on"
	case c.Field == "dnd":
		return "do-not-disturb off"
	case c.Target == "":
		return what + " cleared"
	case c.Field == "no_answer":
		return fmt.Sprintf("%s to %s after %s", what, c.Target, c.Ring)
	}
	return what + " to " + c.Target
}

// FeatureStage recognises the tenant's feature codes dialled from a phone.
type FeatureStage struct{ Fwd Forwarding }

var _ Stage = FeatureStage{}

// Name implements Stage.
func (FeatureStage) Name() string { return "feature" }

// Route implements Stage.
func (s FeatureStage) Route(ctx context.Context, req *Request) (Outcome, error) {
	// Phones send the # of a code escaped in the Request-URI (%23).
	to := strings.ReplaceAll(req.To, "%23", "#")
	if req.From == "" || req.Trunk != "" || len(to) < 2 || (to[0] != '*' && to[0] != '#') {
		return quiet(req, "not a feature code from a phone"), nil
	}
	cfg, err := s.Fwd.ForwardConfig(ctx, req.TenantID)
	if err != nil {
		return Outcome{}, err
	}
	ch, ok, err := cfg.Codes.Recognise(to)
	if !ok {
		if !req.explain {
			return Passed, nil
		}
		return Pass("%s is no feature code", req.To), nil
	}
	if err != nil {
		return Reject(484, "Address Incomplete", "feature code %s: %v", req.To, err), nil
	}
	if ch.Target == req.From {
		return Reject(484, "Address Incomplete", "feature code %s: %s cannot forward to itself", req.To, req.From), nil
	}
	return To(Destination{Kind: KindApplication, Number: req.To, App: FeatureApp, Arg: ch.Arg()},
		"feature code: %s for %s", ch.Describe(), req.From), nil
}

// Applier changes an extension's setting as a feature code asks, and audits the change.
type Applier interface {
	ApplyFeature(ctx context.Context, tenantID int64, extension string, ch Change) error
}

// Sounds gives prompts by name (the prompt library).
type Sounds interface {
	Sound(ctx context.Context, tenantID int64, lang string, names ...string) (audio.Sound, error)
}

// Feature is the feature application: it answers, applies the change and confirms it with
// a beep and "thank you" (or the busy tone when the change failed), then hangs up.
type Feature struct {
	Apply   Applier
	Prompts Sounds // nil: the beep alone
	// Lang is the language of a tenant's prompts (nil: English).
	Lang func(ctx context.Context, tenantID int64) string
}

var _ call.App = (*Feature)(nil)

// Run implements call.App.
func (f *Feature) Run(ctx context.Context, h *call.Handle, arg string) error {
	info := h.Info()
	if err := h.Answer(ctx); err != nil {
		return err
	}
	tones := audio.Tones("")
	ch, err := ParseChange(arg)
	if err == nil {
		err = f.Apply.ApplyFeature(ctx, info.TenantID, info.Caller, ch)
	}
	if err != nil {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_ = h.PlayTone(pctx, tones.Busy)
		cancel()
		h.Hangup()
		return fmt.Errorf("dialplan: feature code: %w", err)
	}
	sounds := []audio.Sound{tones.Beep}
	if f.Prompts != nil {
		lang := "en"
		if f.Lang != nil {
			lang = f.Lang(ctx, info.TenantID)
		}
		if p, err := f.Prompts.Sound(ctx, info.TenantID, lang, "thank-you"); err == nil {
			sounds = append(sounds, p)
		}
	}
	_ = h.Play(ctx, sounds...)
	h.Hangup()
	return nil
}
