package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
)

// TestBrowserMyForwarding: a user sets forwarding on busy and on no answer with a ring time
// and do-not-disturb for their extension in the portal; a bad target is refused at its field
// and changes nothing; the change is stored and audited as the user's; the page is in German
// for a German user; another user neither sees nor changes it, and a form without the CSRF
// token is refused.
func TestBrowserMyForwarding(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	ctx := chrome(t, t.TempDir())
	def := defaultTenant(t, p)
	tb := fmt.Sprintf("/api/v1/tenants/%d", def.ID)
	tp := func(path string) string { return fmt.Sprintf("%s/t/%d%s", p.URL, def.ID, path) }
	var vera, max store.User
	p.MustDo(201, "POST", tb+"/users", p.AdminToken, map[string]string{"name": "Vera", "email": "vera@example.test", "password": "vera-long-password"}, &vera)
	p.MustDo(201, "POST", tb+"/users", p.AdminToken, map[string]string{"name": "Max", "email": "max@example.test", "password": "max-long-password1"}, &max)
	var ext store.Extension
	p.MustDo(201, "POST", tb+"/extensions", p.AdminToken, map[string]any{"number": "301", "user_id": vera.ID, "sip_password": "vera-sip-secret-1"}, &ext)
	signIn(t, ctx, p.URL, "default", "vera@example.test", "vera-long-password")

	var invalid, msg string
	run(t, ctx, "bad target",
		chromedp.Click(chromedp.CSS(`nav a[href$="/me/forwarding"]`)),
		chromedp.WaitVisible(chromedp.ID("#fwd-301")),
		chromedp.SendKeys(chromedp.ID("#busy-301"), "30x2"),
		chromedp.Click(chromedp.ID("#save-301")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(chromedp.Evaluate[string](`Array.from(document.querySelectorAll("[aria-invalid=true]")).map(e => e.id).join(",")`), &invalid),
		into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	if invalid != "busy-301" || !strings.Contains(msg, "digits") {
		t.Fatalf("bad target: invalid %q, message %q", invalid, msg)
	}
	stored := func() store.Forwarding {
		t.Helper()
		f, err := p.App.DB.Forwarding(context.Background(), def.ID, ext.ID)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if f := stored(); f.Busy != "" {
		t.Fatalf("a refused change was stored: %+v", f)
	}
	shot(t, ctx, "my-forwarding-error-en")
	run(t, ctx, "save",
		chromedp.Navigate(tp("/me/forwarding")),
		chromedp.WaitVisible(chromedp.ID("#fwd-301")),
		chromedp.SendKeys(chromedp.ID("#busy-301"), "302"),
		chromedp.SendKeys(chromedp.ID("#no_answer-301"), "015112345678"),
		chromedp.SendKeys(chromedp.ID("#no_answer_ring_s-301"), "12"),
		chromedp.Click(chromedp.ID("#dnd-301")),
		chromedp.Click(chromedp.ID("#save-301")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		into(chromedp.Text(chromedp.CSS(".flash")), &msg),
	)
	if msg != "Forwarding saved." {
		t.Fatalf("after saving: %q", msg)
	}
	if f := stored(); f.Busy != "302" || f.NoAnswer != "015112345678" || f.NoAnswerRingS != 12 || !f.DND || f.Always != "" {
		t.Fatalf("stored: %+v", f)
	}
	var busy string
	run(t, ctx, "shown", chromedp.WaitVisible(chromedp.ID("#dnd-badge-301")), into(chromedp.Value(chromedp.ID("#busy-301")), &busy))
	if busy != "302" {
		t.Errorf("the page shows busy forwarding %q", busy)
	}
	shot(t, ctx, "my-forwarding-en")
	var audit struct {
		Items []store.AuditEntry `json:"items"`
	}
	p.MustDo(200, "GET", tb+"/audit?action=forwarding.update", p.AdminToken, nil, &audit)
	if len(audit.Items) != 1 || audit.Items[0].ActorUserID == nil || *audit.Items[0].ActorUserID != vera.ID {
		t.Errorf("audit: %+v", audit.Items)
	}

	// German.
	p.MustDo(200, "PATCH", fmt.Sprintf("%s/users/%d", tb, vera.ID), p.AdminToken, map[string]string{"language": "de"}, nil)
	var h1 string
	run(t, ctx, "German", chromedp.Navigate(tp("/me/forwarding")), chromedp.WaitVisible(chromedp.ID("#fwd-301")), into(chromedp.Text(chromedp.CSS("h1")), &h1))
	if h1 != "Meine Rufumleitung und Nicht stören" {
		t.Fatalf("German page: %q", h1)
	}
	shot(t, ctx, "my-forwarding-de")

	// A form posted without the CSRF token changes nothing.
	form := url.Values{"always": {"999"}}
	res, err := http.PostForm(tp(fmt.Sprintf("/me/forwarding/%d", ext.ID)), form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if f := stored(); f.Always != "" {
		t.Fatalf("a form without a session or CSRF token changed the setting: %+v (%d)", f, res.StatusCode)
	}

	// Max has no extension and cannot change Vera's.
	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS(".top button")), chromedp.WaitVisible(chromedp.ID("#signin")))
	signIn(t, ctx, p.URL, "default", "max@example.test", "max-long-password1")
	var body string
	run(t, ctx, "max's forwarding", chromedp.Navigate(tp("/me/forwarding")), chromedp.WaitVisible(chromedp.ID("#no-extension")),
		into(chromedp.Text(chromedp.CSS("main")), &body))
	if strings.Contains(body, "015112345678") {
		t.Error("Max sees Vera's forwarding")
	}
	var csrf string
	run(t, ctx, "max's token", into(chromedp.Evaluate[string](`(document.querySelector("input[name=csrf]")||{}).value||""`), &csrf))
	var posted bool
	run(t, ctx, "max posts to Vera's extension", into(chromedp.Evaluate[bool](fmt.Sprintf(`(() => {
		const f = document.createElement("form"); f.method = "post"; f.action = %q;
		for (const [k, v] of [["always", "999"], ["csrf", %q]]) { const i = document.createElement("input"); i.name = k; i.value = v; f.appendChild(i); }
		document.body.appendChild(f); f.submit(); return true; })()`, fmt.Sprintf("/t/%d/me/forwarding/%d", def.ID, ext.ID), csrf)), &posted),
		chromedp.WaitVisible(chromedp.CSS("main")), into(chromedp.Text(chromedp.CSS("main")), &body))
	if f := stored(); f.Always != "" {
		t.Fatalf("Max changed Vera's forwarding: %+v\n%s", f, body)
	}
}

// dropError removes the previous page's error message, so that waiting for #form-error
// waits for the next page's.
var dropError = chromedp.Evaluate[chromedp.Void](`(document.getElementById("form-error") || {remove() {}}).remove()`)

// TestBrowserForwardSettings: an admin sets the tenant's feature codes and forwarding hop
// limit (two conditions sharing a code are refused at the second one's field and nothing is
// stored, then a new code and limit are stored and shown) and sees the extensions that
// forward or are on do-not-disturb; the page in German; a plain user does not reach it.
func TestBrowserForwardSettings(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	ctx := chrome(t, t.TempDir())
	def := defaultTenant(t, p)
	tb := fmt.Sprintf("/api/v1/tenants/%d", def.ID)
	tp := func(path string) string { return fmt.Sprintf("%s/t/%d%s", p.URL, def.ID, path) }
	var vera store.User
	p.MustDo(201, "POST", tb+"/users", p.AdminToken, map[string]string{"name": "Vera", "email": "vera@example.test", "password": "vera-long-password"}, &vera)
	var veras store.Extension
	p.MustDo(201, "POST", tb+"/extensions", p.AdminToken, map[string]any{"number": "301", "user_id": vera.ID, "sip_password": "vera-sip-secret-1"}, &veras)
	p.MustDo(201, "POST", tb+"/extensions", p.AdminToken, map[string]any{"number": "302", "sip_password": "other-sip-secret-1"}, nil)
	signIn(t, ctx, p.URL, "default", "admin@localhost", privoxtest.AdminPassword)

	// Forwarding: the codes and the hop limit; Vera's extension forwards on busy.
	p.MustDo(200, "PUT", fmt.Sprintf("%s/extensions/%d/forwarding", tb, veras.ID), p.AdminToken, map[string]any{"busy": "302", "dnd": true}, nil)
	var busy, code, invalid, msg string
	var rows, states, why []string
	run(t, ctx, "forwarding",
		chromedp.Click(chromedp.CSS(`nav a[href$="/t/`+fmt.Sprint(def.ID)+`/forwarding"]`)),
		chromedp.WaitVisible(chromedp.ID("#fwd-settings")),
		into(chromedp.Value(chromedp.ID("#code_busy")), &code),
		into(columnTexts(0), &rows), into(columnTexts(3), &states), into(columnTexts(6), &why),
	)
	if code != "*67" || strings.Join(rows, ",") != "301" || strings.Join(states, ",") != "302" || why[0] != "do not disturb" {
		t.Fatalf("forwarding: busy code %q, rows %q, busy %q, dnd %q", code, rows, states, why)
	}
	shot(t, ctx, "forwarding-en")
	settings := func() store.ForwardSettings {
		t.Helper()
		var fs store.ForwardSettings
		p.MustDo(200, "GET", tb+"/forward-settings", p.AdminToken, nil, &fs)
		return fs
	}
	before := settings()
	run(t, ctx, "two codes alike",
		chromedp.Clear(chromedp.ID("#code_busy")),
		chromedp.SendKeys(chromedp.ID("#code_busy"), "*21"),
		chromedp.SendKeys(chromedp.ID("#max_hops"), "7"),
		chromedp.Click(chromedp.ID("#save-fwd-settings")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(invalidFields(), &invalid),
		into(chromedp.Text(chromedp.ID("#form-error")), &msg),
		into(chromedp.Value(chromedp.ID("#code_busy")), &busy),
	)
	if invalid != "code_busy" || !strings.Contains(msg, "share") || busy != "*21" {
		t.Fatalf("refused codes: invalid %q, message %q, field %q", invalid, msg, busy)
	}
	if fs := settings(); fs != before {
		t.Fatalf("refused settings were stored: %+v", fs)
	}
	shot(t, ctx, "forwarding-error-en")
	run(t, ctx, "new busy code and hop limit",
		dropError,
		chromedp.Clear(chromedp.ID("#code_busy")),
		chromedp.SendKeys(chromedp.ID("#code_busy"), "*68"),
		chromedp.Click(chromedp.ID("#save-fwd-settings")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		into(chromedp.Text(chromedp.CSS(".flash")), &msg),
		into(chromedp.Value(chromedp.ID("#code_busy")), &busy),
		into(chromedp.Value(chromedp.ID("#max_hops")), &code),
	)
	if msg != "Forwarding settings saved." || busy != "*68" || code != "7" {
		t.Fatalf("after saving: %q, busy %q, hops %q", msg, busy, code)
	}
	if fs := settings(); fs.MaxHops != 7 || !strings.Contains(fs.Codes, "busy=*68") || !strings.Contains(fs.Codes, "always=*21") {
		t.Fatalf("stored settings: %+v", fs)
	}

	admin, err := p.App.DB.UserByEmail(t.Context(), def.ID, "admin@localhost")
	if err != nil {
		t.Fatal(err)
	}
	p.MustDo(200, "PATCH", fmt.Sprintf("%s/users/%d", tb, admin.ID), p.AdminToken, map[string]string{"language": "de"}, nil)
	var h1 string
	run(t, ctx, "German", chromedp.Navigate(tp("/forwarding")), chromedp.WaitVisible(chromedp.CSS("main table")), into(chromedp.Text(chromedp.CSS("h1")), &h1))
	if h1 != "Rufumleitungen: Kennziffern und Weiterleitungsgrenze" {
		t.Errorf("German heading %q", h1)
	}
	shot(t, ctx, "forwarding-de")

	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS(".top button")), chromedp.WaitVisible(chromedp.ID("#signin")))
	signIn(t, ctx, p.URL, "default", "vera@example.test", "vera-long-password")
	var body string
	run(t, ctx, "user on the page", chromedp.Navigate(tp("/forwarding")), into(chromedp.Text(chromedp.CSS("main")), &body))
	if !strings.Contains(body, "may not") || strings.Contains(body, "302") || strings.Contains(body, "*68") {
		t.Errorf("a user on /forwarding sees:\n%s", body)
	}
}
