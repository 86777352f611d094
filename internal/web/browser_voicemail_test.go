package web_test

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/voicemail"
)

// tone is d of a 440 Hz tone at 8 kHz.
func tone(d time.Duration) []int16 {
	pcm := make([]int16, int(d.Seconds()*8000))
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	return pcm
}

// TestBrowserMyVoicemail: a user sees their box's messages (caller, time, duration, new),
// Chromium plays one through the page's <audio> element and downloads another (both audited
// as the API's download), marks one heard and new again, deletes one after the confirmation,
// and sets and changes the box's PIN with the API's field errors at their fields. Another
// user of the tenant gets none of it by URL.
func TestBrowserMyVoicemail(t *testing.T) {
	downloads := t.TempDir()
	p := privoxtest.Start(t, privoxtest.Options{})
	ctx := chrome(t, downloads)
	def := defaultTenant(t, p)
	tb := fmt.Sprintf("/api/v1/tenants/%d", def.ID)
	tp := func(path string) string { return fmt.Sprintf("%s/t/%d%s", p.URL, def.ID, path) }
	var vera, max store.User
	p.MustDo(201, "POST", tb+"/users", p.AdminToken, map[string]string{"name": "Vera", "email": "vera@example.test", "password": "vera-long-password"}, &vera)
	p.MustDo(201, "POST", tb+"/users", p.AdminToken, map[string]string{"name": "Max", "email": "max@example.test", "password": "max-long-password1"}, &max)
	var ext store.Extension
	p.MustDo(201, "POST", tb+"/extensions", p.AdminToken, map[string]any{"number": "301", "user_id": vera.ID, "sip_password": "vera-sip-secret-1"}, &ext)
	box, err := p.App.DB.EnsureVoicemailBox(t.Context(), def.ID, ext.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Messages arrive by phone; the engine's Store is where the phone path ends.
	now := time.Now()
	var msgs []store.VoicemailMessage
	for i, c := range []struct{ num, name string }{{"+4930111222", "Anna <b>Caller</b>"}, {"+4930333444", ""}, {"+4930555666", "Bernd"}} {
		m, err := p.App.Voicemail.Store(t.Context(), box, voicemail.Deposit{CallerNumber: c.num, CallerName: c.name, At: now.Add(time.Duration(i-3) * time.Minute), PCM: tone(time.Duration(i+2) * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	signIn(t, ctx, p.URL, "default", "vera@example.test", "vera-long-password")

	var callers, states, durs []string
	var unread string
	run(t, ctx, "my voicemail",
		chromedp.Click(chromedp.CSS(`nav a[href$="/me/voicemail"]`)),
		chromedp.WaitVisible(chromedp.ID("#vm-summary")),
		into(columnTexts(0), &callers),
		into(columnTexts(2), &durs),
		into(columnTexts(3), &states),
		into(chromedp.Text(chromedp.ID("#vm-unread")), &unread),
	)
	if len(callers) != 3 || callers[0] != "+4930111222 · Anna <b>Caller</b>" || callers[1] != "+4930333444" || !strings.HasPrefix(callers[2], "+4930555666") {
		t.Fatalf("callers: %q", callers)
	}
	if strings.Join(durs, ",") != "2 s,3 s,4 s" || strings.Join(states, ",") != "new,new,new" || unread != "3" {
		t.Fatalf("durations %q, states %q, unread %q", durs, states, unread)
	}
	shot(t, ctx, "my-voicemail-en")

	// Play: the page's audio element loads the message and Chromium decodes it.
	var secs float64
	run(t, ctx, "play", into(chromedp.Evaluate[float64](fmt.Sprintf(`new Promise(res => {
		const a = document.getElementById("play-%d");
		a.addEventListener("loadedmetadata", () => res(a.duration));
		a.addEventListener("error", () => res(-1));
		a.preload = "auto"; a.load();
	})`, msgs[1].ID), chromedp.EvalAwaitPromise), &secs))
	if secs < 2.9 || secs > 3.1 {
		t.Fatalf("the audio element's duration: %v s, want 3", secs)
	}
	// Download: the WAV is saved.
	progress := chromedp.BrowserEvents(ctx, cdpbrowser.DownloadProgress)
	done := make(chan string, 1)
	go func() {
		for ev, err := range progress {
			if err != nil {
				return
			}
			if ev.State == cdpbrowser.DownloadProgressStateCompleted {
				done <- ev.GUID
				return
			}
		}
	}()
	run(t, ctx, "download", chromedp.Click(chromedp.ID(fmt.Sprintf("#download-%d", msgs[2].ID))))
	select {
	case guid := <-done:
		b, err := os.ReadFile(filepath.Join(downloads, guid))
		if err != nil || !bytes.HasPrefix(b, []byte("RIFF")) || len(b) < 4*8000*2 {
			t.Fatalf("downloaded message: %d bytes, %v", len(b), err)
		}
	case <-time.After(time.Minute):
		t.Fatal("voicemail download did not complete")
	}
	// Both are the API's audited download, by Vera.
	var audit struct {
		Items []store.AuditEntry `json:"items"`
	}
	p.MustDo(200, "GET", tb+"/audit?action=voicemail.download", p.AdminToken, nil, &audit)
	got := map[string]bool{}
	for _, e := range audit.Items {
		if e.ActorUserID != nil && *e.ActorUserID == vera.ID {
			got[e.TargetID] = true
		}
	}
	if !got[fmt.Sprint(msgs[1].ID)] || !got[fmt.Sprint(msgs[2].ID)] {
		t.Fatalf("audited downloads by Vera: %v, want messages %d and %d", got, msgs[1].ID, msgs[2].ID)
	}

	// Mark heard, then new again.
	m0 := msgs[0].ID
	var m store.VoicemailMessage
	run(t, ctx, "mark heard",
		chromedp.Click(chromedp.ID(fmt.Sprintf("#read-%d", m0))),
		chromedp.WaitVisible(chromedp.ID(fmt.Sprintf("#unread-%d", m0))),
		into(columnTexts(3), &states),
		into(chromedp.Text(chromedp.ID("#vm-unread")), &unread),
	)
	p.MustDo(200, "GET", fmt.Sprintf("%s/extensions/%d/voicemail/messages/%d", tb, ext.ID, m0), p.AdminToken, nil, &m)
	if states[0] != "heard" || unread != "2" || m.ReadAt == 0 {
		t.Fatalf("after marking heard: states %q, unread %q, read_at %d", states, unread, m.ReadAt)
	}
	run(t, ctx, "mark new",
		chromedp.Click(chromedp.ID(fmt.Sprintf("#unread-%d", m0))),
		chromedp.WaitVisible(chromedp.ID(fmt.Sprintf("#read-%d", m0))),
	)
	p.MustDo(200, "GET", fmt.Sprintf("%s/extensions/%d/voicemail/messages/%d", tb, ext.ID, m0), p.AdminToken, nil, &m)
	if m.ReadAt != 0 {
		t.Fatalf("after marking new: read_at %d", m.ReadAt)
	}

	// Delete after the confirmation.
	run(t, ctx, "delete",
		chromedp.Click(chromedp.ID(fmt.Sprintf("#delete-%d", m0))),
		chromedp.WaitVisible(chromedp.ID(fmt.Sprintf("#confirm-delete-%d", m0))),
	)
	shot(t, ctx, "my-voicemail-delete-en")
	run(t, ctx, "confirm delete",
		chromedp.Click(chromedp.ID(fmt.Sprintf("#confirm-delete-%d", m0))),
		chromedp.WaitNotPresent(chromedp.ID(fmt.Sprintf("#msg-%d", m0))),
		into(columnTexts(0), &callers),
	)
	if len(callers) != 2 {
		t.Fatalf("after deleting: %q", callers)
	}
	if st, _ := p.Do("GET", fmt.Sprintf("%s/extensions/%d/voicemail/messages/%d", tb, ext.ID, m0), p.AdminToken, nil); st != 404 {
		t.Fatalf("deleted message still answers %d", st)
	}

	// The PIN: two that differ, then one too short (the API's field error), then a good one.
	var invalid string
	run(t, ctx, "pins differ",
		chromedp.SendKeys(chromedp.ID("#pin"), "2468"),
		chromedp.SendKeys(chromedp.ID("#pin_again"), "2469"),
		chromedp.Click(chromedp.ID("#change-pin")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(chromedp.Evaluate[string](`Array.from(document.querySelectorAll("[aria-invalid=true]")).map(e => e.id).join(",")`), &invalid),
	)
	if invalid != "pin_again" {
		t.Fatalf("differing PINs: invalid fields %q", invalid)
	}
	var msg string
	run(t, ctx, "pin too short",
		chromedp.SendKeys(chromedp.ID("#pin"), "12"),
		chromedp.SendKeys(chromedp.ID("#pin_again"), "12"),
		chromedp.Click(chromedp.ID("#change-pin")),
		chromedp.WaitVisible(chromedp.CSS(`#pin[aria-invalid="true"]`)),
		into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	if !strings.Contains(msg, "digits") {
		t.Fatalf("short PIN: %q", msg)
	}
	shot(t, ctx, "my-voicemail-pin-error-en")
	run(t, ctx, "set pin",
		chromedp.SendKeys(chromedp.ID("#pin"), "2468"),
		chromedp.SendKeys(chromedp.ID("#pin_again"), "2468"),
		chromedp.Click(chromedp.ID("#change-pin")),
		chromedp.WaitVisible(chromedp.ID("#current_pin")),
	)
	actor := voicemail.Actor{Name: "test"}
	if err := p.App.Voicemail.CheckPIN(t.Context(), actor, box, "2468"); err != nil {
		t.Fatalf("the PIN set in the portal: %v", err)
	}
	// Now the current PIN is asked for; a wrong one is said at its field.
	run(t, ctx, "wrong current pin",
		chromedp.SendKeys(chromedp.ID("#current_pin"), "1111"),
		chromedp.SendKeys(chromedp.ID("#pin"), "13579"),
		chromedp.SendKeys(chromedp.ID("#pin_again"), "13579"),
		chromedp.Click(chromedp.ID("#change-pin")),
		chromedp.WaitVisible(chromedp.CSS(`#current_pin[aria-invalid="true"]`)),
	)
	run(t, ctx, "change pin",
		chromedp.SendKeys(chromedp.ID("#current_pin"), "2468"),
		chromedp.SendKeys(chromedp.ID("#pin"), "13579"),
		chromedp.SendKeys(chromedp.ID("#pin_again"), "13579"),
		chromedp.Click(chromedp.ID("#change-pin")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		into(chromedp.Text(chromedp.CSS(".flash")), &msg),
	)
	if msg != "Voicemail PIN changed." {
		t.Fatalf("after changing the PIN: %q", msg)
	}
	if err := p.App.Voicemail.CheckPIN(t.Context(), actor, box, "13579"); err != nil {
		t.Fatalf("the PIN changed in the portal: %v", err)
	}

	// Greetings: a PDF is refused with the reason and changes nothing; a WAV made by sox
	// (16 kHz, converted by the API) becomes the busy greeting; removing it restores the
	// generated one.
	dir := t.TempDir()
	wav, pdf := filepath.Join(dir, "busy.wav"), filepath.Join(dir, "letter.pdf")
	if out, err := exec.Command("sox", "-n", "-r", "16000", "-c", "1", "-b", "16", wav, "synth", "3", "sine", "440").CombinedOutput(); err != nil {
		t.Fatalf("sox (scripts/install-test-deps.sh installs it): %v %s", err, out)
	}
	if err := os.WriteFile(pdf, []byte("%PDF-1.4\n% not audio\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	greetings := func() []store.VoicemailGreeting {
		var b struct{ Greetings []store.VoicemailGreeting }
		p.MustDo(200, "GET", fmt.Sprintf("%s/extensions/%d/voicemail", tb, ext.ID), p.AdminToken, nil, &b)
		return b.Greetings
	}
	var gstate string
	run(t, ctx, "upload pdf",
		chromedp.Navigate(tp("/me/voicemail")),
		chromedp.WaitVisible(chromedp.ID("#upload-greeting")),
		chromedp.SetValue(chromedp.ID("#slot"), "busy"),
		chromedp.SetUploadFiles(chromedp.ID("#greeting"), []string{pdf}),
		chromedp.Click(chromedp.ID("#upload-greeting")),
		chromedp.WaitVisible(chromedp.CSS(`#greeting[aria-invalid="true"]`)),
		into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	if !strings.Contains(msg, "PDF") || len(greetings()) != 0 {
		t.Fatalf("a PDF as greeting: message %q, greetings %+v", msg, greetings())
	}
	run(t, ctx, "upload wav",
		chromedp.SetValue(chromedp.ID("#slot"), "busy"),
		chromedp.SetUploadFiles(chromedp.ID("#greeting"), []string{wav}),
		chromedp.Click(chromedp.ID("#upload-greeting")),
		chromedp.WaitVisible(chromedp.ID("#remove-greeting-busy")),
		into(chromedp.Text(chromedp.ID("#greeting-state-busy")), &gstate),
	)
	if gs := greetings(); len(gs) != 1 || gs[0].Slot != "busy" || gs[0].DurationMS < 2900 || gs[0].DurationMS > 3100 || gstate != "recorded" {
		t.Fatalf("after uploading the busy greeting: %+v, page %q", gs, gstate)
	}
	shot(t, ctx, "my-voicemail-greetings-en")
	run(t, ctx, "remove greeting",
		chromedp.Click(chromedp.ID("#remove-greeting-busy")),
		chromedp.WaitVisible(chromedp.ID("#confirm-remove-greeting-busy")),
		chromedp.Click(chromedp.ID("#confirm-remove-greeting-busy")),
		chromedp.WaitNotPresent(chromedp.ID("#remove-greeting-busy")),
		into(chromedp.Text(chromedp.ID("#greeting-state-busy")), &gstate),
	)
	if len(greetings()) != 0 || gstate != "generated default" {
		t.Fatalf("after removing: %+v, page %q", greetings(), gstate)
	}

	// German.
	p.MustDo(200, "PATCH", fmt.Sprintf("%s/users/%d", tb, vera.ID), p.AdminToken, map[string]string{"language": "de"}, nil)
	var h1 string
	run(t, ctx, "German", chromedp.Navigate(tp("/me/voicemail")), chromedp.WaitVisible(chromedp.ID("#vm-summary")),
		into(chromedp.Text(chromedp.CSS("h1")), &h1), into(columnTexts(3), &states))
	if h1 != "Meine Sprachbox" || strings.Join(states, ",") != "neu,neu" {
		t.Fatalf("German page: %q, states %q", h1, states)
	}
	shot(t, ctx, "my-voicemail-de")

	// Max, another user of the tenant, has no box and reaches none of Vera's messages.
	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS(".top button")), chromedp.WaitVisible(chromedp.ID("#signin")))
	signIn(t, ctx, p.URL, "default", "max@example.test", "max-long-password1")
	var body string
	run(t, ctx, "max's voicemail", chromedp.Navigate(tp("/me/voicemail")), chromedp.WaitVisible(chromedp.ID("#no-box")))
	shot(t, ctx, "my-voicemail-nobox-en")
	for _, path := range []string{fmt.Sprintf("/me/voicemail/%d/%d/audio", ext.ID, msgs[1].ID), fmt.Sprintf("/me/voicemail?box=%d", ext.ID)} {
		run(t, ctx, "max on "+path, chromedp.Navigate(tp(path)), into(chromedp.Text(chromedp.CSS("main")), &body))
		if !strings.Contains(body, "may not") && !strings.Contains(body, "No such page") {
			t.Errorf("Max on %s sees:\n%s", path, body)
		}
		if strings.Contains(body, "+4930333444") {
			t.Errorf("Max on %s sees Vera's caller", path)
		}
	}
}

// TestBrowserVoicemailEmailCopy: an admin with a box of their own sets its e-mail copy in
// "my voicemail" (deleting after delivery without a copy is refused at its field and nothing
// is stored, then copy on as a notice without audio with deletion is stored and shown); a
// plain user sees their box's e-mail copy without the form and objects to e-mail copies, and
// withdraws the objection again, both stored.
func TestBrowserVoicemailEmailCopy(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	ctx := chrome(t, t.TempDir())
	def := defaultTenant(t, p)
	tb := fmt.Sprintf("/api/v1/tenants/%d", def.ID)
	tp := func(path string) string { return fmt.Sprintf("%s/t/%d%s", p.URL, def.ID, path) }
	admin, err := p.App.DB.UserByEmail(t.Context(), def.ID, "admin@localhost")
	if err != nil {
		t.Fatal(err)
	}
	var vera store.User
	p.MustDo(201, "POST", tb+"/users", p.AdminToken, map[string]string{"name": "Vera", "email": "vera@example.test", "password": "vera-long-password"}, &vera)
	var own, veras store.Extension
	p.MustDo(201, "POST", tb+"/extensions", p.AdminToken, map[string]any{"number": "310", "user_id": admin.ID, "sip_password": "admin-sip-secret-1"}, &own)
	p.MustDo(201, "POST", tb+"/extensions", p.AdminToken, map[string]any{"number": "301", "user_id": vera.ID, "sip_password": "vera-sip-secret-1"}, &veras)
	box := func(ext int64) store.VoicemailBox {
		t.Helper()
		b, err := p.App.DB.EnsureVoicemailBox(t.Context(), def.ID, ext)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	signIn(t, ctx, p.URL, "default", "admin@localhost", privoxtest.AdminPassword)

	var invalid, msg string
	run(t, ctx, "delete without a copy",
		chromedp.Click(chromedp.CSS(`nav a[href$="/me/voicemail"]`)),
		chromedp.WaitVisible(chromedp.ID("#email-copy")),
		chromedp.Click(chromedp.ID("#email_delete")),
		chromedp.Click(chromedp.ID("#save-email")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(invalidFields(), &invalid),
		into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	if invalid != "email_delete" || !strings.Contains(msg, "email_copy") {
		t.Fatalf("refused settings: invalid %q, message %q", invalid, msg)
	}
	if b := box(own.ID); b.EmailCopy || b.EmailDelete {
		t.Fatalf("a refused change was stored: %+v", b)
	}
	shot(t, ctx, "my-voicemail-email-error-en")
	var copyOn, notice, del bool
	run(t, ctx, "copy as a notice, deleted after delivery",
		chromedp.Click(chromedp.ID("#email_copy")),
		chromedp.Click(chromedp.ID("#email_attach_notice")),
		chromedp.Click(chromedp.ID("#save-email")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		into(chromedp.Text(chromedp.CSS(".flash")), &msg),
		into(chromedp.Evaluate[bool](`document.getElementById("email_copy").checked`), &copyOn),
		into(chromedp.Evaluate[bool](`document.getElementById("email_attach_notice").checked`), &notice),
		into(chromedp.Evaluate[bool](`document.getElementById("email_delete").checked`), &del),
	)
	if msg != "E-mail settings saved." || !copyOn || !notice || !del {
		t.Fatalf("after saving: %q, copy %t, notice %t, delete %t", msg, copyOn, notice, del)
	}
	if b := box(own.ID); !b.EmailCopy || b.EmailAttach || !b.EmailDelete {
		t.Fatalf("stored: %+v", b)
	}
	shot(t, ctx, "my-voicemail-email-en")

	// Vera sees her box's e-mail copy, set by an admin, switches it to a notice herself (a
	// user may change her own box's e-mail copy, not how the box takes calls), and objects.
	p.MustDo(200, "PATCH", fmt.Sprintf("%s/extensions/%d/voicemail", tb, veras.ID), p.AdminToken, map[string]bool{"email_copy": true, "email_attach": true}, nil)
	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS(".top button")), chromedp.WaitVisible(chromedp.ID("#signin")))
	signIn(t, ctx, p.URL, "default", "vera@example.test", "vera-long-password")
	var state string
	run(t, ctx, "vera's e-mail copy",
		chromedp.Navigate(tp("/me/voicemail")),
		chromedp.WaitVisible(chromedp.ID("#email-state")),
		into(chromedp.Text(chromedp.ID("#email-state")), &state),
	)
	if state != "New messages are mailed to you with the recording attached." {
		t.Fatalf("vera's e-mail copy: %q", state)
	}
	run(t, ctx, "vera asks for a notice only",
		chromedp.Click(chromedp.ID("#email_attach_notice")),
		chromedp.Click(chromedp.ID("#save-email")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		into(chromedp.Text(chromedp.ID("#email-state")), &state),
	)
	if b := box(veras.ID); !b.EmailCopy || b.EmailAttach || !strings.Contains(state, "without audio") {
		t.Fatalf("vera's change: %+v, page %q", b, state)
	}

	objected := func() bool {
		t.Helper()
		on, err := p.App.DB.MailObjection(t.Context(), def.ID, vera.ID)
		if err != nil {
			t.Fatal(err)
		}
		return on
	}
	run(t, ctx, "object",
		chromedp.Click(chromedp.ID("#object")),
		chromedp.WaitVisible(chromedp.ID("#withdraw-objection")),
		into(chromedp.Text(chromedp.CSS(".flash")), &msg),
		into(chromedp.Text(chromedp.ID("#objection-state")), &state),
	)
	if msg != "Objection recorded: no e-mail copies are sent." || !strings.Contains(state, "you objected") || !objected() {
		t.Fatalf("objection: %q, %q, stored %t", msg, state, objected())
	}
	shot(t, ctx, "my-voicemail-objection-en")
	var audit struct {
		Items []store.AuditEntry `json:"items"`
	}
	p.MustDo(200, "GET", tb+"/audit?action=objection.email_copy.set", p.AdminToken, nil, &audit)
	if len(audit.Items) != 1 || audit.Items[0].ActorUserID == nil || *audit.Items[0].ActorUserID != vera.ID {
		t.Errorf("audit: %+v", audit.Items)
	}
	run(t, ctx, "withdraw", chromedp.Click(chromedp.ID("#withdraw-objection")), chromedp.WaitVisible(chromedp.ID("#object")))
	if objected() {
		t.Fatal("the objection stayed after it was withdrawn")
	}
}
