package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/voicemail"
)

// The voicemail routes: a user works their own box, not a colleague's; an admin any box of
// the tenant; ids of another box or tenant answer 404; bad input names its field.
func TestVoicemailAPI(t *testing.T) {
	f := setup(t)
	p := f.p
	a := fmt.Sprintf("/api/v1/tenants/%d", f.tenantA)
	var own, other created
	p.MustDo(201, "POST", a+"/extensions", f.adminA, map[string]any{"number": "1101", "sip_password": "alpha-secret-11", "user_id": f.memberIDA}, &own)
	p.MustDo(201, "POST", a+"/extensions", f.adminA, map[string]any{"number": "1102", "sip_password": "alpha-secret-12", "user_id": f.userA}, &other)
	box := fmt.Sprintf("%s/extensions/%d/voicemail", a, own.ID)
	otherBox := fmt.Sprintf("%s/extensions/%d/voicemail", a, other.ID)
	ctx := t.Context()
	store1 := func(ext int64, caller string) store.VoicemailMessage {
		b, err := p.App.DB.EnsureVoicemailBox(ctx, f.tenantA, ext)
		if err != nil {
			t.Fatal(err)
		}
		pcm := make([]int16, 16000)
		for i := range pcm {
			pcm[i] = int16(i%40*200 - 4000)
		}
		m, err := p.App.Voicemail.Store(ctx, b, voicemail.Deposit{CallerNumber: caller, At: time.Now(), PCM: pcm})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	mine := store1(own.ID, "0301111")
	theirs := store1(other.ID, "0302222")
	// The member sees their own box and messages.
	var l struct{ Items []store.VoicemailMessage }
	p.MustDo(200, "GET", box+"/messages", f.memberA, nil, &l)
	if len(l.Items) != 1 || l.Items[0].ID != mine.ID {
		t.Fatalf("own messages %+v", l.Items)
	}
	// …not a colleague's, and not a colleague's message through their own box.
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", otherBox + "/messages", 403},
		{"GET", otherBox, 403},
		{"PUT", otherBox + "/pin", 403},
		{"GET", fmt.Sprintf("%s/messages/%d/audio", box, theirs.ID), 404},
		{"DELETE", fmt.Sprintf("%s/messages/%d", box, theirs.ID), 404},
		{"PATCH", otherBox, 403},
		{"DELETE", box + "/pin", 403},
		{"GET", a + "/voicemail/boxes", 403},
	} {
		if st, body := p.Do(c.method, c.path, f.memberA, `{"pin":"1234","read":true}`); st != c.want {
			t.Errorf("%s %s as member: %d, want %d: %s", c.method, c.path, st, c.want, body)
		}
	}
	// The member changes their own box's language and e-mail copy, not how it takes calls,
	// what it keeps or whom 0 reaches.
	for _, field := range []string{"enabled", "max_message_secs", "max_messages", "retention_days", "mwi_unsolicited", "operator"} {
		val := map[string]any{"enabled": true, "max_message_secs": 60, "max_messages": 5, "retention_days": 365, "mwi_unsolicited": true, "operator": "1102"}[field]
		if st, body := p.Do("PATCH", box, f.memberA, map[string]any{"email_copy": true, field: val}); st != 403 || !strings.Contains(string(body), field) {
			t.Errorf("member PATCH %s: %d %s", field, st, body)
		}
	}
	if b, _ := p.App.DB.EnsureVoicemailBox(ctx, f.tenantA, own.ID); b.EmailCopy || b.Enabled {
		t.Errorf("a refused change was stored: %+v", b)
	}
	p.MustDo(200, "PATCH", box, f.memberA, map[string]any{"email_copy": true, "email_attach": false, "language": "de"}, nil)
	if b, _ := p.App.DB.EnsureVoicemailBox(ctx, f.tenantA, own.ID); !b.EmailCopy || b.EmailAttach || b.Language != "de" {
		t.Errorf("the member's own settings: %+v", b)
	}
	// Download (audited), mark read, delete.
	st, wav := p.Do("GET", fmt.Sprintf("%s/messages/%d/audio", box, mine.ID), f.memberA, nil)
	if st != 200 || !bytes.HasPrefix(wav, []byte("RIFF")) {
		t.Fatalf("download: %d", st)
	}
	var m store.VoicemailMessage
	p.MustDo(200, "PATCH", fmt.Sprintf("%s/messages/%d", box, mine.ID), f.memberA, map[string]any{"read": true}, &m)
	if m.ReadAt == 0 {
		t.Fatal("not marked read")
	}
	if st, body := p.Do("PATCH", fmt.Sprintf("%s/messages/%d", box, mine.ID), f.memberA, `{}`); st != 400 || !strings.Contains(string(body), `"field": "read"`) {
		t.Errorf("PATCH without read: %d %s", st, body)
	}
	p.MustDo(204, "DELETE", fmt.Sprintf("%s/messages/%d", box, mine.ID), f.memberA, nil, nil)
	if _, err := p.App.DB.ContentFile(ctx, f.tenantA, mine.FileID); err == nil {
		t.Error("message file left after delete")
	}
	audit, _ := p.App.DB.ListAudit(ctx, f.tenantA, store.Page{Limit: 1000})
	seen := map[string]bool{}
	for _, e := range audit {
		seen[e.Action] = true
	}
	if !seen["voicemail.download"] || !seen["voicemail.delete"] {
		t.Errorf("audit lacks download or delete: %v", seen)
	}
	// PIN: the member sets a first PIN, then needs the current one to change it.
	p.MustDo(204, "PUT", box+"/pin", f.memberA, map[string]any{"pin": "2468"}, nil)
	if st, body := p.Do("PUT", box+"/pin", f.memberA, map[string]any{"pin": "1357"}); st != 400 || !strings.Contains(string(body), "current_pin") {
		t.Errorf("PIN change without the current PIN: %d %s", st, body)
	}
	if st, body := p.Do("PUT", box+"/pin", f.memberA, map[string]any{"pin": "1357", "current_pin": "0000"}); st != 400 || !strings.Contains(string(body), "current_pin") {
		t.Errorf("PIN change with a wrong current PIN: %d %s", st, body)
	}
	p.MustDo(204, "PUT", box+"/pin", f.memberA, map[string]any{"pin": "1357", "current_pin": "2468"}, nil)
	if st, body := p.Do("PUT", box+"/pin", f.adminA, map[string]any{"pin": "12"}); st != 400 || !strings.Contains(string(body), `"field": "pin"`) {
		t.Errorf("short PIN: %d %s", st, body)
	}
	p.MustDo(204, "DELETE", box+"/pin", f.adminA, nil, nil)
	// Settings: the admin changes them; bad values name their field.
	var vb struct {
		store.VoicemailBox
		PINSet bool `json:"pin_set"`
	}
	p.MustDo(200, "PATCH", box, f.adminA, map[string]any{"retention_days": 1, "enabled": true}, &vb)
	if vb.RetentionDays != 1 || !vb.Enabled || vb.PINSet {
		t.Errorf("box after PATCH %+v", vb)
	}
	for field, v := range map[string]any{"retention_days": 0, "max_message_secs": 5, "max_messages": 0, "language": "fr"} {
		if st, body := p.Do("PATCH", box, f.adminA, map[string]any{field: v}); st != 400 || !strings.Contains(string(body), `"field": "`+field+`"`) {
			t.Errorf("PATCH %s=%v: %d %s", field, v, st, body)
		}
	}
	// Greetings: a WAV in a known slot; anything else is refused with its field.
	pcm := make([]int16, 8000)
	raw := make([]byte, 2*len(pcm))
	for i := range pcm {
		raw[2*i] = byte(i)
	}
	wavBody, _ := audio.EncodeWAV(audio.Format{Encoding: audio.LinearPCM16, Rate: 8000, Channels: 1}, raw)
	var g store.VoicemailGreeting
	p.MustDo(200, "PUT", box+"/greetings/busy", f.memberA, wavBody, &g)
	if g.DurationMS != 1000 {
		t.Errorf("greeting %+v", g)
	}
	if st, body := p.Do("PUT", box+"/greetings/party", f.memberA, wavBody); st != 400 || !strings.Contains(string(body), `"field": "slot"`) {
		t.Errorf("bad slot: %d %s", st, body)
	}
	if st, body := p.Do("PUT", box+"/greetings/name", f.memberA, "not a wav"); st != 400 || !strings.Contains(string(body), `"field": "body"`) {
		t.Errorf("bad body: %d %s", st, body)
	}
	// The admin's list of every box.
	var boxes struct {
		Items []json.RawMessage `json:"items"`
	}
	p.MustDo(200, "GET", a+"/voicemail/boxes", f.adminA, nil, &boxes)
	if len(boxes.Items) != 2 {
		t.Errorf("%d boxes, want 2", len(boxes.Items))
	}
	p.MustDo(204, "DELETE", box+"/greetings/busy", f.memberA, nil, nil)
}
