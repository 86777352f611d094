package store

import (
	"context"
	"fmt"
	"regexp"
	"time"
)

var tableName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Scrub makes rows deleted or overwritten a moment ago unreadable in the database files, not
// only in the tables. On SQLite, secure_delete (set on every connection at open) has zeroed
// them in the database pages; Scrub checkpoints the write-ahead log into the database and
// truncates it to zero bytes, since the log still holds the pages as they were before. On
// PostgreSQL it vacuums the given tables, which frees the dead row versions (their space is
// reused by later writes; VACUUM FULL, which rewrites the files, would lock the tables).
// The privacy engine runs it after every erasure and every sweep that removed something.
func (db *DB) Scrub(ctx context.Context, tables ...string) error {
	switch db.engine {
	case SQLite:
		// A checkpoint cannot pass readers that still use old frames of the log; they are
		// short (one query), so try again for a while.
		var busy, logFrames, done int
		for try := 0; ; try++ {
			if err := db.sql.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done); err != nil {
				return fmt.Errorf("store: checkpoint: %w", err)
			}
			if busy == 0 {
				return nil
			}
			if try == 50 {
				return fmt.Errorf("store: checkpoint: the write-ahead log is still in use after %d tries", try)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	case Postgres:
		for _, t := range tables {
			if !tableName.MatchString(t) {
				return fmt.Errorf("store: vacuum: invalid table name %q", t)
			}
			if _, err := db.sql.ExecContext(ctx, `VACUUM `+t); err != nil {
				return fmt.Errorf("store: vacuum %s: %w", t, err)
			}
		}
	}
	return nil
}
