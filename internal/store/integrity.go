package store

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/ncruces/go-sqlite3"
)

// dbState is what a DB shares with the transactions it opens.
type dbState struct {
	sealer SecretSealer
	// corrupt holds the first corruption error a store call returned.
	corrupt atomic.Pointer[error]
}

// ErrCorrupt is matched (errors.Is) by Healthy's error once the database reported damage.
var ErrCorrupt = errors.New("store: the database reports corruption")

// IsCorruption reports whether an error is the engine saying its files are damaged: SQLite's
// SQLITE_CORRUPT or SQLITE_NOTADB, PostgreSQL's data_corrupted or index_corrupted.
func IsCorruption(err error) bool {
	if errors.Is(err, sqlite3.CORRUPT) || errors.Is(err, sqlite3.NOTADB) {
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "XX001" || pg.Code == "XX002"
	}
	return false
}

// note remembers a corruption error and returns err unchanged.
func (db *DB) note(err error) error {
	if err != nil && db.state != nil && IsCorruption(err) {
		db.state.corrupt.CompareAndSwap(nil, &err)
	}
	return err
}

// Healthy is the store's readiness: the database answers, and no store call has returned a
// corruption error since it was opened (run privox fsck; only a restart clears it).
func (db *DB) Healthy(ctx context.Context) error {
	if p := db.state.corrupt.Load(); p != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, *p)
	}
	return db.note(db.sql.PingContext(ctx))
}

// IntegrityReport is what the engine's own consistency check of the database found.
type IntegrityReport struct {
	Engine Engine `json:"engine"`
	// Check names the check that ran ("integrity_check", "amcheck bt_index_check").
	Check string `json:"check,omitempty"`
	// Unavailable says why no check ran (PostgreSQL without amcheck).
	Unavailable string `json:"unavailable,omitempty"`
	// Objects counts what was checked (PostgreSQL: indexes).
	Objects  int      `json:"objects,omitempty"`
	Problems []string `json:"problems,omitempty"`
}

// OK reports whether the check found nothing (an unavailable check found nothing either).
func (r IntegrityReport) OK() bool { return len(r.Problems) == 0 }

// maxIntegrityProblems bounds the messages SQLite's integrity check returns.
const maxIntegrityProblems = 100

// CheckIntegrity runs the engine's own check of its files: SQLite's PRAGMA integrity_check
// (every page, every index against its table), or on PostgreSQL amcheck's bt_index_check of
// every B-tree index in the schema when the amcheck extension is installed.
func (db *DB) CheckIntegrity(ctx context.Context) (IntegrityReport, error) {
	rep := IntegrityReport{Engine: db.engine}
	switch db.engine {
	case SQLite:
		rep.Check = "integrity_check"
		rows, err := db.sql.QueryContext(ctx, fmt.Sprintf("PRAGMA integrity_check(%d)", maxIntegrityProblems))
		if err != nil {
			if IsCorruption(db.note(err)) {
				rep.Problems = append(rep.Problems, err.Error())
				return rep, nil
			}
			return rep, fmt.Errorf("store: integrity check: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var msg string
			if err := rows.Scan(&msg); err != nil {
				return rep, err
			}
			if msg != "ok" {
				rep.Problems = append(rep.Problems, msg)
			}
		}
		if err := rows.Err(); err != nil {
			if !IsCorruption(db.note(err)) {
				return rep, fmt.Errorf("store: integrity check: %w", err)
			}
			rep.Problems = append(rep.Problems, err.Error())
		}
		if len(rep.Problems) > 0 {
			db.state.corrupt.CompareAndSwap(nil, ptr(fmt.Errorf("integrity check: %s", rep.Problems[0])))
		}
		return rep, nil
	case Postgres:
		rep.Check = "amcheck bt_index_check"
		var n int
		if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_extension WHERE extname = 'amcheck'`).Scan(&n); err != nil {
			return rep, fmt.Errorf("store: integrity check: %w", err)
		}
		if n == 0 {
			rep.Check = ""
			rep.Unavailable = "amcheck is not installed in this database (CREATE EXTENSION amcheck; as a superuser enables the index check)"
			return rep, nil
		}
		rows, err := db.sql.QueryContext(ctx, `SELECT c.oid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			JOIN pg_am am ON am.oid = c.relam JOIN pg_namespace ns ON ns.oid = c.relnamespace
			WHERE am.amname = 'btree' AND ns.nspname = current_schema() ORDER BY 1`)
		if err != nil {
			return rep, fmt.Errorf("store: integrity check: %w", err)
		}
		var idx []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				rows.Close()
				return rep, err
			}
			idx = append(idx, name)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return rep, err
		}
		for _, name := range idx {
			if _, err := db.sql.ExecContext(ctx, `SELECT bt_index_check($1::regclass)`, name); err != nil {
				db.note(err)
				rep.Problems = append(rep.Problems, fmt.Sprintf("index %s: %v", name, err))
			}
			rep.Objects++
		}
		return rep, nil
	}
	return rep, fmt.Errorf("store: integrity check: unknown engine %q", db.engine)
}

func ptr[T any](v T) *T { return &v }
