package sip_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// TestTrunkFailover: a route names four trunks. The first refuses connections (a transport
// error), the second answers 503, the third 408 (sipp providers), the fourth answers: the call is
// connected through the third, the CDR names it, and the second saw the number in E.164.
// A route whose first trunk answers 486 ends there: busy is the callee's answer, not the
// trunk's, and the next trunk hears nothing.
func TestTrunkFailover(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	over := e.newPeer("udp")
	overloaded := e.sippUAS("overloaded", "uas_503.xml", over)
	slow := e.newPeer("udp")
	timingOut := e.sippUAS("timing out", "uas_408.xml", slow)
	good := e.newPeer("udp")
	answering := e.sippUAS("answering", "uas.xml", good)
	busy := e.newPeer("udp")
	busyProv := e.sippUAS("busy", "uas_busy.xml", busy)
	unused := e.newPeer("udp")
	for _, args := range [][]string{
		{"dial", "settings", "--tenant", "default", "--country", "DE", "--main-number", "030 9999000"},
		{"trunk", "set", "--tenant", "default", "--name", "dead", "--kind", "ip", "--transport", "tcp", "--server", "127.0.0.1:1", "--sources", "127.0.0.1"},
		{"trunk", "set", "--tenant", "default", "--name", "overloaded", "--kind", "ip", "--server", "127.0.0.1:" + strconv.Itoa(over.port), "--sources", "127.0.0.1"},
		{"trunk", "set", "--tenant", "default", "--name", "slow", "--kind", "ip", "--server", "127.0.0.1:" + strconv.Itoa(slow.port), "--sources", "127.0.0.1"},
		{"trunk", "set", "--tenant", "default", "--name", "good", "--kind", "ip", "--server", "127.0.0.1:" + strconv.Itoa(good.port), "--sources", "127.0.0.1"},
		{"trunk", "set", "--tenant", "default", "--name", "busy", "--kind", "ip", "--server", "127.0.0.1:" + strconv.Itoa(busy.port), "--sources", "127.0.0.1"},
		{"trunk", "set", "--tenant", "default", "--name", "unused", "--kind", "ip", "--server", "127.0.0.1:" + strconv.Itoa(unused.port), "--sources", "127.0.0.1"},
		{"route", "set", "--tenant", "default", "--name", "mobile", "--pattern", "_01XX.", "--trunks", "busy,unused"},
		{"route", "set", "--tenant", "default", "--name", "national", "--pattern", "_0[2-9]X.", "--trunks", "dead,overloaded,slow,good"},
	} {
		if out, er, code := e.p.CLI(args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, er)
		}
	}
	e.sippUAC("caller", "uac.xml", "udp", "-s", "0301234567", "-d", "500").wait(t)
	overloaded.wait(t)
	timingOut.wait(t)
	answering.wait(t)
	if msgs := overloaded.messages(); !strings.Contains(msgs, "INVITE sip:+49301234567@127.0.0.1:"+strconv.Itoa(over.port)) {
		t.Errorf("INVITE at the overloaded provider:\n%s", tail(msgs, 3000))
	}
	if msgs := answering.messages(); !strings.Contains(msgs, "INVITE sip:+49301234567@127.0.0.1:"+strconv.Itoa(good.port)) {
		t.Errorf("INVITE at the answering provider:\n%s", tail(msgs, 3000))
	}
	waitFor(t, "the CDR", func() bool { return len(e.cdrs(t)) == 1 })
	if c := e.cdrs(t)[0]; c.Trunk != "good" || c.Cause != 200 || c.Direction != "outbound" {
		t.Errorf("CDR %+v", c)
	}

	e.sippUAC("caller", "uac_busy.xml", "udp", "-s", "01711234567").wait(t)
	busyProv.wait(t)
	waitFor(t, "the second CDR", func() bool { return len(e.cdrs(t)) == 2 })
	for _, c := range e.cdrs(t) {
		if c.Callee == "01711234567" && (c.Trunk != "busy" || c.Cause != 486) {
			t.Errorf("CDR of the busy call %+v", c)
		}
	}
	if n := e.srv().ActiveCalls(); n != 0 {
		t.Errorf("%d calls active", n)
	}
}

// TestCallerIDTowardsTrunks: a user's outside call presents the user's own DID; towards a
// trusted trunk with P-Asserted-Identity. With CLIR on, the From is anonymous and the
// trusted trunk gets the identity with Privacy: id; *31 before the number withholds it for
// one call, and an untrusted trunk never sees P-Asserted-Identity.
func TestCallerIDTowardsTrunks(t *testing.T) {
	e := start(t, nil)
	var u struct {
		ID int64 `json:"id"`
	}
	out, er, code := e.p.CLI("user", "add", "--tenant", "default", "--name", "Caller", "--email", "caller@example.test", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &u) != nil {
		t.Fatalf("user add: %d %s %s", code, out, er)
	}
	e.ext("1001", "secret-1001", "--user", strconv.FormatInt(u.ID, 10))
	trusted := e.newPeer("udp")
	trustedProv := e.sippUAS("trusted", "uas.xml", trusted, "-m", "2")
	plain := e.newPeer("udp")
	plainProv := e.sippUAS("plain", "uas.xml", plain)
	for _, args := range [][]string{
		{"dial", "settings", "--tenant", "default", "--country", "DE", "--main-number", "030 9999000"},
		{"trunk", "set", "--tenant", "default", "--name", "trusted", "--kind", "ip", "--server", "127.0.0.1:" + strconv.Itoa(trusted.port), "--sources", "127.0.0.5", "--trusted", "on"},
		{"trunk", "set", "--tenant", "default", "--name", "plain", "--kind", "ip", "--server", "127.0.0.1:" + strconv.Itoa(plain.port), "--sources", "127.0.0.6"},
		{"route", "set", "--tenant", "default", "--name", "berlin", "--pattern", "_030X.", "--trunks", "trusted"},
		{"route", "set", "--tenant", "default", "--name", "hamburg", "--pattern", "_040X.", "--trunks", "plain"},
		{"did", "add", "--tenant", "default", "--number", "030 5550101", "--dest", "extension:1001"},
	} {
		if out, er, code := e.p.CLI(args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, er)
		}
	}
	e.sippUAC("caller", "uac.xml", "udp", "-s", "0301234567", "-d", "200").wait(t)
	e.p.MustDo(200, "PUT", fmt.Sprintf("/api/v1/tenants/1/users/%d/caller-id", u.ID), e.p.AdminToken, map[string]any{"clir": true}, nil)
	e.sippUAC("caller", "uac.xml", "udp", "-s", "0301234567", "-d", "200").wait(t)
	trustedProv.wait(t)
	e.p.MustDo(200, "PUT", fmt.Sprintf("/api/v1/tenants/1/users/%d/caller-id", u.ID), e.p.AdminToken, map[string]any{"clir": false}, nil)
	e.sippUAC("caller", "uac.xml", "udp", "-s", "*310401234567", "-d", "200").wait(t)
	plainProv.wait(t)

	invites := func(msgs string) []string {
		var out []string
		for _, m := range strings.Split(msgs, "UDP message received") {
			if i := strings.Index(m, "INVITE sip:"); i >= 0 && i < 200 {
				out = append(out, m)
			}
		}
		return out
	}
	tr := invites(trustedProv.messages())
	if len(tr) != 2 {
		t.Fatalf("%d INVITEs at the trusted trunk:\n%s", len(tr), trustedProv.messages())
	}
	if !strings.Contains(tr[0], "From: <sip:+49305550101@") && !strings.Contains(tr[0], "<sip:+49305550101@default") ||
		!strings.Contains(tr[0], "P-Asserted-Identity: <sip:+49305550101@") || strings.Contains(tr[0], "Privacy:") {
		t.Errorf("first INVITE at the trusted trunk (own DID, asserted):\n%s", tr[0])
	}
	if !strings.Contains(tr[1], "sip:anonymous@anonymous.invalid") || strings.Contains(tr[1], "+49305550101@default\r\nTo") ||
		!strings.Contains(tr[1], "P-Asserted-Identity: <sip:+49305550101@") || !strings.Contains(tr[1], "Privacy: id") {
		t.Errorf("INVITE with CLIR at the trusted trunk:\n%s", tr[1])
	}
	pl := invites(plainProv.messages())
	if len(pl) != 1 || !strings.Contains(pl[0], "INVITE sip:+49401234567@") || !strings.Contains(pl[0], "sip:anonymous@anonymous.invalid") ||
		strings.Contains(pl[0], "P-Asserted-Identity") || strings.Contains(pl[0], "+49305550101") {
		t.Errorf("INVITE after *31 at the untrusted trunk:\n%s", strings.Join(pl, "\n"))
	}
}
