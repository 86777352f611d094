package sip_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/privox/privox/internal/sip"
	"github.com/privox/privox/internal/store"
)

// TestOutsideCalls: an extension dialling an outside number goes through the dial plan's
// outbound stage: international destinations are refused with 403, audited with the reason
// and counted; a national number matches its route (and, with no trunk signalling on this
// node, gets 503); a number of 200 digits gets 484 before any stage sees it.
func TestOutsideCalls(t *testing.T) {
	e := start(t, func(p *sip.Policy) { p.AuthFailures = 100 })
	e.ext("1001", "secret-1001")
	for _, args := range [][]string{
		{"dial", "settings", "--tenant", "default", "--country", "DE"},
		{"trunk", "set", "--tenant", "default", "--name", "carrier", "--kind", "ip", "--server", "192.0.2.20:5060", "--sources", "192.0.2.20"},
		{"route", "set", "--tenant", "default", "--name", "world", "--pattern", "_00X.", "--trunks", "carrier"},
		{"route", "set", "--tenant", "default", "--name", "national", "--pattern", "_0[1-9]X.", "--trunks", "carrier"},
	} {
		if out, er, code := e.p.CLI(args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, er)
		}
	}
	c := newSIPClient(t, "127.0.0.2")
	for _, tc := range []struct {
		to     string
		status int
	}{
		{"00442079460000", 403},
		{"09001234567", 403},
		{"0301234567", 503},
		{strings.Repeat("0", 200), 484},
		{"1001", 480},
	} {
		if res := c.do(e.invite("1001", tc.to), "1001", "secret-1001"); res.StatusCode != tc.status {
			t.Errorf("%.20s: %d %s, want %d", tc.to, res.StatusCode, res.Reason, tc.status)
		}
	}
	var blocked []store.AuditEntry
	audit, err := e.p.App.DB.ListAudit(t.Context(), 1, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range audit {
		if a.Action == "call.blocked" {
			blocked = append(blocked, a)
		}
	}
	if len(blocked) != 2 || blocked[0].TargetID != "1001" || !strings.HasPrefix(blocked[0].Detail, "international: ") && !strings.HasPrefix(blocked[1].Detail, "international: ") {
		t.Fatalf("audit of blocked calls: %+v", blocked)
	}
	for _, a := range blocked {
		if strings.Contains(a.Detail, "2079460000") || strings.Contains(a.Detail, "1234567") {
			t.Errorf("audit entry shows the whole number: %s", a.Detail)
		}
	}
	mfs, err := e.p.App.Metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() == "privox_dialplan_blocked_total" {
			for _, m := range mf.GetMetric() {
				got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	if got["international"] != 1 || got["premium"] != 1 {
		t.Errorf("blocked counters %v", got)
	}
}

// TestOutsideBurst: a burst of outside calls from one extension suspends its outside calls
// (audited, counted) until an admin resumes them through the API.
func TestOutsideBurst(t *testing.T) {
	e := start(t, func(p *sip.Policy) { p.AuthFailures = 100 })
	e.ext("1001", "secret-1001")
	for _, args := range [][]string{
		{"dial", "settings", "--tenant", "default", "--country", "DE", "--burst-calls", "3", "--burst-window", "600"},
		{"trunk", "set", "--tenant", "default", "--name", "carrier", "--kind", "ip", "--server", "192.0.2.20:5060", "--sources", "192.0.2.20"},
		{"route", "set", "--tenant", "default", "--name", "national", "--pattern", "_0[1-9]X.", "--trunks", "carrier"},
	} {
		if out, er, code := e.p.CLI(args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, er)
		}
	}
	c := newSIPClient(t, "127.0.0.2")
	call := func(want int) {
		t.Helper()
		if res := c.do(e.invite("1001", "0301234567"), "1001", "secret-1001"); res.StatusCode != want {
			t.Fatalf("call: %d %s, want %d", res.StatusCode, res.Reason, want)
		}
	}
	for i := 0; i < 3; i++ {
		call(503) // routed; no trunk signals on this node
	}
	call(403) // the burst
	call(403) // suspended
	out, _, _ := e.p.CLI("outside", "list", "--tenant", "default", "--json")
	var sus []store.OutsideSuspension
	if err := json.Unmarshal([]byte(out), &sus); err != nil || len(sus) != 1 || sus[0].Reason != "burst" {
		t.Fatalf("suspensions %s (%v)", out, err)
	}
	var reasons []string
	audit, _ := e.p.App.DB.ListAudit(t.Context(), 1, store.Page{Limit: 100})
	for _, a := range audit {
		if a.Action == "call.blocked" {
			reasons = append(reasons, strings.SplitN(a.Detail, ":", 2)[0])
		}
	}
	if strings.Join(reasons, ",") != "burst,suspended" && strings.Join(reasons, ",") != "suspended,burst" {
		t.Errorf("audited reasons %v", reasons)
	}
	e.p.MustDo(204, "DELETE", fmt.Sprintf("/api/v1/tenants/1/extensions/%d/outside-suspension", sus[0].ExtensionID), e.p.AdminToken, nil, nil)
	call(503) // resumed: the burst window starts afresh
	call(503)
}
