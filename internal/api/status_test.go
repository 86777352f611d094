package api_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/privox/privox/internal/api"
	"github.com/privox/privox/internal/privacy"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/voicemail"
)

// TestStatusSummary: the health and metrics summary shows a tenant admin the readiness
// checks of /readyz and the tenant's own figures only (another tenant's call records and
// failed deliveries are not counted), and an operator the installation's figures from the
// metrics registry besides; members may not read it. privox status prints the same.
func TestStatusSummary(t *testing.T) {
	f := setup(t)
	p := f.p
	ctx := t.Context()
	now := time.Now().UnixMilli()
	call := func(tid int64, id string) {
		t.Helper()
		if _, err := p.App.DB.RecordCall(ctx, store.CDR{TenantID: tid, CallID: id, Caller: "2001", Callee: "2002", Direction: "internal", StartAt: now - 1000, EndAt: now, Cause: 200}, nil); err != nil {
			t.Fatal(err)
		}
	}
	call(f.tenantA, "a-1")
	call(f.tenantB, "b-1")
	call(f.tenantB, "b-2")
	// A failed e-mail delivery in tenant B.
	boxB, err := p.App.DB.EnsureVoicemailBox(ctx, f.tenantB, f.extB)
	if err != nil {
		t.Fatal(err)
	}
	msgB, err := p.App.Voicemail.Store(ctx, boxB, voicemail.Deposit{CallerNumber: "+4930999111", At: time.Now(), PCM: make([]int16, 8000)})
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.App.DB.EnqueueVoicemailMail(ctx, msgB, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.App.DB.Exec(ctx, `UPDATE voicemail_mail SET state = 'failed' WHERE id = ?`, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := p.App.Privacy.Sweep(ctx, privacy.SweepOptions{}); err != nil {
		t.Fatal(err)
	}

	path := func(tid int64) string { return fmt.Sprintf("/api/v1/tenants/%d/status", tid) }
	var a api.Status
	p.MustDo(200, "GET", path(f.tenantA), f.adminA, nil, &a)
	names := []string{}
	for _, c := range a.Checks {
		names = append(names, c.Name)
		if !c.OK {
			t.Errorf("check %s failed: %s", c.Name, c.Detail)
		}
	}
	if st, body := p.Do("GET", "/readyz", "", nil); !a.Ready || st != 200 || strings.TrimSpace(string(body)) != "ready" {
		t.Errorf("status ready %t, /readyz %d %s", a.Ready, st, body)
	}
	if strings.Join(names, ",") != "server,database,sip" {
		t.Errorf("checks %q", names)
	}
	if a.Tenant.TenantID != f.tenantA || a.Tenant.CDRs != 1 || a.Tenant.MailFailed != 0 || !a.Tenant.SIPRunning || a.Installation != nil {
		t.Errorf("tenant A's summary: %+v, installation %+v", a.Tenant, a.Installation)
	}
	if a.Tenant.Sweep.At == 0 || !a.Tenant.Sweep.OK || a.Tenant.Sweep.Rows != nil {
		t.Errorf("tenant A's view of the last sweep: %+v", a.Tenant.Sweep)
	}
	var b api.Status
	p.MustDo(200, "GET", path(f.tenantB), f.adminB, nil, &b)
	if b.Tenant.CDRs != 2 || b.Tenant.MailFailed != 1 || b.Installation != nil {
		t.Errorf("tenant B's summary: %+v", b.Tenant)
	}
	if st, _ := p.Do("GET", path(f.tenantA), f.memberA, nil); st != 403 {
		t.Errorf("a member read the summary: %d", st)
	}
	if st, _ := p.Do("GET", path(f.tenantB), f.adminA, nil); st != 404 {
		t.Errorf("tenant A's admin read tenant B's summary: %d", st)
	}

	// The operator: the installation's figures as well.
	var me struct {
		User store.User `json:"user"`
	}
	p.MustDo(200, "GET", "/api/v1/me", p.AdminToken, nil, &me)
	var op api.Status
	p.MustDo(200, "GET", path(me.User.TenantID), p.AdminToken, nil, &op)
	in := op.Installation
	if in == nil {
		t.Fatal("no installation figures for the operator")
	}
	if in.CDRs != 3 || in.MailFailed != 1 || in.Goroutines <= 0 || in.HeapBytes <= 0 || in.UptimeSeconds < 0 || in.APIRequests <= 0 ||
		in.Sweep.At == 0 || !in.Sweep.OK || in.Sweep.Rows == nil {
		t.Errorf("installation figures: %+v", in)
	}

	// The command line asks the running server and prints the same.
	tok := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tok, []byte(f.adminB+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := p.CLI("status", "--url", p.URL, "--token-file", tok)
	if code != 0 || !strings.Contains(out, "ready:") || !strings.Contains(out, fmt.Sprintf("tenant %d", f.tenantB)) || strings.Contains(out, "installation") {
		t.Fatalf("privox status as tenant B's admin: %d\n%s\n%s", code, out, stderr)
	}
	for _, want := range []string{"call records  2", "e-mail failed  1", "database", "sip"} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("privox status lacks %q:\n%s", want, out)
		}
	}
	if _, stderr, code := p.CLI("status", "--url", p.URL, "--token-file", tok, "--tenant", fmt.Sprint(f.tenantA)); code == 0 || !strings.Contains(stderr, "404") {
		t.Errorf("privox status of another tenant: %d %s", code, stderr)
	}
	if err := os.WriteFile(tok, []byte(p.AdminToken), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = p.CLI("status", "--url", p.URL, "--token-file", tok, "--json")
	var js api.Status
	if code != 0 || json.Unmarshal([]byte(out), &js) != nil || js.Installation == nil || js.Installation.CDRs != 3 {
		t.Fatalf("privox status --json as operator: %d %s %s", code, out, stderr)
	}
}
