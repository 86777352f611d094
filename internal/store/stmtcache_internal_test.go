package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func openCacheTest(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), SQLite, filepath.Join(t.TempDir(), "cache.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(context.Background(), `CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return db
}

func (c *stmtCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.stmts)
}

// TestStatementCache: data statements are prepared once and reused, inside transactions too;
// schema changes, pragmas and multi-statement texts run as before; the cache stays bounded.
func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	db := openCacheTest(t)
	if db.stmts == nil {
		t.Fatal("a SQLite store without a statement cache")
	}
	base := db.stmts.len() // the migrations' own lookups
	for i := range 3 {
		if _, err := db.Exec(ctx, `INSERT INTO kv (k, v) VALUES (?, ?)`, fmt.Sprint("k", i), i); err != nil {
			t.Fatal(err)
		}
	}
	var v int
	for i := range 3 {
		if err := db.QueryRow(ctx, `SELECT v FROM kv WHERE k = ?`, fmt.Sprint("k", i)).Scan(&v); err != nil || v != i {
			t.Fatalf("k%d: %d, %v", i, v, err)
		}
	}
	if err := db.QueryRow(ctx, `SELECT v FROM kv WHERE k = ?`, "none").Scan(&v); !errors.Is(err, ErrNotFound) && err.Error() != "sql: no rows in result set" {
		t.Fatalf("missing row: %v", err)
	}
	if n := db.stmts.len() - base; n != 2 {
		t.Fatalf("%d cached statements after one INSERT and one SELECT text, want 2", n)
	}
	// A transaction uses the cached statements on its connection and its writes stay its own.
	errRollback := errors.New("roll back")
	err := db.InTx(ctx, func(tx *DB) error {
		if _, err := tx.Exec(ctx, `INSERT INTO kv (k, v) VALUES (?, ?)`, "tx", 9); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT v FROM kv WHERE k = ?`, "tx").Scan(&v); err != nil || v != 9 {
			return fmt.Errorf("inside: %d, %v", v, err)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if err := db.QueryRow(ctx, `SELECT count(*) FROM kv WHERE k = ?`, "tx").Scan(&v); err != nil || v != 0 {
		t.Fatalf("after rollback: %d rows, %v", v, err)
	}
	// Not cached: two statements in one text, a pragma, a schema change.
	if _, err := db.Exec(ctx, `INSERT INTO kv (k, v) VALUES ('a', 1); INSERT INTO kv (k, v) VALUES ('b', 2)`); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(ctx, `SELECT count(*) FROM kv WHERE k IN ('a', 'b')`).Scan(&v); err != nil || v != 2 {
		t.Fatalf("multi-statement insert: %d rows, %v", v, err)
	}
	before := db.stmts.len()
	if _, err := db.Exec(ctx, `PRAGMA user_version = 7`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `CREATE INDEX kv_v ON kv (v)`); err != nil {
		t.Fatal(err)
	}
	if n := db.stmts.len(); n != before {
		t.Fatalf("pragma and schema change cached: %d statements, want %d", n, before)
	}
	// A cached statement survives the schema change (SQLite prepares it again itself).
	if err := db.QueryRow(ctx, `SELECT v FROM kv WHERE k = ?`, "k2").Scan(&v); err != nil || v != 2 {
		t.Fatalf("after schema change: %d, %v", v, err)
	}
	// Bounded: texts beyond the bound still run, unprepared.
	for i := range maxCachedStatements + 10 {
		if err := db.QueryRow(ctx, fmt.Sprintf(`SELECT v + %d FROM kv WHERE k = ?`, i), "k1").Scan(&v); err != nil || v != 1+i {
			t.Fatalf("text %d: %d, %v", i, v, err)
		}
	}
	if n := db.stmts.len(); n != maxCachedStatements {
		t.Fatalf("%d cached statements, want the bound %d", n, maxCachedStatements)
	}
}

// BenchmarkStatementCache: a one-row lookup by key (like a prompt or route lookup), prepared
// once against parsed at every call.
func BenchmarkStatementCache(b *testing.B) {
	ctx := context.Background()
	for _, cached := range []bool{true, false} {
		b.Run(map[bool]string{true: "cached", false: "unprepared"}[cached], func(b *testing.B) {
			db := openCacheTest(b)
			if !cached {
				db.stmts = nil
			}
			if _, err := db.Exec(ctx, `INSERT INTO kv (k, v) VALUES ('key', 1)`); err != nil {
				b.Fatal(err)
			}
			var v int
			for b.Loop() {
				if err := db.QueryRow(ctx, `SELECT v FROM kv WHERE k = ? AND v >= ? ORDER BY k LIMIT 1`, "key", 0).Scan(&v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCDRQueryPlans: the statements of a call's life read the index made for them, not a
// tenant's whole range of CDRs (SQLite's plan, checked with EXPLAIN QUERY PLAN).
func TestCDRQueryPlans(t *testing.T) {
	ctx := context.Background()
	db := openCacheTest(t)
	for _, c := range []struct {
		q, want string
	}{
		{`UPDATE cdrs SET end_at = 1, in_progress = FALSE WHERE tenant_id = 1 AND call_id = 'x' AND in_progress`, "USING INDEX cdrs_open (tenant_id=? AND call_id=?)"},
		{`UPDATE cdrs SET in_progress = FALSE, end_unknown = TRUE WHERE in_progress AND node = 'n'`, "cdrs_open"},
	} {
		rows, err := db.Query(ctx, `EXPLAIN QUERY PLAN `+c.q)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if got := fmt.Sprint(plan); !strings.Contains(got, c.want) {
			t.Errorf("%s\nplan %s, want %q", c.q, got, c.want)
		}
	}
}
