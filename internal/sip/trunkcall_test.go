package sip_test

import (
	"strconv"
	"strings"
	"testing"
)

// TestTrunkFailover: a route names three trunks. The first refuses connections (a transport
// error), the second answers 503 (a sipp provider), the third answers: the call is
// connected through the third, the CDR names it, and the second saw the number in E.164.
// A route whose first trunk answers 486 ends there: busy is the callee's answer, not the
// trunk's, and the next trunk hears nothing.
func TestTrunkFailover(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	over := e.newPeer("udp")
	overloaded := e.sippUAS("overloaded", "uas_503.xml", over)
	good := e.newPeer("udp")
	answering := e.sippUAS("answering", "uas.xml", good)
	busy := e.newPeer("udp")
	busyProv := e.sippUAS("busy", "uas_busy.xml", busy)
	unused := e.newPeer("udp")
	for _, args := range [][]string{
		{"dial", "settings", "--tenant", "default", "--country", "DE", "--main-number", "030 9999000"},
		{"trunk", "set", "--tenant", "default", "--name", "dead", "--kind", "ip", "--transport", "tcp", "--server", "127.0.0.1:1", "--sources", "127.0.0.1"},
		{"trunk", "set", "--tenant", "default", "--name", "overloaded", "--kind", "ip", "--server", "127.0.0.1:" + strconv.Itoa(over.port), "--sources", "127.0.0.1"},
		{"trunk", "set", "--tenant", "default", "--name", "good", "--kind", "ip", "--server", "127.0.0.1:" + strconv.Itoa(good.port), "--sources", "127.0.0.1"},
		{"trunk", "set", "--tenant", "default", "--name", "busy", "--kind", "ip", "--server", "127.0.0.1:" + strconv.Itoa(busy.port), "--sources", "127.0.0.1"},
		{"trunk", "set", "--tenant", "default", "--name", "unused", "--kind", "ip", "--server", "127.0.0.1:" + strconv.Itoa(unused.port), "--sources", "127.0.0.1"},
		{"route", "set", "--tenant", "default", "--name", "mobile", "--pattern", "_01XX.", "--trunks", "busy,unused"},
		{"route", "set", "--tenant", "default", "--name", "national", "--pattern", "_0[2-9]X.", "--trunks", "dead,overloaded,good"},
	} {
		if out, er, code := e.p.CLI(args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, er)
		}
	}
	e.sippUAC("caller", "uac.xml", "udp", "-s", "0301234567", "-d", "500").wait(t)
	overloaded.wait(t)
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
