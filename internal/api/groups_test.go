package api_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/privox/privox/internal/store"
)

// TestGroupsOverAPI: a group stored with defaults filled in, members that are no extension
// and a number that is one refused with the field named, a DID routed to the group.
func TestGroupsOverAPI(t *testing.T) {
	f := setup(t)
	p := f.p
	a := fmt.Sprintf("/api/v1/tenants/%d", f.tenantA)
	for _, n := range []string{"1001", "1002"} {
		p.MustDo(201, "POST", a+"/extensions", f.adminA, map[string]any{"number": n, "sip_password": "alpha-secret-" + n}, nil)
	}
	var g store.RingGroup
	p.MustDo(200, "PUT", a+"/groups/600", f.adminA, map[string]any{"name": "sales", "members": []map[string]any{{"extension": "1001"}, {"extension": "1002", "ring_time_s": 10}}}, &g)
	if g.Strategy != "simultaneous" || g.RingTimeS != 20 || len(g.Members) != 2 || g.Members[1].RingTimeS != 10 {
		t.Fatalf("group %+v", g)
	}
	for _, c := range []struct {
		path  string
		body  map[string]any
		field string
	}{
		{"/groups/601", map[string]any{"members": []map[string]any{{"extension": "1999"}}}, "members"},
		{"/groups/1001", map[string]any{"members": []map[string]any{{"extension": "1002"}}}, "number"},
		{"/groups/601", map[string]any{"strategy": "random", "members": []map[string]any{{"extension": "1002"}}}, "strategy"},
		{"/groups/601", map[string]any{"members": []map[string]any{{"extension": "1002"}}, "fallthrough_kind": "extension", "fallthrough_number": "1999"}, "fallthrough_number"},
	} {
		st, body := p.Do("PUT", a+c.path, f.adminA, c.body)
		var e struct {
			Error struct {
				Field string `json:"field"`
			} `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		if st != 400 || e.Error.Field != c.field {
			t.Errorf("%s %v: %d %s, want 400 on %s", c.path, c.body, st, body, c.field)
		}
	}
	p.MustDo(200, "PUT", a+"/dial-settings", f.adminA, map[string]any{"country": "DE"}, nil)
	p.MustDo(200, "POST", a+"/dids", f.adminA, map[string]any{"number": "030 5550600", "dest_kind": "group", "dest_number": "600"}, nil)
	if st, _ := p.Do("POST", a+"/dids", f.adminA, map[string]any{"number": "030 5550601", "dest_kind": "group", "dest_number": "601"}); st != 400 {
		t.Errorf("DID to a missing group: %d", st)
	}
	var l struct {
		Items []store.RingGroup `json:"items"`
	}
	p.MustDo(200, "GET", a+"/groups", f.adminA, nil, &l)
	if len(l.Items) != 1 || len(l.Items[0].Members) != 2 {
		t.Errorf("groups %+v", l.Items)
	}
	p.MustDo(204, "DELETE", a+"/groups/600", f.adminA, nil, nil)
	if st, _ := p.Do("GET", a+"/groups/600", f.adminA, nil); st != 404 {
		t.Errorf("deleted group: %d", st)
	}
}
