package app_test

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
)

// TestCLIPhonebooksAndSources: a company phonebook made with the CLI is filled from a vCard
// file on a loopback HTTPS server (its certificate given as the source's CA) by `privox
// source sync`; a source the API would refuse is refused with the field named; the source's
// password is stored sealed; a change keeps what it does not name; deleting the source keeps
// the phonebook, deleting the phonebook takes its contacts; every change is audited.
func TestCLIPhonebooksAndSources(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	cli := func(want int, args ...string) string {
		t.Helper()
		o, e, code := p.CLI(args...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d: %s %s", args, code, want, o, e)
		}
		return o + e
	}
	var book store.Phonebook
	if err := json.Unmarshal([]byte(cli(0, "phonebook", "add", "--tenant", "default", "--name", "Firma", "--json")), &book); err != nil || book.Kind != "company" {
		t.Fatalf("phonebook add: %+v %v", book, err)
	}
	if out := cli(0, "phonebook", "list", "--tenant", "default"); !strings.Contains(out, "Firma") {
		t.Fatalf("phonebook list:\n%s", out)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, pw, ok := r.BasicAuth(); !ok || u != "sync" || pw != "file-secret-2" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/vcard")
		io.WriteString(w, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a1\r\nFN:Jürgen Müller\r\nTEL;TYPE=work:+49 89 987654-0\r\nEND:VCARD\r\n"+
			"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a2\r\nFN:Anna Schmidt\r\nTEL;TYPE=work:+49 30 123456\r\nEND:VCARD\r\n")
	}))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	id := fmt.Sprint(book.ID)
	if out := cli(1, "source", "set", "--tenant", "default", "--phonebook", id, "--name", "files", "--url", "ftp://example.test/x.vcf"); !strings.Contains(out, "invalid url") {
		t.Fatalf("bad url:\n%s", out)
	}
	if out := cli(1, "source", "set", "--tenant", "default", "--phonebook", id, "--name", "ldap", "--url", "ldaps://127.0.0.1:636"); !strings.Contains(out, "invalid base_dn") {
		t.Fatalf("ldap without base:\n%s", out)
	}
	var src store.DirectorySource
	out := cli(0, "source", "set", "--tenant", "default", "--phonebook", id, "--name", "files", "--url", srv.URL+"/staff.vcf",
		"--bind-dn", "sync", "--password", "file-secret-2", "--ca-cert", ca, "--interval", "600", "--json")
	if err := json.Unmarshal([]byte(out), &src); err != nil || src.IntervalS != 600 || !src.Enabled {
		t.Fatalf("source set: %s %v", out, err)
	}
	if strings.Contains(out, "file-secret-2") {
		t.Fatal("the source's password was printed")
	}
	sid := fmt.Sprint(src.ID)
	if out := cli(0, "source", "sync", "--tenant", "default", "--id", sid); !strings.Contains(out, "synced 2 entries") {
		t.Fatalf("source sync:\n%s", out)
	}
	var cs struct{ Items []store.Contact }
	p.MustDo(200, "GET", fmt.Sprintf("/api/v1/tenants/1/phonebooks/%d/contacts", book.ID), p.AdminToken, nil, &cs)
	if len(cs.Items) != 2 {
		t.Fatalf("contacts after the sync: %+v", cs.Items)
	}
	// A change of the interval keeps the URL, the CA and the sealed password: the next sync
	// still signs in.
	cli(0, "source", "set", "--tenant", "default", "--id", sid, "--interval", "900")
	if out := cli(0, "source", "sync", "--tenant", "default", "--id", sid); !strings.Contains(out, "synced 2 entries") {
		t.Fatalf("sync after the change:\n%s", out)
	}
	if out := cli(0, "source", "list", "--tenant", "default"); !strings.Contains(out, "900s") || !strings.Contains(out, srv.URL) {
		t.Fatalf("source list:\n%s", out)
	}
	if out := cli(1, "source", "set", "--tenant", "default", "--id", sid, "--phonebook", "999"); !strings.Contains(out, "phonebook_id") {
		t.Fatalf("moving a source:\n%s", out)
	}
	srv.Close()
	if out := cli(1, "source", "sync", "--tenant", "default", "--id", sid); !strings.Contains(out, "keeps the last good copy") {
		t.Fatalf("sync of a source that is down:\n%s", out)
	}
	p.MustDo(200, "GET", fmt.Sprintf("/api/v1/tenants/1/phonebooks/%d/contacts", book.ID), p.AdminToken, nil, &cs)
	if len(cs.Items) != 2 {
		t.Fatalf("contacts after a failed sync: %d", len(cs.Items))
	}
	cli(0, "source", "delete", "--tenant", "default", "--id", sid)
	cli(0, "phonebook", "delete", "--tenant", "default", "--phonebook", id)
	if st, _ := p.Do("GET", fmt.Sprintf("/api/v1/tenants/1/phonebooks/%d", book.ID), p.AdminToken, nil); st != 404 {
		t.Fatalf("deleted phonebook: GET %d", st)
	}
	audit := cli(0, "audit", "list", "--tenant", "default")
	for _, a := range []string{"phonebook.create", "directory_source.create", "directory_source.update", "directory_source.sync", "directory_source.delete", "phonebook.delete"} {
		if !strings.Contains(audit, a) {
			t.Errorf("audit lacks %s:\n%s", a, audit)
		}
	}
}
