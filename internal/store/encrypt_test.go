package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privox/privox/internal/store"
)

// Known values written to the database; none may appear in any file of the data directory.
var secretsAtRest = []string{"Zebulon Quackenbush", "zebulon.q@example.org", "+4930123987654", "198.51.100.77", "Quackenbush"}

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, store.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// fill writes the known values through the store, and leaves them in the write-ahead log too.
func fill(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	tn, err := db.CreateTenant(ctx, store.Tenant{Name: "acme", SIPDomain: "acme.test", AdminContact: secretsAtRest[1]})
	if err != nil {
		t.Fatal(err)
	}
	u, err := db.CreateUser(ctx, store.User{TenantID: tn.ID, Name: secretsAtRest[0], Email: secretsAtRest[1], Language: "en", Role: "user", Active: true})
	if err != nil {
		t.Fatal(err)
	}
	now := store.Now()
	if _, err := db.RecordCall(ctx, store.CDR{TenantID: tn.ID, CallID: "c1@" + secretsAtRest[3], Caller: secretsAtRest[2], Callee: "100",
		CallerUserID: &u.ID, Direction: "inbound", StartAt: now - 1000, EndAt: now, DurationMS: 1000, Cause: 200}, nil); err != nil {
		t.Fatal(err)
	}
}

// grepDir reports which known values appear in any file under dir.
func grepDir(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secretsAtRest {
			if bytes.Contains(b, []byte(s)) {
				found = append(found, filepath.Base(p)+": "+s)
			}
		}
		return nil
	})
	return found
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", from+"/.", to).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
}

// TestEncryptedAtRestGrep copies the data directory of a running (open) database, its
// write-ahead log and shared-memory file included, and finds none of the values written.
// The clear form, same test, finds them: the grep works.
func TestEncryptedAtRestGrep(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  bool
	}{{"clear", false}, {"encrypted", true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var key []byte
			if tc.key {
				key = newKey(t)
			}
			db, err := store.OpenSQLite(t.Context(), filepath.Join(dir, "privox.db"), key)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			fill(t, db)
			if _, err := os.Stat(filepath.Join(dir, "privox.db-wal")); err != nil {
				t.Fatalf("no write-ahead log to check: %v", err)
			}
			cp := t.TempDir()
			copyDir(t, dir, cp)
			found := grepDir(t, cp)
			if tc.key && len(found) > 0 {
				t.Fatalf("readable in the copied data directory: %v", found)
			}
			if !tc.key && len(found) == 0 {
				t.Fatal("the clear database shows nothing: the grep does not work")
			}
			// A backup taken while running is encrypted with the same key.
			bk := filepath.Join(t.TempDir(), "backup.db")
			if err := db.BackupSQLite(t.Context(), bk); err != nil {
				t.Fatal(err)
			}
			if found := grepDir(t, filepath.Dir(bk)); tc.key && len(found) > 0 {
				t.Fatalf("readable in the backup: %v", found)
			}
			bdb, err := store.OpenSQLite(t.Context(), bk, key)
			if err != nil {
				t.Fatalf("backup does not open with the database's key: %v", err)
			}
			defer bdb.Close()
			if users, err := bdb.TableNames(t.Context()); err != nil || len(users) == 0 {
				t.Fatalf("backup: %v %v", users, err)
			}
		})
	}
}

// TestEncryptedBadInput: a wrong key, a missing key, a damaged page and a truncated file
// are errors at open that name the problem, never an empty database.
func TestEncryptedBadInput(t *testing.T) {
	mk := func(t *testing.T) (string, []byte) {
		path := filepath.Join(t.TempDir(), "privox.db")
		key := newKey(t)
		db, err := store.OpenSQLite(t.Context(), path, key)
		if err != nil {
			t.Fatal(err)
		}
		fill(t, db)
		db.Close()
		return path, key
	}
	t.Run("wrong key", func(t *testing.T) {
		path, _ := mk(t)
		_, err := store.OpenSQLite(t.Context(), path, newKey(t))
		if !errors.Is(err, store.ErrWrongKey) {
			t.Fatalf("want ErrWrongKey, got %v", err)
		}
	})
	t.Run("missing key", func(t *testing.T) {
		path, _ := mk(t)
		_, err := store.OpenSQLite(t.Context(), path, nil)
		if !errors.Is(err, store.ErrEncryptedNoKey) {
			t.Fatalf("want ErrEncryptedNoKey, got %v", err)
		}
	})
	t.Run("tampered first page", func(t *testing.T) {
		path, key := mk(t)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt([]byte{0xde, 0xad, 0xbe, 0xef}, 100)
		f.Close()
		_, err = store.OpenSQLite(t.Context(), path, key)
		if err == nil {
			t.Fatal("a tampered first page opened")
		}
		t.Log(err)
	})
	t.Run("tampered page", func(t *testing.T) {
		path, key := mk(t)
		fi, _ := os.Stat(path)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt(bytes.Repeat([]byte{0x5a}, 64), fi.Size()-4096+200) // inside the last page
		f.Close()
		db, err := store.OpenSQLite(t.Context(), path, key)
		if err != nil {
			t.Log(err)
			return // found at open: fine
		}
		defer db.Close()
		rep, err := db.CheckIntegrity(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK() {
			t.Fatal("integrity check finds nothing in a tampered page")
		}
	})
	t.Run("truncated", func(t *testing.T) {
		path, key := mk(t)
		if err := os.Truncate(path, 100); err != nil {
			t.Fatal(err)
		}
		if _, err := store.OpenSQLite(t.Context(), path, key); err == nil {
			t.Fatal("a truncated database opened")
		}
	})
}

// TestEncryptClearDatabase: a clear database found at open is encrypted, and keeps its rows.
func TestEncryptClearDatabase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "privox.db")
	db, err := store.OpenSQLite(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, db)
	db.Close()
	if len(grepDir(t, dir)) == 0 {
		t.Fatal("clear database not readable")
	}
	key := newKey(t)
	db, err = store.OpenSQLite(t.Context(), path, key)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, db)
	db.Close()
	if found := grepDir(t, dir); len(found) > 0 {
		t.Fatalf("readable after encryption: %v", found)
	}
	// Rekey: the old key no longer opens it, the new one does.
	key2 := newKey(t)
	if err := store.RekeySQLite(t.Context(), path, key, key2); err != nil {
		t.Fatal(err)
	}
	if _, err := store.OpenSQLite(t.Context(), path, key); !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("old key after rekey: %v", err)
	}
	db, err = store.OpenSQLite(t.Context(), path, key2)
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, db)
	db.Close()
}

func checkRows(t *testing.T, db *store.DB) {
	t.Helper()
	var name string
	if err := db.QueryRow(t.Context(), `SELECT name FROM users`).Scan(&name); err != nil || name != secretsAtRest[0] {
		t.Fatalf("rows lost: %q %v", name, err)
	}
}

// TestEncryptCrash kills a process encrypting a clear database at points of the rewrite: the
// database opens afterwards, clear or encrypted, with its rows.
func TestEncryptCrash(t *testing.T) {
	if dir := os.Getenv("PRIVOX_TEST_CRASH_DIR"); dir != "" {
		store.CrashAt(os.Getenv("PRIVOX_TEST_CRASH_POINT"))
		key, _ := os.ReadFile(filepath.Join(dir, "key"))
		store.EncryptSQLite(context.Background(), filepath.Join(dir, "privox.db"), key)
		os.Exit(0)
	}
	for _, point := range []string{"after-vacuum", "before-rename", "after-rename", "none"} {
		t.Run(point, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "privox.db")
			db, err := store.OpenSQLite(t.Context(), path, nil)
			if err != nil {
				t.Fatal(err)
			}
			fill(t, db)
			db.Close()
			key := newKey(t)
			os.WriteFile(filepath.Join(dir, "key"), key, 0o600)
			cmd := exec.Command(os.Args[0], "-test.run=^TestEncryptCrash$")
			cmd.Env = append(os.Environ(), "PRIVOX_TEST_CRASH_DIR="+dir, "PRIVOX_TEST_CRASH_POINT="+point)
			err = cmd.Run()
			var ee *exec.ExitError
			killed := errors.As(err, &ee) && strings.Contains(ee.String(), "killed")
			if point != "none" && !killed {
				t.Fatalf("child was not killed at %s: %v", point, err)
			}
			st, err := store.SQLiteFileState(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("after a kill at %s the database is %v (0 empty, 1 clear, 2 encrypted)", point, st)
			// Whatever the state, the next start (with the key) opens it whole.
			db, err = store.OpenSQLite(t.Context(), path, key)
			if err != nil {
				t.Fatal(err)
			}
			checkRows(t, db)
			db.Close()
			if found := grepDir(t, dir); len(found) > 0 {
				t.Fatalf("readable after the next start: %v", found)
			}
		})
	}
}

// TestWrongKeyKeepsWAL: a database left by a killed server (its last transactions only in
// the write-ahead log) tried with a wrong key is refused without losing the log: the right
// key then finds every row.
func TestWrongKeyKeepsWAL(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	db, err := store.OpenSQLite(t.Context(), filepath.Join(dir, "privox.db"), key)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, db)
	// The copy is the files as a kill -9 leaves them: the log not yet checkpointed.
	crashed := t.TempDir()
	copyDir(t, dir, crashed)
	db.Close()
	path := filepath.Join(crashed, "privox.db")
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("no write-ahead log in the copy: %v", err)
	}
	if err := store.CheckSQLiteKey(t.Context(), path, key); err != nil {
		t.Fatalf("the right key: %v", err)
	}
	if _, err := store.OpenSQLite(t.Context(), path, newKey(t)); !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("want ErrWrongKey, got %v", err)
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("the write-ahead log is gone after a wrong key: %v", err)
	}
	db, err = store.OpenSQLite(t.Context(), path, key)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkRows(t, db)
	if matches, _ := filepath.Glob(filepath.Join(crashed, "*.keycheck")); len(matches) > 0 {
		t.Fatalf("key check copy left behind: %v", matches)
	}
}
