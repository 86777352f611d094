package sip_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	gosip "github.com/emiago/sipgo/sip"

	"github.com/privox/privox/internal/media"
	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/sip"
	"github.com/privox/privox/internal/store"
)

// TestForking: 1002 has two phones; the INVITE rings both, the one that answers gets the
// call and the other one is cancelled.
func TestForking(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	winner, loser := e.newPeer("udp"), e.newPeer("udp")
	// the answering phone waits (-d) so that both ring before one answers
	w := e.sippUAS("answering phone", "uas.xml", winner, "-d", "500")
	l := e.sippUAS("ringing phone", "uas_cancel.xml", loser)
	e.register("1002", "secret-1002", winner)
	e.sipp("second phone", "register_add.xml", e.addr("udp"), "-s", "1002", "-au", "1002", "-ap", "secret-1002",
		"-key", "contact_port", strconv.Itoa(loser.port), "-key", "contact_transport", "udp",
		"-i", "127.0.0.1", "-p", strconv.Itoa(freePort(t)), "-m", "1", "-timeout", "15").wait(t)
	if n := e.srv().Registered(); n != 2 {
		t.Fatalf("%d contacts registered, want 2", n)
	}
	e.sippUAC("caller", "uac.xml", "udp", "-d", "300").wait(t)
	w.wait(t)
	l.wait(t)
	waitFor(t, "CDR", func() bool { return len(e.cdrs(t)) == 1 })
	if c := e.cdrs(t)[0]; c.Cause != 200 {
		t.Errorf("CDR cause %d, want 200", c.Cause)
	}
}

// TestNoAnswer: a phone rings until the no-answer timer; the caller hears 480 and the phone
// is cancelled.
func TestNoAnswer(t *testing.T) {
	e := start(t, func(p *sip.Policy) { p.NoAnswer = time.Second })
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	uas := e.newPeer("udp")
	callee := e.sippUAS("ringing phone", "uas_cancel.xml", uas)
	e.register("1002", "secret-1002", uas)
	e.sippUAC("caller", "uac_noanswer.xml", "udp").wait(t)
	callee.wait(t)
	waitFor(t, "CDR", func() bool { return len(e.cdrs(t)) == 1 })
	if c := e.cdrs(t)[0]; c.Cause != 480 || c.AnswerAt != nil {
		t.Errorf("CDR cause %d answered %v, want 480 unanswered", c.Cause, c.AnswerAt)
	}
}

// TestSessionTimer: the caller asks for a 3 s session interval and never refreshes; Privox
// hangs up both legs before it runs out (RFC 4028 §10).
func TestSessionTimer(t *testing.T) {
	e := start(t, func(p *sip.Policy) { p.MinSE = time.Second })
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	e.sippCall(t, "tcp", "uas.xml", "uac_wait_bye.xml", "-key", "session_expires", "3")
	waitFor(t, "CDR", func() bool { return len(e.cdrs(t)) == 1 })
	if c := e.cdrs(t)[0]; c.Cause != 200 || c.HangupBy != "system:session-timer" {
		t.Errorf("CDR cause %d hangup_by %q", c.Cause, c.HangupBy)
	}
}

// TestDrain: on shutdown Privox refuses new registrations and calls with 503, lets the call
// in progress run for the grace period, then hangs it up on both legs.
func TestDrain(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	uas := e.newPeer("udp")
	callee := e.sippUAS("callee", "uas.xml", uas)
	e.register("1002", "secret-1002", uas)
	caller := e.sippUAC("caller", "uac_wait_bye.xml", "udp", "-key", "session_expires", "1800")
	waitFor(t, "the call", func() bool { return e.srv().ActiveCalls() == 1 })
	c := newSIPClient(t, "127.0.0.2")
	stopped := make(chan struct{})
	go func() { e.p.Stop(); close(stopped) }()
	waitFor(t, "draining", func() bool { return !e.p.App.Ready.Load() })
	time.Sleep(100 * time.Millisecond)
	if res := c.do(e.invite("1001", "1002"), "1001", "secret-1001"); res.StatusCode != 503 {
		t.Errorf("INVITE while draining: %d", res.StatusCode)
	}
	req := gosip.NewRequest(gosip.REGISTER, gosip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: port(e.addr("udp"))})
	req.AppendHeader(&gosip.ToHeader{Address: gosip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1"}})
	if res := c.do(req, "1001", "secret-1001"); res.StatusCode != 503 {
		t.Errorf("REGISTER while draining: %d", res.StatusCode)
	}
	if e.srv().ActiveCalls() != 1 {
		t.Error("the call did not survive the start of the drain")
	}
	caller.wait(t) // ends when Privox's BYE arrives, after the grace period
	callee.wait(t)
	<-stopped
	db := e.p.OpenStore()
	defer db.Close()
	cdrs, err := db.ListCDRs(context.Background(), 1, 0, store.Page{Limit: 10})
	if err != nil || len(cdrs) != 1 || cdrs[0].HangupBy != "system:drain" || cdrs[0].DurationMS < 4000 {
		t.Errorf("CDRs after drain: %+v %v", cdrs, err)
	}
}

// TestRegistrationsSurviveRestart: registrations are written behind to the store and read
// back at start, so a phone stays reachable across a restart without registering again.
func TestRegistrationsSurviveRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first := privoxtest.Start(t, privoxtest.Options{DataDir: dir})
	e := &env{t: t, p: first}
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	uas := e.newPeer("udp")
	e.register("1002", "secret-1002", uas)
	first.Stop()

	second := privoxtest.Start(t, privoxtest.Options{DataDir: dir})
	e2 := &env{t: t, p: second}
	if n := e2.srv().Registered(); n != 1 {
		t.Fatalf("%d contacts after restart, want 1", n)
	}
	callee := e2.sippUAS("callee", "uas.xml", uas)
	e2.sippUAC("caller", "uac.xml", "udp", "-d", "200").wait(t)
	callee.wait(t)
}

// TestDTMF: the caller sends an RFC 4733 digit; the relay reports it and the call logic's
// hook sees it with the call it belongs to.
func TestDTMF(t *testing.T) {
	const pcap = "/usr/share/sip-tester/dtmf_2833_1.pcap"
	if _, err := os.Stat(pcap); err != nil {
		t.Fatalf("%s missing: install the Debian package sip-tester", pcap)
	}
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	got := make(chan string, 10)
	e.srv().OnDTMF(func(c sip.CallInfo, from media.LegID, ev media.DTMFEvent) {
		got <- fmt.Sprintf("%s %s %s %c", c.Caller, c.Callee, from, ev.Digit)
	})
	e.sippCall(t, "udp", "uas.xml", "uac_dtmf.xml")
	select {
	case ev := <-got:
		if ev != "1001 1002 A 1" {
			t.Errorf("DTMF hook saw %q, want the digit 1 from leg A of 1001→1002", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no DTMF event reached the hook")
	}
}
