package web_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
)

// TestBrowserStatus: the operator sees the readiness checks, the tenant's figures (a call
// record, a failed e-mail delivery, a registering trunk) and the installation's (uptime, Go
// runtime); the page in German; another tenant's admin sees only that tenant's figures and
// not the operator's tenant's page; a plain user does not reach it.
func TestBrowserStatus(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	ctx := chrome(t, t.TempDir())
	def := defaultTenant(t, p)
	tb := fmt.Sprintf("/api/v1/tenants/%d", def.ID)
	tp := func(path string) string { return fmt.Sprintf("%s/t/%d%s", p.URL, def.ID, path) }
	now := time.Now().UnixMilli()
	if _, err := p.App.DB.RecordCall(t.Context(), store.CDR{TenantID: def.ID, CallID: "status-call", Caller: "201", Callee: "202", Direction: "internal", StartAt: now - 1000, EndAt: now, Cause: 200}, nil); err != nil {
		t.Fatal(err)
	}
	var ext store.Extension
	p.MustDo(201, "POST", tb+"/extensions", p.AdminToken, map[string]any{"number": "201", "sip_password": "status-sip-secret-1"}, &ext)
	box, err := p.App.DB.EnsureVoicemailBox(t.Context(), def.ID, ext.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.App.DB.Exec(t.Context(), `INSERT INTO voicemail_mail (tenant_id, box_id, message_id, state, attempts, next_at, last_error, created_at, updated_at)
		VALUES (?, ?, 1, 'failed', 8, 0, 'relay down', ?, ?)`, def.ID, box.ID, now, now); err != nil {
		t.Fatal(err)
	}
	p.MustDo(200, "PUT", tb+"/trunks/carrier", p.AdminToken, map[string]any{"kind": "register", "server": "127.0.0.1:1", "username": "acct", "password": "carrier-secret-1"}, nil)
	// The SIP server takes the trunk up for registration in its own time.
	var states struct{ Items []struct{ Trunk string } }
	for deadline := time.Now().Add(30 * time.Second); len(states.Items) == 0 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		p.MustDo(200, "GET", tb+"/trunk-states", p.AdminToken, nil, &states)
	}
	if len(states.Items) != 1 {
		t.Fatalf("trunk states: %+v", states.Items)
	}
	var acme store.Tenant
	p.MustDo(201, "POST", "/api/v1/tenants", p.AdminToken, map[string]string{"name": "acme"}, &acme)
	p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/users", acme.ID), p.AdminToken, map[string]string{"name": "Ada", "email": "ada@acme.test", "password": "ada-long-password", "role": "admin"}, nil)
	p.MustDo(201, "POST", tb+"/users", p.AdminToken, map[string]string{"name": "Uwe", "email": "uwe@example.test", "password": "uwe-long-password"}, nil)
	signIn(t, ctx, p.URL, "default", "admin@localhost", privoxtest.AdminPassword)

	text := func(id string, dst *string) chromedp.Action[chromedp.Void] {
		return into(chromedp.Text(chromedp.ID(id)), dst)
	}
	var ready, db, sip, cdrs, failed, trunk, uptime, goroutines, instCDRs string
	run(t, ctx, "status as operator",
		chromedp.Click(chromedp.CSS(`nav a[href$="/status"]`)),
		chromedp.WaitVisible(chromedp.ID("#fig-uptime")),
		text("#ready", &ready), text("#check-database", &db), text("#check-sip", &sip),
		text("#fig-cdrs", &cdrs), text("#fig-mail-failed", &failed), text("#trunk-state-carrier", &trunk),
		text("#fig-uptime", &uptime), text("#fig-inst-goroutines", &goroutines), text("#fig-inst-cdrs", &instCDRs),
	)
	if ready != "ready: every check passes" || !strings.Contains(db, "ok") || !strings.Contains(sip, "ok") {
		t.Errorf("readiness: %q, database %q, sip %q", ready, db, sip)
	}
	if !strings.HasSuffix(cdrs, "1") || !strings.HasSuffix(failed, "1") || !strings.HasPrefix(trunk, "carrier") || !strings.HasSuffix(instCDRs, "1") {
		t.Errorf("figures: cdrs %q, failed %q, trunk %q, installation cdrs %q", cdrs, failed, trunk, instCDRs)
	}
	if n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(goroutines, "Goroutines"))); err != nil || n <= 0 || !strings.HasPrefix(uptime, "Uptime") {
		t.Errorf("installation: goroutines %q, uptime %q", goroutines, uptime)
	}
	shot(t, ctx, "status-en")

	admin, err := p.App.DB.UserByEmail(t.Context(), def.ID, "admin@localhost")
	if err != nil {
		t.Fatal(err)
	}
	p.MustDo(200, "PATCH", fmt.Sprintf("%s/users/%d", tb, admin.ID), p.AdminToken, map[string]string{"language": "de"}, nil)
	var h1 string
	run(t, ctx, "German", chromedp.Navigate(tp("/status")), chromedp.WaitVisible(chromedp.ID("#fig-uptime")), into(chromedp.Text(chromedp.CSS("h1")), &h1), text("#ready", &ready))
	if h1 != "Zustand und Kennzahlen" || ready != "bereit: alle Prüfungen bestanden" {
		t.Errorf("German page: %q, %q", h1, ready)
	}
	shot(t, ctx, "status-de")
	p.MustDo(200, "PATCH", fmt.Sprintf("%s/users/%d", tb, admin.ID), p.AdminToken, map[string]string{"language": "en"}, nil)

	// Another tenant's admin: its own figures, no installation, not the default tenant's page.
	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS(".top button")), chromedp.WaitVisible(chromedp.ID("#signin")))
	signIn(t, ctx, p.URL, "acme", "ada@acme.test", "ada-long-password")
	var installation int
	var body string
	run(t, ctx, "status as a tenant admin",
		chromedp.Click(chromedp.CSS(`nav a[href$="/status"]`)),
		chromedp.WaitVisible(chromedp.ID("#fig-cdrs")),
		text("#fig-cdrs", &cdrs), text("#fig-mail-failed", &failed),
		into(chromedp.Evaluate[int](`document.querySelectorAll("#installation-figures, [id^=fig-inst-], #fig-uptime").length`), &installation),
		into(chromedp.Text(chromedp.CSS("main")), &body),
	)
	if !strings.HasSuffix(cdrs, "0") || !strings.HasSuffix(failed, "0") || installation != 0 || strings.Contains(body, "carrier") {
		t.Errorf("acme's admin: cdrs %q, failed %q, installation rows %d:\n%s", cdrs, failed, installation, body)
	}
	shot(t, ctx, "status-tenant-en")
	run(t, ctx, "the default tenant's status", chromedp.Navigate(tp("/status")), into(chromedp.Text(chromedp.CSS("main")), &body))
	if !strings.Contains(body, "No such page") || strings.Contains(body, "carrier") {
		t.Errorf("acme's admin on the default tenant's status:\n%s", body)
	}

	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS(".top button")), chromedp.WaitVisible(chromedp.ID("#signin")))
	signIn(t, ctx, p.URL, "default", "uwe@example.test", "uwe-long-password")
	var links int
	run(t, ctx, "user on status", chromedp.Navigate(tp("/status")), into(chromedp.Text(chromedp.CSS("main")), &body),
		into(chromedp.Evaluate[int](`document.querySelectorAll('nav a[href$="/status"]').length`), &links))
	if !strings.Contains(body, "may not") || strings.Contains(body, "Goroutines") || links != 0 {
		t.Errorf("a user on /status (nav links %d) sees:\n%s", links, body)
	}
}
