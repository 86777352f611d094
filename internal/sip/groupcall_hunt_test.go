package sip_test

import (
	"strings"
	"testing"
)

// TestHuntGroups: a round-robin group of two phones rings a different first member on each
// of three calls: 1102 answers the first and third call, 1103 the second (each phone
// answers the first INVITE it gets, so the one that got the caller's INVITE is the one rung
// first). In a sequential group whose first member is on an answered call, that member is
// skipped (the explanation says so, its phone gets no INVITE) and the second answers; once
// the call is over the member is free again.
func TestHuntGroups(t *testing.T) {
	e := start(t, nil)
	for _, n := range []string{"1001", "1009"} {
		e.ext(n, "secret-"+n)
	}
	phone := func(number string, calls string) *sippRun {
		e.ext(number, "secret-"+number)
		peer := e.newPeer("udp")
		r := e.sippUAS("phone "+number, "uas.xml", peer, "-m", calls)
		e.register(number, "secret-"+number, peer)
		return r
	}
	rrA, rrB := phone("1102", "2"), phone("1103", "1")
	busy, free := phone("1104", "1"), phone("1105", "1")
	for _, args := range [][]string{
		{"group", "set", "--tenant", "default", "--number", "610", "--strategy", "round-robin", "--members", "1102:5,1103:5"},
		{"group", "set", "--tenant", "default", "--number", "611", "--strategy", "sequential", "--members", "1104:5,1105:5"},
	} {
		if out, er, code := e.p.CLI(args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, er)
		}
	}
	call := func(from, to string, extra ...string) *sippRun {
		args := append([]string{"-s", to, "-au", from, "-ap", "secret-" + from, "-key", "caller", from, "-d", "300"}, extra...)
		return e.sippUAC("caller "+from, "uac.xml", "udp", args...)
	}
	call("1001", "610").wait(t)
	call("1009", "610").wait(t)
	rrB.wait(t)
	call("1001", "610").wait(t)
	rrA.wait(t)
	if m := rrB.messages(); !strings.Contains(m, "sip:1009@") || strings.Contains(m, "sip:1001@") {
		t.Errorf("1103 should have had the second call (from 1009) only:\n%s", tail(m, 3000))
	}
	if m := rrA.messages(); strings.Contains(m, "sip:1009@") {
		t.Errorf("1102 had the second call too:\n%s", tail(m, 3000))
	}

	long := call("1001", "1104", "-d", "4000")
	waitFor(t, "1001's call to 1104 answered", func() bool {
		calls := e.srv().TenantCalls(1)
		return len(calls) == 1 && calls[0].State == "answered"
	})
	// The running server's explanation (the command line's reads only the store) sees who
	// is on a call.
	explain := func() string {
		var d struct {
			Why string `json:"why"`
		}
		e.p.MustDo(200, "GET", "/api/v1/tenants/1/route-explain?from=1009&to=611", e.p.AdminToken, nil, &d)
		return d.Why
	}
	if why := explain(); !strings.Contains(why, "busy, skipped: 1104") || !strings.Contains(why, "rings sequential: 1105 5s") {
		t.Errorf("explain while 1104 is on a call: %s", why)
	}
	call("1009", "611").wait(t)
	free.wait(t)
	long.wait(t)
	busy.wait(t)
	if n := strings.Count(busy.messages(), "INVITE sip:"); n != 1 {
		t.Errorf("1104 got %d INVITEs, want only the direct call's", n)
	}
	waitFor(t, "no calls", func() bool { return e.srv().ActiveCalls() == 0 })
	if why := explain(); strings.Contains(why, "busy") || !strings.Contains(why, "1104 5s, 1105 5s") {
		t.Errorf("explain after the call: %s", why)
	}
}
