package sip_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// TestVoicemailOperator: the tenant's operator is 1003, a sipp phone; a caller who reaches
// 1002's box keys 0 during the greeting and is connected to 1003. Nothing is stored: no
// message, no row, no file.
func TestVoicemailOperator(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	e.ext("1003", "secret-1003")
	e.putGreeting("1002", "unavailable", 3*time.Second)
	e.p.MustDo(200, "PUT", "/api/v1/tenants/1/voicemail/settings", e.p.AdminToken, map[string]any{"operator": "1003"}, nil)
	uas := e.newPeer("udp")
	operator := e.sippUAS("operator", "uas.xml", uas)
	e.register("1003", "secret-1003", uas)
	e.sippUAC("caller", "uac_voicemail_operator.xml", "udp", "-d", "1000").wait(t)
	operator.wait(t)
	waitFor(t, "CDR", func() bool { return len(e.cdrs(t)) == 1 })
	time.Sleep(500 * time.Millisecond) // the application ends after the call
	if ms := e.vmMessages("1002"); len(ms) != 0 {
		b, _ := json.Marshal(ms)
		t.Fatalf("messages after the caller went to the operator: %s", b)
	}
	if fs := e.vmFiles(); len(fs) != 0 {
		t.Fatalf("voicemail files after the caller went to the operator: %+v", fs)
	}
}

// TestVoicemailZeroWithoutOperator: with no operator set, 0 keyed while recording is no
// key: the recording goes on, and the message holds what was said afterwards (a 0 that
// ended the message would leave one of a second).
func TestVoicemailZeroWithoutOperator(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	e.putGreeting("1002", "unavailable", time.Second)
	const lead = 2500 * time.Millisecond
	e.sippUAC("caller", "uac_voicemail_zero.xml", "udp", "-d", fmt.Sprint(lead.Milliseconds())).wait(t)
	e.checkMessage(t, lead+time.Second)
}
