package web_test

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/web"
)

// chrome starts a headless Chromium (Debian package chromium) for one test.
func chrome(t *testing.T, downloads string) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (scripts/install-test-deps.sh installs it): browser test skipped")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 860), chromedp.Flag("lang", "en-US"))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancel3)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	// Any JavaScript dialog means a payload ran: fail, and close it so the page goes on.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			t.Errorf("a JavaScript dialog opened (%q): script from page data ran", ev.Message)
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	on := true
	if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: &on}); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// into runs an action and keeps its value.
func into[T any](a chromedp.Action[T], dst *T) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, t)
		*dst = v
		return chromedp.Void{}, err
	}
}

func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// axeFile is axe-core from the npm registry, which scripts/install-test-deps.sh puts there.
const axeFile = "testdata/axe/node_modules/axe-core/axe.min.js"

var axeSource = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile(axeFile)
	return string(b), err
})

type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axeCheck runs axe-core (WCAG 2.x A and AA rules and axe's best practices) on the current
// page and fails the test for every violation, whatever its impact.
func axeCheck(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	src, err := axeSource()
	if err != nil {
		t.Fatalf("axe-core is missing (%v): scripts/install-test-deps.sh installs it from the npm registry", err)
	}
	var loaded bool
	run(t, ctx, "axe on "+name, into(chromedp.Evaluate[bool](`typeof axe !== "undefined"`), &loaded))
	if !loaded {
		var ok bool
		run(t, ctx, "inject axe into "+name, into(chromedp.Evaluate[bool](src+";\ntypeof axe !== 'undefined'"), &ok))
		if !ok {
			t.Fatalf("%s: axe-core did not load", name)
		}
	}
	var out string
	run(t, ctx, "axe on "+name, into(chromedp.Evaluate[string](`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations.map(v => ({
		id: v.id, impact: v.impact, help: v.help,
		nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " | " + n.failureSummary)}))))`, chromedp.EvalAwaitPromise), &out))
	var vs []axeViolation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		t.Fatalf("%s: axe result %q: %v", name, out, err)
	}
	for _, v := range vs {
		t.Errorf("%s: axe %s (%s): %s\n\t%s", name, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n\t"))
	}
}

// shot checks the current page with axe-core and writes a screenshot of it to
// docs/screenshots when PRIVOX_SCREENSHOTS is set. Every page the tests visit passes through
// here at least once.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	axeCheck(t, ctx, name)
	if os.Getenv("PRIVOX_SCREENSHOTS") == "" {
		return
	}
	var buf []byte
	run(t, ctx, "screenshot "+name, into(chromedp.FullScreenshot(100), &buf))
	dir := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

func signIn(t *testing.T, ctx context.Context, base, tenant, email, pw string) {
	t.Helper()
	run(t, ctx, "sign in as "+email,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.ID("#signin")),
		chromedp.SetValue(chromedp.ID("#tenant"), tenant),
		chromedp.SendKeys(chromedp.ID("#email"), email),
		chromedp.SendKeys(chromedp.ID("#password"), pw),
		chromedp.Click(chromedp.ID("#signin")),
		chromedp.WaitVisible(chromedp.CSS("nav")),
	)
}

func TestBrowserConsoleTour(t *testing.T) {
	if _, err := exec.LookPath("chromium"); err != nil {
		t.Skip("chromium is not installed (scripts/install-test-deps.sh installs it): browser test skipped")
	}
	downloads := t.TempDir()
	// Privox first, so that the browser is gone (cleanups run last-in first-out) before
	// privoxtest checks for leaked goroutines.
	p := privoxtest.Start(t, privoxtest.Options{})
	ctx := chrome(t, downloads)
	def := defaultTenant(t, p)
	var acme store.Tenant
	p.MustDo(201, "POST", "/api/v1/tenants", p.AdminToken, map[string]string{"name": "acme", "sip_domain": "acme.test"}, &acme)
	p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/users", acme.ID), p.AdminToken,
		map[string]string{"name": "Acme Admin", "email": "boss@acme.test", "role": "admin", "password": "acme-admin-password"}, nil)
	base := p.URL
	tp := func(path string) string { return fmt.Sprintf("%s/t/%d%s", base, def.ID, path) }

	signIn(t, ctx, base, "default", "admin@localhost", privoxtest.AdminPassword)
	var h1 string
	run(t, ctx, "users page", into(chromedp.Text(chromedp.CSS("h1")), &h1))
	if h1 != "Users" {
		t.Fatalf("after sign-in the page is %q, want Users", h1)
	}

	// A user whose name is an XSS payload.
	payload := `<img src=x onerror=alert(1)><script>alert(2)</script>`
	run(t, ctx, "create user",
		chromedp.Click(chromedp.ID("#new-user")),
		chromedp.WaitVisible(chromedp.ID("#create-user")),
		chromedp.SendKeys(chromedp.ID("#name"), payload),
		chromedp.SendKeys(chromedp.ID("#email"), "eve@example.com"),
		chromedp.SendKeys(chromedp.ID("#password"), "eve-has-a-long-password"),
		chromedp.Click(chromedp.ID("#create-user")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	var table string
	var injected int
	run(t, ctx, "read users table",
		into(chromedp.Text(chromedp.CSS("table")), &table),
		into(chromedp.Evaluate[int](`document.querySelectorAll("main img, main script").length`), &injected),
	)
	if !strings.Contains(table, payload) || injected != 0 {
		t.Fatalf("payload not shown as text (injected elements: %d):\n%s", injected, table)
	}
	shot(t, ctx, "users-en")
	eve, err := p.App.DB.UserByEmail(t.Context(), def.ID, "eve@example.com")
	if err != nil {
		t.Fatal(err)
	}

	// An extension for her; the SIP password is shown once.
	var sipPW string
	run(t, ctx, "create extension",
		chromedp.Navigate(tp(fmt.Sprintf("/extensions/new?user=%d", eve.ID))),
		chromedp.WaitVisible(chromedp.ID("#create-extension")),
		chromedp.SendKeys(chromedp.ID("#number"), "201"),
		chromedp.SendKeys(chromedp.ID("#display_name"), "Eve"),
		chromedp.Click(chromedp.ID("#create-extension")),
		chromedp.WaitVisible(chromedp.ID("#sip-password")),
		into(chromedp.Text(chromedp.ID("#sip-password")), &sipPW),
	)
	if len(sipPW) < 16 {
		t.Fatalf("SIP password shown: %q", sipPW)
	}
	exts, err := p.App.DB.ListExtensions(t.Context(), def.ID, store.Page{Limit: 10})
	if err != nil || len(exts) != 1 || exts[0].Number != "201" || exts[0].UserID == nil || *exts[0].UserID != eve.ID {
		t.Fatalf("extensions after the form: %+v %v", exts, err)
	}
	run(t, ctx, "extensions list", chromedp.Navigate(tp("/extensions")), chromedp.WaitVisible(chromedp.CSS("table")))
	shot(t, ctx, "extensions-en")

	// The German retention preset.
	var preset string
	run(t, ctx, "switch preset",
		chromedp.Navigate(tp("/retention")),
		chromedp.WaitVisible(chromedp.ID("#switch-preset")),
		chromedp.SetValue(chromedp.ID("#preset"), "de"),
		chromedp.Click(chromedp.ID("#switch-preset")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		into(chromedp.Text(chromedp.ID("#current-preset")), &preset),
	)
	if tn := defaultTenant(t, p); preset != "de" || tn.RetentionPreset != "de" {
		t.Fatalf("preset after the switch: page %q, tenant %q", preset, tn.RetentionPreset)
	}
	shot(t, ctx, "retention-en")

	// Export Eve: the browser downloads the ZIP.
	progress := chromedp.BrowserEvents(ctx, cdpbrowser.DownloadProgress)
	done := make(chan string, 1)
	go func() {
		for ev, err := range progress {
			if err != nil {
				return
			}
			if ev.State == cdpbrowser.DownloadProgressStateCompleted {
				done <- ev.GUID
				return
			}
		}
	}()
	run(t, ctx, "export", chromedp.Navigate(tp(fmt.Sprintf("/users/%d", eve.ID))), chromedp.WaitVisible(chromedp.ID("#export")))
	shot(t, ctx, "user-edit-en")
	// The export is made as a job: its page shows the progress, then offers the ZIP.
	var summary string
	run(t, ctx, "click export", chromedp.Click(chromedp.ID("#export")),
		chromedp.WaitVisible(chromedp.ID("#job-download")),
		into(chromedp.Text(chromedp.ID("#job-export")), &summary))
	if !strings.Contains(summary, "categories") {
		t.Fatalf("export job's summary %q", summary)
	}
	shot(t, ctx, "export-job-en")
	run(t, ctx, "download the export", chromedp.Click(chromedp.ID("#job-download")))
	var guid string
	select {
	case guid = <-done:
	case <-time.After(time.Minute):
		t.Fatal("export download did not complete")
	}
	zr, err := zip.OpenReader(filepath.Join(downloads, guid))
	if err != nil {
		t.Fatalf("downloaded export is not a ZIP: %v", err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	zr.Close()
	if len(names) == 0 || !slices.ContainsFunc(names, func(n string) bool { return strings.Contains(n, "manifest") }) {
		t.Fatalf("export ZIP holds %v, want a manifest among them", names)
	}

	// The confirmation before deactivation names what goes.
	var warn string
	run(t, ctx, "deactivate confirmation",
		chromedp.Click(chromedp.ID("#job-back")), // from the export's page back to the user's
		chromedp.WaitVisible(chromedp.ID("#deactivate")),
		chromedp.Click(chromedp.ID("#deactivate")),
		chromedp.WaitVisible(chromedp.ID("#confirm-deactivate")),
		into(chromedp.Text(chromedp.CSS(".warnbox")), &warn),
	)
	if !strings.Contains(warn, "users") || !strings.Contains(warn, "cannot be undone") {
		t.Fatalf("confirmation does not name what goes:\n%s", warn)
	}
	shot(t, ctx, "deactivate-en")

	// A data flow switched off.
	var state string
	run(t, ctx, "switch a flow off",
		chromedp.Navigate(tp("/flows")),
		chromedp.WaitVisible(chromedp.ID("#off-directory_source")),
		chromedp.Click(chromedp.ID("#off-directory_source")),
		chromedp.WaitVisible(chromedp.ID("#on-directory_source")),
		into(chromedp.Text(chromedp.ID("#state-directory_source")), &state),
	)
	if state != "off" || p.App.Flows.SwitchedOn("directory_source") {
		t.Fatalf("flow after switching off: page %q, registry on=%v", state, p.App.Flows.SwitchedOn("directory_source"))
	}
	shot(t, ctx, "flows-en")
	var chain string
	run(t, ctx, "audit log", chromedp.Navigate(tp("/audit")), into(chromedp.Text(chromedp.ID("#chain-state")), &chain))
	if !strings.Contains(chain, "intact") {
		t.Fatalf("audit chain state: %q", chain)
	}
	shot(t, ctx, "audit-en")
	run(t, ctx, "my data", chromedp.Navigate(tp("/me/data")), chromedp.WaitVisible(chromedp.ID("#notice")))
	shot(t, ctx, "my-data-en")
	var link string
	run(t, ctx, "download my data", chromedp.Click(chromedp.ID("#download-my-data")),
		chromedp.WaitVisible(chromedp.ID("#job-download")),
		into(chromedp.Text(chromedp.ID("#job-download")), &link))
	if !strings.Contains(link, "ZIP") {
		t.Fatalf("my export's download link %q", link)
	}

	// German: the admin switches their own language.
	admin, err := p.App.DB.UserByEmail(t.Context(), def.ID, "admin@localhost")
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "switch to German",
		chromedp.Navigate(tp(fmt.Sprintf("/users/%d", admin.ID))),
		chromedp.WaitVisible(chromedp.ID("#save-user")),
		chromedp.SetValue(chromedp.ID("#language"), "de"),
		chromedp.Click(chromedp.ID("#save-user")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		chromedp.Navigate(tp("/users")),
		into(chromedp.Text(chromedp.CSS("h1")), &h1),
	)
	if h1 != "Benutzer" {
		t.Fatalf("German users page has heading %q", h1)
	}
	shot(t, ctx, "users-de")
	for _, pg := range []string{"retention", "flows", "audit"} {
		run(t, ctx, pg+" (de)", chromedp.Navigate(tp("/"+pg)), chromedp.WaitVisible(chromedp.CSS("main table")))
		shot(t, ctx, pg+"-de")
	}
	run(t, ctx, "my data (de)", chromedp.Navigate(tp("/me/data")), chromedp.WaitVisible(chromedp.ID("#notice")))
	shot(t, ctx, "my-data-de")

	// The cookies Chromium holds are among the declared ones.
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/", base + "/login"}})
	if err != nil {
		t.Fatal(err)
	}
	cookies := res.Cookies
	if len(cookies) == 0 {
		t.Fatal("the signed-in browser holds no cookie")
	}
	for _, c := range cookies {
		if !slices.ContainsFunc(web.Cookies, func(d web.CookieSpec) bool { return d.Name == c.Name }) {
			t.Errorf("undeclared cookie %q in the browser", c.Name)
		}
		if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict {
			t.Errorf("cookie %q: HttpOnly=%v SameSite=%v", c.Name, c.HTTPOnly, c.SameSite)
		}
	}

	// Another tenant's admin reaches none of this tenant's pages by URL.
	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS(".top button")), chromedp.WaitVisible(chromedp.ID("#signin")))
	shot(t, ctx, "login-en")
	signIn(t, ctx, base, "acme", "boss@acme.test", "acme-admin-password")
	for _, path := range []string{"/users", fmt.Sprintf("/users/%d", eve.ID), fmt.Sprintf("/users/%d/deactivate", eve.ID), "/extensions", "/cdrs", "/retention", "/audit", "/me/data"} {
		var body string
		run(t, ctx, "acme admin on "+path, chromedp.Navigate(tp(path)), into(chromedp.Text(chromedp.CSS("main")), &body))
		if !strings.Contains(body, "No such page") || strings.Contains(body, "eve@example.com") || strings.Contains(body, "admin@localhost") {
			t.Errorf("acme admin on the default tenant's %s sees:\n%s", path, body)
		}
	}
}
