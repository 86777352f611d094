package store

import (
	"context"
	"database/sql"
	"strings"
	"sync"
)

// maxCachedStatements bounds the statement cache: the queries are the code's own texts, so a
// few hundred cover them; a text beyond the bound runs unprepared, as every text did before.
const maxCachedStatements = 1024

// stmtCache keeps one prepared statement per query text for the embedded database, so that
// SQLite parses and plans a query once per connection rather than at every call (a call's
// routing and an application's prompt lookups ran the parser more than the query itself).
// PostgreSQL needs none: pgx caches its statements per connection itself.
type stmtCache struct {
	db    *sql.DB
	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}}
}

// cacheable reports whether q is a single data statement worth keeping prepared: SELECT,
// INSERT, UPDATE, DELETE or WITH. Schema changes, pragmas and statements naming a file (VACUUM
// INTO) are run as they come.
func cacheable(q string) bool {
	q = strings.TrimLeft(q, " \t\r\n")
	if len(q) < 6 {
		return false
	}
	switch strings.ToUpper(q[:4]) {
	case "SELE", "INSE", "UPDA", "DELE", "WITH":
		return true
	}
	return false
}

// get returns the prepared statement for q, preparing it the first time; nil when q is not
// cached (not cacheable, the cache is full, or it does not prepare as one statement: the
// caller then runs it directly and gets the driver's own error, if any).
func (c *stmtCache) get(ctx context.Context, q string) *sql.Stmt {
	c.mu.RLock()
	st, ok := c.stmts[q]
	n := len(c.stmts)
	c.mu.RUnlock()
	if ok || n >= maxCachedStatements || !cacheable(q) {
		return st
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.stmts[q]; ok { // prepared meanwhile by another caller
		st.Close()
		return prev
	}
	if len(c.stmts) >= maxCachedStatements {
		st.Close()
		return nil
	}
	c.stmts[q] = st
	return st
}

// close closes every cached statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.stmts {
		st.Close()
		delete(c.stmts, q)
	}
}

// stmt returns the cached statement for q bound to db's transaction when db is one; nil when
// q runs unprepared.
func (db *DB) stmt(ctx context.Context, q string) *sql.Stmt {
	if db.stmts == nil {
		return nil
	}
	st := db.stmts.get(ctx, q)
	if st == nil || !db.tx {
		return st
	}
	tx, ok := db.q.(*sql.Tx)
	if !ok {
		return nil
	}
	return tx.StmtContext(ctx, st) // closed with the transaction
}
