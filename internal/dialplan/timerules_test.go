package dialplan

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/privox/privox/internal/call"
	"github.com/privox/privox/internal/store"
)

// officeHours is a calendar for tests: open on weekdays from 08:00 to 17:00 in its zone.
type officeHours struct{ loc *time.Location }

func (h officeHours) Local(t time.Time) time.Time { return t.In(h.loc) }

func (h officeHours) Open(t time.Time) bool {
	l := t.In(h.loc)
	return l.Weekday() != time.Saturday && l.Weekday() != time.Sunday && l.Hour() >= 8 && l.Hour() < 17
}

type boxes map[string]bool

func (b boxes) Mailbox(_ context.Context, _ int64, n string) (call.Route, bool, error) {
	return call.Route{App: "voicemail", Arg: n}, b[n], nil
}

func berlin(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestTimeStage: a DID whose calendar is open goes to its own destination, one whose
// calendar is closed to its out-of-hours destination, and the trace says which calendar
// decided and when; a DID naming a calendar that no longer exists counts as open, a DID
// without a rule and a call from a phone are left alone.
func TestTimeStage(t *testing.T) {
	loc := berlin(t)
	tab := NewDIDTable("DE", []store.DID{
		{Number: "+49305550100", Last: "+49305550100", DestKind: "extension", DestNumber: "1001", Calendar: "office", ClosedKind: "mailbox", ClosedNumber: "1001"},
		{Number: "+49305550200", Last: "+49305550299", DestKind: "extension", DestNumber: "1002", Calendar: "office", ClosedKind: "extension", ClosedNumber: "1003"},
		{Number: "+49305550300", Last: "+49305550300", DestKind: "extension", DestNumber: "1001", Calendar: "gone", ClosedKind: "mailbox", ClosedNumber: "1001"},
		{Number: "+49305550400", Last: "+49305550400", DestKind: "extension", DestNumber: "1002"},
	}, store.DIDDefault{})
	tab.hours = map[string]Hours{"office": officeHours{loc}}
	var now time.Time
	p := New(Stages(Deps{Extensions: exts{"1001": true, "1002": true, "1003": true}, Mailboxes: boxes{"1001": true},
		DIDs: didTables{tab}, Now: func() time.Time { return now }})...)
	monday := time.Date(2026, 12, 7, 10, 14, 0, 0, loc)
	saturday := time.Date(2026, 12, 5, 10, 14, 0, 0, loc)
	for _, c := range []struct {
		at        time.Time
		trunk, to string
		kind      Kind
		dest      string
		time      string // in the time stage's line of the trace
		did       string // in the DID stage's line
	}{
		{monday, "carrier", "0305550100", KindExtension, "1001", "calendar office is open (Mon 10:14 Europe/Berlin): its own destination extension 1001", "goes to extension 1001"},
		{saturday, "carrier", "0305550100", KindMailbox, "1001", "calendar office is closed (Sat 10:14 Europe/Berlin): out of hours to mailbox 1001", "goes out of hours to mailbox 1001"},
		{monday.Add(7 * time.Hour), "carrier", "+49305550250", KindExtension, "1003", "DID range +49305550200-+49305550299: calendar office is closed (Mon 17:14 Europe/Berlin)", "goes out of hours to extension 1003"},
		{monday.Add(-3 * time.Hour), "carrier", "+49305550250", KindExtension, "1003", "calendar office is closed (Mon 07:14 Europe/Berlin)", "out of hours"},
		{saturday, "carrier", "+49305550300", KindExtension, "1001", "calendar gone does not exist, so it counts as open", "goes to extension 1001"},
		{saturday, "carrier", "+49305550400", KindExtension, "1002", "no time rule for DID +49305550400", "goes to extension 1002"},
		{saturday, "", "1001", KindExtension, "1001", "not a call from a trunk", ""},
	} {
		now = c.at.UTC()                                                                                     // the clock's zone does not matter, the calendar's does
		d, err := p.Route(Explaining(context.Background()), &Request{TenantID: 1, Trunk: c.trunk, To: c.to}) // the trace in full
		if err != nil {
			t.Fatal(err)
		}
		if d.Dest == nil || d.Dest.Kind != c.kind || d.Dest.Number != c.dest {
			t.Errorf("%s at %s: %+v, want %s %s\n%s", c.to, c.at, d, c.kind, c.dest, d.Explain())
			continue
		}
		var timeWhy, didWhy string
		for _, st := range d.Trace {
			switch st.Stage {
			case "time":
				timeWhy = st.Why
			case "did":
				didWhy = st.Why
			}
		}
		if !strings.Contains(timeWhy, c.time) || !strings.Contains(didWhy, c.did) {
			t.Errorf("%s at %s: trace\n%s\nwant %q and %q", c.to, c.at, d.Explain(), c.time, c.did)
		}
	}
	if got := strings.Join(p.Stages(), ","); got != "time,did,extension,mailbox" {
		t.Errorf("stages %s", got)
	}
}

// TestUnusualHours: with a calendar for outside calls, an outside call dialled at an
// extension while the calendar is closed is refused with 403 and reported as unusual-hours
// (not when only explained), and counts for no limit; in hours, an emergency number, a
// forwarded call and a DID's call sent out again pass, and so does every call while the
// calendar does not exist.
func TestUnusualHours(t *testing.T) {
	loc := berlin(t)
	tab, err := NewTable("DE", Policy{}, []*Route{mustRoute(t, "national", "_0[1-9]X.", 0, "", "carrier"), mustRoute(t, "emergency", "_11[02]", 0, "", "carrier")})
	if err != nil {
		t.Fatal(err)
	}
	tab.Limits = Limits{OutsideCalendar: "office", OutsideHours: officeHours{loc}}
	g := NewGuard(suspensions{})
	now := time.Date(2026, 12, 5, 2, 30, 0, 0, loc) // Saturday night
	g.now = func() time.Time { return now }
	var blocked []*Decision
	p := New(Stages(Deps{Extensions: exts{}, Routes: table{tab}, Guard: g,
		Blocked: func(_ context.Context, _ *Request, d *Decision) { blocked = append(blocked, d) }})...)
	route := func(ctx context.Context, req Request) *Decision {
		t.Helper()
		d, err := p.Route(ctx, &req)
		if err != nil {
			t.Fatal(err)
		}
		if d.Dest != nil && d.Dest.Done != nil {
			d.Dest.Done(0)
		}
		return d
	}
	phone := Request{TenantID: 1, From: "1001", FromExt: 7, To: "0301234567"}

	d := route(context.Background(), phone)
	if d.Status != 403 || d.Blocked != BlockUnusual || d.Stage != "outbound" ||
		!strings.Contains(d.Why, "calendar office is closed (Sat 02:30 Europe/Berlin): outside calls from 1001 are refused") {
		t.Fatalf("at night: %+v\n%s", d, d.Explain())
	}
	if len(blocked) != 1 || blocked[0].Blocked != BlockUnusual || blocked[0].Stage != "outbound" {
		t.Fatalf("reported: %+v", blocked)
	}
	if d := route(Explaining(context.Background()), phone); d.Blocked != BlockUnusual || len(blocked) != 1 {
		t.Errorf("explained: %+v, reported %d", d, len(blocked))
	}
	if g.Active(1, "1001") != 0 {
		t.Errorf("a refused call counts: %d active", g.Active(1, "1001"))
	}
	passes := func(what string, req Request, why string) {
		t.Helper()
		ctx := context.Background()
		if why != "" {
			ctx = Explaining(ctx) // the reasons of a call are spelt out for people only
		}
		d := route(ctx, req)
		if d.Dest == nil || d.Dest.Kind != KindOutbound || !strings.Contains(d.Why, why) {
			t.Errorf("%s: %+v\n%s", what, d, d.Explain())
		}
	}
	emergency := phone
	emergency.To = "112"
	passes("emergency", emergency, "")
	fwd := phone
	fwd.Diverted = []Diversion{{From: "1001", Reason: ReasonUnconditional, ExtID: 7}}
	passes("forwarded", fwd, "")
	passes("from a DID", Request{TenantID: 1, From: "did:+49305550100", To: "0301234567"}, "")
	now = time.Date(2026, 12, 7, 9, 0, 0, 0, loc) // Monday morning
	passes("in hours", phone, "calendar office is open (Mon 09:00 Europe/Berlin)")
	now = time.Date(2026, 12, 5, 2, 30, 0, 0, loc)
	tab.Limits.OutsideHours = nil
	passes("calendar gone", phone, "calendar office does not exist, so it counts as open")
	if len(blocked) != 1 {
		t.Errorf("reported %d calls", len(blocked))
	}
}

// TestTimeRulesDefaultAndGroups: the tenant's default destination and a group's
// fall-through follow their time rules as DIDs do: out of hours the default goes to a
// mailbox, a group falls through to voicemail instead of its extension (or at once, when no
// member can be rung), and the trace says which calendar decided.
func TestTimeRulesDefaultAndGroups(t *testing.T) {
	loc := berlin(t)
	office := map[string]Hours{"office": officeHours{loc}}
	dids := NewDIDTable("DE", []store.DID{
		{Number: "+49305550100", Last: "+49305550100", DestKind: "group", DestNumber: "600"},
	}, store.DIDDefault{DestKind: "extension", DestNumber: "1001", Calendar: "office", ClosedKind: "mailbox", ClosedNumber: "1001"})
	dids.hours = office
	groups := NewGroupTable([]store.RingGroup{
		{Number: "600", Name: "sales", Strategy: StrategySimultaneous, RingTimeS: 20, Members: []store.RingGroupMember{{Extension: "1002"}, {Extension: "1003"}},
			FallthroughKind: "extension", FallthroughNumber: "1004", Calendar: "office", ClosedKind: "mailbox", ClosedNumber: "1005"},
		{Number: "601", Name: "night", Strategy: StrategySequential, RingTimeS: 20, Members: []store.RingGroupMember{{Extension: "1009"}},
			Calendar: "office", ClosedKind: "mailbox", ClosedNumber: "1005"},
	}, office)
	var now time.Time
	p := New(Stages(Deps{Extensions: exts{"1001": true, "1002": true, "1003": true, "1004": true, "1009": false}, Mailboxes: boxes{"1001": true, "1005": true},
		DIDs: didTables{dids}, Groups: groupTables{groups}, Now: func() time.Time { return now }})...)
	monday := time.Date(2026, 12, 7, 10, 14, 0, 0, loc)
	saturday := time.Date(2026, 12, 5, 10, 14, 0, 0, loc)
	route := func(ctx context.Context, at time.Time, req Request) *Decision {
		t.Helper()
		now = at.UTC()
		d, err := p.Route(ctx, &req)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	why := func(d *Decision, stage string) string {
		for _, st := range d.Trace {
			if st.Stage == stage {
				return st.Why
			}
		}
		return ""
	}
	explain := Explaining(context.Background())
	unknown := Request{TenantID: 1, Trunk: "carrier", To: "+49305559999"}

	// The default destination.
	if d := route(explain, monday, unknown); d.Dest == nil || d.Dest.Kind != KindExtension || d.Dest.Number != "1001" ||
		!strings.Contains(why(d, "time"), "the tenant's default destination: calendar office is open (Mon 10:14 Europe/Berlin): its own destination extension 1001") {
		t.Errorf("default in hours: %+v\n%s", d, d.Explain())
	}
	if d := route(explain, saturday, unknown); d.Dest == nil || d.Dest.Kind != KindMailbox || d.Dest.Arg != "1001" ||
		!strings.Contains(why(d, "time"), "the tenant's default destination: calendar office is closed (Sat 10:14 Europe/Berlin): out of hours to mailbox 1001") ||
		!strings.Contains(why(d, "did"), "the tenant's default goes out of hours to mailbox 1001") {
		t.Errorf("default out of hours: %+v\n%s", d, d.Explain())
	}
	if d := route(context.Background(), saturday, unknown); d.Dest == nil || d.Dest.Kind != KindMailbox {
		t.Errorf("default out of hours, a call: %+v", d)
	}

	// A group's fall-through, dialled inside and through a DID.
	steps := func(d *Decision) string {
		var out []string
		for _, st := range d.Dest.Group.Steps {
			out = append(out, strings.Join(st.Members, "+"))
		}
		return strings.Join(out, ", ")
	}
	for _, req := range []Request{{TenantID: 1, From: "1001", To: "600"}, {TenantID: 1, Trunk: "carrier", To: "0305550100"}} {
		d := route(explain, monday, req)
		if d.Dest == nil || d.Dest.Kind != KindGroup || steps(d) != "1002+1003, 1004" || d.Dest.Group.Then != nil ||
			!strings.Contains(d.Why, "falls through to extension 1004 (calendar office is open (Mon 10:14 Europe/Berlin))") {
			t.Errorf("%s in hours: %+v\n%s", req.To, d, d.Explain())
			continue
		}
		d = route(explain, saturday, req)
		if d.Dest == nil || d.Dest.Kind != KindGroup || steps(d) != "1002+1003" || d.Dest.Group.Then == nil ||
			d.Dest.Group.Then.Kind != KindMailbox || d.Dest.Group.Then.App != "voicemail" || d.Dest.Group.Then.Arg != "1005" ||
			!strings.Contains(d.Why, "then mailbox 1005 (calendar office is closed (Sat 10:14 Europe/Berlin): out of hours)") {
			t.Errorf("%s out of hours: %+v\n%s", req.To, d, d.Explain())
		}
		if d := route(context.Background(), saturday, req); d.Dest == nil || d.Dest.Group.Then == nil || d.Dest.Group.Then.Arg != "1005" {
			t.Errorf("%s out of hours, a call: %+v", req.To, d)
		}
	}
	// Nobody to ring: in hours the caller hears 480, out of hours the mailbox answers.
	if d := route(explain, monday, Request{TenantID: 1, From: "1001", To: "601"}); d.Status != 480 ||
		!strings.Contains(d.Why, "falls through to nothing (calendar office is open (Mon 10:14 Europe/Berlin))") {
		t.Errorf("601 in hours: %+v\n%s", d, d.Explain())
	}
	if d := route(explain, saturday, Request{TenantID: 1, From: "1001", To: "601"}); d.Dest == nil || d.Dest.Kind != KindMailbox || d.Dest.Arg != "1005" ||
		d.Stage != "group" || !strings.Contains(d.Why, "no member can be rung (not registered, skipped: 1009); then mailbox 1005 (calendar office is closed") {
		t.Errorf("601 out of hours: %+v\n%s", d, d.Explain())
	}
}
