package sip_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/privox/privox/internal/dialplan"
	"github.com/privox/privox/internal/sip"
	"github.com/privox/privox/internal/store"
)

// Call forwarding and do-not-disturb against real phones: sipp 1001 calls 1002, whose
// setting sends the call to sipp 1003 (unconditionally, because 1002 is busy, does not answer
// within its ring time, or has no phone registered); 1003 sees who forwarded the call in a
// Diversion header, and the CDR names 1002 as the forwarder. On do-not-disturb the call goes
// to 1002's mailbox. Feature codes dialled from the phone set and clear the forwarding.

// setForward stores number's forwarding as an admin would.
func (e *env) setForward(number string, f store.Forwarding) {
	e.t.Helper()
	ctx := context.Background()
	x, err := e.p.App.DB.ExtensionByNumber(ctx, 1, number)
	if err != nil {
		e.t.Fatal(err)
	}
	f.TenantID, f.ExtensionID = 1, x.ID
	if _, err := e.p.App.Forwards.Save(ctx, f, dialplan.Actor{Name: "test"}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) forwarding(number string) store.Forwarding {
	e.t.Helper()
	ctx := context.Background()
	x, err := e.p.App.DB.ExtensionByNumber(ctx, 1, number)
	if err != nil {
		e.t.Fatal(err)
	}
	f, err := e.p.App.DB.Forwarding(ctx, 1, x.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

// forwardedCall runs 1001's call to 1002 answered by sipp 1003, and checks the forwarded
// INVITE's Diversion header and the CDR.
func (e *env) forwardedCall(t *testing.T, reason string, ringing func() *sippRun) {
	t.Helper()
	uas := e.newPeer("udp")
	target := e.sippUAS("forward target 1003", "uas.xml", uas)
	e.register("1003", "secret-1003", uas)
	var first *sippRun
	if ringing != nil {
		first = ringing()
	}
	e.sippUAC("caller", "uac.xml", "udp", "-d", "500").wait(t)
	target.wait(t)
	if first != nil {
		first.wait(t)
	}
	msgs := target.messages()
	want := "Diversion: <sip:1002@"
	if !strings.Contains(msgs, want) || !strings.Contains(msgs, "reason="+reason) {
		t.Errorf("the forwarded INVITE has no Diversion from 1002 with reason %s:\n%s", reason, tail(msgs, 3000))
	}
	if !strings.Contains(msgs, "History-Info: <sip:1002@") || !strings.Contains(msgs, ";index=1,<sip:1003@") || !strings.Contains(msgs, ">;index=1.1;mp=1") {
		t.Errorf("the forwarded INVITE has no History-Info from 1002 to 1003:\n%s", tail(msgs, 3000))
	}
	var cdrs []store.CDR
	waitFor(t, "CDR", func() bool { cdrs = e.cdrs(t); return len(cdrs) == 1 })
	if c := cdrs[0]; c.ForwardedFrom != "1002" || c.Callee != "1003" || c.Cause != 200 || c.Caller != "1001" {
		t.Errorf("CDR %+v", c)
	}
}

func forwardEnv(t *testing.T, tune func(p *sip.Policy)) *env {
	e := start(t, tune)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	e.ext("1003", "secret-1003")
	return e
}

// TestForwardUnconditional: 1002 forwards everything to 1003; 1002's phone never rings.
func TestForwardUnconditional(t *testing.T) {
	e := forwardEnv(t, nil)
	e.setForward("1002", store.Forwarding{Always: "1003"})
	e.forwardedCall(t, "unconditional", nil)
}

// TestForwardBusy: 1002's phone answers 486; the call goes on to 1003, not to voicemail.
func TestForwardBusy(t *testing.T) {
	e := forwardEnv(t, nil)
	e.putGreeting("1002", "busy", time.Second) // forwarding takes precedence over the box
	e.setForward("1002", store.Forwarding{Busy: "1003"})
	e.forwardedCall(t, "user-busy", func() *sippRun {
		uas := e.newPeer("udp")
		r := e.sippUAS("busy 1002", "uas_busy.xml", uas)
		e.register("1002", "secret-1002", uas)
		return r
	})
	if ms := e.vmMessages("1002"); len(ms) != 0 {
		t.Errorf("%d voicemail messages: forwarding should have taken the call", len(ms))
	}
}

// TestForwardNoAnswer: 1002's phone rings for its own ring time of 1 s (the server's is 20
// s), is cancelled, and 1003 answers.
func TestForwardNoAnswer(t *testing.T) {
	e := forwardEnv(t, nil)
	e.setForward("1002", store.Forwarding{NoAnswer: "1003", NoAnswerRingS: 1})
	e.forwardedCall(t, "no-answer", func() *sippRun {
		uas := e.newPeer("udp")
		r := e.sippUAS("ringing 1002", "uas_cancel.xml", uas)
		e.register("1002", "secret-1002", uas)
		return r
	})
}

// TestForwardUnreachable: 1002 has no phone registered; its forwarding is set through the
// command line, and route explain shows the forward.
func TestForwardUnreachable(t *testing.T) {
	e := forwardEnv(t, nil)
	if out, errOut, code := e.p.CLI("forward", "set", "--tenant", "default", "--number", "1002", "--unreachable", "1003", "--busy", "1001"); code != 0 {
		t.Fatalf("forward set: %d %s %s", code, out, errOut)
	}
	if out, _, _ := e.p.CLI("forward", "show", "--tenant", "default", "--number", "1002"); !strings.Contains(out, "unreachable 1003") {
		t.Errorf("forward show: %s", out)
	}
	if out, _, _ := e.p.CLI("forward", "set", "--tenant", "default", "--number", "1002", "--busy", "none"); strings.Contains(out, "busy 1001") {
		t.Errorf("busy forward not cleared: %s", out)
	}
	out, errOut, code := e.p.CLI("route", "explain", "--tenant", "default", "--from", "1001", "--to", "1002")
	if code != 0 || !strings.Contains(out, "forward      pass     1002 forwards (unavailable) to 1003") || !strings.Contains(out, "forwarded by 1002 (unavailable)") {
		t.Errorf("route explain: %d\n%s%s", code, out, errOut)
	}
	e.forwardedCall(t, "unavailable", nil)
}

// TestForwardLoop: 1002 → 1003 → 1002 closes a loop: the call ends at 1003, the last valid
// target, with one Diversion.
func TestForwardLoop(t *testing.T) {
	e := forwardEnv(t, nil)
	e.setForward("1002", store.Forwarding{Always: "1003"})
	e.setForward("1003", store.Forwarding{Always: "1002"})
	e.forwardedCall(t, "unconditional", nil)
	d, err := e.srv().Explain(context.Background(), 1, "1001", "1002")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.Explain(), "loop: 1003 forwards to 1002") {
		t.Errorf("explanation:\n%s", d.Explain())
	}
}

// TestDNDVoicemail: 1002 is on do-not-disturb: its registered phone does not ring, the caller
// leaves a message in its box; without a box the caller hears 486.
func TestDNDVoicemail(t *testing.T) {
	e := forwardEnv(t, nil)
	e.ext("1004", "secret-1004")
	e.putGreeting("1002", "busy", time.Second)
	e.setForward("1002", store.Forwarding{DND: true, Busy: "1003"}) // DND wins over forwarding on busy
	const lead = 2500 * time.Millisecond
	e.sippUAC("caller", "uac_voicemail.xml", "udp", "-d", fmt.Sprint(lead.Milliseconds())).wait(t)
	e.checkMessage(t, lead)
	e.setForward("1004", store.Forwarding{DND: true})
	e.sippUAC("caller to 1004", "uac_busy.xml", "udp", "-s", "1004").wait(t)
}

// TestForwardFeatureCodes: 1001 dials *21*1003 from its phone: the call is answered, confirmed
// and hung up, 1001 forwards to 1003 and the change is audited as the phone's; #21 clears it,
// *78 switches do-not-disturb on.
func TestForwardFeatureCodes(t *testing.T) {
	e := forwardEnv(t, nil)
	e.p.App.Voicemail.UsePrompts(shortPrompts{})
	dial := func(code string) {
		t.Helper()
		e.sippUAC("dial "+code, "uac_wait_bye.xml", "udp", "-s", code, "-key", "session_expires", "1800").wait(t)
	}
	dial("*21*1003")
	if f := e.forwarding("1001"); f.Always != "1003" {
		t.Fatalf("after *21*1003: %+v", f)
	}
	dial("*611002*15%23")
	if f := e.forwarding("1001"); f.NoAnswer != "1002" || f.NoAnswerRingS != 15 || f.Always != "1003" {
		t.Fatalf("after *61*1002*15#: %+v", f)
	}
	dial("%2321")
	dial("*78")
	if f := e.forwarding("1001"); f.Always != "" || !f.DND || f.NoAnswer != "1002" {
		t.Fatalf("after #21 and *78: %+v", f)
	}
	audit, err := e.p.App.DB.ListAudit(context.Background(), 1, store.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range audit {
		if a.Action == "forwarding.update" && a.Actor == "phone:1001" {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d audited changes by the phone, want 4", n)
	}
	// A malformed code is refused, and changes nothing.
	e.sippUAC("bad code", "uac_busy.xml", "udp", "-s", "*21*12ab").end()
	if f := e.forwarding("1001"); f.Always != "" {
		t.Errorf("after a malformed code: %+v", f)
	}
}

// TestForwardToTrunk: 1002 forwards on no answer to an outside number; the call leaves
// through the trunk, whose INVITE carries the Diversion from 1002, and the CDR names the
// trunk and the forwarder.
func TestForwardToTrunk(t *testing.T) {
	e := forwardEnv(t, nil)
	prov := e.newPeer("udp")
	provider := e.sippUAS("provider", "uas.xml", prov)
	for _, args := range [][]string{
		{"dial", "settings", "--tenant", "default", "--country", "DE", "--main-number", "030 9999000"},
		{"trunk", "set", "--tenant", "default", "--name", "carrier", "--kind", "ip", "--server", "127.0.0.1:" + strconv.Itoa(prov.port), "--sources", "127.0.0.1"},
		{"route", "set", "--tenant", "default", "--name", "national", "--pattern", "_0[1-9]X.", "--trunks", "carrier"},
		{"forward", "set", "--tenant", "default", "--number", "1002", "--no-answer", "0301234567", "--ring-time", "1"},
	} {
		if out, er, code := e.p.CLI(args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, er)
		}
	}
	uas := e.newPeer("udp")
	ringing := e.sippUAS("ringing 1002", "uas_cancel.xml", uas)
	e.register("1002", "secret-1002", uas)
	e.sippUAC("caller", "uac.xml", "udp", "-d", "500").wait(t)
	provider.wait(t)
	ringing.wait(t)
	msgs := provider.messages()
	if !strings.Contains(msgs, "INVITE sip:+49301234567@") || !strings.Contains(msgs, "Diversion: <sip:1002@") || !strings.Contains(msgs, "reason=no-answer") {
		t.Errorf("the provider's INVITE:\n%s", tail(msgs, 3000))
	}
	var cdrs []store.CDR
	waitFor(t, "CDR", func() bool { cdrs = e.cdrs(t); return len(cdrs) == 1 })
	if c := cdrs[0]; c.ForwardedFrom != "1002" || c.Trunk != "carrier" || c.Cause != 200 {
		t.Errorf("CDR %+v", c)
	}
}
