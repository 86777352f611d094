package sip_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/privox/privox/internal/privacy"
	"github.com/privox/privox/internal/voicemail"
)

// TestVoicemailMWIAfterSweep: a message past its box's retention is removed by the sweeper,
// and the subscribed phone is told at once that the box is empty (0/0), as it is told of
// every other change.
func TestVoicemailMWIAfterSweep(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	vm := e.p.App.Voicemail
	ctx := context.Background()
	b, err := vm.Box(ctx, 1, "1001")
	if err != nil {
		t.Fatal(err)
	}
	target := e.target("udp")
	r := e.sipp("subscriber", "subscribe_mwi_sweep.xml", target, "-t", "u1", "-s", "1001", "-au", "1001", "-ap", "secret-1001",
		"-auth_uri", "1001@"+target, "-i", "127.0.0.1", "-p", fmt.Sprint(freePort(t)), "-m", "1", "-timeout", "40")
	seen := func(s string) func() bool {
		return func() bool { return strings.Contains(r.messages(), s) }
	}
	waitFor(t, "the first NOTIFY", seen("Voice-Message: 0/0"))
	// Left more than a year ago: past any box's retention.
	m, err := vm.Store(ctx, b, voicemail.Deposit{CallerNumber: "1002", At: time.Now().AddDate(-1, 0, -30), PCM: make([]int16, 8000)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the NOTIFY of the new message", seen("Voice-Message: 1/0"))
	if _, err := vm.MarkRead(ctx, b, m.ID, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the NOTIFY of the read message", seen("Voice-Message: 0/1"))
	rep, err := e.p.App.Privacy.Sweep(ctx, privacy.SweepOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rows, _ := rep.Removed(); rows == 0 {
		t.Fatalf("the sweep removed nothing: %+v", rep.Tables)
	}
	if sum, err := vm.Summary(ctx, b); err != nil || sum.Total != 0 {
		t.Fatalf("box after the sweep: %+v %v", sum, err)
	}
	r.wait(t)
}

// TestVoicemailMWIUnsolicited: a box set for unsolicited message-waiting tells the phone
// registered for its extension of a new message without any subscription; a box not so set
// sends nothing unasked.
func TestVoicemailMWIUnsolicited(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	phone := e.newPeer("udp")
	e.register("1001", "secret-1001", phone)
	vm := e.p.App.Voicemail
	ctx := context.Background()
	b, err := vm.Box(ctx, 1, "1001")
	if err != nil {
		t.Fatal(err)
	}
	if out, er, code := e.p.CLI("voicemail", "set", "--tenant", "default", "--number", "1001", "--mwi-unsolicited", "true"); code != 0 {
		t.Fatalf("voicemail set: %d %s %s", code, out, er)
	}
	r := e.sipp("phone", "notify_unsolicited.xml", "-i", "127.0.0.1", "-p", fmt.Sprint(phone.port), "-m", "1", "-timeout", "20")
	waitListening(t, "udp", phone.port)
	b, err = vm.Box(ctx, 1, "1001")
	if err != nil || !b.MWIUnsolicited {
		t.Fatalf("box %+v %v", b, err)
	}
	if _, err := vm.Store(ctx, b, voicemail.Deposit{CallerNumber: "1002", At: time.Now(), PCM: make([]int16, 8000)}); err != nil {
		t.Fatal(err)
	}
	r.wait(t)
	if msgs := r.messages(); !strings.Contains(msgs, "Messages-Waiting: yes") || !strings.Contains(msgs, "Message-Account: sip:1001@") {
		t.Errorf("the NOTIFY as received:\n%s", tail(msgs, 2000))
	}
}
