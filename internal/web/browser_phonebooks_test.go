package web_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
)

// TestBrowserPhonebooks: an admin creates the company phonebook and adds contacts in the
// console (a contact without name or company is refused at its field, and numbers show in
// E.164 beside the form entered), searches it, and deletes a contact after the confirmation;
// a user reads the company book without the forms to change it, keeps a personal book of
// their own, and never sees another user's personal book.
func TestBrowserPhonebooks(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	ctx := chrome(t, t.TempDir())
	def := defaultTenant(t, p)
	tb := fmt.Sprintf("/api/v1/tenants/%d", def.ID)
	tp := func(path string) string { return fmt.Sprintf("%s/t/%d%s", p.URL, def.ID, path) }
	p.MustDo(200, "PUT", tb+"/directory/settings", p.AdminToken, map[string]string{"country": "DE"}, nil)
	var uma, otto store.User
	p.MustDo(201, "POST", tb+"/users", p.AdminToken, map[string]string{"name": "Uma", "email": "uma@example.test", "password": "uma-long-password"}, &uma)
	p.MustDo(201, "POST", tb+"/users", p.AdminToken, map[string]string{"name": "Otto", "email": "otto@example.test", "password": "otto-long-password"}, &otto)
	var ottos store.Phonebook
	p.MustDo(201, "POST", tb+"/phonebooks", p.AdminToken, map[string]any{"kind": "personal", "name": "Otto privat", "owner_user_id": otto.ID}, &ottos)
	contacts := func(book int64) []store.Contact {
		var l struct{ Items []store.Contact }
		p.MustDo(200, "GET", fmt.Sprintf("%s/phonebooks/%d/contacts?limit=100", tb, book), p.AdminToken, nil, &l)
		return l.Items
	}

	signIn(t, ctx, p.URL, "default", "admin@localhost", privoxtest.AdminPassword)
	run(t, ctx, "create company book",
		chromedp.Click(chromedp.CSS(`nav a[href$="/phonebooks"]`)),
		chromedp.WaitVisible(chromedp.ID("#create-book")),
		chromedp.SendKeys(chromedp.ID("#name"), "Firma"),
		chromedp.SetValue(chromedp.ID("#kind"), "company"),
		chromedp.Click(chromedp.ID("#create-book")),
		chromedp.WaitVisible(chromedp.ID("#add-contact")),
	)
	var books struct{ Items []store.Phonebook }
	p.MustDo(200, "GET", tb+"/phonebooks", p.AdminToken, nil, &books)
	var company store.Phonebook
	for _, b := range books.Items {
		if b.Kind == "company" {
			company = b
		}
	}
	if company.Name != "Firma" {
		t.Fatalf("phonebooks: %+v", books.Items)
	}
	var invalid string
	run(t, ctx, "contact without name",
		chromedp.SendKeys(chromedp.ID("#work"), "089 987654-0"),
		chromedp.Click(chromedp.ID("#add-contact")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(invalidFields(), &invalid),
	)
	if invalid != "display_name" || len(contacts(company.ID)) != 0 {
		t.Fatalf("nameless contact: invalid %q, contacts %+v", invalid, contacts(company.ID))
	}
	for _, c := range []struct{ name, company, work string }{{"Jürgen Müller", "Müller GmbH", "089 987654-0"}, {"Anna Schmidt", "Schmidt AG", "+49 30 123456"}} {
		run(t, ctx, "add "+c.name,
			chromedp.Navigate(tp(fmt.Sprintf("/phonebooks/%d", company.ID))),
			chromedp.WaitVisible(chromedp.ID("#add-contact")),
			chromedp.SendKeys(chromedp.ID("#display_name"), c.name),
			chromedp.SendKeys(chromedp.ID("#company"), c.company),
			chromedp.SendKeys(chromedp.ID("#work"), c.work),
			chromedp.Click(chromedp.ID("#add-contact")),
			chromedp.WaitVisible(chromedp.CSS(".flash")),
		)
	}
	cs := contacts(company.ID)
	if len(cs) != 2 || cs[0].Numbers.Work != "089 987654-0" || cs[0].E164.Work != "+49899876540" {
		t.Fatalf("stored contacts: %+v", cs)
	}
	var names, works []string
	run(t, ctx, "search",
		chromedp.SendKeys(chromedp.ID("#q"), "schmidt"),
		chromedp.Click(chromedp.ID("#search-go")),
		chromedp.WaitVisible(chromedp.CSS(`a[href$="/phonebooks/`+fmt.Sprint(company.ID)+`"]`)),
		into(columnTexts(0), &names),
	)
	if strings.Join(names, ",") != "Anna Schmidt" {
		t.Fatalf("search for schmidt: %q", names)
	}
	run(t, ctx, "all", chromedp.Navigate(tp(fmt.Sprintf("/phonebooks/%d", company.ID))), chromedp.WaitVisible(chromedp.ID("#add-contact")),
		into(columnTexts(0), &names), into(columnTexts(3), &works))
	if strings.Join(names, ",") != "Jürgen Müller,Anna Schmidt" || strings.Join(strings.Fields(works[0]), " ") != "089 987654-0 +49899876540" {
		t.Fatalf("company book: %q %q", names, works)
	}
	shot(t, ctx, "phonebook-en")
	id := cs[1].ID
	run(t, ctx, "delete contact",
		chromedp.Click(chromedp.ID(fmt.Sprintf("#delete-contact-%d", id))),
		chromedp.WaitVisible(chromedp.ID(fmt.Sprintf("#confirm-delete-contact-%d", id))),
		chromedp.Click(chromedp.ID(fmt.Sprintf("#confirm-delete-contact-%d", id))),
		chromedp.WaitNotPresent(chromedp.ID(fmt.Sprintf("#contact-%d", id))),
	)
	if cs := contacts(company.ID); len(cs) != 1 || cs[0].DisplayName != "Jürgen Müller" {
		t.Fatalf("after deleting: %+v", cs)
	}

	// Uma: reads the company book without forms, keeps her own, never sees Otto's.
	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS(".top button")), chromedp.WaitVisible(chromedp.ID("#signin")))
	signIn(t, ctx, p.URL, "default", "uma@example.test", "uma-long-password")
	var body string
	run(t, ctx, "uma's books", chromedp.Click(chromedp.CSS(`nav a[href$="/phonebooks"]`)), chromedp.WaitVisible(chromedp.ID("#create-book")),
		into(chromedp.Text(chromedp.CSS("main")), &body))
	if !strings.Contains(body, "Firma") || strings.Contains(body, "Otto privat") {
		t.Fatalf("uma's phonebooks:\n%s", body)
	}
	var forms int
	run(t, ctx, "uma reads company",
		chromedp.Navigate(tp(fmt.Sprintf("/phonebooks/%d", company.ID))),
		chromedp.WaitVisible(chromedp.CSS("main table")),
		into(chromedp.Evaluate[int](`document.querySelectorAll("#add-contact, #delete-book").length`), &forms),
		into(chromedp.Text(chromedp.CSS("main table")), &body),
	)
	if forms != 0 || !strings.Contains(body, "Jürgen Müller") {
		t.Fatalf("uma on the company book: %d forms, table %q", forms, body)
	}
	run(t, ctx, "uma's personal book",
		chromedp.Navigate(tp("/phonebooks")),
		chromedp.WaitVisible(chromedp.ID("#create-book")),
		chromedp.SendKeys(chromedp.ID("#name"), "Meine Kontakte"),
		chromedp.Click(chromedp.ID("#create-book")),
		chromedp.WaitVisible(chromedp.ID("#add-contact")),
		chromedp.SendKeys(chromedp.ID("#display_name"), "Oma"),
		chromedp.SendKeys(chromedp.ID("#home"), "030 5550123"),
		chromedp.Click(chromedp.ID("#add-contact")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	shot(t, ctx, "phonebook-personal-en")
	run(t, ctx, "uma on otto's book", chromedp.Navigate(tp(fmt.Sprintf("/phonebooks/%d", ottos.ID))), into(chromedp.Text(chromedp.CSS("main")), &body))
	if strings.Contains(body, "Otto privat") || !(strings.Contains(body, "No such") || strings.Contains(body, "may not")) {
		t.Fatalf("uma on otto's book:\n%s", body)
	}
}
