package api_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestDirectoryPhonebooksAndSearch(t *testing.T) {
	f := setup(t)
	a := f.tenantA
	base := fmt.Sprintf("/api/v1/tenants/%d", a)
	f.p.MustDo(200, "PUT", base+"/directory/settings", f.adminA, map[string]any{"country": "de"}, nil)
	if st, _ := f.p.Do("PUT", base+"/directory/settings", f.adminA, map[string]any{"country": "XX"}); st != 400 {
		t.Errorf("unknown country: %d", st)
	}
	var company, personal created
	f.p.MustDo(201, "POST", base+"/phonebooks", f.adminA, map[string]any{"kind": "company", "name": "Firma"}, &company)
	if st, _ := f.p.Do("POST", base+"/phonebooks", f.memberA, map[string]any{"kind": "company", "name": "Mine"}); st != 403 {
		t.Errorf("member creates a company phonebook: %d", st)
	}
	f.p.MustDo(201, "POST", base+"/phonebooks", f.memberA, map[string]any{"kind": "personal", "name": "Privat"}, &personal)
	var c struct {
		ID      int64             `json:"id"`
		Numbers map[string]string `json:"numbers"`
		E164    map[string]string `json:"e164"`
	}
	f.p.MustDo(201, "POST", fmt.Sprintf("%s/phonebooks/%d/contacts", base, company.ID), f.adminA,
		map[string]any{"given_name": "Hans", "family_name": "Müller", "numbers": map[string]string{"work": "030 1234567", "mobile": "0171/2345678"}}, &c)
	if c.E164["work"] != "+49301234567" || c.Numbers["work"] != "030 1234567" || c.E164["mobile"] != "+491712345678" {
		t.Errorf("numbers: %+v %+v", c.Numbers, c.E164)
	}
	if st, _ := f.p.Do("POST", fmt.Sprintf("%s/phonebooks/%d/contacts", base, company.ID), f.memberA, map[string]any{"given_name": "X"}); st != 403 {
		t.Errorf("member writes the company phonebook: %d", st)
	}
	if st, _ := f.p.Do("POST", fmt.Sprintf("%s/phonebooks/%d/contacts", base, company.ID), f.adminA, map[string]any{"notes": "no name"}); st != 400 {
		t.Errorf("contact without a name: %d", st)
	}
	f.p.MustDo(201, "POST", fmt.Sprintf("%s/phonebooks/%d/contacts", base, personal.ID), f.memberA,
		map[string]any{"display_name": "Oma Müller", "numbers": map[string]string{"home": "+49 40 1111111"}}, nil)
	// The admin does not see the member's personal phonebook.
	if st, _ := f.p.Do("GET", fmt.Sprintf("%s/phonebooks/%d/contacts", base, personal.ID), f.adminA, nil); st != 404 {
		t.Errorf("admin reads a personal phonebook: %d", st)
	}
	search := func(tok, q string) string {
		st, body := f.p.Do("GET", base+"/directory/search?q="+q, tok, nil)
		if st != 200 {
			t.Fatalf("search %s: %d %s", q, st, body)
		}
		return string(body)
	}
	if b := search(f.adminA, "M%C3%BCl"); !strings.Contains(b, "Hans Müller") || strings.Contains(b, "Oma") {
		t.Errorf("admin search Mül: %s", b)
	}
	if b := search(f.memberA, "M%C3%BCl"); !strings.Contains(b, "Hans Müller") || !strings.Contains(b, "Oma Müller") {
		t.Errorf("member search Mül: %s", b)
	}
	if b := search(f.adminA, "Mueler"); !strings.Contains(b, `"phonetic"`) || !strings.Contains(b, "Hans Müller") {
		t.Errorf("phonetic search: %s", b)
	}
	if b := search(f.adminA, "%2B49301234567"); !strings.Contains(b, "Hans Müller") {
		t.Errorf("number search: %s", b)
	}
	// The member's data export carries the personal phonebook as vCard; the company
	// phonebook, which is not theirs, stays out.
	st, zipBody := f.p.Do("GET", fmt.Sprintf("%s/users/%d/export", base, f.memberIDA), f.memberA, nil)
	if st != 200 {
		t.Fatalf("export: %d", st)
	}
	zr, err := zip.NewReader(bytes.NewReader(zipBody), int64(len(zipBody)))
	if err != nil {
		t.Fatal(err)
	}
	var vcf string
	for _, zf := range zr.File {
		if zf.Name == "contacts/contacts.vcf" {
			rc, _ := zf.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			vcf = string(b)
		}
	}
	if !strings.Contains(vcf, "FN:Oma Müller") || !strings.Contains(vcf, "TEL") || strings.Contains(vcf, "Hans") {
		t.Errorf("export vCard: %q", vcf)
	}
	// Update and delete reach the search at once.
	f.p.MustDo(200, "PUT", fmt.Sprintf("%s/phonebooks/%d/contacts/%d", base, company.ID, c.ID), f.adminA,
		map[string]any{"given_name": "Hans", "family_name": "Maier"}, nil)
	if b := search(f.adminA, "Maier"); !strings.Contains(b, "Hans Maier") {
		t.Errorf("after update: %s", b)
	}
	f.p.MustDo(204, "DELETE", fmt.Sprintf("%s/phonebooks/%d/contacts/%d", base, company.ID, c.ID), f.adminA, nil, nil)
	if b := search(f.adminA, "Maier"); strings.Contains(b, "Hans") {
		t.Errorf("after delete: %s", b)
	}
	// Another tenant's phonebook does not exist for tenant B's admin.
	if st, _ := f.p.Do("GET", fmt.Sprintf("/api/v1/tenants/%d/phonebooks/%d", f.tenantB, company.ID), f.adminB, nil); st != 404 {
		t.Errorf("tenant B reads tenant A's phonebook by id: %d", st)
	}
}

// TestDirectorySourceChange: a source changes in place; a change without a password keeps
// the sealed one (and the source's switch stays unless named), a new password replaces it, the phonebook stays the source's, and every
// refusal names its field. An HTTPS file has no search base.
func TestDirectorySourceChange(t *testing.T) {
	f := setup(t)
	base := fmt.Sprintf("/api/v1/tenants/%d", f.tenantA)
	var book, other, src created
	f.p.MustDo(201, "POST", base+"/phonebooks", f.adminA, map[string]any{"kind": "company", "name": "Firma"}, &book)
	f.p.MustDo(201, "POST", base+"/phonebooks", f.adminA, map[string]any{"kind": "group", "name": "Vertrieb"}, &other)
	f.p.MustDo(201, "POST", base+"/directory/sources", f.adminA, map[string]any{"phonebook_id": book.ID, "name": "ad", "url": "ldaps://ad.alpha.test",
		"base_dn": "dc=alpha,dc=test", "bind_dn": "cn=sync,dc=alpha,dc=test", "password": "bind-secret-1"}, &src)
	sealed := func() []byte {
		s, err := f.p.App.DB.DirectorySource(t.Context(), f.tenantA, src.ID)
		if err != nil {
			t.Fatal(err)
		}
		return s.Sealed
	}
	first := sealed()
	path := fmt.Sprintf("%s/directory/sources/%d", base, src.ID)
	var got struct {
		Name, URL, Filter string
		BaseDN            string `json:"base_dn"`
		IntervalS         int64  `json:"interval_s"`
		Priority          int
		Enabled           bool
		Password          string
	}
	f.p.MustDo(200, "PUT", path, f.adminA, map[string]any{"name": "ad-main", "url": "ldaps://ad2.alpha.test", "base_dn": "ou=people,dc=alpha,dc=test",
		"bind_dn": "cn=sync,dc=alpha,dc=test", "filter": "(objectClass=user)", "interval_s": 900, "priority": 5, "enabled": false}, &got)
	if got.Name != "ad-main" || got.URL != "ldaps://ad2.alpha.test" || got.BaseDN != "ou=people,dc=alpha,dc=test" || got.Filter != "(objectClass=user)" ||
		got.IntervalS != 900 || got.Priority != 5 || got.Enabled || got.Password != "" {
		t.Errorf("changed source: %+v", got)
	}
	if !bytes.Equal(sealed(), first) {
		t.Error("a change without a password replaced the stored one")
	}
	got.Filter = ""
	f.p.MustDo(200, "PUT", path, f.adminA, map[string]any{"name": "ad-main", "url": "ldaps://ad2.alpha.test", "base_dn": "dc=alpha,dc=test", "password": "bind-secret-2"}, &got)
	if bytes.Equal(sealed(), first) || len(sealed()) == 0 {
		t.Error("a new password was not stored")
	}
	// A change replaces the source but for its password and, unless named, its switch.
	if got.Enabled || got.IntervalS != 3600 || got.Filter != "" || got.Priority != 0 {
		t.Errorf("a change without enabled, interval_s, filter and priority: %+v", got)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"name": "x", "url": "ftp://x", "base_dn": "dc=x"}, "url"},
		{map[string]any{"name": " ", "url": "ldaps://x", "base_dn": "dc=x"}, "name"},
		{map[string]any{"name": "x", "url": "ldaps://x"}, "base_dn"},
		{map[string]any{"name": "x", "url": "ldaps://x", "base_dn": "dc=x", "interval_s": 10}, "interval_s"},
		{map[string]any{"name": "x", "url": "ldaps://x", "base_dn": "dc=x", "phonebook_id": other.ID}, "phonebook_id"},
	} {
		st, b := f.p.Do("PUT", path, f.adminA, c.body)
		if st != 400 || !strings.Contains(string(b), `"field": "`+c.field+`"`) {
			t.Errorf("PUT %v: %d %s, want a 400 at %s", c.body, st, b, c.field)
		}
	}
	f.p.MustDo(200, "PUT", path, f.adminA, map[string]any{"name": "file", "url": "https://files.alpha.test/contacts.vcf"}, &got)
	if st, _ := f.p.Do("PUT", path, f.memberA, map[string]any{"name": "y", "url": "https://y"}); st != 403 {
		t.Errorf("a member changes a source: %d", st)
	}
	f.p.MustDo(201, "POST", base+"/directory/sources", f.adminA, map[string]any{"phonebook_id": other.ID, "name": "csv", "url": "https://files.alpha.test/sales.csv"}, nil)
}
