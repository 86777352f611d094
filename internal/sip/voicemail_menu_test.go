package sip_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/voicemail"
)

// dtmfScenario writes a sipp caller for the voicemail menus: the call of
// uac_voicemail_retrieve.xml (offering G.711 A-law when alaw, so that sipp's speech pcap
// fits; else µ-law, as the sipp callee answers), then
// steps: a key (0-9, *, #) as an RFC 4733 event from Debian sip-tester's pcaps with a pause
// after it, "speech" for the 7.05 s of g711a.pcap, or "wait" for two seconds; then BYE.
func dtmfScenario(t *testing.T, alaw bool, steps ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "sipp", "uac_voicemail_retrieve.xml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if alaw {
		s = strings.ReplaceAll(s, "RTP/AVP 0 101\n      a=rtpmap:0 PCMU/8000", "RTP/AVP 8 101\n      a=rtpmap:8 PCMA/8000")
	}
	head, rest, ok := strings.Cut(s, "  <pause milliseconds=\"1000\"/>\n")
	_, bye, ok2 := strings.Cut(rest, "  <pause milliseconds=\"4000\"/>\n")
	if !ok || !ok2 || alaw != strings.Contains(s, "PCMA") {
		t.Fatal("uac_voicemail_retrieve.xml changed: dtmfScenario cannot build on it")
	}
	play := func(pcap string, pause int) string {
		return fmt.Sprintf("  <nop>\n    <action>\n      <exec play_pcap_audio=\"/usr/share/sip-tester/%s\"/>\n    </action>\n  </nop>\n  <pause milliseconds=\"%d\"/>\n", pcap, pause)
	}
	var out strings.Builder
	out.WriteString(head)
	out.WriteString("  <pause milliseconds=\"1000\"/>\n")
	for _, st := range steps {
		switch st {
		case "speech":
			out.WriteString(play("g711a.pcap", 7300))
		case "wait":
			out.WriteString("  <pause milliseconds=\"2000\"/>\n")
		default:
			for _, k := range st {
				name := map[rune]string{'*': "star", '#': "pound"}[k]
				if name == "" {
					name = string(k)
				}
				out.WriteString(play("dtmf_2833_"+name+".pcap", 600))
			}
		}
	}
	out.WriteString(bye)
	path := filepath.Join(t.TempDir(), "uac_menus.xml")
	if err := os.WriteFile(path, []byte(out.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestVoicemailPhoneMenus: by phone, 1001 opens its box with its PIN, changes the PIN (4, the
// new one twice), records its busy greeting (3, 2: speech, then #) and its name (3, 3), goes
// back (*); in a second call (with the new PIN) it listens (1) and calls the message's sender
// back (5): the sipp phone of 1002 rings and answers. The new PIN opens the box, the old one no longer does; both greetings are
// stored as the box's; the PIN change is audited as the phone's.
func TestVoicemailPhoneMenus(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	vm := e.p.App.Voicemail
	ctx := context.Background()
	b, _ := e.boxWithMessage("1001", "1002")
	uas := e.newPeer("udp")
	sender := e.sippUAS("sender", "uas.xml", uas)
	e.register("1002", "secret-1002", uas)

	scn := dtmfScenario(t, true, "2468#", "4", "1357#", "1357#", "3", "2", "speech", "#", "3", "speech", "#", "*")
	e.sippUAC("caller", scn, "udp", "-s", voicemail.FeatureCode).wait(t)
	scn = dtmfScenario(t, false, "1357#", "1", "wait", "5", "wait", "wait")
	e.sippUAC("caller calling back", scn, "udp", "-s", voicemail.FeatureCode).wait(t)
	sender.wait(t)
	if msgs := sender.messages(); !strings.Contains(msgs, "From: <sip:1001@") && !strings.Contains(msgs, "sip:1001@") {
		t.Errorf("the call back does not come from 1001:\n%s", tail(msgs, 2000))
	}

	var box struct {
		Greetings []store.VoicemailGreeting `json:"greetings"`
	}
	e.p.MustDo(200, "GET", e.vmPath("1001"), e.p.AdminToken, nil, &box)
	slots := map[string]bool{}
	for _, g := range box.Greetings {
		slots[g.Slot] = true
	}
	if !slots["busy"] || !slots["name"] || slots["unavailable"] {
		t.Errorf("greetings after the phone menus: %+v", box.Greetings)
	}
	if err := vm.CheckPIN(ctx, voicemail.Actor{Name: "test"}, b, "2468"); err == nil {
		t.Error("the old PIN still opens the box")
	}
	if err := vm.CheckPIN(ctx, voicemail.Actor{Name: "test"}, b, "1357"); err != nil {
		t.Errorf("the new PIN: %v", err)
	}
	audit, err := e.p.App.DB.ListAudit(ctx, 1, store.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range audit {
		found = found || a.Action == "voicemail.pin_set" && a.Actor == "phone:1001"
	}
	if !found {
		t.Error("the PIN change by phone is not audited")
	}
}

// TestVoicemailPhonePINRefused: a new PIN keyed differently the second time, or too short,
// changes nothing.
func TestVoicemailPhonePINRefused(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	vm := e.p.App.Voicemail
	ctx := context.Background()
	b, _ := e.boxWithMessage("1001", "1002")
	scn := dtmfScenario(t, false, "2468#", "4", "1357#", "1358#", "4", "12#", "12#", "wait")
	e.sippUAC("caller", scn, "udp", "-s", voicemail.FeatureCode).wait(t)
	if err := vm.CheckPIN(ctx, voicemail.Actor{Name: "test"}, b, "2468"); err != nil {
		t.Errorf("the PIN changed: %v", err)
	}
}
