package dialplan

import (
	"context"
	"strings"
	"testing"

	"github.com/privox/privox/internal/store"
)

func TestDIDTableLookup(t *testing.T) {
	tab := NewDIDTable("de", []store.DID{
		{Number: "+49305550100", Last: "+49305550100", DestKind: "extension", DestNumber: "1001"},
		{Number: "+49305550200", Last: "+49305550299", DestKind: "extension", DestNumber: "1002"},
		{Number: "+4930555030", Last: "+4930555039", DestKind: "application", DestNumber: "800"},
		{Number: "+49305550300", Last: "+49305550300", DestKind: "extension", DestNumber: "1003"},
	}, store.DIDDefault{DestKind: "extension", DestNumber: "1000"})
	for n, want := range map[string]string{
		"+49305550100": "extension 1001",
		"+49305550200": "extension 1002",
		"+49305550250": "extension 1002",
		"+49305550299": "extension 1002",
		"+4930555035":  "application 800",
		"+49305550300": "extension 1003", // a single number wins over a range
		"+49305550199": "",
		"+49305550301": "",
		"+4930555040":  "",
		"+493055502":   "",
	} {
		tg, _, ok := tab.Lookup(n)
		if got := map[bool]string{true: tg.String(), false: ""}[ok]; got != want {
			t.Errorf("%s: %q, want %q", n, got, want)
		}
	}
	if d := tab.ExtensionDID("1001"); d != "+49305550100" {
		t.Errorf("DID of 1001: %q", d)
	}
	if d := tab.ExtensionDID("1002"); d != "" {
		t.Errorf("DID of 1002 (a range only): %q", d)
	}
	if def, ok := tab.Default(); !ok || def.Number != "1000" {
		t.Errorf("default %v %v", def, ok)
	}
}

func TestNormaliseNumber(t *testing.T) {
	for in, want := range map[string]string{
		"+49301234567":           "+49301234567",
		"0049301234567":          "+49301234567",
		"0301234567":             "+49301234567",
		"49301234567":            "+49301234567",
		"+44 20 7946 0000":       "+442079460000",
		"anonymous":              "anonymous",
		"1001":                   "1001",
		strings.Repeat("9", 200): strings.Repeat("9", 200),
	} {
		if got := NormaliseNumber(in, "DE"); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestValidateDID(t *testing.T) {
	for _, c := range []struct {
		number, last, country string
		field, want           string
	}{
		{"", "", "DE", "number", "required"},
		{"030 5550100", "", "", "number", "E.164"},
		{"hello", "", "DE", "number", "not a phone number"},
		{strings.Repeat("1", 40), "", "DE", "number", "longer than 32"},
		{"+49305550200", "+493055502999", "DE", "last", "same number of digits"},
		{"+49305550299", "+49305550200", "DE", "last", "comes before"},
		{"+49305000000", "+49305999999", "DE", "last", "more than 100000"},
	} {
		_, err := ValidateDID(store.DID{Number: c.number, Last: c.last}, c.country)
		fe, ok := err.(*FieldError)
		if !ok || fe.Field != c.field || !strings.Contains(fe.Error(), c.want) {
			t.Errorf("%q-%q: %v, want %s: %s", c.number, c.last, err, c.field, c.want)
		}
	}
	d, err := ValidateDID(store.DID{Number: "030 5550200", Last: "0305550299"}, "DE")
	if err != nil || d.Number != "+49305550200" || d.Last != "+49305550299" {
		t.Errorf("range: %+v %v", d, err)
	}
}

type didTables struct{ t *DIDTable }

func (d didTables) DIDTable(context.Context, int64) (*DIDTable, error) { return d.t, nil }

// TestDIDStage: a call from a trunk is routed by its DID through the stage of the DID's
// kind; an unknown DID without a default is refused; calls from phones pass.
func TestDIDStage(t *testing.T) {
	tab := NewDIDTable("DE", []store.DID{
		{Number: "+49305550100", Last: "+49305550100", DestKind: "extension", DestNumber: "1001"},
		{Number: "+49305550101", Last: "+49305550101", DestKind: "extension", DestNumber: "1999"},
		{Number: "+49305550102", Last: "+49305550102", DestKind: "mailbox", DestNumber: "1001"},
	}, store.DIDDefault{})
	p := New(Stages(Deps{Extensions: exts{"1001": true}, DIDs: didTables{tab}})...)
	ctx := context.Background()
	for _, c := range []struct {
		trunk, to string
		status    int
		dest      string
	}{
		{"carrier", "0305550100", 0, "1001"},
		{"carrier", "+49305550100", 0, "1001"},
		{"carrier", "1001", 404, ""},         // an internal number is no DID
		{"carrier", "+49305550101", 404, ""}, // its extension is gone
		{"carrier", "+49305550102", 404, ""}, // no voicemail here
		{"carrier", "+49305559999", 404, ""},
		{"", "1001", 0, "1001"},
	} {
		d, err := p.Route(ctx, &Request{TenantID: 1, Trunk: c.trunk, To: c.to})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != c.status || c.status == 0 && (d.Dest == nil || d.Dest.Number != c.dest) {
			t.Errorf("%s %s: %+v, want %d %s\n%s", c.trunk, c.to, d, c.status, c.dest, d.Explain())
		}
		if c.trunk != "" && d.Stage != "did" {
			t.Errorf("%s: decided by %s", c.to, d.Stage)
		}
	}
}

// TestCallerID: an outside call presents the caller's own DID, else the main number; the
// number is withheld for a user with CLIR and for one call after *31, which is stripped.
func TestCallerID(t *testing.T) {
	tab, err := NewTable("DE", Policy{}, []*Route{mustRoute(t, "national", "_0[1-9]X.", 0, "", "carrier")})
	if err != nil {
		t.Fatal(err)
	}
	tab.MainNumber = "+49309999000"
	dids := NewDIDTable("DE", []store.DID{
		{Number: "+49305550101", Last: "+49305550101", DestKind: "extension", DestNumber: "1001"},
		{Number: "+49305550200", Last: "+49305550299", DestKind: "extension", DestNumber: "1002"},
	}, store.DIDDefault{})
	dids.clir = map[int64]bool{3: true}
	p := New(Stages(Deps{Extensions: exts{"1001": true}, Routes: table{tab}, DIDs: didTables{dids}})...)
	for _, c := range []struct {
		from     string
		user     int64
		to       string
		callerID string
		withheld bool
		number   string
	}{
		{"1001", 1, "0301234567", "+49305550101", false, "+49301234567"},
		{"1002", 2, "0301234567", "+49309999000", false, "+49301234567"}, // a range is no one's own DID
		{"1003", 3, "0301234567", "+49309999000", true, "+49301234567"},
		{"1001", 1, "*310301234567", "+49305550101", true, "+49301234567"},
		{"1001", 1, "*31", "", false, ""}, // nothing after the code: not an outside number
	} {
		d, err := p.Route(context.Background(), &Request{TenantID: 1, From: c.from, FromUser: c.user, To: c.to})
		if err != nil {
			t.Fatal(err)
		}
		if c.number == "" {
			if d.Status == 0 {
				t.Errorf("%s: routed %+v", c.to, d.Dest)
			}
			continue
		}
		if d.Dest == nil || d.Dest.CallerID != c.callerID || d.Dest.Anonymous != c.withheld || d.Dest.Number != c.number {
			t.Errorf("%s from %s: %+v, want %s withheld=%v\n%s", c.to, c.from, d.Dest, c.callerID, c.withheld, d.Explain())
		}
	}
}

// TestDIDFastReading: the forms providers send a DID in are read as E.164 without
// phonenumbers, and agree with NormaliseNumber.
func TestDIDFastReading(t *testing.T) {
	tab := NewDIDTable("DE", nil, store.DIDDefault{})
	for in, want := range map[string]string{
		"+49305550100":  "+49305550100",
		"0049305550100": "+49305550100",
		"49305550100":   "+49305550100",
		"0305550100":    "+49305550100",
		"1001":          "",
		"+4930x":        "",
		"":              "",
	} {
		if got := tab.fast(in); got != want {
			t.Errorf("fast(%q) = %q, want %q", in, got, want)
		}
		if want != "" && NormaliseNumber(in, "DE") != want {
			t.Errorf("NormaliseNumber(%q) = %q, fast reads %q", in, NormaliseNumber(in, "DE"), want)
		}
	}
}

func FuzzNormaliseNumber(f *testing.F) {
	for _, s := range []string{"+49301234567", "0301234567", "4930", "anonymous", "+", "00", strings.Repeat("9", 80)} {
		f.Add(s)
	}
	tab := NewDIDTable("DE", []store.DID{{Number: "+49305550200", Last: "+49305550299", DestKind: "extension", DestNumber: "1001"}}, store.DIDDefault{})
	f.Fuzz(func(t *testing.T, n string) {
		e := NormaliseNumber(n, "DE")
		// A reading adds at most a plus and a country code.
		if len(e) > len(strings.TrimSpace(n))+4 {
			t.Errorf("%q read as %q", n, e)
		}
		tab.find(n)
	})
}

// TestDIDToOutsideNumber: a DID routed to an outside number leaves through the outbound
// route that matches it, under the toll-fraud policy: an international target is refused.
func TestDIDToOutsideNumber(t *testing.T) {
	tab, err := NewTable("DE", Policy{}, []*Route{mustRoute(t, "national", "_0[1-9]X.", 0, "", "carrier"), mustRoute(t, "world", "_00X.", 0, "", "carrier")})
	if err != nil {
		t.Fatal(err)
	}
	dids := NewDIDTable("DE", []store.DID{
		{Number: "+49305550103", Last: "+49305550103", DestKind: "outbound", DestNumber: "0301234567"},
		{Number: "+49305550104", Last: "+49305550104", DestKind: "outbound", DestNumber: "00442079460000"},
	}, store.DIDDefault{})
	p := New(Stages(Deps{Extensions: exts{}, Routes: table{tab}, DIDs: didTables{dids}})...)
	d, err := p.Route(context.Background(), &Request{TenantID: 1, Trunk: "carrier", To: "+49305550103"})
	if err != nil || d.Dest == nil || d.Dest.Kind != KindOutbound || d.Dest.Number != "+49301234567" || d.Stage != "did" {
		t.Fatalf("%+v %v", d, err)
	}
	if d, _ := p.Route(context.Background(), &Request{TenantID: 1, Trunk: "carrier", To: "+49305550104"}); d.Status != 403 || d.Blocked != "international" {
		t.Errorf("international target: %+v", d)
	}
}
