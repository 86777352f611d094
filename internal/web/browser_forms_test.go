package web_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/privox/privox/internal/attendant"
	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
)

// TestBrowserTrunkRouteGroupForms: an admin sets up a trunk, an outbound route over it and a
// ring group in the console's forms, sees each refusal of the dial plan at its field with
// nothing stored, changes each one through its edit link (a trunk's password stays when the
// field is left empty and never reaches the page), and deletes them after the confirmation;
// a trunk a route names is not deleted.
func TestBrowserTrunkRouteGroupForms(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	ctx := chrome(t, t.TempDir())
	def := defaultTenant(t, p)
	tb := fmt.Sprintf("/api/v1/tenants/%d", def.ID)
	tp := func(path string) string { return fmt.Sprintf("%s/t/%d%s", p.URL, def.ID, path) }
	p.MustDo(200, "PUT", tb+"/dial-settings", p.AdminToken, map[string]any{"country": "DE", "main_number": "+49 30 1234000"}, nil)
	for _, n := range []string{"401", "402", "403"} {
		p.MustDo(201, "POST", tb+"/extensions", p.AdminToken, map[string]any{"number": n, "sip_password": "ext-secret-" + n}, nil)
	}
	signIn(t, ctx, p.URL, "default", "admin@localhost", privoxtest.AdminPassword)
	trunk := func(name string) (store.Trunk, int) {
		var tr store.Trunk
		st, b := p.Do("GET", tb+"/trunks/"+name, p.AdminToken, nil)
		if st == 200 {
			mustJSON(t, b, &tr)
		}
		return tr, st
	}

	// A trunk: first without its password (refused at the field), then whole.
	var invalid, msg, body string
	run(t, ctx, "trunk without password",
		chromedp.Click(chromedp.CSS(`nav a[href$="/trunks"]`)),
		chromedp.WaitVisible(chromedp.ID("#save-trunk")),
		chromedp.SendKeys(chromedp.ID("#name"), "carrier"),
		chromedp.SendKeys(chromedp.ID("#server"), "sip.carrier.test:5060"),
		chromedp.SendKeys(chromedp.ID("#username"), "acct-1"),
		chromedp.Click(chromedp.ID("#save-trunk")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(invalidFields(), &invalid), into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	if invalid != "password" || !strings.Contains(msg, "required") {
		t.Fatalf("trunk without password: invalid %q, message %q", invalid, msg)
	}
	if _, st := trunk("carrier"); st != 404 {
		t.Fatalf("a refused trunk was stored (GET %d)", st)
	}
	run(t, ctx, "trunk saved",
		chromedp.SendKeys(chromedp.ID("#password"), "carrier-secret-1"),
		chromedp.Click(chromedp.ID("#save-trunk")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		chromedp.WaitVisible(chromedp.ID("#trunk-carrier")),
		into(chromedp.Text(chromedp.CSS("main")), &body),
	)
	if tr, _ := trunk("carrier"); tr.Kind != "register" || tr.Server != "sip.carrier.test:5060" || tr.Username != "acct-1" || !tr.HasPassword || tr.Transport != "udp" {
		t.Fatalf("stored trunk: %+v", tr)
	}
	shot(t, ctx, "trunk-form-en")
	// Change the server through the edit link, password field left empty.
	var html string
	run(t, ctx, "trunk edit",
		chromedp.Click(chromedp.ID("#edit-trunk-carrier")),
		chromedp.WaitReady(chromedp.CSS(`#trunk-form input[name=editing]`)),
		chromedp.SetValue(chromedp.ID("#server"), "sip2.carrier.test:5061"),
		chromedp.SetValue(chromedp.ID("#transport"), "tcp"),
		chromedp.Click(chromedp.ID("#save-trunk")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		into(chromedp.OuterHTML(chromedp.CSS("html")), &html),
	)
	if strings.Contains(html, "carrier-secret-1") || strings.Contains(body, "carrier-secret-1") {
		t.Fatal("a trunk password reached the page")
	}
	if tr, _ := trunk("carrier"); tr.Server != "sip2.carrier.test:5061" || tr.Transport != "tcp" || !tr.HasPassword || tr.Username != "acct-1" {
		t.Fatalf("edited trunk: %+v", tr)
	}
	// An IP trunk with an address that is none.
	run(t, ctx, "ip trunk bad source",
		chromedp.SendKeys(chromedp.ID("#name"), "office-pbx"),
		chromedp.SetValue(chromedp.ID("#kind"), "ip"),
		chromedp.SendKeys(chromedp.ID("#server"), "192.0.2.10:5060"),
		chromedp.SendKeys(chromedp.ID("#allowed_sources"), "192.0.2.10, not-an-address"),
		chromedp.Click(chromedp.ID("#save-trunk")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(invalidFields(), &invalid), into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	if invalid != "allowed_sources" || !strings.Contains(msg, "not-an-address") {
		t.Fatalf("ip trunk: invalid %q, message %q", invalid, msg)
	}
	if _, st := trunk("office-pbx"); st != 404 {
		t.Fatal("a refused ip trunk was stored")
	}

	// An outbound route: a broken pattern first.
	routes := func() []store.OutboundRoute {
		var l struct{ Items []store.OutboundRoute }
		p.MustDo(200, "GET", tb+"/outbound-routes", p.AdminToken, nil, &l)
		return l.Items
	}
	run(t, ctx, "route bad pattern",
		chromedp.Click(chromedp.CSS(`nav a[href$="/routes"]`)),
		chromedp.WaitVisible(chromedp.ID("#save-route")),
		chromedp.SendKeys(chromedp.ID("#name"), "national"),
		chromedp.SendKeys(chromedp.ID("#pattern"), "_0[1-9X."),
		chromedp.SendKeys(chromedp.ID("#trunks"), "carrier"),
		chromedp.Click(chromedp.ID("#save-route")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(invalidFields(), &invalid), into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	if invalid != "pattern" || len(routes()) != 0 {
		t.Fatalf("bad pattern: invalid %q, message %q, routes %+v", invalid, msg, routes())
	}
	var cells []string
	run(t, ctx, "route saved",
		chromedp.SetValue(chromedp.ID("#pattern"), "_0[1-9]X."),
		chromedp.SetValue(chromedp.ID("#position"), "10"),
		chromedp.Click(chromedp.ID("#save-route")),
		chromedp.WaitVisible(chromedp.ID("#route-national")),
		into(columnTexts(2), &cells),
	)
	if rs := routes(); len(rs) != 1 || rs[0].Pattern != "_0[1-9]X." || rs[0].Position != 10 || !rs[0].E164 || strings.Join(rs[0].Trunks, ",") != "carrier" || strings.Join(cells, ",") != "_0[1-9]X." {
		t.Fatalf("stored routes %+v, table %q", rs, cells)
	}
	run(t, ctx, "route edit",
		chromedp.Click(chromedp.ID("#edit-route-national")),
		chromedp.WaitReady(chromedp.CSS(`#route-form input[name=editing]`)),
		chromedp.SetValue(chromedp.ID("#strip"), "1"),
		chromedp.SetValue(chromedp.ID("#prepend"), "49"),
		chromedp.Click(chromedp.ID("#e164")),
		chromedp.Click(chromedp.ID("#save-route")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	if rs := routes(); len(rs) != 1 || rs[0].Strip != 1 || rs[0].Prepend != "49" || rs[0].E164 {
		t.Fatalf("edited route %+v", rs)
	}
	shot(t, ctx, "routes-en")
	// The trunk the route names is not deleted.
	run(t, ctx, "trunk in use",
		chromedp.Click(chromedp.CSS(`nav a[href$="/trunks"]`)),
		chromedp.Click(chromedp.ID("#delete-trunk-carrier")),
		chromedp.WaitVisible(chromedp.ID("#confirm-delete-trunk-carrier")),
		chromedp.Click(chromedp.ID("#confirm-delete-trunk-carrier")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	if _, st := trunk("carrier"); st != 200 || !strings.Contains(msg, "national") {
		t.Fatalf("deleting a trunk in use: GET %d, message %q", st, msg)
	}
	run(t, ctx, "route delete",
		chromedp.Navigate(tp("/routes")),
		chromedp.Click(chromedp.ID("#delete-route-national")),
		chromedp.WaitVisible(chromedp.ID("#confirm-delete-route-national")),
		chromedp.Click(chromedp.ID("#confirm-delete-route-national")),
		chromedp.WaitNotPresent(chromedp.ID("#route-national")),
	)
	if len(routes()) != 0 {
		t.Fatalf("routes after deleting: %+v", routes())
	}
	run(t, ctx, "trunk delete",
		chromedp.Navigate(tp("/trunks")),
		chromedp.Click(chromedp.ID("#delete-trunk-carrier")),
		chromedp.WaitVisible(chromedp.ID("#confirm-delete-trunk-carrier")),
		chromedp.Click(chromedp.ID("#confirm-delete-trunk-carrier")),
		chromedp.WaitNotPresent(chromedp.ID("#trunk-carrier")),
	)
	if _, st := trunk("carrier"); st != 404 {
		t.Fatalf("deleted trunk: GET %d", st)
	}

	// A ring group: a member that is no extension first.
	group := func() (store.RingGroup, int) {
		var g store.RingGroup
		st, b := p.Do("GET", tb+"/groups/600", p.AdminToken, nil)
		if st == 200 {
			mustJSON(t, b, &g)
		}
		return g, st
	}
	run(t, ctx, "group unknown member",
		chromedp.Click(chromedp.CSS(`nav a[href$="/groups"]`)),
		chromedp.WaitVisible(chromedp.ID("#save-group")),
		chromedp.SendKeys(chromedp.ID("#number"), "600"),
		chromedp.SendKeys(chromedp.ID("#name"), "Sales"),
		chromedp.SendKeys(chromedp.ID("#members"), "401, 499"),
		chromedp.Click(chromedp.ID("#save-group")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(invalidFields(), &invalid), into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	if _, st := group(); invalid != "members" || st != 404 {
		t.Fatalf("unknown member: invalid %q, message %q, GET %d", invalid, msg, st)
	}
	var row string
	run(t, ctx, "group saved",
		chromedp.SetValue(chromedp.ID("#members"), "401, 402:10"),
		chromedp.SetValue(chromedp.ID("#strategy"), "sequential"),
		chromedp.SetValue(chromedp.ID("#fallthrough_number"), "403"),
		chromedp.Click(chromedp.ID("#save-group")),
		chromedp.WaitVisible(chromedp.ID("#group-600")),
		into(chromedp.Text(chromedp.ID("#group-600")), &row),
	)
	g, _ := group()
	if g.Strategy != "sequential" || len(g.Members) != 2 || g.Members[1].Extension != "402" || g.Members[1].RingTimeS != 10 || g.FallthroughNumber != "403" || g.FallthroughKind != "extension" {
		t.Fatalf("stored group %+v", g)
	}
	if !strings.Contains(row, "401, 402 (10 s)") || !strings.Contains(row, "extension 403") {
		t.Fatalf("group row %q", row)
	}
	run(t, ctx, "group edit",
		chromedp.Click(chromedp.ID("#edit-group-600")),
		chromedp.WaitReady(chromedp.CSS(`#group-form input[name=editing]`)),
		chromedp.SetValue(chromedp.ID("#members"), "402, 401"),
		chromedp.SetValue(chromedp.ID("#strategy"), "round-robin"),
		chromedp.Clear(chromedp.ID("#fallthrough_number")),
		chromedp.Click(chromedp.ID("#save-group")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	if g, _ = group(); len(g.Members) != 2 || g.Members[0].Extension != "402" || g.FallthroughKind != "" || g.Name != "Sales" || g.Strategy != "round-robin" {
		t.Fatalf("edited group %+v", g)
	}
	shot(t, ctx, "groups-form-en")
	run(t, ctx, "group delete",
		chromedp.Click(chromedp.ID("#delete-group-600")),
		chromedp.WaitVisible(chromedp.ID("#confirm-delete-group-600")),
		chromedp.Click(chromedp.ID("#confirm-delete-group-600")),
		chromedp.WaitNotPresent(chromedp.ID("#group-600")),
	)
	if _, st := group(); st != 404 {
		t.Fatalf("deleted group: GET %d", st)
	}

	// A user of the tenant posts none of these forms.
	p.MustDo(201, "POST", tb+"/users", p.AdminToken, map[string]string{"name": "Uma", "email": "uma@example.test", "password": "uma-long-password"}, nil)
	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS(".top button")), chromedp.WaitVisible(chromedp.ID("#signin")))
	signIn(t, ctx, p.URL, "default", "uma@example.test", "uma-long-password")
	run(t, ctx, "user on routes", chromedp.Navigate(tp("/routes")), into(chromedp.Text(chromedp.CSS("main")), &body))
	if !strings.Contains(body, "may not") {
		t.Errorf("a user on /routes sees:\n%s", body)
	}
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

// TestBrowserMenus: an admin writes an auto-attendant menu in the console's form, with a
// malformed option line and an unknown destination type refused at the options field and
// nothing stored; changes it through its edit link and deletes it after the confirmation.
func TestBrowserMenus(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	ctx := chrome(t, t.TempDir())
	def := defaultTenant(t, p)
	tb := fmt.Sprintf("/api/v1/tenants/%d", def.ID)
	p.MustDo(201, "POST", tb+"/extensions", p.AdminToken, map[string]any{"number": "401", "sip_password": "ext-secret-401"}, nil)
	menus := func() []store.Menu {
		var l struct{ Items []store.Menu }
		p.MustDo(200, "GET", tb+"/menus", p.AdminToken, nil, &l)
		return l.Items
	}
	signIn(t, ctx, p.URL, "default", "admin@localhost", privoxtest.AdminPassword)
	var invalid, msg string
	run(t, ctx, "malformed line",
		chromedp.Click(chromedp.CSS(`nav a[href$="/menus"]`)),
		chromedp.WaitVisible(chromedp.ID("#save-menu")),
		chromedp.SendKeys(chromedp.ID("#name"), "main"),
		chromedp.SendKeys(chromedp.ID("#number"), "700"),
		chromedp.SendKeys(chromedp.ID("#options"), "1 extension 401"),
		chromedp.Click(chromedp.ID("#save-menu")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(invalidFields(), &invalid), into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	if invalid != "options" || !strings.Contains(msg, "line 1") || len(menus()) != 0 {
		t.Fatalf("malformed option: invalid %q, message %q, menus %+v", invalid, msg, menus())
	}
	run(t, ctx, "unknown destination",
		// The last refusal's message goes, so that the wait below sees the new page's.
		chromedp.Evaluate[chromedp.Void](`document.getElementById("form-error").remove()`),
		chromedp.SetValue(chromedp.ID("#options"), "1 = extension 401\n2 = room 5"),
		chromedp.Click(chromedp.ID("#save-menu")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(invalidFields(), &invalid), into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	if invalid != "options" || !strings.Contains(msg, "room") || len(menus()) != 0 {
		t.Fatalf("unknown destination: invalid %q, message %q, menus %+v", invalid, msg, menus())
	}
	var row string
	run(t, ctx, "save",
		chromedp.SetValue(chromedp.ID("#options"), "1 = extension 401\n0 = hangup"),
		chromedp.SetValue(chromedp.ID("#fallback"), "extension 401"),
		chromedp.Click(chromedp.ID("#dial_by_extension")),
		chromedp.Click(chromedp.ID("#save-menu")),
		chromedp.WaitVisible(chromedp.ID("#menu-main")),
		into(chromedp.Text(chromedp.ID("#menu-main")), &row),
	)
	spec := func(m store.Menu) attendant.Menu {
		var a attendant.Menu
		mustJSON(t, m.Spec, &a)
		return a
	}
	ms := menus()
	if len(ms) != 1 || ms[0].Number != "700" || !spec(ms[0]).DialByExtension || spec(ms[0]).Options["1"] != (attendant.Destination{Type: "extension", Target: "401"}) ||
		spec(ms[0]).Fallback == nil || spec(ms[0]).Fallback.Target != "401" {
		t.Fatalf("stored menus: %+v", ms)
	}
	if !strings.Contains(row, "0 = hangup; 1 = extension 401") || !strings.Contains(row, "extension 401") {
		t.Fatalf("menu row %q", row)
	}
	shot(t, ctx, "menus-en")
	run(t, ctx, "edit",
		chromedp.Click(chromedp.ID("#edit-menu-main")),
		chromedp.WaitReady(chromedp.CSS(`#menu-form input[name=editing]`)),
		chromedp.SetValue(chromedp.ID("#retries"), "3"),
		chromedp.Click(chromedp.ID("#save-menu")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	if ms := menus(); len(ms) != 1 || spec(ms[0]).Retries != 3 || !spec(ms[0]).DialByExtension || len(spec(ms[0]).Options) != 2 {
		t.Fatalf("edited menu: %+v", ms)
	}
	run(t, ctx, "delete",
		chromedp.Click(chromedp.ID("#delete-menu-main")),
		chromedp.WaitVisible(chromedp.ID("#confirm-delete-menu-main")),
		chromedp.Click(chromedp.ID("#confirm-delete-menu-main")),
		chromedp.WaitNotPresent(chromedp.ID("#menu-main")),
	)
	if ms := menus(); len(ms) != 0 {
		t.Fatalf("menus after deleting: %+v", ms)
	}
}
