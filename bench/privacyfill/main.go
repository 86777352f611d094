// Command privacyfill fills a Privox database with expired call detail records for the
// benchmark of call set-up during a retention sweep (bench/sweep_calls.sh). It writes through
// large INSERT … SELECT statements while Privox keeps running on the same database.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/store"
)

// openEmbedded opens the installation's SQLite database, with the key vault's database key
// when it is encrypted (the default).
func openEmbedded(ctx context.Context, data, path string) (*store.DB, error) {
	st, err := store.SQLiteFileState(path)
	if err != nil {
		return nil, err
	}
	if st != store.FileOther {
		return store.Open(ctx, store.SQLite, path)
	}
	v, err := keys.Open(keys.DefaultDir(data))
	if err != nil {
		return nil, err
	}
	key, err := v.DatabaseKey(false)
	if err != nil {
		return nil, fmt.Errorf("database key: %w", err)
	}
	return store.OpenSQLite(ctx, path, key)
}

func main() {
	data := flag.String("data", "", "data directory of an SQLite installation")
	dsn := flag.String("dsn", "", "PostgreSQL connection string (instead of -data)")
	tenant := flag.String("tenant", "default", "tenant name")
	n := flag.Int("cdrs", 1_000_000, "number of CDRs")
	days := flag.Int("days", 8, "age of the newest CDR in days")
	flag.Parse()
	if err := run(*data, *dsn, *tenant, *n, *days); err != nil {
		fmt.Fprintln(os.Stderr, "privacyfill:", err)
		os.Exit(1)
	}
}

func run(data, dsn, tenant string, n, days int) error {
	ctx := context.Background()
	engine, target := store.SQLite, filepath.Join(data, "privox.db")
	if dsn != "" {
		engine, target = store.Postgres, dsn
	}
	var db *store.DB
	var err error
	if engine == store.SQLite {
		db, err = openEmbedded(ctx, data, target)
	} else {
		db, err = store.Open(ctx, engine, target)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	t, err := db.TenantByName(ctx, tenant)
	if err != nil {
		return fmt.Errorf("tenant %s: %w", tenant, err)
	}
	start := time.Now().Add(-time.Duration(days) * 24 * time.Hour).UnixMilli()
	const chunk = 200_000
	for done := 0; done < n; done += chunk {
		k := min(chunk, n-done)
		sel := `SELECT CAST(? AS BIGINT), 'fill-' || CAST(i + ? AS TEXT), '+4930' || CAST(1000000 + i AS TEXT), '+4989' || CAST(2000000 + i AS TEXT),
			'outbound', 'trunk-' || CAST(i % 3 AS TEXT), ? - (i + ?) * 1000, ? - (i + ?) * 1000 + 60000, 60000, 200`
		cols := `tenant_id, call_id, caller, callee, direction, trunk, start_at, end_at, duration_ms, cause`
		q := `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?) INSERT INTO cdrs (` + cols + `) ` + sel + ` FROM s`
		args := []any{k, t.ID, done, start, done, start, done}
		if engine == store.Postgres {
			q = `INSERT INTO cdrs (` + cols + `) ` + sel + ` FROM generate_series(1, CAST(? AS BIGINT)) AS s(i)`
			args = append(args[1:], k)
		}
		if _, err := db.Exec(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}
