package dialplan

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/privox/privox/internal/store"
)

// fwds is a Forwarding over a map.
type fwds struct {
	m   map[string]Forward
	cfg ForwardConfig
}

func (f fwds) Forward(_ context.Context, _ int64, n string) (Forward, error) { return f.m[n], nil }
func (f fwds) ForwardConfig(context.Context, int64) (ForwardConfig, error) {
	if f.cfg.Codes == (Codes{}) {
		f.cfg.Codes = DefaultCodes
	}
	return f.cfg, nil
}

func forwardPlan(t *testing.T, f fwds) *Plan {
	t.Helper()
	tab, err := NewTable("de", Policy{}, []*Route{mustRoute(t, "national", "_0[1-9]X.", 0, "", "carrier")})
	if err != nil {
		t.Fatal(err)
	}
	return New(Stages(Deps{Extensions: exts{"1001": true, "1002": true, "1003": true, "1004": false, "1005": true, "1006": true, "1007": true},
		Applications: apps{"800": "main"}, Routes: table{tab}, Forwards: f, Guard: NewGuard(suspensions{})})...)
}

func TestForwardStage(t *testing.T) {
	f := fwds{m: map[string]Forward{
		"1002": {ExtID: 2, Always: "1003"},
		"1003": {ExtID: 3, Always: "800"}, // to a menu
		"1004": {ExtID: 4, Unreachable: "1005"},
		"1005": {ExtID: 5, DND: true},
		"1006": {ExtID: 6, UserID: 66, Always: "0301234567"}, // to an outside number
		"1007": {ExtID: 7, Busy: "1001", NoAnswer: "1003", RingFor: 12 * time.Second},
	}}
	p := forwardPlan(t, f)
	if got := strings.Join(p.Stages(), ","); got != "feature,forward,extension,application,clir,outbound" {
		t.Fatalf("stages %s", got)
	}
	for _, c := range []struct {
		to, stage string
		kind      Kind
		status    int
		number    string
		hops      string
	}{
		{"1002", "application", KindApplication, 0, "800", "1002:unconditional,1003:unconditional"},
		{"1004", "forward", "", 486, "", "1004:unavailable"}, // unreachable → 1005, on DND
		{"1005", "forward", "", 486, "", ""},
		{"1006", "outbound", KindOutbound, 0, "+49301234567", "1006:unconditional"},
		{"1007", "extension", KindExtension, 0, "1007", ""},
		{"1001", "extension", KindExtension, 0, "1001", ""},
	} {
		d, err := p.Route(context.Background(), &Request{TenantID: 1, From: "1001", FromExt: 1, To: c.to})
		if err != nil {
			t.Fatal(err)
		}
		if d.Stage != c.stage || d.Status != c.status {
			t.Errorf("%s: stage %s status %d, want %s %d\n%s", c.to, d.Stage, d.Status, c.stage, c.status, d.Explain())
			continue
		}
		if c.kind != "" && (d.Dest == nil || d.Dest.Kind != c.kind || d.Dest.Number != c.number) {
			t.Errorf("%s: destination %+v", c.to, d.Dest)
		}
		var hops []string
		for _, h := range d.Diverted {
			hops = append(hops, h.From+":"+string(h.Reason))
		}
		if strings.Join(hops, ",") != c.hops {
			t.Errorf("%s: hops %v, want %s\n%s", c.to, hops, c.hops, d.Explain())
		}
	}
	// DND names the box that may take the call; the no-answer ring time reaches the
	// destination; the outside target counts for the forwarding extension.
	d, _ := p.Route(context.Background(), &Request{TenantID: 1, From: "1001", To: "1005"})
	if d.Mailbox != "1005" || !strings.Contains(d.Explain(), "do-not-disturb") {
		t.Errorf("DND: %+v\n%s", d, d.Explain())
	}
	d, _ = p.Route(Explaining(context.Background()), // the trace in full
		&Request{TenantID: 1, From: "1001", To: "1007"})
	if d.Dest.RingFor != 12*time.Second || !strings.Contains(d.Explain(), "on no answer after 12s to 1003") {
		t.Errorf("ring time: %+v\n%s", d.Dest, d.Explain())
	}
	req := &Request{TenantID: 1, From: "1001", FromExt: 1, FromUser: 11, To: "1006"}
	d, _ = p.Route(context.Background(), req)
	if req.From != "1006" || req.FromExt != 6 || req.FromUser != 66 || req.Caller != "1001" || d.Dest.Done == nil {
		t.Errorf("outside target counted for %+v", req)
	}
	d.Dest.Done(0)
	// A call from outside may be forwarded out again: it counts as the extension's.
	d, _ = p.Route(context.Background(), &Request{TenantID: 1, To: "1006"})
	if d.Dest == nil || d.Dest.Kind != KindOutbound {
		t.Errorf("outside caller forwarded out: %+v\n%s", d, d.Explain())
	} else {
		d.Dest.Done(0)
	}
}

// TestForwardLoops: a chain that comes back ends at its last valid target, one that is too
// long where the limit is reached; both say so in the trace.
func TestForwardLoops(t *testing.T) {
	f := fwds{m: map[string]Forward{
		"1001": {Always: "1002"},
		"1002": {Always: "1003"},
		"1003": {Always: "1001"},
		"1005": {Always: "1005"},
	}}
	p := forwardPlan(t, f)
	d, err := p.Route(Explaining(context.Background()), &Request{TenantID: 1, From: "1007", To: "1001"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Dest == nil || d.Dest.Number != "1003" || len(d.Diverted) != 2 || !strings.Contains(d.Explain(), "loop: 1003 forwards to 1001, where the call started") {
		t.Errorf("loop A→B→C→A: %+v\n%s", d.Dest, d.Explain())
	}
	d, _ = p.Route(context.Background(), &Request{TenantID: 1, From: "1007", To: "1005"})
	if d.Dest == nil || d.Dest.Number != "1005" || len(d.Diverted) != 0 {
		t.Errorf("self-forward: %+v\n%s", d.Dest, d.Explain())
	}
	// A chain longer than the limit.
	long := fwds{m: map[string]Forward{}, cfg: ForwardConfig{MaxHops: 2}}
	for _, n := range []string{"1001", "1002", "1003", "1004", "1005"} {
		long.m[n] = Forward{Always: string(rune(n[0])) + n[1:3] + string(rune(n[3]+1))}
	}
	p = forwardPlan(t, long)
	d, _ = p.Route(Explaining(context.Background()), &Request{TenantID: 1, From: "1007", To: "1001"})
	if d.Dest == nil || d.Dest.Number != "1003" || len(d.Diverted) != 2 || !strings.Contains(d.Explain(), "forwarded 2 times already (the limit)") {
		t.Errorf("hop limit: %+v\n%s", d.Dest, d.Explain())
	}
	// After ringing: busy at 1003 forwarding back into the chain is refused.
	req := &Request{TenantID: 1, From: "1007", To: "1003", Diverted: []Diversion{{From: "1001"}, {From: "1002"}}}
	back := fwds{m: map[string]Forward{"1003": {Busy: "1002", NoAnswer: "1006"}}}
	if n, why, _ := AfterRing(context.Background(), back, req, "1003", ReasonBusy); n != "" || !strings.Contains(why, "loop") {
		t.Errorf("busy forward back into the chain: %q %q", n, why)
	}
	if n, _, _ := AfterRing(context.Background(), back, req, "1003", ReasonNoAnswer); n != "1006" || req.To != "1006" || len(req.Diverted) != 3 || req.From != "1003" {
		t.Errorf("no-answer forward: %q %+v", n, req)
	}
	if n, _, _ := AfterRing(context.Background(), back, &Request{TenantID: 1, To: "1003"}, "1003", ReasonUnavailable); n != "" {
		t.Errorf("unreachable forward without a setting: %q", n)
	}
}

func TestFeatureCodes(t *testing.T) {
	p := forwardPlan(t, fwds{})
	for _, c := range []struct {
		to, arg string
		status  int
	}{
		{"*21*1003#", "always=1003", 0},
		{"*211003", "always=1003", 0},
		{"#21", "always=", 0},
		{"#21#", "always=", 0},
		{"%2321%23", "always=", 0},
		{"*67*1003", "busy=1003", 0},
		{"#67", "busy=", 0},
		{"*61*1003*15#", "no_answer=1003/15", 0},
		{"*611003", "no_answer=1003/20", 0},
		{"#61", "no_answer=/0", 0},
		{"*62*0301234567#", "unreachable=0301234567", 0},
		{"#62", "unreachable=", 0},
		{"*78", "dnd=true", 0},
		{"*79", "dnd=false", 0},
		{"*21", "", 484},
		{"*21*10a3#", "", 484},
		{"*61*1003*999#", "", 484},
		{"*21*1001#", "", 484}, // the caller itself
	} {
		d, err := p.Route(context.Background(), &Request{TenantID: 1, From: "1001", FromExt: 1, To: c.to})
		if err != nil {
			t.Fatal(err)
		}
		if d.Stage != "feature" || d.Status != c.status {
			t.Errorf("%s: stage %s status %d, want feature %d\n%s", c.to, d.Stage, d.Status, c.status, d.Explain())
			continue
		}
		if c.status == 0 && (d.Dest.App != FeatureApp || d.Dest.Arg != c.arg) {
			t.Errorf("%s: %+v, want %s", c.to, d.Dest, c.arg)
		}
		if c.status == 0 {
			if _, err := ParseChange(d.Dest.Arg); err != nil {
				t.Errorf("%s: %v", c.to, err)
			}
		}
	}
	// Not from a phone: no feature code.
	d, _ := p.Route(context.Background(), &Request{TenantID: 1, To: "*78"})
	if d.Stage == "feature" {
		t.Errorf("feature code from outside: %+v", d)
	}
	// A tenant's own codes.
	c, err := ParseCodes("always=*72,dnd_on=*70")
	if err != nil || c.Always != "*72" || c.DNDOn != "*70" || c.Busy != "*67" {
		t.Fatalf("codes %+v %v", c, err)
	}
	if ch, ok, _ := c.Recognise("*72*1003#"); !ok || ch.Target != "1003" {
		t.Errorf("own code: %+v %v", ch, ok)
	}
	if _, ok, _ := c.Recognise("*21*1003#"); ok {
		t.Error("the default code still works after the tenant chose another")
	}
	for _, bad := range []string{"always=21", "always=*67", "nope=*1", "always=*31", "always=*12345"} {
		if _, err := ParseCodes(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
	if again, err := ParseCodes(DefaultCodes.String()); err != nil || again != DefaultCodes {
		t.Errorf("round trip: %+v %v", again, err)
	}
}

// TestForwardFromDID: a call from a trunk to the DID of a forwarding extension follows the
// forward, out again to an outside number as the extension's call; to an extension on DND
// it names the box.
func TestForwardFromDID(t *testing.T) {
	tab, err := NewTable("de", Policy{}, []*Route{mustRoute(t, "national", "_0[1-9]X.", 0, "", "carrier")})
	if err != nil {
		t.Fatal(err)
	}
	dids := NewDIDTable("DE", []store.DID{
		{Number: "+49305550100", Last: "+49305550100", DestKind: "extension", DestNumber: "1001"},
		{Number: "+49305550101", Last: "+49305550101", DestKind: "extension", DestNumber: "1002"},
		{Number: "+49305550102", Last: "+49305550102", DestKind: "extension", DestNumber: "1003"},
	}, store.DIDDefault{})
	f := fwds{m: map[string]Forward{"1001": {ExtID: 1, Always: "0301234567"}, "1002": {ExtID: 2, DND: true}}}
	p := New(Stages(Deps{Extensions: exts{"1001": true, "1002": true, "1003": true}, Routes: table{tab}, DIDs: didTables{dids}, Forwards: f,
		Guard: NewGuard(suspensions{})})...)
	d, _ := p.Route(context.Background(), &Request{TenantID: 1, Trunk: "carrier", To: "+49305550100"})
	if d.Dest == nil || d.Dest.Kind != KindOutbound || len(d.Diverted) != 1 || d.Diverted[0].From != "1001" {
		t.Fatalf("DID of a forwarding extension: %+v\n%s", d, d.Explain())
	}
	d.Dest.Done(0)
	d, _ = p.Route(context.Background(), &Request{TenantID: 1, Trunk: "carrier", To: "+49305550101"})
	if d.Status != 486 || d.Mailbox != "1002" {
		t.Errorf("DID of an extension on DND: %+v\n%s", d, d.Explain())
	}
	d, _ = p.Route(context.Background(), &Request{TenantID: 1, Trunk: "carrier", To: "+49305550102"})
	if d.Stage != "did" || d.Dest == nil || d.Dest.Number != "1003" {
		t.Errorf("DID of an extension that does not forward: %+v\n%s", d, d.Explain())
	}
}
