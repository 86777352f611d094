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
