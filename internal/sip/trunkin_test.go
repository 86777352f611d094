package sip_test

import (
	"strconv"
	"strings"
	"testing"
)

// trunkUAC runs a sipp provider sending one INVITE without credentials from a loopback
// address of its own (127.0.0.x, so that it is told apart from the phones on 127.0.0.1).
func (e *env) trunkUAC(ip, scenario, ruri, to, caller string, extra ...string) *sippRun {
	return e.trunkUACOver("udp", ip, scenario, ruri, to, caller, extra...)
}

// trunkUACOver is trunkUAC over a transport (udp or tcp).
func (e *env) trunkUACOver(transport, ip, scenario, ruri, to, caller string, extra ...string) *sippRun {
	e.t.Helper()
	args := append([]string{e.addr(transport), "-t", sippTransport(transport), "-i", ip, "-p", strconv.Itoa(freePort(e.t)), "-mp", strconv.Itoa(freePort(e.t)),
		"-s", ruri, "-key", "did_to", to, "-key", "caller", caller, "-m", "1", "-timeout", "40"}, extra...)
	return e.sipp("provider "+ruri, scenario, args...)
}

// TestInboundDIDs: providers call in over two IP-authenticated trunks. The first trunk's
// DID is read from the Request-URI, the second's from the To header (where a range covers
// it, sent without the plus as providers do); both ring extension 1002, the callee sees
// the caller in E.164 and the CDRs say inbound, name the trunk and keep the caller's number
// in E.164. A DID no one covers gets 404 while the tenant has no default destination, and
// the explanation shows the default once one is set; an INVITE without credentials from
// any other address is challenged as before.
func TestInboundDIDs(t *testing.T) {
	e := start(t, nil)
	e.ext("1002", "secret-1002")
	uas := e.newPeer("udp")
	callee := e.sippUAS("callee", "uas.xml", uas, "-m", "4")
	e.register("1002", "secret-1002", uas)
	for _, args := range [][]string{
		{"dial", "settings", "--tenant", "default", "--country", "DE"},
		{"trunk", "set", "--tenant", "default", "--name", "carrier", "--kind", "ip", "--server", "127.0.0.2:5060", "--sources", "127.0.0.2"},
		{"trunk", "set", "--tenant", "default", "--name", "second", "--kind", "ip", "--server", "127.0.0.3:5060", "--sources", "127.0.0.3/32", "--did-from", "to"},
		// A registering trunk: its calls come from its server's address (nobody answers the
		// REGISTERs here; the trunk keeps retrying).
		{"trunk", "set", "--tenant", "default", "--name", "registered", "--kind", "register", "--server", "127.0.0.7:" + strconv.Itoa(freePort(t)), "--username", "u1", "--password", "provider-secret-1"},
		{"did", "add", "--tenant", "default", "--number", "030 5550100", "--dest", "extension:1002"},
		{"did", "add", "--tenant", "default", "--number", "+49305550200", "--last", "0305550299", "--dest", "extension:1002"},
	} {
		if out, er, code := e.p.CLI(args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, er)
		}
	}
	for _, a := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.7"} { // read with the next trunk poll
		waitFor(t, "trunk address "+a, func() bool { return e.srv().TrunkSourceKnownForTest(a) })
	}
	e.trunkUAC("127.0.0.2", "trunk_uac.xml", "+49305550100", "+49305550100", "0301112222", "-d", "300").wait(t)
	e.trunkUAC("127.0.0.3", "trunk_uac.xml", "privox", "49305550207", "+44 20 7946 0000", "-d", "300").wait(t)
	e.trunkUAC("127.0.0.7", "trunk_uac.xml", "0305550250", "0305550250", "anonymous", "-d", "300").wait(t)
	e.trunkUACOver("tcp", "127.0.0.2", "trunk_uac.xml", "+49305550299", "+49305550299", "+49301112223", "-d", "300").wait(t)
	callee.wait(t)
	msgs := callee.messages()
	if !strings.Contains(msgs, "sip:+49301112222@") || !strings.Contains(msgs, "sip:+442079460000@") {
		t.Errorf("callers at the callee:\n%s", tail(msgs, 4000))
	}
	waitFor(t, "the CDRs", func() bool { return len(e.cdrs(t)) == 4 })
	seen := map[string]bool{}
	for _, c := range e.cdrs(t) {
		if c.Direction != "inbound" || c.Cause != 200 {
			t.Errorf("CDR %+v", c)
		}
		seen[c.Trunk+" "+c.Caller+" "+c.Callee] = true
	}
	if !seen["carrier +49301112222 +49305550100"] || !seen["second +442079460000 49305550207"] || !seen["registered anonymous 0305550250"] ||
		!seen["carrier +49301112223 +49305550299"] {
		t.Errorf("CDRs %v", seen)
	}

	e.trunkUAC("127.0.0.2", "trunk_uac_404.xml", "+49305559999", "+49305559999", "0301112222").wait(t)
	long := "+49" + strings.Repeat("3", 200) // refused before any stage looks at it
	e.trunkUAC("127.0.0.2", "trunk_uac_484.xml", long, long, "0301112222").wait(t)
	if out, er, code := e.p.CLI("did", "default", "--tenant", "default", "--dest", "extension:1002"); code != 0 {
		t.Fatalf("did default: %d %s %s", code, out, er)
	}
	out, er, code := e.p.CLI("route", "explain", "--tenant", "default", "--trunk", "carrier", "--to", "0305559999")
	if code != 0 || !strings.Contains(out, "did") || !strings.Contains(out, "default") || !strings.Contains(out, "=> extension 1002") {
		t.Errorf("explain: %d %s %s", code, out, er)
	}
	e.trunkUAC("127.0.0.4", "trunk_uac_407.xml", "+49305550100", "+49305550100", "0301112222").wait(t)
	if n := e.srv().ActiveCalls(); n != 0 {
		t.Errorf("%d calls active", n)
	}
}

// TestInboundDIDToMenu: a DID runs the auto attendant; the provider's caller presses 2 and
// the menu connects them to extension 1002: the number a menu connects to is routed as an
// internal number from outside, not as another DID.
func TestInboundDIDToMenu(t *testing.T) {
	e := start(t, nil)
	e.ext("1002", "secret-1002")
	e.putMenu("main", "800", `{"options":{"2":{"type":"extension","target":"1002"}},"timeout_ms":6000,"retries":1}`)
	uas := e.newPeer("udp")
	callee := e.sippUAS("callee", "uas.xml", uas)
	e.register("1002", "secret-1002", uas)
	for _, args := range [][]string{
		{"dial", "settings", "--tenant", "default", "--country", "DE"},
		{"trunk", "set", "--tenant", "default", "--name", "carrier", "--kind", "ip", "--server", "127.0.0.2:5060", "--sources", "127.0.0.2"},
		{"did", "add", "--tenant", "default", "--number", "030 5550800", "--dest", "application:800"},
	} {
		if out, er, code := e.p.CLI(args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, er)
		}
	}
	waitFor(t, "the trunk's address", func() bool { return e.srv().TrunkSourceKnownForTest("127.0.0.2") })
	e.trunkUAC("127.0.0.2", "trunk_uac_dtmf.xml", "+49305550800", "+49305550800", "0301112222").wait(t)
	callee.wait(t)
	waitFor(t, "the CDR", func() bool { return len(e.cdrs(t)) == 1 })
	if c := e.cdrs(t)[0]; c.Cause != 200 || c.Direction != "inbound" || c.Caller != "+49301112222" {
		t.Errorf("CDR %+v", c)
	}
}
