package web_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/privox/privox/internal/attendant"
	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
)

// TestBrowserCalendars: an admin writes a business-hours calendar in the console's form; an
// unknown time zone and a malformed span are refused at their fields with nothing stored, a
// good one shows in the table, changes through its edit link and goes after the
// confirmation; the page speaks German, and a user of the tenant may not reach it.
func TestBrowserCalendars(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	ctx := chrome(t, t.TempDir())
	def := defaultTenant(t, p)
	tb := fmt.Sprintf("/api/v1/tenants/%d", def.ID)
	tp := func(path string) string { return fmt.Sprintf("%s/t/%d%s", p.URL, def.ID, path) }
	calendars := func() []store.Calendar {
		var l struct{ Items []store.Calendar }
		p.MustDo(200, "GET", tb+"/calendars", p.AdminToken, nil, &l)
		return l.Items
	}
	spec := func(c store.Calendar) attendant.Calendar {
		var a attendant.Calendar
		mustJSON(t, c.Spec, &a)
		return a
	}
	signIn(t, ctx, p.URL, "default", "admin@localhost", privoxtest.AdminPassword)

	var invalid, msg string
	run(t, ctx, "unknown zone",
		chromedp.Click(chromedp.CSS(`nav a[href$="/calendars"]`)),
		chromedp.WaitVisible(chromedp.ID("#save-calendar")),
		chromedp.SendKeys(chromedp.ID("#name"), "office"),
		chromedp.SendKeys(chromedp.ID("#time_zone"), "Europe/Atlantis"),
		chromedp.SendKeys(chromedp.ID("#hours_mon"), "08:00-12:30, 13:30-17:00"),
		chromedp.SendKeys(chromedp.ID("#hours_fri"), "08:00-14:00"),
		chromedp.Click(chromedp.ID("#save-calendar")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(invalidFields(), &invalid), into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	if invalid != "time_zone" || !strings.Contains(msg, "Europe/Atlantis") || len(calendars()) != 0 {
		t.Fatalf("unknown zone: invalid %q, message %q, calendars %+v", invalid, msg, calendars())
	}
	shot(t, ctx, "calendars-error-en")
	run(t, ctx, "bad span",
		chromedp.Evaluate[chromedp.Void](`document.getElementById("form-error").remove()`),
		chromedp.SetValue(chromedp.ID("#time_zone"), "Europe/Berlin"),
		chromedp.SetValue(chromedp.ID("#hours_wed"), "09:00-08:00"),
		chromedp.Click(chromedp.ID("#save-calendar")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(invalidFields(), &invalid), into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	if invalid != "hours_wed" || !strings.Contains(msg, "09:00-08:00") || len(calendars()) != 0 {
		t.Fatalf("bad span: invalid %q, message %q, calendars %+v", invalid, msg, calendars())
	}
	var row string
	run(t, ctx, "save",
		chromedp.SetValue(chromedp.ID("#hours_wed"), "09:00-17:00"),
		chromedp.SetValue(chromedp.ID("#holidays"), "2026-12-24\n2026-12-25"),
		chromedp.Click(chromedp.ID("#save-calendar")),
		chromedp.WaitVisible(chromedp.ID("#calendar-office")),
		into(chromedp.Text(chromedp.ID("#calendar-office")), &row),
	)
	cs := calendars()
	if len(cs) != 1 || cs[0].Name != "office" {
		t.Fatalf("stored calendars: %+v", cs)
	}
	if sp := spec(cs[0]); sp.TimeZone != "Europe/Berlin" || strings.Join(sp.Hours["mon"], ",") != "08:00-12:30,13:30-17:00" ||
		strings.Join(sp.Hours["wed"], ",") != "09:00-17:00" || strings.Join(sp.Hours["fri"], ",") != "08:00-14:00" || len(sp.Hours) != 3 || len(sp.Holidays) != 2 {
		t.Fatalf("stored calendar: %+v", sp)
	}
	for _, want := range []string{"Europe/Berlin", "Mon 08:00-12:30, 13:30-17:00; Wed 09:00-17:00; Fri 08:00-14:00", "2"} {
		if !strings.Contains(row, want) {
			t.Fatalf("calendar row %q lacks %q", row, want)
		}
	}
	shot(t, ctx, "calendars-en")

	var mon, holidays string
	run(t, ctx, "edit",
		chromedp.Click(chromedp.ID("#edit-calendar-office")),
		chromedp.WaitReady(chromedp.CSS(`#calendar-form input[name=editing]`)),
		into(chromedp.Value(chromedp.ID("#hours_mon")), &mon),
		into(chromedp.Value(chromedp.ID("#holidays")), &holidays),
	)
	if mon != "08:00-12:30, 13:30-17:00" || holidays != "2026-12-24\n2026-12-25" {
		t.Fatalf("edit form: monday %q, holidays %q", mon, holidays)
	}
	run(t, ctx, "change",
		chromedp.Clear(chromedp.ID("#hours_fri")),
		chromedp.SetValue(chromedp.ID("#hours_sat"), "10:00-13:00"),
		chromedp.SetValue(chromedp.ID("#holidays"), "2027-01-01"),
		chromedp.Click(chromedp.ID("#save-calendar")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	if cs := calendars(); len(cs) != 1 || len(spec(cs[0]).Hours["fri"]) != 0 || strings.Join(spec(cs[0]).Hours["sat"], ",") != "10:00-13:00" ||
		strings.Join(spec(cs[0]).Holidays, ",") != "2027-01-01" || len(spec(cs[0]).Hours["mon"]) != 2 {
		t.Fatalf("changed calendar: %+v", cs)
	}

	// German.
	admin, err := p.App.DB.UserByEmail(t.Context(), def.ID, "admin@localhost")
	if err != nil {
		t.Fatal(err)
	}
	p.MustDo(200, "PATCH", fmt.Sprintf("%s/users/%d", tb, admin.ID), p.AdminToken, map[string]string{"language": "de"}, nil)
	var h1 string
	run(t, ctx, "german", chromedp.Navigate(tp("/calendars")), chromedp.WaitVisible(chromedp.ID("#calendar-office")),
		into(chromedp.Text(chromedp.CSS("h1")), &h1), into(chromedp.Text(chromedp.ID("#calendar-office")), &row))
	if h1 != "Geschäftszeiten-Kalender" || !strings.Contains(row, "Mo 08:00-12:30, 13:30-17:00; Mi 09:00-17:00; Sa 10:00-13:00") {
		t.Fatalf("German page: heading %q, row %q", h1, row)
	}
	shot(t, ctx, "calendars-de")
	p.MustDo(200, "PATCH", fmt.Sprintf("%s/users/%d", tb, admin.ID), p.AdminToken, map[string]string{"language": "en"}, nil)

	run(t, ctx, "delete",
		chromedp.Navigate(tp("/calendars")),
		chromedp.WaitVisible(chromedp.ID("#delete-calendar-office")),
		chromedp.Click(chromedp.ID("#delete-calendar-office")),
		chromedp.WaitVisible(chromedp.ID("#confirm-delete-calendar-office")),
		chromedp.Click(chromedp.ID("#confirm-delete-calendar-office")),
		chromedp.WaitNotPresent(chromedp.ID("#calendar-office")),
	)
	if cs := calendars(); len(cs) != 0 {
		t.Fatalf("calendars after deleting: %+v", cs)
	}

	// A user of the tenant may not.
	p.MustDo(200, "PUT", tb+"/calendars/hidden-hours", p.AdminToken, map[string]any{"spec": map[string]any{"time_zone": "Europe/Berlin", "hours": map[string]any{"mon": []string{"08:00-09:00"}}}}, nil)
	p.MustDo(201, "POST", tb+"/users", p.AdminToken, map[string]string{"name": "Uma", "email": "uma@example.test", "password": "uma-long-password"}, nil)
	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS(".top button")), chromedp.WaitVisible(chromedp.ID("#signin")))
	signIn(t, ctx, p.URL, "default", "uma@example.test", "uma-long-password")
	var body string
	run(t, ctx, "user on calendars", chromedp.Navigate(tp("/calendars")), into(chromedp.Text(chromedp.CSS("main")), &body))
	if !strings.Contains(body, "may not") || strings.Contains(body, "hidden-hours") {
		t.Errorf("a user on /calendars sees:\n%s", body)
	}
}
