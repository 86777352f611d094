package web_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
)

// TestBrowserDIDTimeRule: an admin gives an inbound number a business-hours calendar and an
// out-of-hours destination in the DID form. A calendar deleted after the page was shown, a
// missing out-of-hours number and one that does not exist are refused at their fields with
// nothing stored; the saved rule shows in the table; the calendar it names is not deleted
// (the calendars page says which DID names it); the form speaks German.
func TestBrowserDIDTimeRule(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	ctx := chrome(t, t.TempDir())
	def := defaultTenant(t, p)
	tb := fmt.Sprintf("/api/v1/tenants/%d", def.ID)
	tp := func(path string) string { return fmt.Sprintf("%s/t/%d%s", p.URL, def.ID, path) }
	p.MustDo(200, "PUT", tb+"/dial-settings", p.AdminToken, map[string]any{"country": "DE"}, nil)
	p.MustDo(201, "POST", tb+"/extensions", p.AdminToken, map[string]any{"number": "401", "sip_password": "ext-secret-401"}, nil)
	p.MustDo(201, "POST", tb+"/extensions", p.AdminToken, map[string]any{"number": "402", "sip_password": "ext-secret-402"}, nil)
	for _, name := range []string{"office", "temp"} {
		p.MustDo(200, "PUT", tb+"/calendars/"+name, p.AdminToken, map[string]any{"spec": map[string]any{"time_zone": "Europe/Berlin", "hours": map[string]any{"mon": []string{"08:00-17:00"}}}}, nil)
	}
	dids := func() []store.DID {
		var l struct{ Items []store.DID }
		p.MustDo(200, "GET", tb+"/dids", p.AdminToken, nil, &l)
		return l.Items
	}
	signIn(t, ctx, p.URL, "default", "admin@localhost", privoxtest.AdminPassword)

	var invalid, msg string
	run(t, ctx, "the DID form",
		chromedp.Navigate(tp("/dids")),
		chromedp.WaitVisible(chromedp.ID("#add-did")),
		chromedp.SendKeys(chromedp.ID("#number"), "+49 30 1234500"),
		chromedp.SendKeys(chromedp.ID("#dest_number"), "401"),
		chromedp.SetValue(chromedp.ID("#calendar"), "temp"),
		chromedp.SetValue(chromedp.ID("#closed_kind"), "extension"),
		chromedp.SendKeys(chromedp.ID("#closed_number"), "402"),
	)
	p.MustDo(204, "DELETE", tb+"/calendars/temp", p.AdminToken, nil, nil) // gone before the form is sent
	run(t, ctx, "a calendar deleted meanwhile",
		chromedp.Click(chromedp.ID("#add-did")),
		chromedp.WaitVisible(chromedp.CSS(`#calendar[aria-invalid="true"]`)), // the page after the refusal, parsed
		into(invalidFields(), &invalid), into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	if invalid != "calendar" || !strings.Contains(msg, `no calendar "temp"`) || len(dids()) != 0 {
		t.Fatalf("deleted calendar: invalid %q, message %q, DIDs %+v", invalid, msg, dids())
	}
	shot(t, ctx, "dids-timerule-error-en")
	for _, c := range []struct{ number, want string }{{"", "destination number"}, {"499", "extension 499"}} {
		number := chromedp.Clear(chromedp.ID("#closed_number"))
		if c.number != "" {
			number = chromedp.SetValue(chromedp.ID("#closed_number"), c.number)
		}
		run(t, ctx, "out-of-hours number "+c.number,
			// The refused page's marks go, so that only the next page's are waited for.
			chromedp.Evaluate[chromedp.Void](`document.getElementById("form-error").remove(); document.querySelectorAll("[aria-invalid]").forEach(e => e.removeAttribute("aria-invalid"))`),
			chromedp.SetValue(chromedp.ID("#calendar"), "office"),
			number,
			chromedp.Click(chromedp.ID("#add-did")),
			chromedp.WaitVisible(chromedp.CSS(`#closed_number[aria-invalid="true"]`)),
			into(invalidFields(), &invalid), into(chromedp.Text(chromedp.ID("#form-error")), &msg),
		)
		if invalid != "closed_number" || !strings.Contains(msg, c.want) || len(dids()) != 0 {
			t.Fatalf("out-of-hours number %q: invalid %q, message %q, DIDs %+v", c.number, invalid, msg, dids())
		}
	}
	var cell string
	run(t, ctx, "save",
		chromedp.SetValue(chromedp.ID("#calendar"), "office"),
		chromedp.SetValue(chromedp.ID("#closed_number"), "402"),
		chromedp.Click(chromedp.ID("#add-did")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	ds := dids()
	if len(ds) != 1 || ds[0].Number != "+49301234500" || ds[0].DestNumber != "401" || ds[0].Calendar != "office" || ds[0].ClosedKind != "extension" || ds[0].ClosedNumber != "402" {
		t.Fatalf("stored DIDs: %+v", ds)
	}
	run(t, ctx, "the table", into(chromedp.Text(chromedp.ID(fmt.Sprintf("#did-closed-%d", ds[0].ID))), &cell))
	if cell != "extension 402 (Calendar office)" {
		t.Fatalf("out-of-hours cell %q", cell)
	}
	shot(t, ctx, "dids-timerule-en")

	var listed bool
	run(t, ctx, "delete the calendar in use",
		chromedp.Navigate(tp("/calendars")),
		chromedp.WaitVisible(chromedp.ID("#delete-calendar-office")),
		chromedp.Click(chromedp.ID("#delete-calendar-office")),
		chromedp.WaitVisible(chromedp.ID("#confirm-delete-calendar-office")),
		chromedp.Click(chromedp.ID("#confirm-delete-calendar-office")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		chromedp.Poll[chromedp.Void](`document.readyState === "complete"`),
		into(chromedp.Text(chromedp.ID("#form-error")), &msg),
		into(chromedp.Evaluate[bool](`document.getElementById("calendar-office") !== null`), &listed),
	)
	var cal store.Calendar
	p.MustDo(200, "GET", tb+"/calendars/office", p.AdminToken, nil, &cal)
	if !strings.Contains(msg, "calendar office is named by DID +49301234500") || !listed {
		t.Fatalf("deleting a calendar in use: %q, still listed on the page: %v", msg, listed)
	}
	shot(t, ctx, "calendars-in-use-en")

	admin, err := p.App.DB.UserByEmail(t.Context(), def.ID, "admin@localhost")
	if err != nil {
		t.Fatal(err)
	}
	p.MustDo(200, "PATCH", fmt.Sprintf("%s/users/%d", tb, admin.ID), p.AdminToken, map[string]string{"language": "de"}, nil)
	var legend, none string
	run(t, ctx, "german", chromedp.Navigate(tp("/dids")), chromedp.WaitVisible(chromedp.ID("#add-did")),
		into(chromedp.Text(chromedp.CSS("form fieldset legend")), &legend),
		into(chromedp.TextContent(chromedp.CSS(`#calendar option[value=""]`)), &none),
		into(chromedp.Text(chromedp.ID(fmt.Sprintf("#did-closed-%d", ds[0].ID))), &cell))
	if legend != "Geschäftszeiten" || none != "keiner: immer das Ziel oben" || cell != "Nebenstelle 402 (Kalender office)" {
		t.Fatalf("German form: legend %q, none %q, cell %q", legend, none, cell)
	}
	shot(t, ctx, "dids-timerule-de")
}

// TestBrowserDefaultAndGroupTimeRule: an admin gives the default destination for numbers no
// DID covers a time rule on the DIDs page, and a group's fall-through one on the groups
// page: a destination that does not exist is refused at its field, the saved rules are
// stored and shown.
func TestBrowserDefaultAndGroupTimeRule(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	ctx := chrome(t, t.TempDir())
	def := defaultTenant(t, p)
	tb := fmt.Sprintf("/api/v1/tenants/%d", def.ID)
	tp := func(path string) string { return fmt.Sprintf("%s/t/%d%s", p.URL, def.ID, path) }
	p.MustDo(200, "PUT", tb+"/dial-settings", p.AdminToken, map[string]any{"country": "DE"}, nil)
	for _, n := range []string{"401", "402", "403"} {
		p.MustDo(201, "POST", tb+"/extensions", p.AdminToken, map[string]any{"number": n, "sip_password": "ext-secret-" + n}, nil)
	}
	p.MustDo(200, "PUT", tb+"/calendars/office", p.AdminToken, map[string]any{"spec": map[string]any{"time_zone": "Europe/Berlin", "hours": map[string]any{"mon": []string{"08:00-17:00"}}}}, nil)
	signIn(t, ctx, p.URL, "default", "admin@localhost", privoxtest.AdminPassword)

	var invalid, msg string
	run(t, ctx, "the default destination's form",
		chromedp.Navigate(tp("/dids")),
		chromedp.WaitVisible(chromedp.ID("#save-did-default")),
		chromedp.SetValue(chromedp.ID("#def_dest_kind"), "extension"),
		chromedp.SendKeys(chromedp.ID("#def_dest_number"), "401"),
		chromedp.SetValue(chromedp.ID("#def_calendar"), "office"),
		chromedp.SetValue(chromedp.ID("#def_closed_kind"), "extension"),
		chromedp.SendKeys(chromedp.ID("#def_closed_number"), "499"),
		chromedp.Click(chromedp.ID("#save-did-default")),
		chromedp.WaitVisible(chromedp.CSS(`#def_closed_number[aria-invalid="true"]`)),
		into(invalidFields(), &invalid), into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	var dd store.DIDDefault
	p.MustDo(200, "GET", tb+"/did-default", p.AdminToken, nil, &dd)
	if invalid != "def_closed_number" || !strings.Contains(msg, "extension 499") || dd.DestKind != "" {
		t.Fatalf("unknown out-of-hours destination: invalid %q, message %q, stored %+v", invalid, msg, dd)
	}
	var kind string
	run(t, ctx, "save the default",
		chromedp.SetValue(chromedp.ID("#def_closed_number"), "402"),
		chromedp.Click(chromedp.ID("#save-did-default")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		into(chromedp.Value(chromedp.ID("#def_calendar")), &kind),
	)
	p.MustDo(200, "GET", tb+"/did-default", p.AdminToken, nil, &dd)
	if dd.DestKind != "extension" || dd.DestNumber != "401" || dd.Calendar != "office" || dd.ClosedKind != "extension" || dd.ClosedNumber != "402" || kind != "office" {
		t.Fatalf("stored default %+v, the form shows calendar %q", dd, kind)
	}
	shot(t, ctx, "dids-default-timerule-en")

	var cell string
	run(t, ctx, "a group with a time rule for its fall-through",
		chromedp.Navigate(tp("/groups")),
		chromedp.WaitVisible(chromedp.ID("#save-group")),
		chromedp.SendKeys(chromedp.ID("#number"), "600"),
		chromedp.SendKeys(chromedp.ID("#members"), "401"),
		chromedp.SendKeys(chromedp.ID("#fallthrough_number"), "402"),
		chromedp.SetValue(chromedp.ID("#calendar"), "office"),
		chromedp.SetValue(chromedp.ID("#closed_kind"), "extension"),
		chromedp.SendKeys(chromedp.ID("#closed_number"), "403"),
		chromedp.Click(chromedp.ID("#save-group")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		into(chromedp.Text(chromedp.ID("#group-fall-600")), &cell),
	)
	var g store.RingGroup
	p.MustDo(200, "GET", tb+"/groups/600", p.AdminToken, nil, &g)
	if g.FallthroughKind != "extension" || g.FallthroughNumber != "402" || g.Calendar != "office" || g.ClosedKind != "extension" || g.ClosedNumber != "403" ||
		cell != "extension 402; Out of hours: extension 403 (Calendar office)" {
		t.Fatalf("stored group %+v, cell %q", g, cell)
	}
	shot(t, ctx, "groups-timerule-en")
}
