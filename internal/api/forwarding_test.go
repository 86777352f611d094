package api_test

import (
	"fmt"
	"testing"

	"github.com/privox/privox/internal/store"
)

// A user sets the forwarding of their own extension, not a colleague's; an admin sets any
// extension's of the tenant; bad targets and codes are refused naming the field; every
// change is audited.
func TestForwardingAPI(t *testing.T) {
	f := setup(t)
	p := f.p
	a := fmt.Sprintf("/api/v1/tenants/%d", f.tenantA)
	var own, other created
	p.MustDo(201, "POST", a+"/extensions", f.adminA, map[string]any{"number": "1201", "sip_password": "alpha-secret-21", "user_id": f.memberIDA}, &own)
	p.MustDo(201, "POST", a+"/extensions", f.adminA, map[string]any{"number": "1202", "sip_password": "alpha-secret-22", "user_id": f.userA}, &other)
	ownPath, otherPath := fmt.Sprintf("%s/extensions/%d/forwarding", a, own.ID), fmt.Sprintf("%s/extensions/%d/forwarding", a, other.ID)
	var got store.Forwarding
	p.MustDo(200, "PUT", ownPath, f.memberA, map[string]any{"busy": "1202", "no_answer": "030123456", "no_answer_ring_s": 15, "dnd": true}, &got)
	if got.Busy != "1202" || got.NoAnswer != "030123456" || got.NoAnswerRingS != 15 || !got.DND || got.Number != "1201" {
		t.Fatalf("member's own forwarding: %+v", got)
	}
	p.MustDo(200, "GET", ownPath, f.memberA, nil, &got)
	if got.Busy != "1202" || !got.DND {
		t.Fatalf("read back: %+v", got)
	}
	if st, _ := p.Do("PUT", otherPath, f.memberA, map[string]any{"always": "1201"}); st != 403 {
		t.Errorf("member setting a colleague's forwarding: %d, want 403", st)
	}
	if st, _ := p.Do("GET", otherPath, f.memberA, nil); st != 403 {
		t.Errorf("member reading a colleague's forwarding: %d, want 403", st)
	}
	p.MustDo(200, "PUT", otherPath, f.adminA, map[string]any{"always": "1201"}, nil)
	var mine struct{ Items []store.Forwarding }
	p.MustDo(200, "GET", fmt.Sprintf("%s/users/%d/forwarding", a, f.memberIDA), f.memberA, nil, &mine)
	if len(mine.Items) != 1 || mine.Items[0].Number != "1201" || mine.Items[0].Busy != "1202" {
		t.Errorf("member's own extensions: %+v", mine.Items)
	}
	if st, _ := p.Do("GET", fmt.Sprintf("%s/users/%d/forwarding", a, f.userA), f.memberA, nil); st != 403 {
		t.Errorf("member listing the admin's forwarding: %d, want 403", st)
	}
	var l struct{ Items []store.Forwarding }
	p.MustDo(200, "GET", a+"/forwarding", f.adminA, nil, &l)
	if len(l.Items) != 2 {
		t.Errorf("tenant's forwarding: %+v", l.Items)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"always": "12ab"}, "always"},
		{map[string]any{"busy": "1201"}, "busy"}, // itself
		{map[string]any{"no_answer": "1202", "no_answer_ring_s": 9999}, "no_answer_ring_s"},
	} {
		var e struct {
			Error struct{ Field string } `json:"error"`
		}
		st, body := p.Do("PUT", ownPath, f.memberA, c.body)
		if st != 400 {
			t.Errorf("%v: %d %s", c.body, st, body)
			continue
		}
		p.MustDo(400, "PUT", ownPath, f.memberA, c.body, &e)
		if e.Error.Field != c.field {
			t.Errorf("%v: field %q, want %q", c.body, e.Error.Field, c.field)
		}
	}
	p.MustDo(200, "GET", ownPath, f.memberA, nil, &got)
	if got.Busy != "1202" || got.Always != "" {
		t.Errorf("after refused changes: %+v", got)
	}
	// Feature codes and the hop limit.
	var fs store.ForwardSettings
	p.MustDo(200, "PUT", a+"/forward-settings", f.adminA, map[string]any{"max_hops": 3, "codes": "always=*72"}, &fs)
	if fs.MaxHops != 3 || fs.Codes != "always=*72,busy=*67,no_answer=*61,unreachable=*62,dnd_on=*78,dnd_off=*79" {
		t.Errorf("settings %+v", fs)
	}
	if st, _ := p.Do("PUT", a+"/forward-settings", f.adminA, map[string]any{"codes": "always=*67"}); st != 400 {
		t.Errorf("two conditions sharing a code: %d", st)
	}
	if st, _ := p.Do("PUT", a+"/forward-settings", f.memberA, map[string]any{"max_hops": 1}); st != 403 {
		t.Errorf("member changing feature codes: %d", st)
	}
	audit, err := p.App.DB.ListAudit(t.Context(), f.tenantA, store.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range audit {
		if e.Action == "forwarding.update" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d audited forwarding changes, want 2", n)
	}
}
