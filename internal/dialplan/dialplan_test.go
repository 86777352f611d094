package dialplan

import (
	"context"
	"strings"
	"testing"

	"github.com/privox/privox/internal/call"
)

func TestPatterns(t *testing.T) {
	cases := []struct {
		pat string
		yes []string
		no  []string
	}{
		{"_0049XXXXXXX.", []string{"0049301234567", "004930123456"}, []string{"00493012345", "0048301234567", "0049X01234567"}},
		{"_0[1-9]X.", []string{"0301234567", "0891"}, []string{"0049301234567", "030", "1301234567"}},
		{"_NXXX", []string{"2000", "9999"}, []string{"1000", "20000", "200"}},
		{"_ZX!", []string{"10", "1234567"}, []string{"1", "0", "01"}},
		{"_[*#]21*X.", []string{"*21*1001", "#21*55"}, []string{"*21*", "21*1"}},
		{"112", []string{"112"}, []string{"1120", "11"}},
		{"_+X.", []string{"+49301234567"}, []string{"49301234567"}},
	}
	for _, c := range cases {
		p, err := ParsePattern(c.pat)
		if err != nil {
			t.Fatalf("%s: %v", c.pat, err)
		}
		for _, n := range c.yes {
			if !p.Match(n) {
				t.Errorf("%s should match %s", c.pat, n)
			}
		}
		for _, n := range c.no {
			if p.Match(n) {
				t.Errorf("%s should not match %s", c.pat, n)
			}
		}
	}
}

func TestPatternErrors(t *testing.T) {
	for pat, want := range map[string]string{
		"":                            "empty",
		"_":                           "nothing after _",
		"_0.X":                        "'.' may only end a pattern at position 3",
		"_.":                          "needs at least one position",
		"_0[1-":                       "unclosed [",
		"_0[]":                        "empty []",
		"_0[9-1]":                     `bad range "9-1"`,
		"_0[a]":                       `'a' is not a digit`,
		"_0Q":                         `'Q' is not a digit`,
		"0049X":                       "not a dialable character (a pattern starts with _)",
		"_" + strings.Repeat("X", 70): "longer than 64",
	} {
		_, err := ParsePattern(pat)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", pat, err, want)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		num, country, e164 string
		class              Class
	}{
		{"0301234567", "DE", "+49301234567", ClassNational},
		{"0049301234567", "DE", "+49301234567", ClassNational},
		{"+49301234567", "DE", "+49301234567", ClassNational},
		{"015112345678", "DE", "+4915112345678", ClassNational},
		{"00442079460000", "DE", "+442079460000", ClassInternational},
		{"0000", "DE", "", ClassInvalid},
		{"09001234567", "DE", "+499001234567", ClassPremium},
		{"112", "DE", "", ClassEmergency},
		{"110", "DE", "", ClassEmergency},
		{"911", "US", "", ClassEmergency},
		{"0049301234567", "GB", "+49301234567", ClassInternational},
	} {
		e, cl := Classify(c.num, c.country)
		if e != c.e164 || cl != c.class {
			t.Errorf("%s in %s: %q %s, want %q %s", c.num, c.country, e, cl, c.e164, c.class)
		}
	}
}

// exts and apps are in-memory resolvers of the kind the SIP core and the attendant provide.
type exts map[string]bool

func (e exts) Extension(_ context.Context, _ int64, n string) (Extension, bool, error) {
	r, ok := e[n]
	return Extension{Number: n, Reachable: r}, ok, nil
}

type apps map[string]string

func (a apps) RouteApp(_ context.Context, _ int64, n string) (call.Route, bool, error) {
	m, ok := a[n]
	return call.Route{App: "attendant", Arg: m}, ok, nil
}

type table struct{ t *Table }

func (t table) Table(context.Context, int64) (*Table, error) { return t.t, nil }

func mustRoute(t *testing.T, name, pat string, strip int, prepend string, trunks ...string) *Route {
	p, err := ParsePattern(pat)
	if err != nil {
		t.Fatal(err)
	}
	return &Route{Name: name, Pattern: p, Strip: strip, Prepend: prepend, E164: true, Trunks: trunks}
}

func TestPlan(t *testing.T) {
	tab, err := NewTable("de", Policy{}, []*Route{
		mustRoute(t, "intl", "_00X.", 0, "", "carrier"),
		mustRoute(t, "national", "_0[1-9]X.", 0, "", "carrier", "backup"),
		mustRoute(t, "emergency", "_11[02]", 0, "", "carrier"),
		mustRoute(t, "prefixed", "_9X.", 1, "0", "backup"),
	})
	if err != nil {
		t.Fatal(err)
	}
	var blocked []string
	p := New(Stages(Deps{Extensions: exts{"1001": true, "1002": false}, Applications: apps{"800": "main"}, Routes: table{tab},
		Blocked: func(_ context.Context, _ *Request, d *Decision) { blocked = append(blocked, d.Blocked) }})...)
	if got := strings.Join(p.Stages(), ","); got != "extension,application,clir,outbound" {
		t.Fatalf("stages %s", got)
	}
	for _, c := range []struct {
		to, stage string
		kind      Kind
		status    int
		number    string
		trunks    string
	}{
		{"1001", "extension", KindExtension, 0, "1001", ""},
		{"1002", "extension", "", 480, "", ""},
		{"800", "application", KindApplication, 0, "800", ""},
		{"0301234567", "outbound", KindOutbound, 0, "+49301234567", "carrier,backup"},
		{"0049301234567", "intl" + "", KindOutbound, 0, "+49301234567", "carrier"},
		{"00442079460000", "outbound", "", 403, "", ""},
		{"09001234567", "outbound", "", 403, "", ""},
		{"112", "outbound", KindOutbound, 0, "112", "carrier"},
		{"9301234567", "outbound", KindOutbound, 0, "+49301234567", "backup"},
		{"5555", "end", "", 404, "", ""},
		{"0000000", "outbound", "", 484, "", ""},
		{strings.Repeat("1", 200), "input", "", 484, "", ""},
	} {
		d, err := p.Route(context.Background(), &Request{TenantID: 1, From: "1001", To: c.to})
		if err != nil {
			t.Fatal(err)
		}
		stage := c.stage
		if stage == "intl" {
			stage = "outbound"
			if d.Dest == nil || d.Dest.Route != "intl" {
				t.Errorf("%s: route %+v, want intl (first match wins)", c.to, d.Dest)
			}
		}
		if d.Stage != stage || d.Status != c.status {
			t.Errorf("%s: stage %s status %d, want %s %d\n%s", c.to, d.Stage, d.Status, stage, c.status, d.Explain())
			continue
		}
		if c.kind != "" && (d.Dest == nil || d.Dest.Kind != c.kind || d.Dest.Number != c.number || strings.Join(d.Dest.Trunks, ",") != c.trunks) {
			t.Errorf("%s: destination %+v", c.to, d.Dest)
		}
		if last := d.Trace[len(d.Trace)-1]; !last.Decided || last.Stage != d.Stage {
			t.Errorf("%s: trace %+v", c.to, d.Trace)
		}
	}
	if strings.Join(blocked, ",") != "international,premium" {
		t.Errorf("blocked reports %v", blocked)
	}
	// Explaining reports nothing; the tenant allowing international calls lets them out.
	d, _ := p.Route(Explaining(context.Background()), &Request{TenantID: 1, From: "1001", To: "00442079460000"})
	if d.Status != 403 || d.Blocked != "international" || len(blocked) != 2 {
		t.Errorf("explain: %+v, reports %v", d, blocked)
	}
	if !strings.Contains(d.Explain(), "international destinations are not allowed") || strings.Contains(d.Why, "2079460000") {
		t.Errorf("explanation:\n%s", d.Explain())
	}
	tab.Policy.International = true
	d, _ = p.Route(context.Background(), &Request{TenantID: 1, From: "1001", To: "00442079460000"})
	if d.Dest == nil || d.Dest.Class != ClassInternational || d.Dest.Number != "+442079460000" {
		t.Errorf("allowed international: %+v", d)
	}
	// A call from outside never leaves through a route.
	d, _ = p.Route(context.Background(), &Request{TenantID: 1, To: "0301234567"})
	if d.Status != 404 {
		t.Errorf("from outside: %+v", d)
	}
}

// TestRouteOrder: the first route in table order wins, whatever prefix it is filed under.
func TestRouteOrder(t *testing.T) {
	for _, c := range []struct {
		pats []string
		want string
	}{
		{[]string{"_0X.", "_030X."}, "_0X."},
		{[]string{"_030X.", "_0X."}, "_030X."},
		{[]string{"_03[01]X.", "_030X.", "_X."}, "_03[01]X."},
		{[]string{"_0301X.", "_X.", "_030X."}, "_0301X."},
		{[]string{"_0302X.", "_X.", "_030X."}, "_X."},
		{[]string{"0301234567", "_X."}, "0301234567"},
	} {
		var rs []*Route
		for _, p := range c.pats {
			rs = append(rs, mustRoute(t, p, p, 0, "", "c"))
		}
		tab, err := NewTable("DE", Policy{}, rs)
		if err != nil {
			t.Fatal(err)
		}
		if r := tab.Match("0301234567"); r == nil || r.Name != c.want {
			t.Errorf("%v: %+v, want %s", c.pats, r, c.want)
		}
	}
}
