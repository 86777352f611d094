package sip_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/privox/privox/internal/store"
)

// TestRingGroups: an inbound call to a DID rings a simultaneous group of two phones: one
// answers, the other is cancelled. A sequential group rings its first member for the
// member's ring time, cancels it and rings the second, who answers. In a sequential group
// whose only member is busy the fall-through extension rings and answers. The CDRs name
// the group's number as the callee.
func TestRingGroups(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	type phone struct {
		number, scenario string
		run              *sippRun
	}
	phones := []*phone{{"1002", "uas.xml", nil}, {"1003", "uas_cancel.xml", nil}, {"1004", "uas_cancel.xml", nil}, {"1005", "uas.xml", nil},
		{"1006", "uas_busy.xml", nil}, {"1007", "uas.xml", nil}}
	var u struct {
		ID int64 `json:"id"`
	}
	out, er, code := e.p.CLI("user", "add", "--tenant", "default", "--name", "Member", "--email", "member@example.test", "--json")
	if code != 0 || json.Unmarshal([]byte(out), &u) != nil {
		t.Fatalf("user add: %d %s %s", code, out, er)
	}
	owner := u.ID
	for _, p := range phones {
		if p.number == "1002" {
			e.ext(p.number, "secret-"+p.number, "--user", strconv.FormatInt(owner, 10))
		} else {
			e.ext(p.number, "secret-"+p.number)
		}
		peer := e.newPeer("udp")
		p.run = e.sippUAS("phone "+p.number, p.scenario, peer)
		e.register(p.number, "secret-"+p.number, peer)
	}
	for _, args := range [][]string{
		{"dial", "settings", "--tenant", "default", "--country", "DE"},
		{"trunk", "set", "--tenant", "default", "--name", "carrier", "--kind", "ip", "--server", "127.0.0.2:5060", "--sources", "127.0.0.2"},
		{"group", "set", "--tenant", "default", "--number", "600", "--name", "sales", "--members", "1002,1003"},
		{"group", "set", "--tenant", "default", "--number", "601", "--strategy", "sequential", "--members", "1004:5,1005"},
		{"group", "set", "--tenant", "default", "--number", "602", "--strategy", "sequential", "--members", "1006", "--fallthrough", "1007"},
		{"did", "add", "--tenant", "default", "--number", "030 5550600", "--dest", "group:600"},
	} {
		if out, er, code := e.p.CLI(args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, er)
		}
	}
	if out, _, code := e.p.CLI("route", "explain", "--tenant", "default", "--trunk", "carrier", "--to", "+49305550600"); code != 0 ||
		!strings.Contains(out, `group 600 "sales" rings simultaneous: 1002+1003 20s`) {
		t.Errorf("explain: %s", out)
	}
	waitFor(t, "the trunk's address", func() bool { return e.srv().TrunkSourceKnownForTest("127.0.0.2") })
	e.trunkUAC("127.0.0.2", "trunk_uac.xml", "+49305550600", "+49305550600", "0301112222", "-d", "300").wait(t)
	phones[0].run.wait(t)
	phones[1].run.wait(t)
	e.sippUAC("caller", "uac.xml", "udp", "-s", "601", "-d", "300").wait(t)
	phones[2].run.wait(t)
	phones[3].run.wait(t)
	e.sippUAC("caller", "uac.xml", "udp", "-s", "602", "-d", "300").wait(t)
	phones[4].run.wait(t)
	phones[5].run.wait(t)
	waitFor(t, "the CDRs", func() bool { return len(e.cdrs(t)) == 3 })
	seen := map[string]string{}
	for _, c := range e.cdrs(t) {
		seen[c.Callee] = c.Direction
		if c.Cause != 200 {
			t.Errorf("CDR %+v", c)
		}
	}
	// The member who answered has the call in their journal.
	var j struct {
		Items []store.JournalEntry `json:"items"`
	}
	e.p.MustDo(200, "GET", fmt.Sprintf("/api/v1/tenants/1/users/%d/journal", owner), e.p.AdminToken, nil, &j)
	if len(j.Items) != 1 || j.Items[0].Direction != "in" || j.Items[0].PeerNumber != "+49301112222" {
		t.Errorf("journal of 1002's owner: %+v", j.Items)
	}
	if seen["+49305550600"] != "inbound" || seen["601"] != "internal" || seen["602"] != "internal" {
		t.Errorf("CDRs %v", seen)
	}
	if n := e.srv().ActiveCalls(); n != 0 {
		t.Errorf("%d calls active", n)
	}
}
