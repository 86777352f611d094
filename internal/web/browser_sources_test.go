package web_test

import (
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
)

const sourceCards = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card-1\r\nFN:Jürgen Müller\r\nN:Müller;Jürgen;;;\r\nTEL;TYPE=WORK:+49 89 987654-0\r\nEND:VCARD\r\n" +
	"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card-2\r\nFN:Anna Schmidt\r\nN:Schmidt;Anna;;;\r\nTEL;TYPE=CELL:+49 171 2345678\r\nEND:VCARD\r\n"

// TestBrowserDirectorySources: an admin adds a directory source in the console's form; a
// URL of another scheme, an LDAP source without a search base and a mapping of an unknown
// field are refused at their fields with nothing stored. A vCard file over HTTPS (a server
// on loopback whose CA the source names) is saved, synced with "sync now" into the company
// phonebook, changed through its edit link with the password field empty (the sealed
// password stays, never reaches the page, and the next sync still signs in), fails visibly
// when its server is gone (the phonebook keeps its copy), and is deleted after the
// confirmation; the page speaks German, and a user of the tenant may not reach it.
func TestBrowserDirectorySources(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	ctx := chrome(t, t.TempDir())
	def := defaultTenant(t, p)
	tb := fmt.Sprintf("/api/v1/tenants/%d", def.ID)
	tp := func(path string) string { return fmt.Sprintf("%s/t/%d%s", p.URL, def.ID, path) }
	p.MustDo(200, "PUT", tb+"/directory/settings", p.AdminToken, map[string]string{"country": "DE"}, nil)
	var book store.Phonebook
	p.MustDo(201, "POST", tb+"/phonebooks", p.AdminToken, map[string]any{"kind": "company", "name": "Firma"}, &book)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, pw, ok := r.BasicAuth(); !ok || u != "sync" || pw != "file-secret-1" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/vcard")
		io.WriteString(w, sourceCards)
	}))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	sources := func() []store.DirectorySource {
		var l struct{ Items []store.DirectorySource }
		p.MustDo(200, "GET", tb+"/directory/sources", p.AdminToken, nil, &l)
		return l.Items
	}
	contacts := func() int {
		var l struct{ Items []store.Contact }
		p.MustDo(200, "GET", fmt.Sprintf("%s/phonebooks/%d/contacts?limit=100", tb, book.ID), p.AdminToken, nil, &l)
		return len(l.Items)
	}
	signIn(t, ctx, p.URL, "default", "admin@localhost", privoxtest.AdminPassword)

	var invalid, msg string
	run(t, ctx, "other scheme",
		chromedp.Click(chromedp.CSS(`nav a[href$="/directory-sources"]`)),
		chromedp.WaitVisible(chromedp.ID("#save-source")),
		chromedp.SendKeys(chromedp.ID("#name"), "addressbook"),
		chromedp.SendKeys(chromedp.ID("#url"), "ftp://files.example.test/contacts.vcf"),
		chromedp.Click(chromedp.ID("#save-source")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(invalidFields(), &invalid), into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	if invalid != "url" || !strings.Contains(msg, "https://") || len(sources()) != 0 {
		t.Fatalf("other scheme: invalid %q, message %q, sources %+v", invalid, msg, sources())
	}
	shot(t, ctx, "directory-sources-error-en")
	run(t, ctx, "ldap without base",
		chromedp.Evaluate[chromedp.Void](`document.getElementById("form-error").remove()`),
		chromedp.SetValue(chromedp.ID("#url"), "ldaps://ldap.example.test"),
		chromedp.Click(chromedp.ID("#save-source")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(invalidFields(), &invalid),
	)
	if invalid != "base_dn" || len(sources()) != 0 {
		t.Fatalf("ldap without base: invalid %q, sources %+v", invalid, sources())
	}
	run(t, ctx, "unknown mapping field",
		chromedp.Evaluate[chromedp.Void](`document.getElementById("form-error").remove()`),
		chromedp.SetValue(chromedp.ID("#url"), srv.URL+"/contacts.vcf"),
		chromedp.SetValue(chromedp.ID("#mapping"), "shoe_size = shoeSize"),
		chromedp.Click(chromedp.ID("#save-source")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(invalidFields(), &invalid), into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	if invalid != "mapping" || !strings.Contains(msg, "shoe_size") || len(sources()) != 0 {
		t.Fatalf("unknown mapping field: invalid %q, message %q, sources %+v", invalid, msg, sources())
	}

	var row string
	run(t, ctx, "save",
		chromedp.Clear(chromedp.ID("#mapping")),
		chromedp.SendKeys(chromedp.ID("#bind_dn"), "sync"),
		chromedp.SendKeys(chromedp.ID("#password"), "file-secret-1"),
		chromedp.SendKeys(chromedp.ID("#ca_cert"), ca),
		chromedp.SendKeys(chromedp.ID("#interval_s"), "600"),
		chromedp.Click(chromedp.ID("#save-source")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	ss := sources()
	if len(ss) != 1 || ss[0].Name != "addressbook" || ss[0].URL != srv.URL+"/contacts.vcf" || ss[0].IntervalS != 600 || ss[0].PhonebookID != book.ID || !ss[0].Enabled {
		t.Fatalf("stored sources: %+v", ss)
	}
	id := ss[0].ID
	stored := func() store.DirectorySource {
		s, err := p.App.DB.DirectorySource(t.Context(), def.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	sealed := stored().Sealed
	if len(sealed) == 0 {
		t.Fatal("the password was not stored")
	}
	rowID := fmt.Sprintf("#source-%d", id)
	run(t, ctx, "row", chromedp.WaitVisible(chromedp.ID(rowID)), into(chromedp.Text(chromedp.ID(rowID)), &row))
	for _, want := range []string{"addressbook", "vCard/CSV file", srv.URL + "/contacts.vcf", "Firma", "every 10 min", "never", "not yet run"} {
		if !strings.Contains(row, want) {
			t.Fatalf("source row %q lacks %q", row, want)
		}
	}
	shot(t, ctx, "directory-sources-en")

	var flash, state string
	run(t, ctx, "sync now",
		// The last page's message goes, so that the wait below sees the new page's.
		chromedp.Evaluate[chromedp.Void](`document.querySelector(".flash").remove()`),
		chromedp.Click(chromedp.ID(fmt.Sprintf("#sync-source-%d", id))),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		into(chromedp.Text(chromedp.CSS(".flash")), &flash),
		into(chromedp.Text(chromedp.ID(fmt.Sprintf("#source-state-%d", id))), &state),
		into(chromedp.Text(chromedp.ID(fmt.Sprintf("#source-run-%d", id))), &row),
	)
	if flash != "Synced: 2 entries." || state != "ok 2 entries" || row == "never" || contacts() != 2 {
		t.Fatalf("after sync: flash %q, state %q, last run %q, %d contacts", flash, state, row, contacts())
	}

	// Edit: the password field starts empty and an empty one keeps the stored password.
	var pw, page string
	run(t, ctx, "edit",
		chromedp.Click(chromedp.ID(fmt.Sprintf("#edit-source-%d", id))),
		chromedp.WaitReady(chromedp.CSS(`#source-form input[name=editing]`)),
		into(chromedp.Value(chromedp.ID("#password")), &pw),
		into(chromedp.OuterHTML(chromedp.CSS("html")), &page),
	)
	if pw != "" || strings.Contains(page, "file-secret-1") {
		t.Fatalf("the edit form shows the password (field %q)", pw)
	}
	run(t, ctx, "change",
		chromedp.SetValue(chromedp.ID("#interval_s"), "120"),
		chromedp.SetValue(chromedp.ID("#priority"), "3"),
		chromedp.Click(chromedp.ID("#save-source")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		into(chromedp.Text(chromedp.ID(rowID)), &row),
	)
	if s := stored(); s.IntervalS != 120 || s.Priority != 3 || string(s.Sealed) != string(sealed) || s.URL != srv.URL+"/contacts.vcf" || !s.Enabled {
		t.Fatalf("changed source: %+v (password kept: %v)", s, string(s.Sealed) == string(sealed))
	}
	if !strings.Contains(row, "every 2 min") {
		t.Fatalf("changed row %q", row)
	}
	run(t, ctx, "sync with the kept password",
		// The last page's message goes, so that the wait below sees the new page's.
		chromedp.Evaluate[chromedp.Void](`document.querySelector(".flash").remove()`),
		chromedp.Click(chromedp.ID(fmt.Sprintf("#sync-source-%d", id))),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		into(chromedp.Text(chromedp.CSS(".flash")), &flash),
	)
	if flash != "Synced: 2 entries." {
		t.Fatalf("sync after the change: %q", flash)
	}

	// The server goes away: the run fails visibly, the phonebook keeps its copy.
	srv.Close()
	var errCell string
	run(t, ctx, "sync a source that is down",
		chromedp.Click(chromedp.ID(fmt.Sprintf("#sync-source-%d", id))),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(chromedp.Text(chromedp.ID("#form-error")), &msg),
		into(chromedp.Text(chromedp.ID(fmt.Sprintf("#source-state-%d", id))), &state),
		into(chromedp.Text(chromedp.ID(fmt.Sprintf("#source-error-%d", id))), &errCell),
	)
	if !strings.Contains(msg, "sync failed") || state != "failed" || errCell == "" || contacts() != 2 {
		t.Fatalf("source down: message %q, state %q, error %q, %d contacts", msg, state, errCell, contacts())
	}
	shot(t, ctx, "directory-sources-failed-en")

	// German.
	admin, err := p.App.DB.UserByEmail(t.Context(), def.ID, "admin@localhost")
	if err != nil {
		t.Fatal(err)
	}
	p.MustDo(200, "PATCH", fmt.Sprintf("%s/users/%d", tb, admin.ID), p.AdminToken, map[string]string{"language": "de"}, nil)
	var h1 string
	run(t, ctx, "german", chromedp.Navigate(tp("/directory-sources")), chromedp.WaitVisible(chromedp.ID(rowID)),
		into(chromedp.Text(chromedp.CSS("h1")), &h1), into(chromedp.Text(chromedp.ID(rowID)), &row))
	if h1 != "Quellen des Verzeichnisabgleichs" || !strings.Contains(row, "alle 2 min") || !strings.Contains(row, "fehlgeschlagen") {
		t.Fatalf("German page: heading %q, row %q", h1, row)
	}
	shot(t, ctx, "directory-sources-de")
	p.MustDo(200, "PATCH", fmt.Sprintf("%s/users/%d", tb, admin.ID), p.AdminToken, map[string]string{"language": "en"}, nil)

	run(t, ctx, "delete",
		chromedp.Navigate(tp("/directory-sources")),
		chromedp.WaitVisible(chromedp.ID(fmt.Sprintf("#delete-source-%d", id))),
		chromedp.Click(chromedp.ID(fmt.Sprintf("#delete-source-%d", id))),
		chromedp.WaitVisible(chromedp.ID(fmt.Sprintf("#confirm-delete-source-%d", id))),
		chromedp.Click(chromedp.ID(fmt.Sprintf("#confirm-delete-source-%d", id))),
		chromedp.WaitNotPresent(chromedp.ID(rowID)),
	)
	if len(sources()) != 0 || contacts() != 2 {
		t.Fatalf("after deleting: sources %+v, %d contacts", sources(), contacts())
	}

	// A user of the tenant may not.
	p.MustDo(201, "POST", tb+"/directory/sources", p.AdminToken, map[string]any{"phonebook_id": book.ID, "name": "hidden-source", "url": "https://hidden.example.test/c.vcf"}, nil)
	p.MustDo(201, "POST", tb+"/users", p.AdminToken, map[string]string{"name": "Uma", "email": "uma@example.test", "password": "uma-long-password"}, nil)
	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS(".top button")), chromedp.WaitVisible(chromedp.ID("#signin")))
	signIn(t, ctx, p.URL, "default", "uma@example.test", "uma-long-password")
	var body string
	run(t, ctx, "user on sources", chromedp.Navigate(tp("/directory-sources")), into(chromedp.Text(chromedp.CSS("main")), &body))
	if !strings.Contains(body, "may not") || strings.Contains(body, "hidden-source") {
		t.Errorf("a user on /directory-sources sees:\n%s", body)
	}
}
