package sip_test

import (
	"encoding/json"
	"fmt"
	"strconv"
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
		{"trunk", "set", "--tenant", "default", "--name", "carrier", "--kind", "ip", "--transport", "tcp", "--server", "127.0.0.1:1", "--sources", "127.0.0.1"},
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
		{"0301234567", 480}, // the trunk refuses connections
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
	// The tenant's health and metrics summary counts them from the same counter.
	var st struct {
		Tenant struct {
			Blocked []struct {
				Name  string
				Value float64
			} `json:"blocked_calls"`
		}
	}
	e.p.MustDo(200, "GET", "/api/v1/tenants/1/status", e.p.AdminToken, nil, &st)
	if fmt.Sprint(st.Tenant.Blocked) != "[{international 1} {premium 1}]" {
		t.Errorf("blocked calls in the status summary: %v", st.Tenant.Blocked)
	}
}

// TestOutsideBurst: a burst of outside calls from one extension suspends its outside calls
// (audited, counted) until an admin resumes them through the API.
func TestOutsideBurst(t *testing.T) {
	e := start(t, func(p *sip.Policy) { p.AuthFailures = 100 })
	e.ext("1001", "secret-1001")
	for _, args := range [][]string{
		{"dial", "settings", "--tenant", "default", "--country", "DE", "--burst-calls", "3", "--burst-window", "600"},
		{"trunk", "set", "--tenant", "default", "--name", "carrier", "--kind", "ip", "--transport", "tcp", "--server", "127.0.0.1:1", "--sources", "127.0.0.1"},
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
		call(480) // routed to a trunk whose server refuses connections
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
	call(480) // resumed: the burst window starts afresh
	call(480)
}

// TestOutboundThroughTrunk: a phone dials a German number in national format; it leaves
// through the tenant's trunk in E.164 with the tenant's main number as caller-ID, and the
// provider (a sipp UAS) answers; the CDR says outbound and the guard's count returns to 0.
func TestOutboundThroughTrunk(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	uas := e.newPeer("udp")
	provider := e.sippUAS("provider", "uas.xml", uas)
	for _, args := range [][]string{
		{"dial", "settings", "--tenant", "default", "--country", "DE", "--main-number", "030 9999000"},
		{"trunk", "set", "--tenant", "default", "--name", "carrier", "--kind", "ip", "--server", "127.0.0.1:" + strconv.Itoa(uas.port), "--sources", "127.0.0.1"},
		{"route", "set", "--tenant", "default", "--name", "national", "--pattern", "_0[1-9]X.", "--trunks", "carrier"},
	} {
		if out, er, code := e.p.CLI(args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, er)
		}
	}
	e.sippUAC("caller", "uac.xml", "udp", "-s", "0301234567", "-d", "500").wait(t)
	provider.wait(t)
	msgs := provider.messages()
	if !strings.Contains(msgs, "INVITE sip:+49301234567@127.0.0.1:"+strconv.Itoa(uas.port)) || !strings.Contains(msgs, "sip:+49309999000@") {
		t.Errorf("INVITE at the provider:\n%s", tail(msgs, 3000))
	}
	waitFor(t, "the CDR", func() bool { return len(e.cdrs(t)) == 1 })
	if c := e.cdrs(t)[0]; c.Direction != "outbound" || c.Trunk != "carrier" || c.Cause != 200 || c.Callee != "0301234567" {
		t.Errorf("CDR %+v", c)
	}
	if n := e.srv().ActiveCalls(); n != 0 {
		t.Errorf("%d calls active", n)
	}
}
