package sip_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/privox/privox/internal/dialplan"
	"github.com/privox/privox/internal/sip"
	"github.com/privox/privox/internal/store"
)

// Calendars whose state does not depend on when the test runs: open all day every day, and
// never open.
const (
	alwaysOpen = `{"spec":{"time_zone":"Europe/Berlin","hours":{"mon":["00:00-24:00"],"tue":["00:00-24:00"],"wed":["00:00-24:00"],` +
		`"thu":["00:00-24:00"],"fri":["00:00-24:00"],"sat":["00:00-24:00"],"sun":["00:00-24:00"]}}}`
	neverOpen = `{"spec":{"time_zone":"Europe/Berlin","hours":{}}}`
)

// TestDIDTimeRules: a provider calls two DIDs that both go to extension 1002 and, out of
// hours, to 1003: the DID whose calendar is open rings 1002, the one whose calendar is
// closed rings 1003, and the server's explanation says the calendar decided. With the
// tenant's calendar for outside calls closed, a phone's outside call is refused with 403,
// audited as unusual-hours and counted; once the calendar is open the same call goes to the
// trunk.
func TestDIDTimeRules(t *testing.T) {
	e := start(t, func(p *sip.Policy) { p.AuthFailures = 100 })
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	e.ext("1003", "secret-1003")
	open, closed := e.newPeer("udp"), e.newPeer("udp")
	inHours := e.sippUAS("1002", "uas.xml", open)
	outOfHours := e.sippUAS("1003", "uas.xml", closed)
	e.register("1002", "secret-1002", open)
	e.register("1003", "secret-1003", closed)
	for name, spec := range map[string]string{"always": alwaysOpen, "never": neverOpen} {
		if st, body := e.p.Do("PUT", "/api/v1/tenants/1/calendars/"+name, e.p.AdminToken, spec); st != 200 {
			t.Fatalf("PUT calendar %s: %d %s", name, st, body)
		}
	}
	for _, args := range [][]string{
		{"dial", "settings", "--tenant", "default", "--country", "DE", "--outside-calendar", "never"},
		// The provider calls from 127.0.0.2; outside calls go to it over TCP, where nothing
		// listens (the call gets 480 once it is let out).
		{"trunk", "set", "--tenant", "default", "--name", "carrier", "--kind", "ip", "--transport", "tcp", "--server", "127.0.0.2:" + strconv.Itoa(freePort(t)), "--sources", "127.0.0.2"},
		{"route", "set", "--tenant", "default", "--name", "national", "--pattern", "_0[1-9]X.", "--trunks", "carrier"},
		{"did", "add", "--tenant", "default", "--number", "030 5550100", "--dest", "extension:1002", "--calendar", "always", "--closed-dest", "extension:1003"},
		{"did", "add", "--tenant", "default", "--number", "030 5550101", "--dest", "extension:1002", "--calendar", "never", "--closed-dest", "extension:1003"},
	} {
		if out, er, code := e.p.CLI(args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, er)
		}
	}
	waitFor(t, "the trunk's address", func() bool { return e.srv().TrunkSourceKnownForTest("127.0.0.2") })

	e.trunkUAC("127.0.0.2", "trunk_uac.xml", "+49305550100", "+49305550100", "0301110001", "-d", "300").wait(t)
	e.trunkUAC("127.0.0.2", "trunk_uac.xml", "+49305550101", "+49305550101", "0301110002", "-d", "300").wait(t)
	inHours.wait(t)
	outOfHours.wait(t)
	if m := inHours.messages(); !strings.Contains(m, "sip:+49301110001@") {
		t.Errorf("1002 did not get the call to the open DID:\n%s", tail(m, 3000))
	}
	if m := outOfHours.messages(); !strings.Contains(m, "sip:+49301110002@") {
		t.Errorf("1003 did not get the call to the closed DID:\n%s", tail(m, 3000))
	}
	waitFor(t, "the CDRs", func() bool { return len(e.cdrs(t)) == 2 })
	for _, c := range e.cdrs(t) {
		if c.Direction != "inbound" || c.Cause != 200 {
			t.Errorf("CDR %+v", c)
		}
	}
	var d dialplan.Decision
	e.p.MustDo(200, "GET", "/api/v1/tenants/1/route-explain?trunk=carrier&to="+url.QueryEscape("+49305550101"), e.p.AdminToken, nil, &d)
	if ex := d.Explain(); !strings.Contains(ex, "calendar never is closed (") || !strings.Contains(ex, "Europe/Berlin): out of hours to extension 1003") ||
		d.Dest == nil || d.Dest.Number != "1003" {
		t.Errorf("explain the closed DID:\n%s", ex)
	}
	e.p.MustDo(200, "GET", "/api/v1/tenants/1/route-explain?trunk=carrier&to="+url.QueryEscape("+49305550100"), e.p.AdminToken, nil, &d)
	if ex := d.Explain(); !strings.Contains(ex, "calendar always is open (") || d.Dest == nil || d.Dest.Number != "1002" {
		t.Errorf("explain the open DID:\n%s", ex)
	}

	// Outside calls at unusual hours.
	e.sippUAC("outside call at night", "uac_forbidden.xml", "udp", "-s", "0301234567").wait(t)
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
	if len(blocked) != 1 || blocked[0].TargetID != "1001" || !strings.HasPrefix(blocked[0].Detail, "unusual-hours: calendar never is closed (") ||
		strings.Contains(blocked[0].Detail, "1234567") {
		t.Fatalf("audit of blocked calls: %+v", blocked)
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
	if got["unusual-hours"] != 1 {
		t.Errorf("blocked counters %v", got)
	}
	var set store.DialSettings
	e.p.MustDo(200, "PUT", "/api/v1/tenants/1/dial-settings", e.p.AdminToken, map[string]any{"country": "DE", "outside_calendar": "always"}, &set)
	c := newSIPClient(t, "127.0.0.5") // not the provider's address: a phone
	if res := c.do(e.invite("1001", "0301234567"), "1001", "secret-1001"); res.StatusCode != 480 {
		t.Errorf("outside call in hours: %d %s, want 480 from the unreachable trunk", res.StatusCode, res.Reason)
	}
	waitFor(t, "no call active", func() bool { return e.srv().ActiveCalls() == 0 })
}

// TestDefaultAndGroupTimeRules: out of hours, a provider's call to a number no DID covers
// goes to the tenant default's out-of-hours extension (1005) instead of the default (1003),
// and a call to a DID of a sequential group whose member rings out (1004, 5 s) falls through
// to the mailbox of 1002 instead of ringing the fall-through extension 1003: the caller
// leaves a message there. Route explain says the calendars decided.
func TestDefaultAndGroupTimeRules(t *testing.T) {
	e := start(t, nil)
	for _, n := range []string{"1002", "1003", "1004", "1005"} {
		e.ext(n, "secret-"+n)
	}
	e.putGreeting("1002", "unavailable", time.Second)
	member, outOfHours := e.newPeer("udp"), e.newPeer("udp")
	ringsOut := e.sippUAS("1004", "uas_cancel.xml", member)
	answers := e.sippUAS("1005", "uas.xml", outOfHours)
	e.register("1004", "secret-1004", member)
	e.register("1005", "secret-1005", outOfHours)
	if st, body := e.p.Do("PUT", "/api/v1/tenants/1/calendars/never", e.p.AdminToken, neverOpen); st != 200 {
		t.Fatalf("PUT calendar: %d %s", st, body)
	}
	for _, args := range [][]string{
		{"dial", "settings", "--tenant", "default", "--country", "DE"},
		{"trunk", "set", "--tenant", "default", "--name", "carrier", "--kind", "ip", "--server", "127.0.0.2:5060", "--sources", "127.0.0.2"},
		{"group", "set", "--tenant", "default", "--number", "600", "--strategy", "sequential", "--members", "1004:5", "--fallthrough", "1003",
			"--calendar", "never", "--closed-dest", "mailbox:*1002"},
		{"did", "add", "--tenant", "default", "--number", "030 5550600", "--dest", "group:600"},
		{"did", "default", "--tenant", "default", "--dest", "extension:1003", "--calendar", "never", "--closed-dest", "extension:1005"},
	} {
		if out, er, code := e.p.CLI(args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, er)
		}
	}
	for to, want := range map[string][]string{
		"+49305550600": {"time", "no time rule for DID +49305550600", `group 600 "" rings sequential: 1004 5s; then mailbox *1002 (calendar never is closed (`},
		"+49305559999": {"the tenant's default destination: calendar never is closed (", "goes out of hours to extension 1005"},
	} {
		out, er, code := e.p.CLI("route", "explain", "--tenant", "default", "--trunk", "carrier", "--to", to)
		for _, w := range want {
			if code != 0 || !strings.Contains(out, w) {
				t.Errorf("explain %s: %d %s %s, want %q", to, code, out, er, w)
			}
		}
	}
	waitFor(t, "the trunk's address", func() bool { return e.srv().TrunkSourceKnownForTest("127.0.0.2") })

	e.trunkUAC("127.0.0.2", "trunk_uac.xml", "+49305559999", "+49305559999", "0301110001", "-d", "300").wait(t)
	answers.wait(t)
	if m := answers.messages(); !strings.Contains(m, "sip:+49301110001@") {
		t.Errorf("1005 did not get the call to the unknown DID:\n%s", tail(m, 3000))
	}

	const lead = 2500 * time.Millisecond // greeting 1 s, beep 0.4 s, then silence
	e.trunkUAC("127.0.0.2", "trunk_uac_voicemail.xml", "+49305550600", "+49305550600", "0301110002", "-d", strconv.Itoa(int(lead.Milliseconds()))).wait(t)
	ringsOut.wait(t)
	var ms []store.VoicemailMessage
	waitFor(t, "the message", func() bool { ms = e.vmMessages("1002"); return len(ms) > 0 })
	if len(ms) != 1 || ms[0].CallerNumber != "+49301110002" {
		t.Errorf("messages of 1002: %+v", ms)
	}
	waitFor(t, "no call active", func() bool { return e.srv().ActiveCalls() == 0 })
}
