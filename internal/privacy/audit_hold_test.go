package privacy_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/privox/privox/internal/datacat"
	"github.com/privox/privox/internal/privacy"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/tenancy"
)

// TestAuditHeldWithPerson: a legal hold on a person holds the audit entries that name them,
// as actor or as target, against trimming; the chain stays verifiable, and once the hold
// ends the entries go by the audit rule.
func TestAuditHeldWithPerson(t *testing.T) {
	runEngines(t, privacy.Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant(t, "acme", "default")
		a := e.user(t, tn.ID, "a@acme.test")
		b := e.user(t, tn.ID, "b@acme.test")
		tid := tn.ID
		old := ago(400) // past the audit log's 365 days
		add := func(actor *int64, targetType, targetID string) int64 {
			en, err := e.db.AppendAudit(ctx, store.AuditEntry{TenantID: &tid, At: old, Actor: "x", ActorUserID: actor, Action: "test", TargetType: targetType, TargetID: targetID})
			if err != nil {
				t.Fatal(err)
			}
			return en.ID
		}
		add(nil, "tenant", "1")
		add(nil, "tenant", "1")
		aboutB := add(nil, "user", fmt.Sprint(b.ID)) // b only as target
		byA := add(&a.ID, "extension", "7")          // a only as actor
		add(nil, "tenant", "1")
		hb, err := e.eng.PlaceHold(ctx, tid, privacy.HoldRequest{UserID: b.ID, Reason: "dispute", ExpiresAt: ago(-30)}, privacy.System)
		if err != nil {
			t.Fatal(err)
		}
		first := func() int64 {
			var id int64
			if err := e.db.QueryRow(ctx, `SELECT MIN(id) FROM audit_log`).Scan(&id); err != nil {
				t.Fatal(err)
			}
			return id
		}
		sweep := func() {
			t.Helper()
			if _, err := e.eng.Sweep(ctx, privacy.SweepOptions{}); err != nil {
				t.Fatal(err)
			}
			if v, err := e.eng.VerifyAudit(ctx); err != nil || !v.OK {
				t.Fatalf("audit chain after trimming: %+v %v", v, err)
			}
		}
		sweep()
		if got := first(); got != aboutB {
			t.Fatalf("trimming with b held starts the log at %d, want %d (the entry about b)", got, aboutB)
		}
		if _, err := e.eng.PlaceHold(ctx, tid, privacy.HoldRequest{UserID: a.ID, Reason: "dispute", ExpiresAt: ago(-30)}, privacy.System); err != nil {
			t.Fatal(err)
		}
		if err := e.eng.ReleaseHold(ctx, tid, hb.ID, privacy.System); err != nil {
			t.Fatal(err)
		}
		sweep()
		if got := first(); got != byA {
			t.Fatalf("trimming with a held starts the log at %d, want %d (a's own entry)", got, byA)
		}
	})
}

// TestAuditAtomicWithAction: when the audit log refuses an entry, the action it would record
// does not happen either (the engine's changes, and suspension and deactivation).
func TestAuditAtomicWithAction(t *testing.T) {
	runEngines(t, privacy.Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant(t, "acme", "default")
		u := e.user(t, tn.ID, "u@acme.test")
		refuse := []string{`CREATE TRIGGER audit_refuse BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit refused'); END`}
		if e.db.Engine() == store.Postgres {
			refuse = []string{`CREATE FUNCTION audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$`,
				`CREATE TRIGGER audit_refuse BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_refuse()`}
		}
		for _, q := range refuse {
			if _, err := e.db.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.eng.Restrict(ctx, tn.ID, u.ID, "contested", privacy.System); err == nil {
			t.Error("restriction without its audit entry succeeded")
		}
		if _, err := e.eng.PlaceHold(ctx, tn.ID, privacy.HoldRequest{UserID: u.ID, Reason: "x", ExpiresAt: ago(-3)}, privacy.System); err == nil {
			t.Error("hold without its audit entry succeeded")
		}
		if _, err := e.eng.SetRule(ctx, tn.ID, privacy.RuleChange{Category: datacat.Traffic, Mode: datacat.Delete, Days: 3}, privacy.System); err == nil {
			t.Error("retention change without its audit entry succeeded")
		}
		if err := tenancy.SuspendUser(ctx, e.db, tn.ID, u.ID, true, store.AuditEntry{Actor: "cli", Action: "user.suspend", TargetType: "user"}); err == nil {
			t.Error("suspension without its audit entry succeeded")
		}
		if err := tenancy.DeactivateUser(ctx, e.db, tn.ID, u.ID, store.AuditEntry{Actor: "cli", Action: "user.deactivate", TargetType: "user"}); err == nil {
			t.Error("deactivation without its audit entry succeeded")
		}
		if _, err := tenancy.CreateUser(ctx, e.db, store.User{TenantID: tn.ID, Name: "New", Email: "new@acme.test"}, "a-long-password-1",
			store.AuditEntry{Actor: "cli", Action: "user.create", TargetType: "user"}); err == nil {
			t.Error("user created without its audit entry")
		}
		if err := tenancy.SetPassword(ctx, e.db, tn.ID, u.ID, "a-long-password-2", store.AuditEntry{Actor: "cli", Action: "user.password", TargetType: "user"}); err == nil {
			t.Error("password set without its audit entry")
		}
		renamed := u
		renamed.Name = "Renamed"
		if err := tenancy.UpdateUser(ctx, e.db, renamed, store.AuditEntry{Actor: "cli", Action: "user.update", TargetType: "user"}); err == nil {
			t.Error("user changed without its audit entry")
		}
		for table, q := range map[string]string{
			"users":           `SELECT COUNT(*) FROM users WHERE email = 'new@acme.test' OR name = 'Renamed'`,
			"user_passwords":  `SELECT COUNT(*) FROM user_passwords`,
			"restrictions":    `SELECT COUNT(*) FROM restrictions`,
			"legal_holds":     `SELECT COUNT(*) FROM legal_holds`,
			"retention_rules": `SELECT COUNT(*) FROM retention_rules`,
		} {
			if n := count(t, e.db, q); n != 0 {
				t.Errorf("%s: %d rows stored without their audit entry", table, n)
			}
		}
		if got, _ := e.db.User(ctx, tn.ID, u.ID); !got.Active || got.SuspendedAt != nil {
			t.Errorf("user changed without an audit entry: %+v", got)
		}
	})
}

// TestRestrictionStopsExportToOthers: while a person's data is restricted, nobody else may
// export it (CheckProcessing, third-party export); the person's own access stays, and lifting
// the restriction lifts the refusal.
func TestRestrictionStopsExportToOthers(t *testing.T) {
	runEngines(t, privacy.Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant(t, "acme", "default")
		u := e.user(t, tn.ID, "u@acme.test")
		admin := privacy.UserActor(424242, "192.0.2.1")
		var buf countingWriter
		if _, err := e.eng.Export(ctx, tn.ID, u.ID, &buf, admin); err != nil {
			t.Fatalf("export before the restriction: %v", err)
		}
		if _, err := e.eng.Restrict(ctx, tn.ID, u.ID, "accuracy contested", privacy.System); err != nil {
			t.Fatal(err)
		}
		buf = 0
		if _, err := e.eng.Export(ctx, tn.ID, u.ID, &buf, admin); !errors.Is(err, privacy.ErrRestricted) || buf != 0 {
			t.Fatalf("export by someone else while restricted: %v (%d bytes written)", err, buf)
		}
		if _, err := e.eng.Export(ctx, tn.ID, u.ID, &buf, privacy.UserActor(u.ID, "192.0.2.2")); err != nil {
			t.Fatalf("the person's own export while restricted: %v", err)
		}
		if err := e.eng.Unrestrict(ctx, tn.ID, u.ID, privacy.System); err != nil {
			t.Fatal(err)
		}
		if _, err := e.eng.Export(ctx, tn.ID, u.ID, &buf, admin); err != nil {
			t.Fatalf("export after lifting the restriction: %v", err)
		}
	})
}

type countingWriter int

func (w *countingWriter) Write(b []byte) (int, error) {
	*w += countingWriter(len(b))
	return len(b), nil
}
