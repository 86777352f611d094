package web_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
)

// TestBrowserJobs: an admin imports a CSV into a phonebook from the console and follows the
// job's page to its end: a file with a bad row imports nothing and the page lists the row
// with its reason; with "skip bad rows" the good ones arrive. The retention sweep started
// from the retention page (a dry run, then a real one) shows its progress and then what it
// counted or removed.
func TestBrowserJobs(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	ctx := chrome(t, t.TempDir())
	def := defaultTenant(t, p)
	tb := fmt.Sprintf("/api/v1/tenants/%d", def.ID)
	p.MustDo(200, "PUT", tb+"/directory/settings", p.AdminToken, map[string]string{"country": "DE"}, nil)
	var book store.Phonebook
	p.MustDo(201, "POST", tb+"/phonebooks", p.AdminToken, map[string]any{"kind": "company", "name": "Firma"}, &book)
	csv := filepath.Join(t.TempDir(), "kontakte.csv")
	if err := os.WriteFile(csv, []byte("First Name,Last Name,Business Phone\nHans,Müller,030 1234567\n,,\nAnna,Schmidt,+49 40 5551234\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	contacts := func() int {
		var l struct{ Items []store.Contact }
		p.MustDo(200, "GET", fmt.Sprintf("%s/phonebooks/%d/contacts", tb, book.ID), p.AdminToken, nil, &l)
		return len(l.Items)
	}
	signIn(t, ctx, p.URL, "default", "admin@localhost", privoxtest.AdminPassword)
	var state, rows string
	run(t, ctx, "import with a bad row",
		chromedp.Navigate(fmt.Sprintf("%s/t/%d/phonebooks/%d", p.URL, def.ID, book.ID)),
		chromedp.WaitVisible(chromedp.ID("#import-go")),
		chromedp.SetUploadFiles(chromedp.ID("#file"), []string{csv}),
		chromedp.Click(chromedp.ID("#import-go")),
		chromedp.WaitVisible(chromedp.ID("#job-back")),
		into(chromedp.Text(chromedp.ID("#job-state")), &state),
		into(chromedp.Text(chromedp.ID("#job-result")), &rows),
	)
	if !strings.Contains(state, "failed") || !strings.Contains(rows, "3") || !strings.Contains(rows, "needs a name") || contacts() != 0 {
		t.Fatalf("import with a bad row: state %q, rows %q, %d contacts", state, rows, contacts())
	}
	shot(t, ctx, "job-import-failed-en")
	var summary string
	run(t, ctx, "import skipping the bad row",
		chromedp.Click(chromedp.ID("#job-back")),
		chromedp.WaitVisible(chromedp.ID("#import-go")),
		chromedp.SetUploadFiles(chromedp.ID("#file"), []string{csv}),
		chromedp.Click(chromedp.ID("#skip")),
		chromedp.Click(chromedp.ID("#import-go")),
		chromedp.WaitVisible(chromedp.ID("#job-back")),
		into(chromedp.Text(chromedp.ID("#job-state")), &state),
		into(chromedp.Text(chromedp.ID("#job-import")), &summary),
	)
	if !strings.Contains(state, "done") || !strings.Contains(summary, "2 created") || contacts() != 2 {
		t.Fatalf("import skipping: state %q, summary %q, %d contacts", state, summary, contacts())
	}
	var count string
	run(t, ctx, "dry-run sweep",
		chromedp.Navigate(fmt.Sprintf("%s/t/%d/retention", p.URL, def.ID)),
		chromedp.WaitVisible(chromedp.ID("#run-sweep")),
		chromedp.Click(chromedp.ID("#dry_run")),
		chromedp.Click(chromedp.ID("#run-sweep")),
		chromedp.WaitVisible(chromedp.ID("#job-back")),
		into(chromedp.Text(chromedp.ID("#job-state")), &state),
		into(chromedp.Text(chromedp.ID("#job-count")), &count),
		into(chromedp.Text(chromedp.CSS("main")), &rows),
	)
	if !strings.Contains(state, "done") || !strings.Contains(rows, "What the sweep would remove") {
		t.Fatalf("dry run: state %q, page %q", state, rows)
	}
	if parts := strings.Split(count, " / "); len(parts) != 2 || parts[0] != parts[1] || parts[0] == "0" {
		t.Fatalf("dry run progress %q", count)
	}
	shot(t, ctx, "job-sweep-en")
	run(t, ctx, "sweep",
		chromedp.Click(chromedp.ID("#job-back")),
		chromedp.WaitVisible(chromedp.ID("#run-sweep")),
		chromedp.Click(chromedp.ID("#run-sweep")),
		chromedp.WaitVisible(chromedp.ID("#job-back")),
		into(chromedp.Text(chromedp.ID("#job-state")), &state),
		into(chromedp.Text(chromedp.CSS("main")), &rows),
	)
	if !strings.Contains(state, "done") || !strings.Contains(rows, "What the sweep removed") {
		t.Fatalf("sweep: state %q, page %q", state, rows)
	}
	var audit struct{ Items []store.AuditEntry }
	p.MustDo(200, "GET", tb+"/audit?limit=100", p.AdminToken, nil, &audit)
	var found []string
	for _, e := range audit.Items {
		if e.Action == "retention.run" || e.Action == "contacts.import" {
			found = append(found, e.Action)
		}
	}
	if len(found) != 2 {
		t.Errorf("audit of the jobs: %q", found)
	}
}
