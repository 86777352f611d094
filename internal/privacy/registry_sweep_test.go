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
	"github.com/privox/privox/internal/tenancy"
)

// rowMaker adds one record to a table through the code that writes it and returns its id;
// the sweep test then sets the record's declared time or expiry column.
type rowMaker func(t *testing.T, e *env, tid, uid int64) int64

var seq int

var rowMakers = map[string]rowMaker{
	"api_tokens": func(t *testing.T, e *env, tid, uid int64) int64 {
		exp := ago(-1)
		_, tok, err := tenancy.CreateToken(context.Background(), e.db, tid, uid, "t", &exp)
		if err != nil {
			t.Fatal(err)
		}
		return tok.ID
	},
	"sessions": func(t *testing.T, e *env, tid, uid int64) int64 {
		seq++
		s, err := e.db.CreateSession(context.Background(), store.Session{TenantID: tid, UserID: uid, CSRF: "c", ExpiresAt: ago(-1)}, fmt.Sprintf("digest-%d", seq))
		if err != nil {
			t.Fatal(err)
		}
		return s.ID
	},
	"registrations": func(t *testing.T, e *env, tid, uid int64) int64 {
		seq++
		ctx := context.Background()
		ext, err := e.db.CreateExtension(ctx, store.Extension{TenantID: tid, UserID: &uid, Number: fmt.Sprint(2000 + seq)}, store.SIPSecret{Realm: "r"})
		if err != nil {
			t.Fatal(err)
		}
		reg := store.Registration{TenantID: tid, UserID: &uid, ExtensionID: ext.ID, Number: ext.Number, AOR: "sip:" + ext.Number + "@r", Contact: "sip:x@192.0.2.1",
			SourceIP: "192.0.2.1", SourcePort: 5060, Transport: "UDP", ExpiresAt: ago(-1), UpdatedAt: ago(0)}
		if err := e.db.SaveRegistrations(ctx, []store.Registration{reg}, nil); err != nil {
			t.Fatal(err)
		}
		return lastID(t, e, "registrations")
	},
	"cdrs": func(t *testing.T, e *env, tid, uid int64) int64 {
		return e.cdr(t, tid, ago(0), &uid, nil, "").ID
	},
	"call_journal": func(t *testing.T, e *env, tid, uid int64) int64 {
		seq++
		id := fmt.Sprintf("j%d", seq)
		_, err := e.db.RecordCall(context.Background(), store.CDR{TenantID: tid, CallID: id, Caller: "1", Callee: "2", Direction: "internal", StartAt: ago(0), EndAt: ago(0), Cause: 200},
			[]store.JournalEntry{{TenantID: tid, UserID: uid, CallID: id, Direction: "out", PeerNumber: "2", StartAt: ago(0), Cause: 200}})
		if err != nil {
			t.Fatal(err)
		}
		return lastID(t, e, "call_journal")
	},
	"content_files": func(t *testing.T, e *env, tid, uid int64) int64 {
		return e.file(t, tid, &uid, filestore.KindFax, ago(0), []byte("fax")).ID
	},
	"test_voicemails": func(t *testing.T, e *env, tid, uid int64) int64 {
		_, row := e.voicemail(t, tid, uid, ago(0), []byte("vm"))
		return row
	},
	"voicemail_messages": func(t *testing.T, e *env, tid, uid int64) int64 {
		seq++
		ctx := context.Background()
		ext, err := e.db.CreateExtension(ctx, store.Extension{TenantID: tid, UserID: &uid, Number: fmt.Sprint(3000 + seq)}, store.SIPSecret{Realm: "r"})
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.db.EnsureVoicemailBox(ctx, tid, ext.ID)
		if err != nil {
			t.Fatal(err)
		}
		var id int64
		if _, err := e.files.Put(ctx, tid, &uid, filestore.KindVoicemail, []byte("RIFF message"), ago(0), func(tx *store.DB, f store.ContentFile) error {
			m, err := tx.InsertVoicemailMessage(ctx, store.VoicemailMessage{TenantID: tid, BoxID: b.ID, UserID: &uid, FileID: f.ID, CreatedAt: ago(0), DurationMS: 1000, ExpiresAt: ago(-90)})
			id = m.ID
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return id
	},
	"voicemail_mail": func(t *testing.T, e *env, tid, uid int64) int64 {
		seq++
		ctx := context.Background()
		ext, err := e.db.CreateExtension(ctx, store.Extension{TenantID: tid, UserID: &uid, Number: fmt.Sprint(4000 + seq)}, store.SIPSecret{Realm: "r"})
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.db.EnsureVoicemailBox(ctx, tid, ext.ID)
		if err != nil {
			t.Fatal(err)
		}
		d, err := e.db.EnqueueVoicemailMail(ctx, store.VoicemailMessage{TenantID: tid, BoxID: b.ID, UserID: &uid, ID: int64(seq)}, ago(0))
		if err != nil {
			t.Fatal(err)
		}
		return d.ID
	},
	"audit_log": func(t *testing.T, e *env, tid, uid int64) int64 {
		en, err := e.db.AppendAudit(context.Background(), store.AuditEntry{TenantID: &tid, Actor: "test", Action: "test", TargetType: "tenant", TargetID: "1"})
		if err != nil {
			t.Fatal(err)
		}
		return en.ID
	},
	"erasures": func(t *testing.T, e *env, tid, uid int64) int64 {
		var id int64
		if err := e.db.QueryRow(context.Background(), `INSERT INTO erasures (tenant_id, user_id, requested_at, requested_by, completed_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			tid, uid, ago(0), "cli", ago(0)).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	},
	"legal_holds": func(t *testing.T, e *env, tid, uid int64) int64 {
		h, err := e.eng.PlaceHold(context.Background(), tid, privacy.HoldRequest{UserID: uid, Reason: "r", ExpiresAt: ago(-1)}, privacy.System)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.eng.ReleaseHold(context.Background(), tid, h.ID, privacy.System); err != nil {
			t.Fatal(err)
		}
		return h.ID
	},
}

// expiryElsewhere names tables with an expiry column whose records end another way.
var expiryElsewhere = map[string]string{
	"legal_holds": "a hold past its expiry is closed (released_at), and closed holds go by their time column",
}

func lastID(t *testing.T, e *env, table string) int64 {
	t.Helper()
	var id int64
	if err := e.db.QueryRow(context.Background(), `SELECT MAX(id) FROM `+table).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestSweepEveryTimedTable is driven by the registry and checked against the schema. Every
// column of the schema named like an expiry must be the table's declared expiry column, and
// every table of a category that some preset gives a period must declare a time column, so
// that a table cannot drop out of the sweep by losing its declaration. Then, for every table
// with an expiry column, a record past its expiry goes and one before it stays; and for every
// table with a time column, under a rule of 5 days for its category, a record of 10 days
// goes and one of a day stays.
func TestSweepEveryTimedTable(t *testing.T) {
	runEngines(t, privacy.Options{BatchSize: 3}, func(t *testing.T, e *env) {
		ctx := context.Background()
		names, err := e.db.TableNames(ctx)
		if err != nil {
			t.Fatal(err)
		}
		timedSomewhere := map[datacat.Category]bool{}
		for _, preset := range []string{"default", "eu", "de"} {
			rules, err := datacat.Preset(preset)
			if err != nil {
				t.Fatal(err)
			}
			for c, r := range rules {
				if r.Timed() {
					timedSomewhere[c] = true
				}
			}
		}
		for _, n := range names {
			tb, ok := datacat.LookupTable(n)
			if !ok {
				continue // the store's test reports it
			}
			for _, c := range columnsOf(t, e, n) {
				if strings.HasSuffix(c, "expires_at") && tb.ExpiresColumn != c && expiryElsewhere[n] == "" {
					t.Errorf("table %s has the expiry column %s but declares expiry column %q: its records would never expire", n, c, tb.ExpiresColumn)
				}
			}
			if timedSomewhere[tb.Category] && tb.TimeColumn == "" && tb.UserColumn != "id" && tb.TenantColumn != "id" {
				t.Errorf("table %s is of category %s, which has a period, but declares no time column", n, tb.Category)
			}
		}

		tn := e.tenant(t, "acme", "default")
		u := e.user(t, tn.ID, "u@acme.test")
		type probe struct {
			table, col, what string
			id               int64
			gone             bool
		}
		var probes []probe
		ruled := map[datacat.Category]bool{}
		for _, tb := range datacat.Tables() {
			if tb.TimeColumn == "" && tb.ExpiresColumn == "" {
				continue
			}
			if tb.TenantColumn == "id" || tb.UserColumn == "id" {
				continue // owner rows (tenants, users) end by their own rules, not by age
			}
			mk, ok := rowMakers[tb.Name]
			if !ok {
				t.Errorf("table %s has a time or expiry column but the sweep test cannot make a record of it: add a rowMaker", tb.Name)
				continue
			}
			set := func(col string, v int64) int64 {
				id := mk(t, e, tn.ID, u.ID)
				q := `UPDATE ` + tb.Name + ` SET ` + col + ` = ? WHERE id = ?`
				if tb.HashColumn != "" && v < ago(2) {
					// a chain is trimmed from its start: the record is old with all before it
					q = `UPDATE ` + tb.Name + ` SET ` + col + ` = ? WHERE id <= ?`
				}
				if _, err := e.db.Exec(ctx, q, v, id); err != nil {
					t.Fatal(err)
				}
				return id
			}
			if c := tb.ExpiresColumn; c != "" {
				probes = append(probes, probe{tb.Name, c, "expired a day ago", set(c, ago(1)), true},
					probe{tb.Name, c, "expiring tomorrow", set(c, ago(-1)), false})
			}
			if c := tb.TimeColumn; c != "" && c != tb.ExpiresColumn {
				if !ruled[tb.Category] {
					scope := tn.ID
					if tb.Category == datacat.Audit {
						scope = store.InstallationTenant
					}
					_, err := e.eng.SetRule(ctx, scope, privacy.RuleChange{Category: tb.Category, Mode: datacat.Delete, Days: 5}, privacy.System)
					if errors.Is(err, privacy.ErrInvalid) {
						t.Logf("%s: category %s takes no period (%v); its expiry is tested", tb.Name, tb.Category, err)
						continue
					} else if err != nil {
						t.Fatal(err)
					}
					ruled[tb.Category] = true
				}
				probes = append(probes, probe{tb.Name, c, "10 days old", set(c, ago(10)), true},
					probe{tb.Name, c, "a day old", set(c, ago(1)), false})
			}
		}
		if _, err := e.eng.Sweep(ctx, privacy.SweepOptions{}); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, p := range probes {
			seen[p.table] = true
			n := count(t, e.db, `SELECT COUNT(*) FROM `+p.table+` WHERE id = ?`, p.id)
			if p.gone && n != 0 {
				t.Errorf("%s: a record %s (%s) survived the sweep", p.table, p.what, p.col)
			}
			if !p.gone && n != 1 {
				t.Errorf("%s: a record %s (%s) was swept", p.table, p.what, p.col)
			}
		}
		for _, want := range []string{"registrations", "api_tokens", "sessions", "audit_log", "erasures", "legal_holds", "cdrs", "content_files"} {
			if !seen[want] {
				t.Errorf("the sweep test did not cover %s", want)
			}
		}
	})
}

func columnsOf(t *testing.T, e *env, table string) []string {
	t.Helper()
	rows, err := e.db.Query(context.Background(), `SELECT * FROM `+table+` WHERE 1 = 0`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	return cols
}
