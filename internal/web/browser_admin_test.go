package web_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
)

// TestBrowserTokensHoldsDocsPassword: an API token made in the console works once shown
// and stops working when revoked after the confirmation; a legal hold is placed on a person
// and released; the generated records and notice are shown; a user changes their password
// by keyboard alone and signs in with it; a field error of the API is shown at its field.
func TestBrowserTokensHoldsDocsPassword(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	ctx := chrome(t, t.TempDir())
	def := defaultTenant(t, p)
	tp := func(path string) string { return fmt.Sprintf("%s/t/%d%s", p.URL, def.ID, path) }
	var carol store.User
	p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/users", def.ID), p.AdminToken,
		map[string]string{"name": "Carol", "email": "carol@example.test", "password": "carol-first-password"}, &carol)
	signIn(t, ctx, p.URL, "default", "admin@localhost", privoxtest.AdminPassword)

	var secret string
	run(t, ctx, "create token",
		chromedp.Navigate(tp("/tokens")),
		chromedp.SendKeys(chromedp.ID("#name"), "monitoring"),
		chromedp.Click(chromedp.ID("#create-token")),
		chromedp.WaitVisible(chromedp.ID("#token-secret")),
		into(chromedp.Text(chromedp.ID("#token-secret")), &secret),
	)
	if st, _ := p.Do("GET", "/api/v1/me", secret, nil); st != 200 {
		t.Fatalf("the token shown does not authenticate: %d", st)
	}
	shot(t, ctx, "tokens-en")
	toks, err := p.App.DB.ListAPITokens(t.Context(), def.ID, 0, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	for _, tk := range toks {
		if tk.Name == "monitoring" {
			id = tk.ID
		}
	}
	run(t, ctx, "revoke token",
		chromedp.Navigate(tp("/tokens")),
		chromedp.Click(chromedp.ID(fmt.Sprintf("#revoke-%d", id))),
		chromedp.WaitVisible(chromedp.ID(fmt.Sprintf("#confirm-revoke-%d", id))),
		chromedp.Click(chromedp.ID(fmt.Sprintf("#confirm-revoke-%d", id))),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	if st, _ := p.Do("GET", "/api/v1/me", secret, nil); st != 401 {
		t.Fatalf("revoked token still answers %d", st)
	}

	// A hold without a reason: the API's field error is shown at the field.
	var invalid string
	run(t, ctx, "hold without reason",
		chromedp.Navigate(tp("/holds")),
		chromedp.SendKeys(chromedp.ID("#user_id"), fmt.Sprint(carol.ID)),
		chromedp.SetAttributeValue(chromedp.ID("#reason"), "required", ""),
		chromedp.RemoveAttribute(chromedp.ID("#reason"), "required"),
		chromedp.Click(chromedp.ID("#place-hold")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(chromedp.Evaluate[string](`Array.from(document.querySelectorAll("[aria-invalid=true]")).map(e => e.id).join(",")`), &invalid),
	)
	if invalid == "" {
		t.Fatalf("no field marked invalid after the API refused the hold")
	}
	run(t, ctx, "place hold",
		chromedp.SendKeys(chromedp.ID("#reason"), "billing dispute <b>42</b>"),
		chromedp.Click(chromedp.ID("#place-hold")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	holds, err := p.App.DB.ListLegalHolds(t.Context(), def.ID, true, store.Page{Limit: 10})
	if err != nil || len(holds) != 1 || holds[0].UserID == nil || *holds[0].UserID != carol.ID || holds[0].Reason != "billing dispute <b>42</b>" {
		t.Fatalf("holds after placing one: %+v %v", holds, err)
	}
	shot(t, ctx, "holds-en")
	var state string
	hid := holds[0].ID
	run(t, ctx, "release hold",
		chromedp.Click(chromedp.ID(fmt.Sprintf("#release-%d", hid))),
		chromedp.Click(chromedp.ID(fmt.Sprintf("#confirm-release-%d", hid))),
		chromedp.WaitNotPresent(chromedp.ID(fmt.Sprintf("#release-%d", hid))),
		into(chromedp.Text(chromedp.ID(fmt.Sprintf("#hold-state-%d", hid))), &state),
	)
	if state != "released" {
		t.Fatalf("hold state after release: %q", state)
	}
	var records string
	run(t, ctx, "docs", chromedp.Navigate(tp("/docs")), into(chromedp.Text(chromedp.ID("#records")), &records))
	if !strings.Contains(records, "traffic") || !strings.Contains(records, "cdrs") {
		t.Fatalf("records of processing do not name the traffic category's table:\n%.500s", records)
	}
	shot(t, ctx, "docs-en")
	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS(".top button")), chromedp.WaitVisible(chromedp.ID("#signin")))

	// Carol changes her password with the keyboard only: tab from field to field, Enter submits.
	signIn(t, ctx, p.URL, "default", "carol@example.test", "carol-first-password")
	var msg string
	run(t, ctx, "passwords differ",
		chromedp.Navigate(tp("/me/password")),
		chromedp.Focus(chromedp.ID("#password")),
		chromedp.KeyEvent("carol-second-password"),
		chromedp.KeyEvent(kb.Tab),
		chromedp.KeyEvent("something-else-entirely"),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	if !strings.Contains(msg, "differ") {
		t.Fatalf("mismatch message: %q", msg)
	}
	run(t, ctx, "short password",
		chromedp.Focus(chromedp.ID("#password")),
		chromedp.KeyEvent("short"),
		chromedp.KeyEvent(kb.Tab),
		chromedp.KeyEvent("short"),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`#password[aria-invalid="true"]`)),
	)
	shot(t, ctx, "password-en")
	run(t, ctx, "change password",
		chromedp.Focus(chromedp.ID("#password")),
		chromedp.KeyEvent("carol-second-password"),
		chromedp.KeyEvent(kb.Tab),
		chromedp.KeyEvent("carol-second-password"),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitNotPresent(chromedp.ID("#form-error")),
	)
	if st, _ := p.Do("POST", "/api/v1/login", "", map[string]string{"tenant": "default", "email": "carol@example.test", "password": "carol-second-password"}); st != 200 {
		t.Fatalf("sign-in with the new password: %d", st)
	}
}

// TestBrowserRestriction: an admin restricts the processing of a user's data from the
// user's page (a blank reason is refused at its field), sees the restriction with its reason,
// and lifts it; the API and the audit log agree at each step.
func TestBrowserRestriction(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	ctx := chrome(t, t.TempDir())
	def := defaultTenant(t, p)
	tb := fmt.Sprintf("/api/v1/tenants/%d", def.ID)
	var rita store.User
	p.MustDo(201, "POST", tb+"/users", p.AdminToken, map[string]string{"name": "Rita", "email": "rita@example.test", "password": "rita-long-password"}, &rita)
	restricted := func() (store.Restriction, int) {
		var rs store.Restriction
		st, b := p.Do("GET", fmt.Sprintf("%s/users/%d/restriction", tb, rita.ID), p.AdminToken, nil)
		if st == 200 {
			mustJSON(t, b, &rs)
		}
		return rs, st
	}
	signIn(t, ctx, p.URL, "default", "admin@localhost", privoxtest.AdminPassword)
	var invalid, state string
	run(t, ctx, "blank reason",
		chromedp.Navigate(fmt.Sprintf("%s/t/%d/users/%d", p.URL, def.ID, rita.ID)),
		chromedp.WaitVisible(chromedp.ID("#restrict")),
		chromedp.SendKeys(chromedp.ID("#reason"), "   "),
		chromedp.Click(chromedp.ID("#restrict")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(invalidFields(), &invalid),
	)
	if _, st := restricted(); invalid != "reason" || st != 404 {
		t.Fatalf("blank reason: invalid %q, restriction GET %d", invalid, st)
	}
	run(t, ctx, "restrict",
		chromedp.SetValue(chromedp.ID("#reason"), "accuracy contested (ticket 4711)"),
		chromedp.Click(chromedp.ID("#restrict")),
		chromedp.WaitVisible(chromedp.ID("#unrestrict")),
		into(chromedp.Text(chromedp.ID("#restriction-state")), &state),
	)
	rs, st := restricted()
	if st != 200 || rs.Reason != "accuracy contested (ticket 4711)" || !strings.Contains(state, "restricted") || !strings.Contains(state, "ticket 4711") {
		t.Fatalf("after restricting: GET %d %+v, page %q", st, rs, state)
	}
	shot(t, ctx, "user-restricted-en")
	run(t, ctx, "lift",
		chromedp.Click(chromedp.ID("#unrestrict")),
		chromedp.WaitVisible(chromedp.ID("#restrict")),
		into(chromedp.Text(chromedp.ID("#restriction-state")), &state),
	)
	if _, st := restricted(); st != 404 || state != "not restricted" {
		t.Fatalf("after lifting: GET %d, page %q", st, state)
	}
	var audit struct{ Items []store.AuditEntry }
	p.MustDo(200, "GET", tb+"/audit?limit=50", p.AdminToken, nil, &audit)
	var actions []string
	for _, e := range audit.Items {
		if strings.HasPrefix(e.Action, "restriction.") {
			actions = append(actions, e.Action)
		}
	}
	if strings.Join(actions, ",") != "restriction.lift,restriction.set" && strings.Join(actions, ",") != "restriction.set,restriction.lift" {
		t.Fatalf("audit: %q", actions)
	}
}
