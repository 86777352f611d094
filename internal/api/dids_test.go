package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/privox/privox/internal/dialplan"
	"github.com/privox/privox/internal/store"
)

// TestDIDsOverAPI: DIDs and ranges are stored in E.164 with an existing destination; bad
// numbers, overlapping ranges and destinations that do not exist get field errors; the
// explanation of a call from a trunk shows the DID; a user sets their own CLIR.
func TestDIDsOverAPI(t *testing.T) {
	f := setup(t)
	p := f.p
	a := fmt.Sprintf("/api/v1/tenants/%d", f.tenantA)
	p.MustDo(201, "POST", a+"/extensions", f.adminA, map[string]any{"number": "1001", "sip_password": "alpha-secret-1", "user_id": f.memberIDA}, nil)
	p.MustDo(200, "PUT", a+"/dial-settings", f.adminA, map[string]any{"country": "DE"}, nil)
	p.MustDo(200, "PUT", a+"/trunks/carrier", f.adminA, map[string]any{"kind": "ip", "server": "192.0.2.20:5060", "allowed_sources": []string{"192.0.2.20"}}, nil)
	var d store.DID
	p.MustDo(200, "POST", a+"/dids", f.adminA, map[string]any{"number": "030 5550100", "last": "030 5550199", "dest_kind": "extension", "dest_number": "1001"}, &d)
	if d.Number != "+49305550100" || d.Last != "+49305550199" || d.ID == 0 {
		t.Fatalf("DID %+v", d)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"number": "hello", "dest_kind": "extension", "dest_number": "1001"}, "number"},
		{map[string]any{"number": "030 5550150", "last": "030 5550250", "dest_kind": "extension", "dest_number": "1001"}, "number"}, // overlaps
		{map[string]any{"number": "030 5550300", "dest_kind": "extension", "dest_number": "1999"}, "destination"},
		{map[string]any{"number": "030 5550300", "dest_kind": "mailbox", "dest_number": "1001"}, "destination"},
		{map[string]any{"number": "030 5550300", "dest_kind": "fax", "dest_number": "1001"}, "destination"},
		{map[string]any{"number": "030 5550300", "dest_kind": "outbound", "dest_number": "0301234567"}, "destination"}, // no route
		{map[string]any{"number": "030 5550300", "last": "0305550200", "dest_kind": "extension", "dest_number": "1001"}, "last"},
	} {
		st, body := p.Do("POST", a+"/dids", f.adminA, c.body)
		var e struct {
			Error struct {
				Field string `json:"field"`
			} `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		if st != 400 || e.Error.Field != c.field {
			t.Errorf("%v: %d %s, want 400 on %s", c.body, st, body, c.field)
		}
	}
	var l struct {
		Items []store.DID `json:"items"`
	}
	p.MustDo(200, "GET", a+"/dids", f.adminA, nil, &l)
	if len(l.Items) != 1 {
		t.Errorf("DIDs %+v", l.Items)
	}
	st, body := p.Do("GET", a+"/route-explain?trunk=carrier&to=%2B49305550142", f.adminA, nil)
	if st != 200 || !strings.Contains(string(body), `"stage": "did"`) || !strings.Contains(string(body), "DID range +49305550100-+49305550199") {
		t.Errorf("explain: %d %s", st, body)
	}
	if st, body := p.Do("GET", a+"/route-explain?trunk=nope&to=1", f.adminA, nil); st != 400 || !strings.Contains(string(body), "not a trunk") {
		t.Errorf("explain with an unknown trunk: %d %s", st, body)
	}
	p.MustDo(200, "PUT", a+"/did-default", f.adminA, map[string]any{"dest_kind": "extension", "dest_number": "1001"}, nil)
	if st, _ := p.Do("PUT", a+"/did-default", f.adminA, map[string]any{"dest_kind": "extension", "dest_number": "4711"}); st != 400 {
		t.Errorf("default to a missing extension: %d", st)
	}
	p.MustDo(200, "PUT", fmt.Sprintf("%s/users/%d/caller-id", a, f.memberIDA), f.memberA, map[string]any{"clir": true}, nil)
	var cid struct {
		CLIR bool `json:"clir"`
	}
	p.MustDo(200, "GET", fmt.Sprintf("%s/users/%d/caller-id", a, f.memberIDA), f.adminA, nil, &cid)
	if !cid.CLIR {
		t.Error("CLIR not stored")
	}
	p.MustDo(204, "DELETE", fmt.Sprintf("%s/dids/%d", a, d.ID), f.adminA, nil, nil)
}

// TestTimeRulesOverAPI: a DID's time rule names an existing calendar and an out-of-hours
// destination that exists, else the save is refused at the field with nothing stored; the
// explanation says the calendar decided; the dialling settings' calendar for outside calls
// must exist and refuses an extension's outside call while closed; a calendar the dial plan
// names is not deleted (409 naming who uses it) until nothing names it.
func TestTimeRulesOverAPI(t *testing.T) {
	f := setup(t)
	p := f.p
	a := fmt.Sprintf("/api/v1/tenants/%d", f.tenantA)
	p.MustDo(201, "POST", a+"/extensions", f.adminA, map[string]any{"number": "1001", "sip_password": "alpha-secret-1", "user_id": f.memberIDA}, nil)
	p.MustDo(201, "POST", a+"/extensions", f.adminA, map[string]any{"number": "1002", "sip_password": "alpha-secret-2"}, nil)
	p.MustDo(200, "PUT", a+"/dial-settings", f.adminA, map[string]any{"country": "DE"}, nil)
	p.MustDo(200, "PUT", a+"/trunks/carrier", f.adminA, map[string]any{"kind": "ip", "server": "192.0.2.20:5060", "allowed_sources": []string{"192.0.2.20"}}, nil)
	p.MustDo(200, "PUT", a+"/outbound-routes/national", f.adminA, map[string]any{"pattern": "_0[1-9]X.", "trunks": []string{"carrier"}}, nil)
	p.MustDo(200, "PUT", a+"/calendars/never", f.adminA, map[string]any{"spec": map[string]any{"time_zone": "Europe/Berlin", "hours": map[string]any{}}}, nil)
	// A calendar of the other tenant is no calendar here.
	p.MustDo(200, "PUT", fmt.Sprintf("/api/v1/tenants/%d/calendars/theirs", f.tenantB), f.adminB, map[string]any{"spec": map[string]any{"time_zone": "UTC", "hours": map[string]any{}}}, nil)
	did := func(extra map[string]any) map[string]any {
		b := map[string]any{"number": "030 5550100", "dest_kind": "extension", "dest_number": "1001"}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{did(map[string]any{"calendar": "nope", "closed_kind": "extension", "closed_number": "1002"}), "calendar"},
		{did(map[string]any{"calendar": "theirs", "closed_kind": "extension", "closed_number": "1002"}), "calendar"},
		{did(map[string]any{"calendar": "../x", "closed_kind": "extension", "closed_number": "1002"}), "calendar"},
		{did(map[string]any{"closed_kind": "extension", "closed_number": "1002"}), "calendar"},
		{did(map[string]any{"calendar": "never"}), "closed_destination"},
		{did(map[string]any{"calendar": "never", "closed_kind": "extension", "closed_number": "1999"}), "closed_destination"},
		{did(map[string]any{"calendar": "never", "closed_kind": "fax", "closed_number": "1002"}), "closed_destination"},
		{did(map[string]any{"calendar": "never", "closed_kind": "outbound", "closed_number": "00442079460000"}), "closed_destination"}, // no route matches
	} {
		st, body := p.Do("POST", a+"/dids", f.adminA, c.body)
		var e struct {
			Error struct {
				Field string `json:"field"`
			} `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		if st != 400 || e.Error.Field != c.field {
			t.Errorf("%v: %d %s, want 400 on %s", c.body, st, body, c.field)
		}
	}
	var l struct {
		Items []store.DID `json:"items"`
	}
	p.MustDo(200, "GET", a+"/dids", f.adminA, nil, &l)
	if len(l.Items) != 0 {
		t.Fatalf("refused DIDs stored: %+v", l.Items)
	}
	var d store.DID
	p.MustDo(200, "POST", a+"/dids", f.adminA, did(map[string]any{"calendar": "never", "closed_kind": "extension", "closed_number": "1002"}), &d)
	if d.Calendar != "never" || d.ClosedKind != "extension" || d.ClosedNumber != "1002" {
		t.Fatalf("DID %+v", d)
	}
	var ex dialplan.Decision
	p.MustDo(200, "GET", a+"/route-explain?trunk=carrier&to=%2B49305550100", f.adminA, nil, &ex)
	if len(ex.Trace) == 0 || ex.Trace[0].Stage != "time" || !strings.Contains(ex.Trace[0].Why, "calendar never is closed (") ||
		!strings.Contains(ex.Trace[0].Why, "Europe/Berlin): out of hours to extension 1002") || !strings.Contains(ex.Why, "goes out of hours to extension 1002") {
		t.Errorf("explain: %s", ex.Explain())
	}

	if st, body := p.Do("PUT", a+"/dial-settings", f.adminA, map[string]any{"country": "DE", "outside_calendar": "nope"}); st != 400 || !strings.Contains(string(body), `"field": "outside_calendar"`) {
		t.Errorf("unknown outside calendar: %d %s", st, body)
	}
	var set store.DialSettings
	p.MustDo(200, "PUT", a+"/dial-settings", f.adminA, map[string]any{"country": "DE", "outside_calendar": "never"}, &set)
	p.MustDo(200, "PUT", a+"/dial-settings", f.adminA, map[string]any{"country": "DE", "max_concurrent": 3}, &set) // absent: kept
	if set.OutsideCalendar != "never" || set.MaxConcurrent != 3 {
		t.Fatalf("settings %+v", set)
	}
	p.MustDo(200, "GET", a+"/route-explain?from=1001&to=0301234567", f.adminA, nil, &ex)
	if ex.Status != 403 || ex.Blocked != "unusual-hours" || !strings.Contains(ex.Why, "calendar never is closed") {
		t.Errorf("outside call at unusual hours: %s", ex.Explain())
	}

	st, body := p.Do("DELETE", a+"/calendars/never", f.adminA, nil)
	if st != 409 || !strings.Contains(string(body), "DID +49305550100") || !strings.Contains(string(body), "dialling settings") {
		t.Errorf("delete a calendar in use: %d %s", st, body)
	}
	p.MustDo(204, "DELETE", fmt.Sprintf("%s/dids/%d", a, d.ID), f.adminA, nil, nil)
	if st, body := p.Do("DELETE", a+"/calendars/never", f.adminA, nil); st != 409 || strings.Contains(string(body), "DID") {
		t.Errorf("delete a calendar the settings use: %d %s", st, body)
	}
	p.MustDo(200, "PUT", a+"/dial-settings", f.adminA, map[string]any{"country": "DE", "outside_calendar": ""}, nil)
	p.MustDo(204, "DELETE", a+"/calendars/never", f.adminA, nil, nil)
}

// TestTimeRulesDefaultAndGroupsOverAPI: the tenant's default destination and a group's
// fall-through take a time rule through the API, validated as a DID's and documented in the
// OpenAPI document; route explain shows the calendar deciding; a calendar they name cannot
// be deleted.
func TestTimeRulesDefaultAndGroupsOverAPI(t *testing.T) {
	f := setup(t)
	p := f.p
	a := fmt.Sprintf("/api/v1/tenants/%d", f.tenantA)
	p.MustDo(201, "POST", a+"/extensions", f.adminA, map[string]any{"number": "1001", "sip_password": "alpha-secret-1", "user_id": f.memberIDA}, nil)
	p.MustDo(201, "POST", a+"/extensions", f.adminA, map[string]any{"number": "1002", "sip_password": "alpha-secret-2"}, nil)
	p.MustDo(200, "PUT", a+"/dial-settings", f.adminA, map[string]any{"country": "DE"}, nil)
	p.MustDo(200, "PUT", a+"/trunks/carrier", f.adminA, map[string]any{"kind": "ip", "server": "192.0.2.20:5060", "allowed_sources": []string{"192.0.2.20"}}, nil)
	p.MustDo(200, "PUT", a+"/calendars/never", f.adminA, map[string]any{"spec": map[string]any{"time_zone": "Europe/Berlin", "hours": map[string]any{}}}, nil)
	fieldOf := func(body []byte) string {
		var e struct {
			Error struct {
				Field string `json:"field"`
			} `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		return e.Error.Field
	}
	// refused PUTs each body to path and expects 400 naming the field.
	type refusal struct {
		body  map[string]any
		field string
	}
	refused := func(path string, cases []refusal) {
		t.Helper()
		for _, c := range cases {
			if st, body := p.Do("PUT", a+path, f.adminA, c.body); st != 400 || fieldOf(body) != c.field {
				t.Errorf("PUT %s %v: %d %s, want 400 on %s", path, c.body, st, body, c.field)
			}
		}
	}
	def := map[string]any{"dest_kind": "extension", "dest_number": "1001"}
	with := func(b map[string]any, extra map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range b {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	refused("/did-default", []refusal{
		{with(def, map[string]any{"calendar": "nope", "closed_kind": "mailbox", "closed_number": "*1001"}), "calendar"},
		{with(def, map[string]any{"calendar": "never"}), "closed_destination"},
		{with(def, map[string]any{"calendar": "never", "closed_kind": "mailbox", "closed_number": "*1999"}), "closed_destination"},
	})
	var dd store.DIDDefault
	p.MustDo(200, "PUT", a+"/did-default", f.adminA, with(def, map[string]any{"calendar": "never", "closed_kind": "mailbox", "closed_number": "*1001"}), &dd)
	p.MustDo(200, "GET", a+"/did-default", f.adminA, nil, &dd)
	if dd.DestNumber != "1001" || dd.Calendar != "never" || dd.ClosedKind != "mailbox" || dd.ClosedNumber != "*1001" {
		t.Fatalf("default %+v", dd)
	}
	var ex dialplan.Decision
	p.MustDo(200, "GET", a+"/route-explain?trunk=carrier&to=%2B49305559999", f.adminA, nil, &ex)
	if len(ex.Trace) == 0 || ex.Trace[0].Stage != "time" || !strings.Contains(ex.Trace[0].Why, "the tenant's default destination: calendar never is closed (") ||
		ex.Dest == nil || ex.Dest.Kind != dialplan.KindMailbox {
		t.Errorf("explain the default: %s", ex.Explain())
	}

	group := map[string]any{"members": []map[string]any{{"extension": "1001"}}, "fallthrough_kind": "extension", "fallthrough_number": "1002"}
	refused("/groups/600", []refusal{
		{with(group, map[string]any{"calendar": "nope", "closed_kind": "mailbox", "closed_number": "*1002"}), "calendar"},
		{with(group, map[string]any{"calendar": "never", "closed_kind": "outbound", "closed_number": "0301234567"}), "closed_destination"},
		{with(group, map[string]any{"calendar": "never", "closed_kind": "extension", "closed_number": "1001"}), "closed_destination"}, // a member
		{with(group, map[string]any{"fallthrough_kind": "mailbox", "fallthrough_number": "*1999"}), "fallthrough_number"},
	})
	var g store.RingGroup
	p.MustDo(200, "PUT", a+"/groups/600", f.adminA, with(group, map[string]any{"calendar": "never", "closed_kind": "mailbox", "closed_number": "*1002"}), &g)
	p.MustDo(200, "GET", a+"/groups/600", f.adminA, nil, &g)
	if g.FallthroughNumber != "1002" || g.Calendar != "never" || g.ClosedKind != "mailbox" || g.ClosedNumber != "*1002" {
		t.Fatalf("group %+v", g)
	}
	// Nobody is registered: out of hours, the group's mailbox takes the call at once.
	p.MustDo(200, "GET", a+"/route-explain?from=1002&to=600", f.adminA, nil, &ex)
	if ex.Stage != "group" || ex.Dest == nil || ex.Dest.Kind != dialplan.KindMailbox || !strings.Contains(ex.Why, "then mailbox") ||
		!strings.Contains(ex.Why, "(calendar never is closed (") {
		t.Errorf("explain the group: %s", ex.Explain())
	}

	st, body := p.Do("DELETE", a+"/calendars/never", f.adminA, nil)
	if st != 409 || !strings.Contains(string(body), "the default destination for numbers no DID covers, group 600") {
		t.Errorf("delete a calendar in use: %d %s", st, body)
	}

	// The OpenAPI document has the time rule in both bodies.
	var doc struct {
		Paths map[string]map[string]struct {
			Summary string `json:"summary"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	p.MustDo(200, "GET", "/api/v1/openapi.json", "", nil, &doc)
	for path, schema := range map[string]string{"/api/v1/tenants/{tenant}/did-default": "DidDefaultBody", "/api/v1/tenants/{tenant}/groups/{group}": "GroupBody"} {
		props := doc.Components.Schemas[schema].Properties
		if !strings.Contains(doc.Paths[path]["put"].Summary, "time rule") || props["calendar"] == nil || props["closed_kind"] == nil || props["closed_number"] == nil {
			t.Errorf("openapi PUT %s: %q, %s properties %v", path, doc.Paths[path]["put"].Summary, schema, props)
		}
	}
}
