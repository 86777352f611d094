package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	_ "github.com/ncruces/go-sqlite3/vfs/xts"
	"github.com/privox/privox/internal/keys"
	_ "modernc.org/sqlite" // the driver before ncruces/go-sqlite3, measured for comparison only
)

// BenchmarkEngines measures the candidates for the embedded database on the store work of
// Privox's hot paths, every candidate with the same pragmas (WAL, synchronous=NORMAL,
// secure_delete, immediate transactions) and the same migrated schema:
//
//   - modernc: modernc.org/sqlite, clear (the driver before encryption);
//   - ncruces: ncruces/go-sqlite3, clear (database.encrypt: false);
//   - adiantum: ncruces/go-sqlite3 with the Adiantum VFS (the default);
//   - xts: ncruces/go-sqlite3 with the AES-XTS VFS.
//
// and the operations:
//
//   - register: what one REGISTER costs the store when the registrar's credential cache
//     misses: the extension and its secret by SIP user name, and the binding written;
//   - cdr: one finished call, CDR and call-journal entry in one transaction;
//   - sweep: expired CDRs deleted in batches of 1,000, one transaction each (rows/s);
//   - export: one user's CDRs and journal read page by page (rows/s).
//
// docs/database-encryption.md has the figures of this machine. Sizes: PRIVOX_BENCH_ENGINE_ROWS
// (20,000 rows for sweep and export).
func BenchmarkEngines(b *testing.B) {
	rows := 20_000
	if v, err := strconv.Atoi(os.Getenv("PRIVOX_BENCH_ENGINE_ROWS")); err == nil && v > 0 {
		rows = v
	}
	for _, eng := range benchEngines {
		b.Run(eng.name+"/register", func(b *testing.B) { benchRegister(b, eng) })
		b.Run(eng.name+"/cdr", func(b *testing.B) { benchCDR(b, eng) })
		b.Run(eng.name+"/sweep", func(b *testing.B) { benchEngineSweep(b, eng, rows) })
		b.Run(eng.name+"/export", func(b *testing.B) { benchEngineExport(b, eng, rows) })
	}
}

type benchEngine struct {
	name string
	open func(b *testing.B, path string) *DB
}

const benchPragmas = "_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=secure_delete(ON)&_txlock=immediate"

var benchEngines = []benchEngine{
	{"modernc", func(b *testing.B, path string) *DB { return benchOpen(b, "sqlite", "file:"+path+"?"+benchPragmas) }},
	{"ncruces", func(b *testing.B, path string) *DB { return benchOpen(b, "sqlite3", sqliteDSN(path, nil)) }},
	{"adiantum", func(b *testing.B, path string) *DB { return benchOpen(b, "sqlite3", sqliteDSN(path, benchKey(b, 32))) }},
	{"xts", func(b *testing.B, path string) *DB {
		return benchOpen(b, "sqlite3", "file:"+escapePath(path)+"?vfs=xts&hexkey="+hex.EncodeToString(benchKey(b, 64))+"&"+benchPragmas)
	}},
}

func benchKey(b *testing.B, n int) []byte {
	k := make([]byte, n)
	rand.Read(k)
	return k
}

func benchOpen(b *testing.B, driver, dsn string) *DB {
	b.Helper()
	sdb, err := sql.Open(driver, dsn)
	if err != nil {
		b.Fatal(err)
	}
	sdb.SetMaxOpenConns(8)
	db, err := startDB(context.Background(), sdb, SQLite, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	vault, err := keys.Open(filepath.Join(b.TempDir(), "keys"))
	if err != nil {
		b.Fatal(err)
	}
	db.SetSecretSealer(vault)
	return db
}

// benchTenant makes a tenant, a user and n extensions (u1..un, numbers 100001…).
func benchTenant(b *testing.B, db *DB, n int) (Tenant, User, []Extension) {
	ctx := context.Background()
	tn, err := db.CreateTenant(ctx, Tenant{Name: "bench", SIPDomain: "bench.test"})
	if err != nil {
		b.Fatal(err)
	}
	u, err := db.CreateUser(ctx, User{TenantID: tn.ID, Name: "Bench User", Email: "bench@example.org", Language: "en", Role: "user", Active: true})
	if err != nil {
		b.Fatal(err)
	}
	exts := make([]Extension, n)
	for i := range exts {
		exts[i], err = db.CreateExtension(ctx, Extension{TenantID: tn.ID, UserID: &u.ID, Number: strconv.Itoa(100001 + i), SIPUsername: "u" + strconv.Itoa(i+1)},
			SIPSecret{Realm: "bench.test", HA1MD5: "0123456789abcdef0123456789abcdef", HA1SHA256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"})
		if err != nil {
			b.Fatal(err)
		}
	}
	return tn, u, exts
}

func benchRegister(b *testing.B, eng benchEngine) {
	ctx := context.Background()
	db := eng.open(b, filepath.Join(b.TempDir(), "privox.db"))
	const n = 1000
	tn, _, exts := benchTenant(b, db, n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := exts[i%n]
		if _, _, err := db.ExtensionByUsername(ctx, tn.ID, e.SIPUsername); err != nil {
			b.Fatal(err)
		}
		now := Now()
		if err := db.SaveRegistrations(ctx, []Registration{{TenantID: tn.ID, ExtensionID: e.ID, AOR: "sip:" + e.SIPUsername + "@bench.test",
			Contact: "<sip:" + e.SIPUsername + "@198.51.100.7:5060>", SourceIP: "198.51.100.7", SourcePort: 5060, Transport: "udp",
			UserAgent: "bench", Node: "n1", ExpiresAt: now + 3600_000, UpdatedAt: now}}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func benchCDR(b *testing.B, eng benchEngine) {
	ctx := context.Background()
	db := eng.open(b, filepath.Join(b.TempDir(), "privox.db"))
	tn, u, _ := benchTenant(b, db, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now := Now()
		id := "bench-" + strconv.Itoa(i)
		if _, err := db.RecordCall(ctx, CDR{TenantID: tn.ID, CallID: id, Caller: "+493012345678", Callee: "100001", CalleeUserID: &u.ID,
			Direction: "inbound", StartAt: now - 60_000, EndAt: now, DurationMS: 60_000, Cause: 200},
			[]JournalEntry{{TenantID: tn.ID, UserID: u.ID, CallID: id, Direction: "in", PeerNumber: "+493012345678", StartAt: now - 60_000, Answered: true, DurationMS: 60_000, Cause: 200}}); err != nil {
			b.Fatal(err)
		}
	}
}

// benchFill inserts n CDRs and journal entries of a user, one a second backwards from start.
func benchFill(b *testing.B, db *DB, tid, uid int64, n int, start int64) {
	ctx := context.Background()
	if _, err := db.Exec(ctx, `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?)
		INSERT INTO cdrs (tenant_id, call_id, caller, callee, caller_user_id, direction, trunk, start_at, answer_at, end_at, duration_ms, cause)
		SELECT ?, 'bench-' || i, '+4930' || (1000000 + i), '+4989' || (2000000 + i), ?, 'outbound', 'trunk-1', ? - i * 1000, ? - i * 1000 + 2000, ? - i * 1000 + 62000, 60000, 200 FROM s`,
		n, tid, uid, start, start, start); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(ctx, `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?)
		INSERT INTO call_journal (tenant_id, user_id, call_id, direction, peer_number, start_at, answered, duration_ms, cause)
		SELECT ?, ?, 'bench-' || i, 'out', '+4989' || (2000000 + i), ? - i * 1000, 1, 60000, 200 FROM s`, n, tid, uid, start); err != nil {
		b.Fatal(err)
	}
}

func benchEngineSweep(b *testing.B, eng benchEngine, rows int) {
	ctx := context.Background()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := eng.open(b, filepath.Join(b.TempDir(), fmt.Sprintf("privox-%d.db", i)))
		tn, u, _ := benchTenant(b, db, 1)
		old := Now() - 90*24*3600_000
		benchFill(b, db, tn.ID, u.ID, rows, old)
		b.StartTimer()
		t0 := time.Now()
		removed := 0
		for {
			res, err := db.Exec(ctx, `DELETE FROM cdrs WHERE id IN (SELECT id FROM cdrs WHERE tenant_id = ? AND start_at < ? ORDER BY id LIMIT 1000)`, tn.ID, old+1)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := res.RowsAffected()
			if n == 0 {
				break
			}
			removed += int(n)
		}
		total += time.Since(t0)
		if removed != rows {
			b.Fatalf("swept %d rows, want %d", removed, rows)
		}
	}
	b.ReportMetric(float64(rows*b.N)/total.Seconds(), "rows/s")
}

func benchEngineExport(b *testing.B, eng benchEngine, rows int) {
	ctx := context.Background()
	db := eng.open(b, filepath.Join(b.TempDir(), "privox.db"))
	tn, u, _ := benchTenant(b, db, 1)
	benchFill(b, db, tn.ID, u.ID, rows, Now())
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		n := 0
		for p := (Page{Limit: 1000}); ; {
			cs, err := db.ListCDRs(ctx, tn.ID, u.ID, p)
			if err != nil {
				b.Fatal(err)
			}
			n += len(cs)
			if len(cs) < p.Limit {
				break
			}
			p.After = cs[len(cs)-1].ID
		}
		for p := (Page{Limit: 1000}); ; {
			js, err := db.ListJournal(ctx, tn.ID, u.ID, p)
			if err != nil {
				b.Fatal(err)
			}
			n += len(js)
			if len(js) < p.Limit {
				break
			}
			p.After = js[len(js)-1].ID
		}
		if n != 2*rows {
			b.Fatalf("exported %d rows, want %d", n, 2*rows)
		}
	}
	b.ReportMetric(float64(2*rows*b.N)/time.Since(t0).Seconds(), "rows/s")
}
