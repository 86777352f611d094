package privacy_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/privox/privox/internal/datacat"
	"github.com/privox/privox/internal/privacy"
	"github.com/privox/privox/internal/store"
)

func appendAudit(t testing.TB, db *store.DB, tid int64, at int64, action string) store.AuditEntry {
	t.Helper()
	e, err := db.AppendAudit(context.Background(), store.AuditEntry{TenantID: &tid, At: at, Actor: "cli", Action: action, TargetType: "user", TargetID: "1"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func problems(v privacy.AuditVerification) string {
	var s []string
	for _, p := range v.Problems {
		s = append(s, fmt.Sprintf("%d: %s", p.ID, p.Problem))
	}
	return strings.Join(s, "; ")
}

// TestAuditChainTrimAndTamper trims old audit entries by retention and checks that the chain
// still verifies from its checkpoint, and that an edited, a deleted and a removed first entry
// are each detected.
func TestAuditChainTrimAndTamper(t *testing.T) {
	runEngines(t, privacy.Options{BatchSize: 4}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant(t, "acme", "default")
		for i := 0; i < 10; i++ {
			appendAudit(t, e.db, tn.ID, ago(40)+int64(i), "old.action")
		}
		for i := 0; i < 5; i++ {
			appendAudit(t, e.db, tn.ID, ago(1)+int64(i), "new.action")
		}
		v, err := e.eng.VerifyAudit(ctx)
		if err != nil || !v.OK || v.Entries != 15 || v.Checkpoint != nil {
			t.Fatalf("fresh chain: %+v %v", v, err)
		}
		if _, err := e.eng.SetRule(ctx, store.InstallationTenant, privacy.RuleChange{Category: datacat.Audit, Mode: datacat.Delete, Days: 30}, privacy.System); err != nil {
			t.Fatal(err)
		}
		rep, err := e.eng.Sweep(ctx, privacy.SweepOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n := count(t, e.db, `SELECT COUNT(*) FROM audit_log WHERE action = 'old.action'`); n != 0 {
			t.Fatalf("%d old entries survived: %+v", n, rep.Tables)
		}
		v, err = e.eng.VerifyAudit(ctx)
		if err != nil || !v.OK {
			t.Fatalf("chain after trimming: %s %v", problems(v), err)
		}
		if v.Checkpoint == nil || v.Checkpoint.LastID != 10 || v.Checkpoint.Removed != 10 || v.FirstID != 11 {
			t.Fatalf("checkpoint %+v first %d", v.Checkpoint, v.FirstID)
		}

		// Edit a line.
		if _, err := e.db.Exec(ctx, `UPDATE audit_log SET detail = 'nothing to see' WHERE id = 13`); err != nil {
			t.Fatal(err)
		}
		v, _ = e.eng.VerifyAudit(ctx)
		if v.OK || len(v.Problems) == 0 || v.Problems[0].ID != 13 || !strings.Contains(v.Problems[0].Problem, "changed") {
			t.Fatalf("edited entry not detected: %s", problems(v))
		}
		// A forger who also recomputes the hash breaks the link to the next entry.
		var en store.AuditEntry
		ens, _ := e.db.ListAudit(ctx, 0, store.Page{After: 12, Limit: 1})
		en = ens[0]
		if _, err := e.db.Exec(ctx, `UPDATE audit_log SET hash = ? WHERE id = 13`, store.AuditHash(en)); err != nil {
			t.Fatal(err)
		}
		v, _ = e.eng.VerifyAudit(ctx)
		if v.OK || !strings.Contains(problems(v), "14: chain broken") {
			t.Fatalf("re-hashed entry not detected: %s", problems(v))
		}
	})
}

func TestAuditDeletionDetected(t *testing.T) {
	runEngines(t, privacy.Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant(t, "acme", "default")
		for i := 0; i < 6; i++ {
			appendAudit(t, e.db, tn.ID, 0, "x")
		}
		if _, err := e.db.Exec(ctx, `DELETE FROM audit_log WHERE id = 3`); err != nil {
			t.Fatal(err)
		}
		v, _ := e.eng.VerifyAudit(ctx)
		if v.OK || !strings.Contains(problems(v), "entries 3 to 3 are missing") {
			t.Fatalf("deleted line not detected: %s", problems(v))
		}
		if _, err := e.db.Exec(ctx, `DELETE FROM audit_log WHERE id < 3`); err != nil {
			t.Fatal(err)
		}
		v, _ = e.eng.VerifyAudit(ctx)
		if v.OK || !strings.Contains(problems(v), "does not start at entry 1") {
			t.Fatalf("deleted beginning not detected: %s", problems(v))
		}
	})
}

// TestAuditPrefixWithCheckpointForged: removing entries after a checkpoint without moving
// the checkpoint is detected.
func TestAuditPrefixBehindCheckpoint(t *testing.T) {
	runEngines(t, privacy.Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant(t, "acme", "default")
		for i := 0; i < 5; i++ {
			appendAudit(t, e.db, tn.ID, ago(400), "old")
		}
		for i := 0; i < 5; i++ {
			appendAudit(t, e.db, tn.ID, 0, "new")
		}
		if _, err := e.eng.Sweep(ctx, privacy.SweepOptions{}); err != nil { // audit: 365 days
			t.Fatal(err)
		}
		if v, _ := e.eng.VerifyAudit(ctx); !v.OK || v.FirstID != 6 {
			t.Fatalf("after sweep: %+v", v)
		}
		if _, err := e.db.Exec(ctx, `DELETE FROM audit_log WHERE id = 6`); err != nil {
			t.Fatal(err)
		}
		v, _ := e.eng.VerifyAudit(ctx)
		if v.OK || !strings.Contains(problems(v), "does not follow the retention checkpoint") {
			t.Fatalf("removal behind the checkpoint not detected: %s", problems(v))
		}
	})
}

func TestCheckProcessing(t *testing.T) {
	runEngines(t, privacy.Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant(t, "acme", "default")
		u := e.user(t, tn.ID, "u@acme.test")
		for _, p := range []privacy.Purpose{privacy.PurposeRecording, privacy.PurposeEmailCopy, privacy.PurposeThirdPartyExport, privacy.PurposePush} {
			if err := e.eng.CheckProcessing(ctx, tn.ID, u.ID, p); err != nil {
				t.Fatalf("%s before restriction: %v", p, err)
			}
		}
		if err := e.eng.CheckProcessing(ctx, tn.ID, u.ID, "telemetry"); !errors.Is(err, privacy.ErrInvalid) {
			t.Fatalf("undeclared purpose: %v", err)
		}
		if _, err := e.eng.Restrict(ctx, tn.ID, u.ID, "  ", privacy.System); !errors.Is(err, privacy.ErrInvalid) {
			t.Fatalf("restriction without reason: %v", err)
		}
		if _, err := e.eng.Restrict(ctx, tn.ID, u.ID, "accuracy contested by the person (Art. 18(1)(a))", privacy.System); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			p    privacy.Purpose
			want string
		}{
			{privacy.PurposeRecording, "recording refused"},
			{privacy.PurposeEmailCopy, "email_copy refused"},
			{privacy.PurposeThirdPartyExport, "third_party_export refused"},
		} {
			err := e.eng.CheckProcessing(ctx, tn.ID, u.ID, c.p)
			var re *privacy.RestrictedError
			if !errors.Is(err, privacy.ErrRestricted) || !errors.As(err, &re) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "restricted (GDPR Art. 18)") {
				t.Fatalf("%s while restricted: %v", c.p, err)
			}
			if strings.Contains(err.Error(), "accuracy") {
				t.Fatal("the error discloses the free-text reason")
			}
		}
		// Restricted data is kept: an erasure waits, a sweep leaves it alone.
		e.cdr(t, tn.ID, ago(40), &u.ID, nil, "")
		rep, err := e.eng.Erase(ctx, tn.ID, u.ID, privacy.System)
		if err != nil || rep.Complete || rep.PendingReason != "processing restricted" || rep.KeyDestroyed {
			t.Fatalf("erasure of a restricted person: %+v %v", rep, err)
		}
		if _, err := e.eng.Sweep(ctx, privacy.SweepOptions{}); err != nil {
			t.Fatal(err)
		}
		if n := count(t, e.db, `SELECT COUNT(*) FROM cdrs WHERE caller_user_id = ?`, u.ID); n != 1 {
			t.Fatal("restricted person's CDR was swept or anonymised")
		}
		if err := e.eng.Unrestrict(ctx, tn.ID, u.ID, privacy.System); err != nil {
			t.Fatal(err)
		}
		// Lifted: the pending erasure completes with the next sweep, and processing stays
		// refused because the account is gone.
		rep2, err := e.eng.Sweep(ctx, privacy.SweepOptions{})
		if err != nil || rep2.ErasuresCompleted != 1 {
			t.Fatalf("sweep after lifting: %+v %v", rep2, err)
		}
		if err := e.eng.CheckProcessing(ctx, tn.ID, u.ID, privacy.PurposeRecording); !errors.Is(err, privacy.ErrRestricted) || !strings.Contains(err.Error(), "erased") {
			t.Fatalf("after erasure: %v", err)
		}
		if n := count(t, e.db, `SELECT COUNT(*) FROM cdrs WHERE caller_user_id = ?`, u.ID); n != 0 {
			t.Fatal("CDR still names the erased person")
		}
	})
}
