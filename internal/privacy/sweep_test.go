package privacy_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/privox/privox/internal/datacat"
	"github.com/privox/privox/internal/filestore"
	"github.com/privox/privox/internal/privacy"
	"github.com/privox/privox/internal/store"
)

// TestSweepFollowsTheRules fills two tenants with records of every age and checks that one
// sweep removes exactly what the rules say, from the registry alone: CDRs per preset (de: 7
// days, default: 30) with their hourly aggregates kept, content per kind (recordings 40
// days, voicemail 90, greetings while active) together with their files, sessions past their
// own expiry, and nothing in a dry run.
func TestSweepFollowsTheRules(t *testing.T) {
	runEngines(t, privacy.Options{BatchSize: 7, FileBatchSize: 3}, func(t *testing.T, e *env) {
		ctx := context.Background()
		de := e.tenant(t, "de-tenant", "de")
		df := e.tenant(t, "default-tenant", "default")
		alice := e.user(t, de.ID, "alice@de.test")
		bob := e.user(t, df.ID, "bob@df.test")

		var oldDE, newDE, oldDF []store.CDR
		for i := 0; i < 20; i++ {
			oldDE = append(oldDE, e.cdr(t, de.ID, ago(8)+int64(i)*1000, &alice.ID, nil, "carrier-a"))
			newDE = append(newDE, e.cdr(t, de.ID, ago(6), &alice.ID, nil, "carrier-a"))
			oldDF = append(oldDF, e.cdr(t, df.ID, ago(8), &bob.ID, nil, "carrier-b"))
		}
		e.cdr(t, df.ID, ago(31), &bob.ID, nil, "")

		rec := e.file(t, de.ID, &alice.ID, filestore.KindRecording, ago(41), []byte("old recording"))
		recNew := e.file(t, de.ID, &alice.ID, filestore.KindRecording, ago(39), []byte("new recording"))
		vmKept, vmKeptRow := e.voicemail(t, de.ID, alice.ID, ago(41), []byte("voicemail 41 days"))
		vmOld, vmOldRow := e.voicemail(t, de.ID, alice.ID, ago(91), []byte("voicemail 91 days"))
		greeting := e.file(t, de.ID, &alice.ID, filestore.KindGreeting, ago(400), []byte("greeting"))
		if _, err := e.db.CreateSession(ctx, store.Session{TenantID: de.ID, UserID: alice.ID, CSRF: "x", ExpiresAt: ago(1)}, "expired"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.CreateSession(ctx, store.Session{TenantID: de.ID, UserID: alice.ID, CSRF: "x", ExpiresAt: ago(-1)}, "live"); err != nil {
			t.Fatal(err)
		}

		dry, err := e.eng.Sweep(ctx, privacy.SweepOptions{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if rows, _ := dry.Removed(); rows < 20+1+1+1+1+1 {
			t.Fatalf("dry run found %d rows: %+v", rows, dry.Tables)
		}
		if n := count(t, e.db, `SELECT COUNT(*) FROM cdrs`); n != 61 {
			t.Fatalf("dry run changed cdrs: %d", n)
		}
		if !fileExists(e, rec) {
			t.Fatal("dry run removed a file")
		}

		rep, err := e.eng.Sweep(ctx, privacy.SweepOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("sweep: %+v", rep.Tables)
		for _, c := range oldDE {
			if n := count(t, e.db, `SELECT COUNT(*) FROM cdrs WHERE id = ?`, c.ID); n != 0 {
				t.Fatalf("de CDR older than 7 days survived")
			}
		}
		for _, c := range append(newDE, oldDF...) {
			if n := count(t, e.db, `SELECT COUNT(*) FROM cdrs WHERE id = ?`, c.ID); n != 1 {
				t.Fatalf("CDR within its period removed")
			}
		}
		if n := count(t, e.db, `SELECT COUNT(*) FROM cdrs WHERE tenant_id = ?`, df.ID); n != 20 {
			t.Fatalf("default tenant keeps %d CDRs, want 20", n)
		}
		// The aggregates of the removed CDRs remain: 20 calls of one minute in one or two hours.
		st, err := e.db.ListHourlyStats(ctx, store.StatsQuery{TenantID: de.ID, Source: "cdrs"})
		if err != nil {
			t.Fatal(err)
		}
		var calls, total int64
		for _, s := range st {
			calls += s.Records
			total += s.Total
			if !strings.Contains(s.Dims, "trunk=carrier-a") || !strings.Contains(s.Dims, "direction=outbound") || s.Hour%3600000 != 0 {
				t.Fatalf("aggregate %+v", s)
			}
		}
		if calls != 20 || total != 20*60000 {
			t.Fatalf("aggregates count %d calls, %d ms; want 20, %d", calls, total, 20*60000)
		}
		if n := count(t, e.db, `SELECT COUNT(*) FROM stats_hourly WHERE tenant_id = ?`, df.ID); n != 1 {
			t.Fatalf("default tenant aggregates: %d, want the one CDR older than 30 days", n)
		}

		for _, f := range []store.ContentFile{rec, vmOld} {
			if fileExists(e, f) {
				t.Fatalf("expired %s file left on disk", f.Kind)
			}
			if _, err := e.db.ContentFile(ctx, de.ID, f.ID); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("expired %s row left: %v", f.Kind, err)
			}
		}
		if n := count(t, e.db, `SELECT COUNT(*) FROM test_voicemails WHERE id = ?`, vmOldRow); n != 0 {
			t.Fatal("voicemail row of a removed file left")
		}
		for _, f := range []store.ContentFile{recNew, vmKept, greeting} {
			if !fileExists(e, f) {
				t.Fatalf("%s within its period removed", f.Kind)
			}
			if _, _, err := e.files.Get(ctx, de.ID, f.ID); err != nil {
				t.Fatalf("%s unreadable: %v", f.Kind, err)
			}
		}
		if n := count(t, e.db, `SELECT COUNT(*) FROM test_voicemails WHERE id = ?`, vmKeptRow); n != 1 {
			t.Fatal("voicemail within its period removed")
		}
		if n := count(t, e.db, `SELECT COUNT(*) FROM sessions`); n != 1 {
			t.Fatalf("sessions: %d, want only the live one", n)
		}
		// A second sweep finds nothing more.
		again, err := e.eng.Sweep(ctx, privacy.SweepOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rows, files := again.Removed(); rows != 0 || files != 0 {
			t.Fatalf("second sweep removed %d rows, %d files: %+v", rows, files, again.Tables)
		}
		if es, _ := e.db.QueryAudit(ctx, store.AuditQuery{Action: "retention.sweep"}); len(es) != 1 {
			t.Fatalf("sweeps audited %d times, want once (the one that removed something)", len(es))
		}
	})
}

// TestTenantOverridesAndKinds changes rules per tenant and per kind and checks the sweeper
// follows them.
func TestTenantOverridesAndKinds(t *testing.T) {
	runEngines(t, privacy.Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant(t, "acme", "default")
		u := e.user(t, tn.ID, "u@acme.test")
		old := e.cdr(t, tn.ID, ago(12), &u.ID, nil, "")
		rec := e.file(t, tn.ID, &u.ID, filestore.KindRecording, ago(12), []byte("r"))
		fax := e.file(t, tn.ID, &u.ID, filestore.KindFax, ago(12), []byte("f"))
		r, err := e.eng.SetRule(ctx, tn.ID, privacy.RuleChange{Category: datacat.Traffic, Mode: datacat.Delete, Days: 10}, privacy.System)
		if err != nil {
			t.Fatal(err)
		}
		if r.Source != "tenant" || r.OnDeactivation != datacat.EraseAnonymise {
			t.Fatalf("rule %+v: the on-deactivation of the preset should be kept", r)
		}
		if _, err := e.eng.SetRule(ctx, tn.ID, privacy.RuleChange{Category: datacat.UserContent, Kind: filestore.KindRecording, Mode: datacat.Delete, Days: 11}, privacy.System); err != nil {
			t.Fatal(err)
		}
		if _, err := e.eng.Sweep(ctx, privacy.SweepOptions{}); err != nil {
			t.Fatal(err)
		}
		if n := count(t, e.db, `SELECT COUNT(*) FROM cdrs WHERE id = ?`, old.ID); n != 0 {
			t.Fatal("CDR older than the tenant's 10 days survived")
		}
		if n := count(t, e.db, `SELECT COUNT(*) FROM stats_hourly`); n != 0 {
			t.Fatal("delete mode must not aggregate")
		}
		if fileExists(e, rec) {
			t.Fatal("recording older than the tenant's 11 days survived")
		}
		if !fileExists(e, fax) {
			t.Fatal("fax (90 days) removed")
		}
		rules, err := e.eng.Rules(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range rules {
			if r.Category == datacat.UserContent && r.Kind == filestore.KindGreeting && r.Mode == datacat.WhileActive {
				found = true
			}
		}
		if !found {
			t.Fatal("greetings should keep their own rule: while active")
		}
		if _, err := e.eng.ResetRule(ctx, tn.ID, datacat.Traffic, "", privacy.System); err != nil {
			t.Fatal(err)
		}
		if es, _ := e.db.QueryAudit(ctx, store.AuditQuery{TenantID: tn.ID, Action: "retention."}); len(es) != 3 {
			t.Fatalf("retention changes audited %d times, want 3", len(es))
		}
	})
}

func TestRuleValidation(t *testing.T) {
	runEngines(t, privacy.Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant(t, "acme", "eu")
		for _, c := range []struct {
			name string
			tid  int64
			ch   privacy.RuleChange
			want string
		}{
			{"unknown category", tn.ID, privacy.RuleChange{Category: "shoe_sizes", Mode: datacat.Delete, Days: 3}, "unknown category"},
			{"days out of range", tn.ID, privacy.RuleChange{Category: datacat.Traffic, Mode: datacat.Delete, Days: 0}, "days must be"},
			{"days with while_active", tn.ID, privacy.RuleChange{Category: datacat.Usage, Mode: datacat.WhileActive, Days: 3}, "takes no days"},
			{"unknown mode", tn.ID, privacy.RuleChange{Category: datacat.Usage, Mode: "forever"}, "unknown mode"},
			{"no time column", tn.ID, privacy.RuleChange{Category: datacat.Personal, Mode: datacat.Delete, Days: 30}, "table"},
			{"never stored", tn.ID, privacy.RuleChange{Category: datacat.Presence, Mode: datacat.Delete, Days: 1}, "never stored"},
			{"audit per tenant", tn.ID, privacy.RuleChange{Category: datacat.Audit, Mode: datacat.Delete, Days: 30}, "installation-wide"},
			{"kind of another category", tn.ID, privacy.RuleChange{Category: datacat.Traffic, Kind: filestore.KindFax, Mode: datacat.Delete, Days: 3}, "has no kind"},
			{"bad on_deactivation", tn.ID, privacy.RuleChange{Category: datacat.Traffic, Mode: datacat.Delete, Days: 3, OnDeactivation: "shrug"}, "on_deactivation"},
			{"unknown tenant", 999, privacy.RuleChange{Category: datacat.Traffic, Mode: datacat.Delete, Days: 3}, "not found"},
			{"tenant category for the installation", store.InstallationTenant, privacy.RuleChange{Category: datacat.Traffic, Mode: datacat.Delete, Days: 3}, "name the tenant"},
		} {
			_, err := e.eng.SetRule(ctx, c.tid, c.ch, privacy.System)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
			}
		}
		if _, err := e.eng.SetRule(ctx, store.InstallationTenant, privacy.RuleChange{Category: datacat.Audit, Mode: datacat.Delete, Days: 30}, privacy.System); err != nil {
			t.Fatalf("installation audit rule: %v", err)
		}
		if n := count(t, e.db, `SELECT COUNT(*) FROM retention_rules`); n != 1 {
			t.Fatalf("invalid changes were stored: %d rules", n)
		}
	})
}

// TestHoldsSurviveSweeps holds a record and a person, sweeps, then lets the holds end.
func TestHoldsSurviveSweeps(t *testing.T) {
	runEngines(t, privacy.Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant(t, "acme", "de")
		a := e.user(t, tn.ID, "a@acme.test")
		b := e.user(t, tn.ID, "b@acme.test")
		held := e.cdr(t, tn.ID, ago(9), &a.ID, nil, "")
		free := e.cdr(t, tn.ID, ago(9), &a.ID, nil, "")
		ofB := e.cdr(t, tn.ID, ago(9), nil, &b.ID, "")
		rec := e.file(t, tn.ID, &b.ID, filestore.KindRecording, ago(50), []byte("evidence"))
		vm, vmRow := e.voicemail(t, tn.ID, a.ID, ago(100), []byte("voicemail in dispute"))
		admin := privacy.Actor{Name: "user:1", UserID: ptr(1), IP: "192.0.2.1"}

		for _, bad := range []privacy.HoldRequest{
			{Table: "cdrs", RecordID: held.ID, ExpiresAt: ago(-10)},                                    // no reason
			{Table: "cdrs", RecordID: held.ID, Reason: "x", ExpiresAt: ago(1)},                         // expired
			{Table: "cdrs", RecordID: 999999, Reason: "x", ExpiresAt: ago(-10)},                        // no record
			{Table: "nonsense", RecordID: 1, Reason: "x", ExpiresAt: ago(-10)},                         // no table
			{Table: "cdrs", RecordID: held.ID, UserID: a.ID, Reason: "x", ExpiresAt: ago(-10)},         // both
			{UserID: 424242, Reason: "x", ExpiresAt: ago(-10)},                                         // no user
			{Table: "user_passwords", RecordID: 1, Reason: "x", ExpiresAt: ago(-10)},                   // no id
			{Table: "cdrs", RecordID: held.ID, Reason: "x", ExpiresAt: ago(-10) + 11*366*24*3600*1000}, // too long
		} {
			if _, err := e.eng.PlaceHold(ctx, tn.ID, bad, admin); !errors.Is(err, privacy.ErrInvalid) {
				t.Errorf("hold %+v: %v, want ErrInvalid", bad, err)
			}
		}
		h1, err := e.eng.PlaceHold(ctx, tn.ID, privacy.HoldRequest{Table: "cdrs", RecordID: held.ID, Reason: "billing dispute #12", ExpiresAt: ago(-30)}, admin)
		if err != nil {
			t.Fatal(err)
		}
		h2, err := e.eng.PlaceHold(ctx, tn.ID, privacy.HoldRequest{UserID: b.ID, Reason: "fraud investigation", ExpiresAt: ago(-30)}, admin)
		if err != nil {
			t.Fatal(err)
		}
		// A hold on a row that refers to a file keeps the file, though the file row is swept
		// on its own (content_files, kind voicemail, 90 days).
		if _, err := e.eng.PlaceHold(ctx, tn.ID, privacy.HoldRequest{Table: "test_voicemails", RecordID: vmRow, Reason: "complaint", ExpiresAt: ago(-5)}, admin); err != nil {
			t.Fatal(err)
		}
		rep, err := e.eng.Sweep(ctx, privacy.SweepOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n := count(t, e.db, `SELECT COUNT(*) FROM cdrs WHERE id IN (?, ?)`, held.ID, ofB.ID); n != 2 {
			t.Fatal("held CDRs were swept")
		}
		if n := count(t, e.db, `SELECT COUNT(*) FROM cdrs WHERE id = ?`, free.ID); n != 0 {
			t.Fatal("unheld CDR survived")
		}
		if !fileExists(e, rec) {
			t.Fatal("recording of a held person was swept")
		}
		if got, _, err := e.files.Get(ctx, tn.ID, vm.ID); err != nil || string(got) != "voicemail in dispute" {
			t.Fatalf("file of a held voicemail row: %q %v", got, err)
		}
		if n := count(t, e.db, `SELECT COUNT(*) FROM test_voicemails WHERE id = ?`, vmRow); n != 1 {
			t.Fatal("held voicemail row removed")
		}
		// Held and kept: two CDRs (one held as a record, one of the held person), two content
		// files (the held person's recording, the file of the held voicemail row) and the
		// voicemail row.
		heldBy := map[string]int64{}
		for _, tr := range rep.Tables {
			heldBy[tr.Table] += tr.Held
		}
		if want := (map[string]int64{"cdrs": 2, "content_files": 2, "test_voicemails": 1}); fmt.Sprint(heldBy) != fmt.Sprint(want) {
			t.Fatalf("report counts held rows %v, want %v: %+v", heldBy, want, rep.Tables)
		}
		// Release one hold, let the other expire.
		if err := e.eng.ReleaseHold(ctx, tn.ID, h1.ID, admin); err != nil {
			t.Fatal(err)
		}
		if err := e.eng.ReleaseHold(ctx, tn.ID, h1.ID, admin); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second release: %v", err)
		}
		late := privacy.New(privacy.Deps{DB: e.db, Files: e.files, Vault: e.vault}, privacy.Options{Now: func() int64 { return ago(-31) }})
		rep, err = late.Sweep(ctx, privacy.SweepOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.HoldsExpired != 2 {
			t.Fatalf("holds expired: %d", rep.HoldsExpired)
		}
		if n := count(t, e.db, `SELECT COUNT(*) FROM cdrs WHERE id IN (?, ?)`, held.ID, ofB.ID); n != 0 {
			t.Fatal("CDRs survived after their holds ended")
		}
		if fileExists(e, rec) || fileExists(e, vm) {
			t.Fatal("files survived after their holds ended")
		}
		got, err := e.db.LegalHold(ctx, tn.ID, h2.ID)
		if err != nil || got.ReleasedAt == nil || got.ReleasedBy != "expiry" {
			t.Fatalf("expired hold not closed: %+v %v", got, err)
		}
		var actions []string
		es, _ := e.db.QueryAudit(ctx, store.AuditQuery{Action: "hold."})
		for _, en := range es {
			actions = append(actions, en.Action+":"+en.Actor)
		}
		if strings.Join(actions, " ") != "hold.place:user:1 hold.place:user:1 hold.place:user:1 hold.release:user:1 hold.expire:system hold.expire:system" {
			t.Fatalf("audited hold actions: %v", actions)
		}
		if es[0].SourceIP != "192.0.2.1" || !strings.Contains(es[0].Detail, "table=cdrs") {
			t.Fatalf("hold audit entry %+v", es[0])
		}
	})
}
