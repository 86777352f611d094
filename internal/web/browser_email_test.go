package web_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/privox/privox/internal/config"
	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/voicemail"
)

// TestBrowserEmailRelay: an admin sets the tenant's own SMTP relay (a port out of range is
// refused at its field and nothing is stored; the password never comes back into the page),
// switches a user's box to e-mail copies in the list of boxes (a refusal first, at its
// field), sees the failed delivery of a voice message the relay (a closed port) did not take, filters
// the deliveries by state, removes the relay after the confirmation; the page in German; a
// plain user does not reach it.
func TestBrowserEmailRelay(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{Configure: func(c *config.Config) {
		c.Mail.Retry = config.MailRetry{Attempts: 2, First: time.Second, Max: time.Second}
	}})
	ctx := chrome(t, t.TempDir())
	def := defaultTenant(t, p)
	tb := fmt.Sprintf("/api/v1/tenants/%d", def.ID)
	tp := func(path string) string { return fmt.Sprintf("%s/t/%d%s", p.URL, def.ID, path) }
	// A loopback port nobody listens on: the relay refuses every connection.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var vera store.User
	p.MustDo(201, "POST", tb+"/users", p.AdminToken, map[string]string{"name": "Vera", "email": "vera@example.test", "password": "vera-long-password"}, &vera)
	var veras store.Extension
	p.MustDo(201, "POST", tb+"/extensions", p.AdminToken, map[string]any{"number": "301", "user_id": vera.ID, "sip_password": "vera-sip-secret-1"}, &veras)
	signIn(t, ctx, p.URL, "default", "admin@localhost", privoxtest.AdminPassword)

	const secret = "relay-secret-pw-1"
	var state, invalid, msg string
	var rows []string
	run(t, ctx, "no relay yet",
		chromedp.Click(chromedp.CSS(`nav a[href$="/email"]`)),
		chromedp.WaitVisible(chromedp.ID("#relay-form")),
		into(chromedp.Text(chromedp.ID("#relay-state")), &state),
		into(columnTexts(0), &rows),
	)
	if state != "no own relay: the installation's is used" || strings.Join(rows, ",") != "Nothing here yet." {
		t.Fatalf("without a relay: %q, deliveries %q", state, rows)
	}
	run(t, ctx, "port out of range",
		chromedp.SendKeys(chromedp.ID("#host"), "127.0.0.1"),
		chromedp.SendKeys(chromedp.ID("#port"), "70000"),
		chromedp.SendKeys(chromedp.ID("#username"), "acme"),
		chromedp.SendKeys(chromedp.ID("#password"), secret),
		chromedp.Click(chromedp.ID("#enabled")),
		chromedp.Click(chromedp.ID("#save-relay")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(invalidFields(), &invalid),
		into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	if invalid != "port" || !strings.Contains(msg, "65535") {
		t.Fatalf("refused relay: invalid %q, message %q", invalid, msg)
	}
	if st, body := p.Do("GET", tb+"/mail-relay", p.AdminToken, nil); st != 404 {
		t.Fatalf("a refused relay was stored: %d %s", st, body)
	}
	var html, pw string
	run(t, ctx, "refused page", into(chromedp.OuterHTML(chromedp.CSS("html")), &html), into(chromedp.Value(chromedp.ID("#password")), &pw))
	if strings.Contains(html, secret) || pw != "" {
		t.Fatal("the refused form sent the relay password back")
	}
	shot(t, ctx, "email-error-en")
	run(t, ctx, "save the relay",
		chromedp.Clear(chromedp.ID("#port")),
		chromedp.SendKeys(chromedp.ID("#port"), fmt.Sprint(closed)),
		chromedp.SendKeys(chromedp.ID("#password"), secret),
		chromedp.Click(chromedp.ID("#save-relay")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		into(chromedp.Text(chromedp.CSS(".flash")), &msg),
		into(chromedp.Text(chromedp.ID("#relay-state")), &state),
		into(chromedp.OuterHTML(chromedp.CSS("html")), &html),
		into(chromedp.Value(chromedp.ID("#password")), &pw),
	)
	if msg != "Relay saved." || state != "own relay in use" || strings.Contains(html, secret) || pw != "" {
		t.Fatalf("after saving: %q, %q, password in the page %t", msg, state, strings.Contains(html, secret) || pw != "")
	}
	var relay store.MailRelay
	p.MustDo(200, "GET", tb+"/mail-relay", p.AdminToken, nil, &relay)
	if !relay.Enabled || relay.Host != "127.0.0.1" || relay.Port != closed || relay.Mode != "starttls" || relay.Username != "acme" || !relay.HasPassword {
		t.Fatalf("stored relay: %+v", relay)
	}

	// Vera's box mails copies, set in the list of boxes (deleting after delivery without a
	// copy refused first, nothing stored).
	box := func() store.VoicemailBox {
		t.Helper()
		b, err := p.App.DB.EnsureVoicemailBox(t.Context(), def.ID, veras.ID)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	run(t, ctx, "box e-mail copy refused",
		chromedp.Click(chromedp.CSS(`nav a[href$="/mailboxes"]`)),
		chromedp.Click(chromedp.ID(fmt.Sprintf("#edit-email-%d", veras.ID))),
		chromedp.WaitVisible(chromedp.ID("#email-copy")),
		chromedp.Click(chromedp.ID("#email_delete")),
		chromedp.Click(chromedp.ID("#save-email")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(invalidFields(), &invalid),
	)
	if b := box(); invalid != "email_delete" || b.EmailCopy || b.EmailDelete {
		t.Fatalf("refused box settings: invalid %q, stored %+v", invalid, b)
	}
	shot(t, ctx, "mailboxes-email-error-en")
	var shown string
	run(t, ctx, "box e-mail copy",
		chromedp.Click(chromedp.ID("#email_copy")),
		chromedp.Click(chromedp.ID("#email_delete")),
		chromedp.Click(chromedp.ID("#email_attach_wav")),
		chromedp.Click(chromedp.ID("#save-email")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		into(chromedp.Text(chromedp.ID(fmt.Sprintf("#box-email-%d", veras.ID))), &shown),
	)
	b := box()
	if shown != "with WAV" || !b.EmailCopy || !b.EmailAttach || b.EmailDelete {
		t.Fatalf("box e-mail copy: shown %q, stored %+v", shown, b)
	}

	// A voice message for Vera: the relay never answers, and after the last retry the
	// delivery is failed.
	m, err := p.App.Voicemail.Store(t.Context(), b, voicemail.Deposit{CallerNumber: "+4930999888", At: time.Now(), PCM: tone(2 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	var failed struct {
		Items []store.VoicemailMail `json:"items"`
	}
	for deadline := time.Now().Add(45 * time.Second); len(failed.Items) == 0 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		p.MustDo(200, "GET", tb+"/voicemail/deliveries?state=failed", p.AdminToken, nil, &failed)
	}
	if len(failed.Items) != 1 || failed.Items[0].MessageID != m.ID {
		t.Fatalf("failed deliveries: %+v", failed.Items)
	}
	var msgs, states, attempts, why []string
	run(t, ctx, "failed deliveries",
		chromedp.Navigate(tp("/email")),
		chromedp.WaitVisible(chromedp.ID(fmt.Sprintf("#delivery-%d", failed.Items[0].ID))),
		into(columnTexts(2), &msgs), into(columnTexts(3), &states), into(columnTexts(4), &attempts), into(columnTexts(6), &why),
	)
	if strings.Join(msgs, ",") != fmt.Sprint(m.ID) || strings.Join(states, ",") != "failed" || strings.Join(attempts, ",") != "2" || why[0] == "" {
		t.Fatalf("deliveries: messages %q, states %q, attempts %q, why %q", msgs, states, attempts, why)
	}
	shot(t, ctx, "email-en")
	run(t, ctx, "only sent ones",
		chromedp.SetValue(chromedp.ID("#state"), "sent"),
		chromedp.Click(chromedp.ID("#filter-state")),
		chromedp.WaitReady(chromedp.CSS(`#state option[value="sent"][selected]`)),
		into(columnTexts(0), &rows),
	)
	if strings.Join(rows, ",") != "Nothing here yet." {
		t.Fatalf("sent deliveries: %q", rows)
	}
	run(t, ctx, "every state",
		chromedp.SetValue(chromedp.ID("#state"), "all"),
		chromedp.Click(chromedp.ID("#filter-state")),
		chromedp.WaitReady(chromedp.CSS(`#state option[value="all"][selected]`)),
		into(columnTexts(3), &states),
	)
	if strings.Join(states, ",") != "failed" {
		t.Fatalf("every delivery: %q", states)
	}

	// Sending the failed delivery again. With the flow switched off the mailer leaves the
	// queue alone, so the page shows the retried delivery as the retry left it.
	p.MustDo(200, "PUT", "/api/v1/flows", p.AdminToken, map[string]any{"name": "smtp_relay", "enabled": false}, nil)
	d := failed.Items[0]
	retry := fmt.Sprintf("#retry-%d", d.ID)
	run(t, ctx, "a failed delivery offers a retry",
		chromedp.Navigate(tp("/email?state=failed")),
		chromedp.WaitVisible(chromedp.ID(retry)),
	)
	// Someone else retried it meanwhile: the stale button is refused, nothing changes.
	p.MustDo(200, "POST", fmt.Sprintf("%s/voicemail/deliveries/%d/retry", tb, d.ID), p.AdminToken, nil, nil)
	run(t, ctx, "a stale retry",
		chromedp.Click(chromedp.ID(retry)),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(chromedp.Text(chromedp.ID("#form-error")), &msg),
		into(columnTexts(3), &states),
	)
	if !strings.Contains(msg, "only a failed delivery can be retried") || strings.Join(states, ",") != "pending" {
		t.Fatalf("stale retry: %q, states %q", msg, states)
	}
	// It failed again; this time the admin's click sends it.
	if _, err := p.App.DB.Exec(t.Context(), `UPDATE voicemail_mail SET state = 'failed', attempts = 2, last_error = 'relay down' WHERE id = ?`, d.ID); err != nil {
		t.Fatal(err)
	}
	var retries struct {
		Items []store.AuditEntry `json:"items"`
	}
	p.MustDo(200, "GET", tb+"/audit?action=voicemail.mail.retry", p.AdminToken, nil, &retries)
	before := len(retries.Items)
	run(t, ctx, "retry",
		chromedp.Navigate(tp("/email?state=failed")),
		chromedp.Click(chromedp.ID(retry)),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		into(chromedp.Text(chromedp.CSS(".flash")), &msg),
		into(columnTexts(3), &states), into(columnTexts(4), &attempts), into(columnTexts(6), &why),
	)
	if msg != "The delivery is queued again and is sent at the next round of the queue." || strings.Join(states, ",") != "pending" ||
		strings.Join(attempts, ",") != "0" || strings.Join(why, ",") != "" {
		t.Fatalf("after the retry: %q, states %q, attempts %q, why %q", msg, states, attempts, why)
	}
	var n int
	run(t, ctx, "no retry for a pending delivery", into(chromedp.Evaluate[int](`document.querySelectorAll("button[id^=retry-]").length`), &n))
	if n != 0 {
		t.Fatalf("%d retry buttons for a pending delivery", n)
	}
	p.MustDo(200, "GET", tb+"/audit?action=voicemail.mail.retry", p.AdminToken, nil, &retries)
	if len(retries.Items) != before+1 {
		t.Fatalf("retry audit entries: %d, then %d", before, len(retries.Items))
	}
	shot(t, ctx, "email-retried-en")
	p.MustDo(200, "PUT", "/api/v1/flows", p.AdminToken, map[string]any{"name": "smtp_relay", "enabled": true}, nil)

	// German.
	admin, err := p.App.DB.UserByEmail(t.Context(), def.ID, "admin@localhost")
	if err != nil {
		t.Fatal(err)
	}
	p.MustDo(200, "PATCH", fmt.Sprintf("%s/users/%d", tb, admin.ID), p.AdminToken, map[string]string{"language": "de"}, nil)
	var h1 string
	run(t, ctx, "German", chromedp.Navigate(tp("/email")), chromedp.WaitVisible(chromedp.CSS("main table")), into(chromedp.Text(chromedp.CSS("h1")), &h1))
	if h1 != "Sprachnachrichten per E-Mail: Relay und Zustellungen" {
		t.Errorf("German heading %q", h1)
	}
	shot(t, ctx, "email-de")
	p.MustDo(200, "PATCH", fmt.Sprintf("%s/users/%d", tb, admin.ID), p.AdminToken, map[string]string{"language": "en"}, nil)

	run(t, ctx, "remove the relay",
		chromedp.Navigate(tp("/email")),
		chromedp.Click(chromedp.ID("#delete-relay")),
		chromedp.Click(chromedp.ID("#confirm-delete-relay")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		into(chromedp.Text(chromedp.CSS(".flash")), &msg),
		into(chromedp.Text(chromedp.ID("#relay-state")), &state),
	)
	if msg != "Relay removed." || state != "no own relay: the installation's is used" {
		t.Fatalf("after removing: %q, %q", msg, state)
	}
	if st, _ := p.Do("GET", tb+"/mail-relay", p.AdminToken, nil); st != 404 {
		t.Fatalf("the relay is still stored: %d", st)
	}

	// A user of the tenant reaches neither page.
	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS(".top button")), chromedp.WaitVisible(chromedp.ID("#signin")))
	signIn(t, ctx, p.URL, "default", "vera@example.test", "vera-long-password")
	var body string
	for _, path := range []string{"/email", "/email?state=failed"} {
		run(t, ctx, "user on "+path, chromedp.Navigate(tp(path)), into(chromedp.Text(chromedp.CSS("main")), &body))
		if !strings.Contains(body, "may not") || strings.Contains(body, "127.0.0.1") || strings.Contains(body, "+4930999888") {
			t.Errorf("a user on %s sees:\n%s", path, body)
		}
	}
}
