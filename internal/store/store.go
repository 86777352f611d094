// Package store owns Privox's SQL persistence on the embedded SQLite (ncruces/go-sqlite3, WAL,
// encrypted at rest with the Adiantum VFS: encrypt.go)
// and on PostgreSQL (pgx) with the same behaviour: append-only migrations for both engines,
// transactions, and one file per entity. Every table registers its data category with datacat
// in the file that defines it; a test fails when a migration creates a table the registry does
// not know.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// Engine names a database engine.
type Engine string

const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// Errors callers test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// DB is a handle on the store. Inside InTx the same methods run in the transaction.
type DB struct {
	sql    *sql.DB
	engine Engine
	q      querier
	tx     bool
	binds  *sync.Map  // query text → rebound text (PostgreSQL placeholders)
	state  *dbState   // shared with transactions: secrets.go, integrity.go
	key    []byte     // the embedded database's encryption key (nil: clear)
	bulk   bool       // a SQLite bulk-write transaction (contacts.go, bulkTx)
	stmts  *stmtCache // SQLite's prepared statements (stmtcache.go); nil for PostgreSQL
}

// Open opens (and creates) the database and applies pending migrations. For SQLite, dsn is a
// file path and the database is clear (tests, benchmarks of the clear form); for PostgreSQL,
// a connection string.
func Open(ctx context.Context, engine Engine, dsn string) (*DB, error) {
	return open(ctx, engine, dsn, nil)
}

// OpenSQLite opens (and creates) the embedded database at path encrypted with key (32 bytes),
// encrypting a clear database it finds there first, and applies pending migrations. A nil key
// opens it clear.
func OpenSQLite(ctx context.Context, path string, key []byte) (*DB, error) {
	return open(ctx, SQLite, path, key)
}

func open(ctx context.Context, engine Engine, dsn string, key []byte) (*DB, error) {
	var (
		sdb *sql.DB
		err error
	)
	switch engine {
	case SQLite:
		sdb, err = openSQLite(ctx, dsn, key)
	case Postgres:
		sdb, err = sql.Open("pgx", dsn)
		if err == nil {
			sdb.SetMaxOpenConns(32)
			sdb.SetConnMaxIdleTime(5 * time.Minute)
		}
	default:
		return nil, fmt.Errorf("store: unknown engine %q", engine)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", engine, err)
	}
	return startDB(ctx, sdb, engine, key)
}

// startDB wraps an opened handle, checks the connection and applies pending migrations.
func startDB(ctx context.Context, sdb *sql.DB, engine Engine, key []byte) (*DB, error) {
	db := &DB{sql: sdb, engine: engine, q: sdb, binds: &sync.Map{}, state: &dbState{}, key: key}
	if engine == SQLite {
		db.stmts = newStmtCache(sdb)
	}
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("store: connect to %s: %w", engine, err)
	}
	if err := db.migrate(ctx); err != nil {
		sdb.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the database.
func (db *DB) Close() error {
	if db.stmts != nil && !db.tx {
		db.stmts.close()
	}
	return db.sql.Close()
}

// Engine reports which engine is in use.
func (db *DB) Engine() Engine { return db.engine }

// SQL exposes the underlying handle for packages that run their own declared queries (the
// privacy engine's sweeper reads the registry and deletes in batches).
func (db *DB) SQL() *sql.DB { return db.sql }

// Ping checks the connection (readiness).
func (db *DB) Ping(ctx context.Context) error { return db.sql.PingContext(ctx) }

// InTx runs fn in a transaction; fn's DB runs every call inside it. A nested InTx joins the
// outer transaction.
func (db *DB) InTx(ctx context.Context, fn func(tx *DB) error) error {
	if db.tx {
		return fn(db)
	}
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", db.note(err))
	}
	inner := &DB{sql: db.sql, engine: db.engine, q: tx, tx: true, binds: db.binds, state: db.state, key: db.key, stmts: db.stmts}
	if err := fn(inner); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", db.note(mapErr(err)))
	}
	return nil
}

// Rebind turns ?-placeholders into the engine's form.
func (db *DB) Rebind(q string) string {
	if db.engine != Postgres {
		return q
	}
	if v, ok := db.binds.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	inStr := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c == '\'' {
			inStr = !inStr
		}
		if c == '?' && !inStr {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	out := b.String()
	db.binds.Store(q, out)
	return out
}

// Exec runs a statement with ?-placeholders.
func (db *DB) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := db.stmt(ctx, q); st != nil {
		r, err := st.ExecContext(ctx, args...)
		return r, db.note(mapErr(err))
	}
	r, err := db.q.ExecContext(ctx, db.Rebind(q), args...)
	return r, db.note(mapErr(err))
}

// Query runs a query with ?-placeholders.
func (db *DB) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := db.stmt(ctx, q); st != nil {
		r, err := st.QueryContext(ctx, args...)
		return r, db.note(mapErr(err))
	}
	r, err := db.q.QueryContext(ctx, db.Rebind(q), args...)
	return r, db.note(mapErr(err))
}

// QueryRow runs a single-row query with ?-placeholders.
func (db *DB) QueryRow(ctx context.Context, q string, args ...any) *Row {
	if st := db.stmt(ctx, q); st != nil {
		return &Row{row: st.QueryRowContext(ctx, args...), db: db}
	}
	return &Row{row: db.q.QueryRowContext(ctx, db.Rebind(q), args...), db: db}
}

// Row is the result of QueryRow. Its Scan reports a corruption error to the store's health
// like every other call: SQLite reads the row's pages only when it is scanned.
type Row struct {
	row *sql.Row
	db  *DB
}

// Scan copies the row's columns into dest (sql.ErrNoRows when there is none).
func (r *Row) Scan(dest ...any) error { return r.db.note(r.row.Scan(dest...)) }

// Err is the query's error, if any, without scanning.
func (r *Row) Err() error { return r.db.note(r.row.Err()) }

// prepare prepares a statement with ?-placeholders, for a statement run many times in a row.
func (db *DB) prepare(ctx context.Context, q string) (*sql.Stmt, error) {
	st, err := db.q.PrepareContext(ctx, db.Rebind(q))
	return st, db.note(mapErr(err))
}

// insertID runs an INSERT … RETURNING id.
func (db *DB) insertID(ctx context.Context, q string, args ...any) (int64, error) {
	var id int64
	if err := db.QueryRow(ctx, q+" RETURNING id", args...).Scan(&id); err != nil {
		return 0, db.note(mapErr(err))
	}
	return id, nil
}

// mapErr turns engine errors into ErrNotFound and ErrConflict.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23505" {
		return fmt.Errorf("%w: %s", ErrConflict, pg.ConstraintName)
	}
	if strings.Contains(err.Error(), "UNIQUE constraint failed") {
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return err
}

// Now is the store's clock in unix milliseconds (a variable so tests can move time).
var Now = func() int64 { return time.Now().UnixMilli() }

// Page is a keyset pagination request: at most Limit items after the cursor (After, the id
// of the previous page's last item, and AfterKey, its value in the Sort column), in
// ascending order or, with Desc, descending. Lists that sort by more than id name their
// columns; lists that search match Search as a substring (see pages.go).
type Page struct {
	After    int64
	Limit    int
	Sort     string
	Desc     bool
	AfterKey string
	Search   string
}

func (p Page) limit() int {
	if p.Limit <= 0 || p.Limit > 1000 {
		return 100
	}
	return p.Limit
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}
