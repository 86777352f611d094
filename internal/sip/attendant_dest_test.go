package sip_test

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAttendantDestinations: a menu's key leads, through the one call model, to a ring group,
// to an outside number through a trunk, and to an extension's mailbox. The outside calls run
// under the toll-fraud guard as a phone's do: with one outside call allowed at a time, a call
// whose trunk refused it and a call that was answered and ended each give their place back,
// so the next one goes out; the CDR names the trunk. The mailbox takes the caller's message.
func TestAttendantDestinations(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	menu := func(typ, target string) {
		e.putMenu("main", "800", `{"options":{"2":{"type":"`+typ+`","target":"`+target+`"}},"timeout_ms":6000,"retries":1}`)
	}
	cli := func(args ...string) {
		t.Helper()
		if out, er, code := e.p.CLI(args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, er)
		}
	}

	t.Run("group", func(t *testing.T) {
		cli("group", "set", "--tenant", "default", "--number", "600", "--name", "sales", "--strategy", "round-robin", "--members", "1002")
		menu("group", "600")
		uas := e.newPeer("udp")
		member := e.sippUAS("group member", "uas.xml", uas)
		e.register("1002", "secret-1002", uas)
		e.sippUAC("caller", "uac_attendant_dtmf.xml", "udp", "-s", "800").wait(t)
		member.wait(t)
	})

	t.Run("number", func(t *testing.T) {
		refusing := e.newPeer("udp")
		good := e.newPeer("udp")
		cli("dial", "settings", "--tenant", "default", "--country", "DE", "--max-concurrent", "1")
		// The providers only answer; 127.0.0.1, where the phones call from, is not a trunk's source.
		cli("trunk", "set", "--tenant", "default", "--name", "refusing", "--kind", "ip", "--server", "127.0.0.1:"+strconv.Itoa(refusing.port), "--sources", "127.0.0.3")
		cli("trunk", "set", "--tenant", "default", "--name", "good", "--kind", "ip", "--server", "127.0.0.1:"+strconv.Itoa(good.port), "--sources", "127.0.0.3")
		cli("route", "set", "--tenant", "default", "--name", "mobile", "--pattern", "_01XX.", "--trunks", "refusing")
		cli("route", "set", "--tenant", "default", "--name", "national", "--pattern", "_0[2-9]X.", "--trunks", "good")

		menu("number", "01711234567")
		overloaded := e.sippUAS("refusing provider", "uas_503.xml", refusing)
		e.sippUAC("caller to a refusing trunk", "uac_attendant_dtmf.xml", "udp", "-s", "800").wait(t)
		overloaded.wait(t)

		menu("number", "0301234567")
		for i := range 2 {
			prov := e.sippUAS("provider", "uas.xml", good)
			e.sippUAC("caller "+strconv.Itoa(i), "uac_attendant_dtmf.xml", "udp", "-s", "800").wait(t)
			prov.wait(t)
			if msgs := prov.messages(); !strings.Contains(msgs, "INVITE sip:+49301234567@127.0.0.1:"+strconv.Itoa(good.port)) {
				t.Errorf("call %d: INVITE at the provider:\n%s", i, tail(msgs, 3000))
			}
		}
		waitFor(t, "the CDRs", func() bool {
			n := 0
			for _, c := range e.cdrs(t) {
				if c.Trunk == "good" {
					n++
				}
			}
			return n == 2
		})
	})

	t.Run("mailbox", func(t *testing.T) {
		e.putGreeting("1002", "unavailable", time.Second)
		e.p.App.Voicemail.UsePrompts(shortPrompts{})
		menu("mailbox", "1002")
		e.sippUAC("caller", "uac_attendant_dtmf_speech.xml", "udp", "-s", "800").wait(t)
		var n int
		waitFor(t, "the message", func() bool { n = len(e.vmMessages("1002")); return n > 0 })
		m := e.vmMessages("1002")[0]
		if m.CallerNumber != "1001" || m.DurationMS < 5000 {
			t.Errorf("message %+v", m)
		}
	})

	if n := e.srv().ActiveCalls(); n != 0 {
		t.Errorf("%d calls active", n)
	}
}
