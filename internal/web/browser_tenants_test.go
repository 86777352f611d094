package web_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
)

// TestBrowserTenants: the operator creates a tenant with the German preset in the console;
// a tenant without a name is refused at its field and nothing is created; the new tenant's
// row leads to its users page. The new tenant's own admin, who is no operator, sees no such
// page.
func TestBrowserTenants(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	ctx := chrome(t, t.TempDir())
	def := defaultTenant(t, p)
	tp := func(path string) string { return fmt.Sprintf("%s/t/%d%s", p.URL, def.ID, path) }
	tenants := func() []store.Tenant {
		var l struct{ Items []store.Tenant }
		p.MustDo(200, "GET", "/api/v1/tenants", p.AdminToken, nil, &l)
		return l.Items
	}
	signIn(t, ctx, p.URL, "default", "admin@localhost", privoxtest.AdminPassword)

	var invalid, msg string
	run(t, ctx, "tenant without a name",
		chromedp.Click(chromedp.CSS(`nav a[href$="/tenants"]`)),
		chromedp.WaitVisible(chromedp.ID("#create-tenant")),
		chromedp.SendKeys(chromedp.ID("#admin_contact"), "datenschutz@acme.test"),
		chromedp.RemoveAttribute(chromedp.ID("#name"), "required"),
		chromedp.Click(chromedp.ID("#create-tenant")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(invalidFields(), &invalid), into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	if invalid != "name" || len(tenants()) != 1 {
		t.Fatalf("nameless tenant: invalid %q, message %q, %d tenants", invalid, msg, len(tenants()))
	}
	var row string
	run(t, ctx, "tenant created",
		chromedp.SendKeys(chromedp.ID("#name"), "acme"),
		chromedp.SetValue(chromedp.ID("#retention_preset"), "de"),
		chromedp.Click(chromedp.ID("#create-tenant")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		into(chromedp.Text(chromedp.CSS("tbody")), &row),
	)
	var acme store.Tenant
	for _, tn := range tenants() {
		if tn.Name == "acme" {
			acme = tn
		}
	}
	if acme.ID == 0 || acme.RetentionPreset != "de" || acme.AdminContact != "datenschutz@acme.test" || !strings.Contains(row, "acme") {
		t.Fatalf("created tenant %+v, rows %q", acme, row)
	}
	shot(t, ctx, "tenants-en")
	var h1 string
	run(t, ctx, "the new tenant's users",
		chromedp.Click(chromedp.ID(fmt.Sprintf("#tenant-users-%d", acme.ID))),
		chromedp.WaitVisible(chromedp.CSS("main table")),
		into(chromedp.Text(chromedp.CSS("h1")), &h1),
	)
	if h1 == "" {
		t.Fatal("no users page for the new tenant")
	}

	// The new tenant's admin, who is no operator.
	p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/users", acme.ID), p.AdminToken, map[string]string{"name": "Ada", "email": "ada@acme.test", "password": "ada-long-password", "role": "admin"}, nil)
	run(t, ctx, "sign out", chromedp.Navigate(tp("/users")), chromedp.Click(chromedp.CSS(".top button")), chromedp.WaitVisible(chromedp.ID("#signin")))
	signIn(t, ctx, p.URL, "acme", "ada@acme.test", "ada-long-password")
	var body string
	var links int
	run(t, ctx, "admin on tenants", chromedp.Navigate(fmt.Sprintf("%s/t/%d/tenants", p.URL, acme.ID)), into(chromedp.Text(chromedp.CSS("main")), &body),
		into(chromedp.Evaluate[int](`document.querySelectorAll('nav a[href$="/tenants"]').length`), &links))
	if !strings.Contains(body, "may not") || strings.Contains(body, "default") || links != 0 {
		t.Errorf("a tenant admin on /tenants (nav links %d) sees:\n%s", links, body)
	}
}
