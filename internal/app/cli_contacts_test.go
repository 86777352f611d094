package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privox/privox/internal/privoxtest"
)

func TestCLIContactsImportExport(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	p.MustDo(200, "PUT", "/api/v1/tenants/1/directory/settings", p.AdminToken, map[string]any{"country": "DE"}, nil)
	var book struct{ ID int64 }
	p.MustDo(201, "POST", "/api/v1/tenants/1/phonebooks", p.AdminToken, map[string]any{"kind": "company", "name": "Firma"}, &book)
	dir := t.TempDir()
	good := filepath.Join(dir, "contacts.csv")
	os.WriteFile(good, []byte("First Name,Last Name,Business Phone\nHans,Müller,030 1234567\nAnna,Schmidt,+49 40 5551234\n"), 0o600)
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("First Name,Last Name,Business Phone\nHans,Müller,030 1234567\n,,030 1\n"), 0o600)
	id := fmt.Sprint(book.ID)
	o, e, code := p.CLI("contacts", "import", "--tenant", "default", "--phonebook", id, bad)
	if code == 0 || !strings.Contains(e, "bad.csv:3:") {
		t.Fatalf("bad file: exit %d: %s %s", code, o, e)
	}
	o, e, code = p.CLI("contacts", "import", "--tenant", "default", "--phonebook", id, good)
	if code != 0 || !strings.Contains(o, "2 created") {
		t.Fatalf("import: exit %d: %s %s", code, o, e)
	}
	// The running server picks the import up when it reconciles its index with the store.
	if err := p.App.Directory.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, body := p.Do("GET", "/api/v1/tenants/1/directory/search?q=M%C3%BCl", p.AdminToken, nil)
	if st != 200 || !strings.Contains(string(body), "Hans Müller") {
		t.Fatalf("search after CLI import: %d %s", st, body)
	}
	o, e, code = p.CLI("contacts", "export", "--tenant", "default", "--phonebook", id, "--vcard-version", "3.0")
	if code != 0 || !strings.Contains(o, "VERSION:3.0") || !strings.Contains(o, "FN:Hans Müller") || !strings.Contains(o, "TEL;TYPE=work:030 1234567") {
		t.Fatalf("export: exit %d: %s %s", code, o, e)
	}
	out := filepath.Join(dir, "out.csv")
	if _, e, code = p.CLI("contacts", "export", "--tenant", "default", "--phonebook", id, "--format", "csv", "--out", out); code != 0 {
		t.Fatalf("csv export: %s", e)
	}
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), "Anna,Schmidt") {
		t.Fatalf("csv export: %s", b)
	}
}
