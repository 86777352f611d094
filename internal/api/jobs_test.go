package api_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// post sends a raw body with a content type and decodes the JSON answer.
func post(t *testing.T, url, token, ctype string, body []byte, out any) int {
	t.Helper()
	return send(t, "POST", url, token, ctype, bytes.NewReader(body), out)
}

// send makes a request with a raw body and a content type, decodes the JSON answer into out
// (when not nil) and returns the status.
func send(t *testing.T, method, url, token, ctype string, body io.Reader, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", ctype)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		json.Unmarshal(b, out)
	}
	return resp.StatusCode
}

// waitJob polls a job of tenant until it is no longer running.
func waitJob(t *testing.T, f *fixture, tenant int64, token, id string) jobView {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var j jobView
		st, b := f.p.Do("GET", fmt.Sprintf("/api/v1/tenants/%d/jobs/%s", tenant, id), token, nil)
		if st != 200 {
			t.Fatalf("job %s: %d %s", id, st, b)
		}
		json.Unmarshal(b, &j)
		if j.State != "running" {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still running: %+v", id, j)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// report reads an import job's result.
func report(j jobView) (created int, badLines []int) {
	var r struct {
		Created int
		Errors  []struct{ Line int }
	}
	json.Unmarshal(j.Result, &r)
	for _, e := range r.Errors {
		badLines = append(badLines, e.Line)
	}
	return r.Created, badLines
}

type jobView struct {
	ID, Kind, State, Step, Error string
	Done, Total                  int
	Result                       json.RawMessage
}

// TestJobsImportAndSweep: a contacts import and a tenant's retention sweep run as jobs: the
// request answers 202 with the job, the job's route shows its progress and then its result;
// a file with a bad row imports nothing (the job fails naming the row) unless on_error=skip;
// a member imports into their own phonebook and sees their own job, not an admin's; another
// tenant's admin sees neither.
func TestJobsImportAndSweep(t *testing.T) {
	f := setup(t)
	base := fmt.Sprintf("%s/api/v1/tenants/%d", f.p.URL, f.tenantA)
	var book struct{ ID int64 }
	f.p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/phonebooks", f.tenantA), f.adminA, map[string]any{"kind": "company", "name": "Firma"}, &book)
	wait := func(token, id string) jobView { t.Helper(); return waitJob(t, f, f.tenantA, token, id) }
	csv := []byte("First Name,Last Name,Business Phone\nHans,Müller,+49 30 1234567\n,,\nAnna,Schmidt,+49 40 5551234\n")
	var j jobView
	if st := post(t, fmt.Sprintf("%s/phonebooks/%d/import?format=csv", base, book.ID), f.adminA, "text/csv", csv, &j); st != 202 || j.ID == "" || j.Kind != "contacts_import" {
		t.Fatalf("import: %d %+v", st, j)
	}
	if j = wait(f.adminA, j.ID); j.State != "failed" || !strings.Contains(j.Error, "nothing imported") || fmt.Sprint(func() []int { _, b := report(j); return b }()) != "[3]" {
		t.Fatalf("import with a bad row: %+v %s", j, j.Result)
	}
	var cs struct{ Items []json.RawMessage }
	f.p.MustDo(200, "GET", fmt.Sprintf("/api/v1/tenants/%d/phonebooks/%d/contacts", f.tenantA, book.ID), f.adminA, nil, &cs)
	if len(cs.Items) != 0 {
		t.Fatalf("a failed import wrote %d contacts", len(cs.Items))
	}
	post(t, fmt.Sprintf("%s/phonebooks/%d/import?format=csv&on_error=skip", base, book.ID), f.adminA, "text/csv", csv, &j)
	if j = wait(f.adminA, j.ID); j.State != "done" || j.Done != j.Total || func() int { n, _ := report(j); return n }() != 2 {
		t.Fatalf("import skipping the bad row: %+v %s", j, j.Result)
	}
	adminJob := j.ID
	f.p.MustDo(200, "GET", fmt.Sprintf("/api/v1/tenants/%d/phonebooks/%d/contacts", f.tenantA, book.ID), f.adminA, nil, &cs)
	if len(cs.Items) != 2 {
		t.Fatalf("contacts after the import: %d", len(cs.Items))
	}
	// Bad requests: no such format, an empty file, a member writing the company book.
	if st := post(t, fmt.Sprintf("%s/phonebooks/%d/import?format=xls", base, book.ID), f.adminA, "text/csv", csv, nil); st != 400 {
		t.Errorf("format xls: %d", st)
	}
	if st := post(t, fmt.Sprintf("%s/phonebooks/%d/import", base, book.ID), f.adminA, "text/csv", nil, nil); st != 400 {
		t.Errorf("empty file: %d", st)
	}
	if st := post(t, fmt.Sprintf("%s/phonebooks/%d/import", base, book.ID), f.memberA, "text/csv", csv, nil); st != 403 && st != 404 {
		t.Errorf("member into the company book: %d", st)
	}
	// A member's own book and job.
	var mine struct{ ID int64 }
	f.p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/phonebooks", f.tenantA), f.memberA, map[string]any{"kind": "personal", "name": "Meine"}, &mine)
	vcf := []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Oma\r\nTEL;TYPE=home:+49 30 5550123\r\nEND:VCARD\r\n")
	post(t, fmt.Sprintf("%s/phonebooks/%d/import", base, mine.ID), f.memberA, "text/vcard", vcf, &j)
	if j = wait(f.memberA, j.ID); j.State != "done" || func() int { n, _ := report(j); return n }() != 1 {
		t.Fatalf("member's vCard import: %+v %s", j, j.Result)
	}
	if st, _ := f.p.Do("GET", fmt.Sprintf("/api/v1/tenants/%d/jobs/%s", f.tenantA, adminJob), f.memberA, nil); st != 404 {
		t.Errorf("a member sees an admin's job: %d", st)
	}
	if st, _ := f.p.Do("GET", fmt.Sprintf("/api/v1/tenants/%d/jobs/%s", f.tenantB, adminJob), f.adminB, nil); st != 404 {
		t.Errorf("another tenant's admin sees the job: %d", st)
	}
	// The tenant's retention sweep.
	f.p.MustDo(202, "POST", fmt.Sprintf("/api/v1/tenants/%d/retention/sweep", f.tenantA), f.adminA, map[string]any{"dry_run": true}, &j)
	if j = wait(f.adminA, j.ID); j.State != "done" || j.Total == 0 || j.Done != j.Total || !strings.Contains(strings.ReplaceAll(string(j.Result), " ", ""), `"dry_run":true`) {
		t.Fatalf("sweep job: %+v %s", j, j.Result)
	}
	if st, _ := f.p.Do("POST", fmt.Sprintf("/api/v1/tenants/%d/retention/sweep", f.tenantA), f.memberA, map[string]any{}); st != 403 {
		t.Errorf("member starting a sweep: %d", st)
	}
	var l struct{ Items []jobView }
	f.p.MustDo(200, "GET", fmt.Sprintf("/api/v1/tenants/%d/jobs", f.tenantA), f.adminA, nil, &l)
	if len(l.Items) != 4 {
		t.Errorf("%d jobs listed, want 4", len(l.Items))
	}
}

// TestExportJob: a member makes their own export as a job: its progress runs over the
// categories and content files, the finished job offers the ZIP (with its manifest) to that
// member alone, the same bytes the direct download gives apart from the time stamps; an admin
// makes a member's export and downloads it; a member cannot start one for someone else, and
// another tenant's admin can neither start nor fetch one.
func TestExportJob(t *testing.T) {
	f := setup(t)
	wait := func(token, id string) jobView { t.Helper(); return waitJob(t, f, f.tenantA, token, id) }
	exportPath := fmt.Sprintf("/api/v1/tenants/%d/users/%d/export", f.tenantA, f.memberIDA)
	var j jobView
	f.p.MustDo(202, "POST", exportPath, f.memberA, nil, &j)
	if j.Kind != "subject_export" {
		t.Fatalf("job %+v", j)
	}
	if j = wait(f.memberA, j.ID); j.State != "done" || j.Total == 0 || j.Done != j.Total {
		t.Fatalf("export job: %+v %s", j, j.Result)
	}
	dl := fmt.Sprintf("/api/v1/tenants/%d/jobs/%s/download", f.tenantA, j.ID)
	st, body := f.p.Do("GET", dl, f.memberA, nil)
	if st != 200 {
		t.Fatalf("download: %d %s", st, body)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("not a ZIP: %v", err)
	}
	names := map[string]bool{}
	for _, zf := range zr.File {
		names[zf.Name] = true
	}
	_, direct := f.p.Do("GET", exportPath, f.memberA, nil)
	dz, err := zip.NewReader(bytes.NewReader(direct), int64(len(direct)))
	if err != nil {
		t.Fatal(err)
	}
	for _, zf := range dz.File {
		if !names[zf.Name] {
			t.Errorf("the job's ZIP lacks %s", zf.Name)
		}
	}
	if !names["manifest.json"] || len(names) != len(dz.File) {
		t.Errorf("job ZIP %v, direct %d entries", names, len(dz.File))
	}
	for _, who := range []string{f.adminA, f.adminB} {
		if st, _ := f.p.Do("GET", dl, who, nil); st != 404 {
			t.Errorf("someone else downloads the member's export: %d", st)
		}
	}
	if st, _ := f.p.Do("GET", fmt.Sprintf("/api/v1/tenants/%d/jobs/%s/download", f.tenantB, j.ID), f.adminB, nil); st != 404 {
		t.Errorf("through another tenant: %d", st)
	}
	// An admin exports the member.
	f.p.MustDo(202, "POST", exportPath, f.adminA, nil, &j)
	if j = wait(f.adminA, j.ID); j.State != "done" {
		t.Fatalf("admin's export job: %+v", j)
	}
	if st, _ := f.p.Do("GET", fmt.Sprintf("/api/v1/tenants/%d/jobs/%s/download", f.tenantA, j.ID), f.adminA, nil); st != 200 {
		t.Errorf("admin's download: %d", st)
	}
	// Refused: a member for the admin, another tenant's admin for the member, a job that
	// is no export.
	if st, _ := f.p.Do("POST", fmt.Sprintf("/api/v1/tenants/%d/users/%d/export", f.tenantA, f.userA), f.memberA, nil); st != 403 && st != 404 {
		t.Errorf("member exporting the admin: %d", st)
	}
	if st, _ := f.p.Do("POST", exportPath, f.adminB, nil); st != 403 && st != 404 {
		t.Errorf("another tenant's admin exporting the member: %d", st)
	}
	f.p.MustDo(202, "POST", fmt.Sprintf("/api/v1/tenants/%d/retention/sweep", f.tenantA), f.adminA, map[string]any{"dry_run": true}, &j)
	wait(f.adminA, j.ID)
	if st, _ := f.p.Do("GET", fmt.Sprintf("/api/v1/tenants/%d/jobs/%s/download", f.tenantA, j.ID), f.adminA, nil); st != 409 {
		t.Errorf("download of a sweep: %d", st)
	}
}
