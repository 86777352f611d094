package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/ncruces/go-sqlite3"
	_ "github.com/ncruces/go-sqlite3/driver" // registers the "sqlite3" driver
	_ "github.com/ncruces/go-sqlite3/vfs/adiantum"
)

// The embedded database is encrypted at rest with the Adiantum VFS of ncruces/go-sqlite3:
// every page of the database file, of the write-ahead log and of the journals SQLite writes
// is encrypted with a 32-byte key the caller holds (the key vault's database key), so that a
// copy of the data directory without the vault reveals no row. docs/database-encryption.md
// compares the candidates measured before choosing this one.

// KeySize is the size of the database key.
const KeySize = 32

// Errors of the encrypted embedded database, matched with errors.Is.
var (
	// ErrWrongKey: the file is neither a clear SQLite database nor readable with the key.
	ErrWrongKey = errors.New("store: the database cannot be decrypted with this key (a wrong key, a key vault from another installation, or a damaged first page)")
	// ErrEncryptedNoKey: the file is encrypted and no key was given.
	ErrEncryptedNoKey = errors.New("store: the database is encrypted and no key was given (the key vault's database key is missing)")
)

// sqliteHeader is how a clear SQLite database file begins.
var sqliteHeader = []byte("SQLite format 3\x00")

// FileState is what the first bytes of a database file say about it.
type FileState int

const (
	FileEmpty FileState = iota // missing or empty: a new database
	FileClear                  // a clear SQLite database
	FileOther                  // anything else: encrypted (or not a database)
)

// SQLiteFileState reads the head of the file at path.
func SQLiteFileState(path string) (FileState, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return FileEmpty, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: read database file: %w", err)
	}
	defer f.Close()
	head := make([]byte, len(sqliteHeader))
	n, err := io.ReadFull(f, head)
	switch {
	case n == 0:
		return FileEmpty, nil
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
		return 0, fmt.Errorf("store: read database file: %w", err)
	case bytes.Equal(head[:n], sqliteHeader):
		return FileClear, nil
	}
	return FileOther, nil
}

// sqliteDSN is the driver's connection string for a database file, encrypted when key is set.
func sqliteDSN(path string, key []byte) string {
	// secure_delete: deleted and overwritten rows are zeroed in the pages that held them, so
	// that erased data is not left readable in free space of the database file (under
	// encryption it is not readable anyway, but a key that leaks later must not bring it back).
	q := "_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=secure_delete(ON)&_txlock=immediate"
	if key != nil {
		q = "vfs=" + sqliteVFS + "&hexkey=" + hex.EncodeToString(key) + "&" + q
	}
	return "file:" + escapePath(path) + "?" + q
}

func escapePath(p string) string {
	return (&url.URL{Path: p}).EscapedPath()
}

// openSQLite opens the embedded database file; encrypted with key when key is not nil.
func openSQLite(ctx context.Context, path string, key []byte) (*sql.DB, error) {
	if key != nil && len(key) != KeySize {
		return nil, fmt.Errorf("store: database key has %d bytes, want %d", len(key), KeySize)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: create database directory: %w", err)
		}
	}
	removeStaleTemp(path)
	st, err := SQLiteFileState(path)
	if err != nil {
		return nil, err
	}
	switch {
	case key == nil && st == FileOther:
		return nil, fmt.Errorf("%w: %s", ErrEncryptedNoKey, path)
	case key != nil && st == FileClear:
		// A database from a release before encryption: encrypt it in place, crash-safe.
		if err := EncryptSQLite(ctx, path, key); err != nil {
			return nil, err
		}
	case key != nil && st == FileOther:
		// The key is tried on a copy of the first page before SQLite opens the database
		// (and its write-ahead log) with it.
		if err := CheckSQLiteKey(ctx, path, key); err != nil {
			return nil, err
		}
	}
	if err := secureSQLiteFiles(path); err != nil { // files.go
		return nil, err
	}
	sdb, err := sql.Open("sqlite3", sqliteDSN(path, key))
	if err != nil {
		return nil, err
	}
	// One writer at a time is SQLite's model; readers run alongside in WAL mode.
	sdb.SetMaxOpenConns(8)
	// Reading the schema reads (and decrypts) the first page: a wrong key fails here, not
	// later with an empty-looking database.
	var n int
	if err := sdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema`).Scan(&n); err != nil {
		sdb.Close()
		if errors.Is(err, sqlite3.NOTADB) {
			if key == nil {
				return nil, fmt.Errorf("store: %s is not an SQLite database: %w", path, err)
			}
			return nil, fmt.Errorf("%w: %s", ErrWrongKey, path)
		}
		if IsCorruption(err) {
			return nil, fmt.Errorf("store: the database %s is damaged (run privox fsck): %w", path, err)
		}
		return nil, fmt.Errorf("store: read database %s: %w", path, err)
	}
	return sdb, nil
}

// tempSuffix names the file a rewrite of the database (encrypt, rekey) writes before it
// replaces the database. A leftover one is an interrupted rewrite: the database is whole.
const tempSuffix = ".rewrite"

func removeStaleTemp(path string) {
	for _, s := range []string{"", "-journal", "-wal", "-shm"} {
		os.Remove(path + tempSuffix + s)
	}
	os.Remove(path + ".keycheck")
}

// EncryptSQLite turns the clear database file at path into one encrypted with key. The
// encrypted copy is written beside it by VACUUM INTO, synced, and renamed over the clear file,
// and the directory is synced: a crash at any point leaves the clear or the encrypted database
// whole (the next start finds the clear one and encrypts it again).
func EncryptSQLite(ctx context.Context, path string, key []byte) error {
	return rewriteSQLite(ctx, path, nil, key)
}

// RekeySQLite rewrites the database at path, encrypted with oldKey, under newKey, with the
// same crash-safety as EncryptSQLite. The caller keeps both keys until it returns.
func RekeySQLite(ctx context.Context, path string, oldKey, newKey []byte) error {
	return rewriteSQLite(ctx, path, oldKey, newKey)
}

func rewriteSQLite(ctx context.Context, path string, oldKey, newKey []byte) error {
	if len(newKey) != KeySize {
		return fmt.Errorf("store: database key has %d bytes, want %d", len(newKey), KeySize)
	}
	removeStaleTemp(path)
	if oldKey != nil {
		if err := CheckSQLiteKey(ctx, path, oldKey); err != nil {
			return err
		}
	}
	src, err := sql.Open("sqlite3", sqliteDSN(path, oldKey))
	if err != nil {
		return err
	}
	defer src.Close()
	src.SetMaxOpenConns(1)
	var n int
	if err := src.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema`).Scan(&n); err != nil {
		if errors.Is(err, sqlite3.NOTADB) && oldKey != nil {
			return fmt.Errorf("%w: %s", ErrWrongKey, path)
		}
		return fmt.Errorf("store: read database %s: %w", path, err)
	}
	// Everything in the write-ahead log goes into the database file first, so that no log
	// written under the old form is left to be replayed onto the new file.
	if _, err := src.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return fmt.Errorf("store: checkpoint before rewrite: %w", err)
	}
	tmp := path + tempSuffix
	target := "file:" + escapePath(tmp) + "?vfs=adiantum&hexkey=" + hex.EncodeToString(newKey)
	if _, err := src.ExecContext(ctx, `VACUUM INTO `+quote(target)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: write encrypted copy: %w", err)
	}
	if err := src.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	crashPoint("after-vacuum")
	if err := syncFile(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		os.Remove(tmp)
		return err
	}
	crashPoint("before-rename")
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: replace database: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return err
	}
	crashPoint("after-rename")
	for _, s := range []string{"-wal", "-shm"} {
		os.Remove(path + s)
	}
	return nil
}

// rewriteHook lets the crash tests stop the process at a point of a rewrite.
var rewriteHook func(point string)

// SetRewriteHook makes f run at each point of a rewrite of the database (EncryptSQLite,
// RekeySQLite): "after-vacuum", "before-rename", "after-rename". Only for the crash tests of
// the commands that rewrite the database; nil removes it.
func SetRewriteHook(f func(point string)) { rewriteHook = f }

func crashPoint(p string) {
	if rewriteHook != nil {
		rewriteHook(p)
	}
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("store: sync %s: %w", filepath.Base(path), err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: sync directory: %w", err)
	}
	return nil
}

// BackupSQLite writes a consistent copy of the running embedded database to out with VACUUM
// INTO, encrypted with the database's own key (a backup is as unreadable as the database).
func (db *DB) BackupSQLite(ctx context.Context, out string) error {
	if db.engine != SQLite {
		return fmt.Errorf("store: backup of %s is the operator's tool (pg_dump)", db.engine)
	}
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("store: backup %s already exists", out)
	}
	target := "file:" + escapePath(out)
	if db.key != nil {
		target += "?vfs=adiantum&hexkey=" + hex.EncodeToString(db.key)
	}
	if _, err := db.sql.ExecContext(ctx, `VACUUM INTO `+quote(target)); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	if err := os.Chmod(out, 0o600); err != nil {
		return err
	}
	return syncFile(out)
}
