package web_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
)

// TestBrowserDialling: an admin reads the tenant's dialling settings (the defaults at
// first), sees a country the API does not know and a limit that is no number refused at
// their fields with nothing stored, saves the numbers, the toll-fraud guard's classes and
// limits and the calendar outside calls are allowed in, and sees an extension whose outside
// calls are suspended; the page in German; a plain user does not reach it.
func TestBrowserDialling(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	ctx := chrome(t, t.TempDir())
	def := defaultTenant(t, p)
	tb := fmt.Sprintf("/api/v1/tenants/%d", def.ID)
	tp := func(path string) string { return fmt.Sprintf("%s/t/%d%s", p.URL, def.ID, path) }
	p.MustDo(200, "PUT", tb+"/calendars/office", p.AdminToken, map[string]any{"spec": map[string]any{"time_zone": "Europe/Berlin", "hours": map[string]any{"mon": []string{"08:00-17:00"}}}}, nil)
	var ulla store.User
	p.MustDo(201, "POST", tb+"/users", p.AdminToken, map[string]string{"name": "Ulla", "email": "ulla@example.test", "password": "ulla-long-password"}, &ulla)
	var ext store.Extension
	p.MustDo(201, "POST", tb+"/extensions", p.AdminToken, map[string]any{"number": "501", "user_id": ulla.ID, "sip_password": "ulla-sip-secret-1"}, &ext)
	settings := func() store.DialSettings {
		t.Helper()
		var d store.DialSettings
		p.MustDo(200, "GET", tb+"/dial-settings", p.AdminToken, nil, &d)
		return d
	}
	signIn(t, ctx, p.URL, "default", "admin@localhost", privoxtest.AdminPassword)

	var maxConc, burst, window, cal string
	run(t, ctx, "the defaults",
		chromedp.Click(chromedp.CSS(`nav a[href$="/dialling"]`)),
		chromedp.WaitVisible(chromedp.ID("#dialling-form")),
		into(chromedp.Value(chromedp.ID("#max_concurrent")), &maxConc),
		into(chromedp.Value(chromedp.ID("#burst_calls")), &burst),
		into(chromedp.Value(chromedp.ID("#burst_window_s")), &window),
		into(chromedp.Value(chromedp.ID("#outside_calendar")), &cal),
	)
	if maxConc != "2" || burst != "10" || window != "60" || cal != "" {
		t.Fatalf("defaults: max %q, burst %q in %q, calendar %q", maxConc, burst, window, cal)
	}
	before := settings()
	var invalid, msg string
	// refused sends the form after the actions and requires the error at field. The error of
	// the page before goes first, so that only the answer's can be waited for.
	var gone bool
	refused := func(what, field string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		run(t, ctx, what, append(actions, into(chromedp.Evaluate[bool](`document.getElementById("form-error")?.remove(); true`), &gone),
			chromedp.Click(chromedp.ID("#save-dialling")), chromedp.WaitVisible(chromedp.ID("#form-error")),
			into(invalidFields(), &invalid), into(chromedp.Text(chromedp.ID("#form-error")), &msg))...)
		if invalid != field {
			t.Fatalf("%s: invalid %q, want %s (%q)", what, invalid, field, msg)
		}
	}
	refused("unknown country", "country",
		chromedp.SendKeys(chromedp.ID("#country"), "XX"), chromedp.SendKeys(chromedp.ID("#main_number"), "030 1234000"))
	if !strings.Contains(msg, "XX") {
		t.Fatalf("unknown country: message %q", msg)
	}
	refused("a limit that is no number", "burst_window_s",
		chromedp.SetValue(chromedp.ID("#country"), "DE"), chromedp.SetValue(chromedp.ID("#burst_window_s"), "a minute"))
	refused("burst without a window", "burst_window_s", chromedp.SetValue(chromedp.ID("#burst_window_s"), "0"))
	if after := settings(); after != before {
		t.Fatalf("refused settings were stored: %+v", after)
	}
	shot(t, ctx, "dialling-error-en")
	run(t, ctx, "save",
		chromedp.SetValue(chromedp.ID("#burst_window_s"), "120"),
		chromedp.SetValue(chromedp.ID("#max_concurrent"), "3"),
		chromedp.Click(chromedp.ID("#allow_international")),
		chromedp.SetValue(chromedp.ID("#outside_calendar"), "office"),
		chromedp.Click(chromedp.ID("#save-dialling")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		into(chromedp.Text(chromedp.CSS(".flash")), &msg),
		into(chromedp.Value(chromedp.ID("#outside_calendar")), &cal),
	)
	d := settings()
	if msg != "Dialling settings saved." || cal != "office" || d.Country != "DE" || d.MainNumber != "+49301234000" || !d.AllowInternational || d.AllowPremium ||
		d.MaxConcurrent != 3 || d.BurstCalls != 10 || d.BurstWindowS != 120 || d.OutsideCalendar != "office" {
		t.Fatalf("after saving: %q, calendar %q, stored %+v", msg, cal, d)
	}
	var audit struct{ Items []store.AuditEntry }
	p.MustDo(200, "GET", tb+"/audit?action=dial_settings.put", p.AdminToken, nil, &audit)
	if len(audit.Items) != 1 {
		t.Fatalf("audit entries of the change: %d", len(audit.Items))
	}

	// Ulla's extension is suspended from outside calls.
	p.MustDo(200, "PUT", fmt.Sprintf("%s/extensions/%d/outside-suspension", tb, ext.ID), p.AdminToken, nil, nil)
	var rows []string
	run(t, ctx, "suspensions",
		chromedp.Navigate(tp("/dialling")),
		chromedp.WaitVisible(chromedp.ID(fmt.Sprintf("#suspension-%d", ext.ID))),
		into(columnTexts(1), &rows),
	)
	if strings.Join(rows, ",") != fmt.Sprint(ulla.ID) {
		t.Fatalf("suspended: %q", rows)
	}
	shot(t, ctx, "dialling-en")

	admin, err := p.App.DB.UserByEmail(t.Context(), def.ID, "admin@localhost")
	if err != nil {
		t.Fatal(err)
	}
	p.MustDo(200, "PATCH", fmt.Sprintf("%s/users/%d", tb, admin.ID), p.AdminToken, map[string]string{"language": "de"}, nil)
	var h1 string
	run(t, ctx, "German", chromedp.Navigate(tp("/dialling")), chromedp.WaitVisible(chromedp.ID("#dialling-form")), into(chromedp.Text(chromedp.CSS("h1")), &h1))
	if h1 != "Wähleinstellungen und Gebührenbetrugsschutz" {
		t.Errorf("German heading %q", h1)
	}
	shot(t, ctx, "dialling-de")

	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS(".top button")), chromedp.WaitVisible(chromedp.ID("#signin")))
	signIn(t, ctx, p.URL, "default", "ulla@example.test", "ulla-long-password")
	var body string
	var links int
	run(t, ctx, "user on dialling", chromedp.Navigate(tp("/dialling")), into(chromedp.Text(chromedp.CSS("main")), &body),
		into(chromedp.Evaluate[int](`document.querySelectorAll('nav a[href$="/dialling"]').length`), &links))
	if !strings.Contains(body, "may not") || strings.Contains(body, "+49301234000") || links != 0 {
		t.Errorf("a user on /dialling (nav links %d) sees:\n%s", links, body)
	}
}
