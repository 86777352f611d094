package web_test

import (
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/web"
)

// browser is a cookie-keeping HTTP client against a running Privox.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	lang string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar}}
}

func (b *browser) do(method, path string, form url.Values) (int, string, http.Header) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.lang != "" {
		req.Header.Set("Accept-Language", b.lang)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out), resp.Header
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in page:\n%s", page)
	}
	return html.UnescapeString(m[1])
}

func (b *browser) login(tenant, email, pw string) string {
	b.t.Helper()
	_, page, _ := b.do("GET", "/login", nil)
	st, page, _ := b.do("POST", "/login", url.Values{"csrf": {csrfOf(b.t, page)}, "tenant": {tenant}, "email": {email}, "password": {pw}})
	if st != 200 || strings.Contains(page, `action="/login"`) {
		b.t.Fatalf("sign-in failed: %d\n%s", st, page)
	}
	return page
}

func defaultTenant(t *testing.T, p *privoxtest.Privox) store.Tenant {
	tn, err := p.App.DB.TenantByName(t.Context(), "default")
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

func TestConsoleSignInFormsAndSignOut(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	tn := defaultTenant(t, p)
	b := newBrowser(t, p.URL)

	st, page, h := b.do("GET", "/login", nil)
	if st != 200 || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") || strings.Contains(h.Get("Content-Security-Policy"), "unsafe-inline") {
		t.Fatalf("login page: %d, CSP %q", st, h.Get("Content-Security-Policy"))
	}
	// A sign-in without the form's token is refused before any password check.
	st, _, _ = b.do("POST", "/login", url.Values{"csrf": {"forged"}, "tenant": {"default"}, "email": {"admin@localhost"}, "password": {privoxtest.AdminPassword}})
	if st != http.StatusForbidden {
		t.Fatalf("sign-in with a forged token: %d, want 403", st)
	}
	st, page, _ = b.do("POST", "/login", url.Values{"csrf": {csrfOf(t, page)}, "tenant": {"default"}, "email": {"admin@localhost"}, "password": {"wrong password!"}})
	if st != http.StatusUnauthorized || !strings.Contains(page, "Wrong tenant, e-mail or password") {
		t.Fatalf("wrong password: %d\n%s", st, page)
	}
	page = b.login("default", "admin@localhost", privoxtest.AdminPassword)
	if !strings.Contains(page, "<h1>Users</h1>") {
		t.Fatalf("after sign-in, not on the users page:\n%s", page)
	}
	for _, c := range b.c.Jar.Cookies(mustURL(p.URL + "/")) {
		if c.Name != "privox_session" {
			t.Errorf("unexpected cookie %q for /", c.Name)
		}
	}
	csrf := csrfOf(t, page)
	users := fmt.Sprintf("/t/%d/users", tn.ID)

	// A form post without the session's CSRF token changes nothing.
	xss := `<script>alert(1)</script>"'&`
	st, _, _ = b.do("POST", users, url.Values{"csrf": {"x" + csrf}, "name": {xss}, "email": {"eve@example.com"}, "role": {"user"}, "language": {"en"}})
	if st != http.StatusForbidden {
		t.Fatalf("post with a wrong CSRF token: %d, want 403", st)
	}
	// Field errors of the API come back inline, the form keeps what was typed.
	st, page, _ = b.do("POST", users, url.Values{"csrf": {csrf}, "name": {"Eve"}, "email": {"not-an-address"}, "role": {"user"}, "language": {"en"}})
	if st != http.StatusBadRequest || !strings.Contains(page, `aria-invalid="true"`) || !strings.Contains(page, `value="Eve"`) {
		t.Fatalf("invalid e-mail: %d\n%s", st, page)
	}
	st, page, _ = b.do("POST", users, url.Values{"csrf": {csrf}, "name": {xss}, "email": {"eve@example.com"}, "role": {"user"}, "language": {"de"}})
	if st != 200 || !strings.Contains(page, "User created.") {
		t.Fatalf("create user: %d\n%s", st, page)
	}
	if strings.Contains(page, "<script>alert(1)") || !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatalf("name not escaped on the users page:\n%s", page)
	}
	eve, err := p.App.DB.UserByEmail(t.Context(), tn.ID, "eve@example.com")
	if err != nil {
		t.Fatal(err)
	}
	// Deactivation asks first and names what goes.
	st, page, _ = b.do("GET", fmt.Sprintf("%s/%d/deactivate", users, eve.ID), nil)
	if st != 200 || !strings.Contains(page, "cannot be undone") || !strings.Contains(page, "users") {
		t.Fatalf("deactivate confirmation: %d\n%s", st, page)
	}
	st, page, _ = b.do("POST", fmt.Sprintf("%s/%d/suspend", users, eve.ID), url.Values{"csrf": {csrf}})
	if st != 200 || !strings.Contains(page, "User suspended.") {
		t.Fatalf("suspend: %d\n%s", st, page)
	}

	// Extensions: the SIP password is shown once.
	st, page, _ = b.do("POST", fmt.Sprintf("/t/%d/extensions", tn.ID), url.Values{"csrf": {csrf}, "number": {"201"}, "display_name": {"Eve"}, "user_id": {fmt.Sprint(eve.ID)}})
	if st != http.StatusCreated || !strings.Contains(page, `id="sip-password"`) {
		t.Fatalf("create extension: %d\n%s", st, page)
	}
	for _, path := range []string{"/extensions", "/cdrs", "/retention", "/flows", "/audit", "/me/calls", "/me/data"} {
		st, page, h := b.do("GET", fmt.Sprintf("/t/%d%s", tn.ID, path), nil)
		if st != 200 || h.Get("Content-Security-Policy") != "" && !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Fatalf("%s: %d\n%s", path, st, page)
		}
	}
	st, page, _ = b.do("POST", fmt.Sprintf("/t/%d/retention/preset", tn.ID), url.Values{"csrf": {csrf}, "preset": {"de"}})
	if st != 200 || !strings.Contains(page, `id="current-preset">de<`) {
		t.Fatalf("preset switch: %d\n%s", st, page)
	}
	resp, err := b.c.Get(p.URL + fmt.Sprintf("/t/%d/me/export", tn.ID))
	if err != nil {
		t.Fatal(err)
	}
	zipHead := make([]byte, 2)
	io.ReadFull(resp.Body, zipHead)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" || string(zipHead) != "PK" {
		t.Fatalf("download my data: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), zipHead)
	}

	// Signing out ends the session for the API too.
	st, page, _ = b.do("POST", "/logout", url.Values{"csrf": {csrf}})
	if st != 200 || !strings.Contains(page, `action="/login"`) {
		t.Fatalf("sign-out: %d\n%s", st, page)
	}
	n, err := p.App.DB.ListUsers(t.Context(), tn.ID, store.Page{Limit: 100})
	if err != nil || len(n) != 2 {
		t.Fatalf("users after the tour: %d (%v), want 2 (admin and eve; the forged post created none)", len(n), err)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestConsoleTenantIsolation(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	def := defaultTenant(t, p)
	var other store.Tenant
	p.MustDo(201, "POST", "/api/v1/tenants", p.AdminToken, map[string]string{"name": "acme", "sip_domain": "acme.test"}, &other)
	p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/users", other.ID), p.AdminToken,
		map[string]string{"name": "Acme Admin", "email": "boss@acme.test", "role": "admin", "language": "de", "password": "acme-admin-password"}, nil)
	b := newBrowser(t, p.URL)
	b.lang = "de-DE,de;q=0.9"
	if _, page, _ := b.do("GET", "/login", nil); !strings.Contains(page, "<h1>Anmelden</h1>") {
		t.Fatalf("German browser, sign-in page not in German:\n%s", page)
	}
	page := b.login("acme", "boss@acme.test", "acme-admin-password")
	if !strings.Contains(page, "<h1>Benutzer</h1>") {
		t.Fatalf("German browser, no German users page:\n%s", page)
	}
	csrf := csrfOf(t, page)
	for _, path := range []string{"/users", "/users/1", "/users/1/deactivate", "/users/1/export", "/extensions", "/cdrs", "/retention", "/flows", "/audit", "/me/calls", "/me/data", "/me/export", "/trunks", "/dids", "/groups", "/mailboxes", "/me/voicemail", "/me/voicemail/1/1/audio", "/calendars", "/calendars?edit=office", "/directory-sources", "/directory-sources?edit=1"} {
		st, body, _ := b.do("GET", fmt.Sprintf("/t/%d%s", def.ID, path), nil)
		if st != http.StatusNotFound || strings.Contains(body, "admin@localhost") {
			t.Errorf("acme admin on default tenant's %s: %d, want 404", path, st)
		}
	}
	st, _, _ := b.do("POST", fmt.Sprintf("/t/%d/retention/preset", def.ID), url.Values{"csrf": {csrf}, "preset": {"de"}})
	if st != http.StatusNotFound {
		t.Errorf("acme admin switching the default tenant's preset: %d, want 404", st)
	}
	if tn := defaultTenant(t, p); tn.RetentionPreset == "de" {
		t.Errorf("default tenant's preset changed by another tenant's admin")
	}
	// Nor the call feature forms: a DID added, a box switched, a message or PIN changed.
	form := url.Values{"csrf": {csrf}, "number": {"+49 30 5550000"}, "dest_kind": {"extension"}, "dest_number": {"100"}, "enabled": {"on"}, "read": {"true"}, "pin": {"97531"}, "pin_again": {"97531"},
		"name": {"office"}, "time_zone": {"Europe/Berlin"}, "hours_mon": {"08:00-17:00"}, "url": {"https://files.example.test/c.vcf"}}
	for _, path := range []string{"/dids", "/dids/1/delete", "/mailboxes/1/enabled", "/me/voicemail/1/pin", "/me/voicemail/1/1/read", "/me/voicemail/1/1/delete",
		"/calendars", "/calendars/office/delete", "/directory-sources", "/directory-sources/1/sync", "/directory-sources/1/delete"} {
		if st, _, _ := b.do("POST", fmt.Sprintf("/t/%d%s", def.ID, path), form); st != http.StatusNotFound {
			t.Errorf("acme admin posting the default tenant's %s: %d, want 404", path, st)
		}
	}
	if ds, err := p.App.DB.ListDIDs(t.Context(), def.ID); err != nil || len(ds) != 0 {
		t.Errorf("default tenant's DIDs after another tenant's admin posted: %+v %v", ds, err)
	}
	if cs, err := p.App.DB.ListCalendars(t.Context(), def.ID); err != nil || len(cs) != 0 {
		t.Errorf("default tenant's calendars after another tenant's admin posted: %+v %v", cs, err)
	}
	if ss, err := p.App.DB.ListDirectorySources(t.Context(), def.ID); err != nil || len(ss) != 0 {
		t.Errorf("default tenant's directory sources after another tenant's admin posted: %+v %v", ss, err)
	}
	// Nor the e-mail and forwarding pages: a relay set or removed, codes changed, an e-mail copy
	// switched or an objection recorded.
	for _, path := range []string{"/email", "/email?state=all", "/forwarding", "/mailboxes?edit=1", "/dialling", "/status"} {
		if st, body, _ := b.do("GET", fmt.Sprintf("/t/%d%s", def.ID, path), nil); st != http.StatusNotFound || strings.Contains(body, "admin@localhost") {
			t.Errorf("acme admin on default tenant's %s: %d, want 404", path, st)
		}
	}
	form = url.Values{"csrf": {csrf}, "enabled": {"on"}, "host": {"smtp.acme.test"}, "mode": {"starttls"}, "code_busy": {"*68"}, "max_hops": {"7"},
		"email_copy": {"on"}, "email_attach": {"wav"}, "objected": {"true"}, "country": {"AT"}, "allow_premium": {"on"}}
	for _, path := range []string{"/email/relay", "/email/relay/delete", "/email/deliveries/1/retry", "/forwarding/settings", "/me/voicemail/1/email", "/mailboxes/1/email", "/me/voicemail/objection", "/dialling"} {
		if st, _, _ := b.do("POST", fmt.Sprintf("/t/%d%s", def.ID, path), form); st != http.StatusNotFound {
			t.Errorf("acme admin posting the default tenant's %s: %d, want 404", path, st)
		}
	}
	if _, err := p.App.DB.MailRelay(t.Context(), def.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("default tenant's relay after another tenant's admin posted: %v", err)
	}
	if fs, err := p.App.DB.ForwardSettings(t.Context(), def.ID); err != nil || fs.MaxHops != 0 || fs.Codes != "" {
		t.Errorf("default tenant's forward settings after another tenant's admin posted: %+v %v", fs, err)
	}
	if ds, err := p.App.DB.DialSettings(t.Context(), def.ID); err != nil || ds.Country != "" || ds.AllowPremium {
		t.Errorf("default tenant's dialling settings after another tenant's admin posted: %+v %v", ds, err)
	}
	// A tenant admin is no operator: the installation's flow switches stay out of reach.
	st, _, _ = b.do("POST", fmt.Sprintf("/t/%d/flows", other.ID), url.Values{"csrf": {csrf}, "name": {"x"}})
	if st != http.StatusForbidden {
		t.Errorf("tenant admin switching a flow: %d, want 403", st)
	}
}

// TestCatalogueComplete: every message key a template uses has an English and German text.
func TestCatalogueComplete(t *testing.T) {
	for _, key := range web.UsedKeys(t) {
		if !web.HasMessage(key) {
			t.Errorf("message %q missing from the catalogue", key)
		}
	}
}
