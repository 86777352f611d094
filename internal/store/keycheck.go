package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/ncruces/go-sqlite3"
)

// keyCheckSize is how much of the database file CheckSQLiteKey copies: the largest SQLite
// page, so that the copy holds the whole first page whatever the page size.
const keyCheckSize = 64 << 10

// CheckSQLiteKey reports whether key decrypts the encrypted database file at path: nil when
// it does, ErrWrongKey when it does not (a wrong key, a vault from another installation, or a
// damaged first page). It reads a copy of the head of the file, never the database itself:
// opening the database with a wrong key would let SQLite take the write-ahead log, which it
// cannot read under that key, for an empty one and delete it when the connection closes.
func CheckSQLiteKey(ctx context.Context, path string, key []byte) error {
	if len(key) != KeySize {
		return fmt.Errorf("store: database key has %d bytes, want %d", len(key), KeySize)
	}
	src, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("store: read database file: %w", err)
	}
	defer src.Close()
	cp := path + ".keycheck"
	dst, err := os.OpenFile(cp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("store: check database key: %w", err)
	}
	defer os.Remove(cp)
	_, err = io.Copy(dst, io.LimitReader(src, keyCheckSize))
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: check database key: %w", err)
	}
	// immutable: the copy is read as it is, without locks, journals or a write-ahead log.
	cdb, err := sql.Open("sqlite3", "file:"+escapePath(cp)+"?immutable=1&vfs=adiantum&hexkey="+hex.EncodeToString(key))
	if err != nil {
		return err
	}
	defer cdb.Close()
	var v int64
	err = cdb.QueryRowContext(ctx, `PRAGMA schema_version`).Scan(&v)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sqlite3.NOTADB):
		return fmt.Errorf("%w: %s", ErrWrongKey, path)
	case errors.Is(err, sqlite3.CORRUPT):
		// The first page decrypted (its header is SQLite's) but the copy ends early: the key
		// is the database's.
		return nil
	}
	return fmt.Errorf("store: check database key: %w", err)
}
