package sip_test

import (
	"testing"
	"time"

	"github.com/privox/privox/internal/store"
)

// TestCDREndsAtTheBye: the caller hangs up after half a second of talk; the callee never
// answers Privox's BYE. The call's record ends when the caller's BYE came, not when Privox
// gave up waiting for the callee (5 s later).
func TestCDREndsAtTheBye(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	uas := e.newPeer("udp")
	callee := e.sippUAS("callee that ignores BYE", "uas_silent_bye.xml", uas)
	e.register("1002", "secret-1002", uas)
	e.sippUAC("caller", "uac.xml", "udp", "-d", "500").wait(t)
	var c store.CDR
	waitFor(t, "the CDR", func() bool {
		cs := e.cdrs(t)
		if len(cs) == 1 && cs[0].HangupBy != "" {
			c = cs[0]
			return true
		}
		return false
	})
	if d := time.Duration(c.DurationMS) * time.Millisecond; d < 400*time.Millisecond || d > 2*time.Second || c.HangupBy != "caller" {
		t.Errorf("CDR lasts %s, hung up by %s; the caller talked for 0.5 s", d, c.HangupBy)
	}
	_ = callee.end()
}
