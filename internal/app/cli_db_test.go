package app_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/store/storetest"
)

// Known values written through the CLI; none may appear in a file of the data directory or
// of a backup once the database is encrypted.
var dbSecrets = []string{"Zebulon Quackenbush", "zebulon.q@example.org"}

// grepFiles reports which known values appear in the files under dir (or the file dir).
func grepFiles(t *testing.T, dir string) []string {
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
		for _, s := range dbSecrets {
			if bytes.Contains(b, []byte(s)) {
				found = append(found, filepath.Base(p)+": "+s)
			}
		}
		return nil
	})
	return found
}

// fillDB creates a tenant and a user with the known values through the CLI.
func fillDB(t *testing.T, env []string) {
	t.Helper()
	if o, e, code := run(env, "tenant", "add", "acme"); code != 0 {
		t.Fatalf("tenant add: %d %s %s", code, o, e)
	}
	if o, e, code := run(env, "user", "add", "--tenant", "acme", "--name", dbSecrets[0], "--email", dbSecrets[1]); code != 0 {
		t.Fatalf("user add: %d %s %s", code, o, e)
	}
}

func checkUser(t *testing.T, env []string) {
	t.Helper()
	o, e, code := run(env, "user", "list", "--tenant", "acme")
	if code != 0 || !strings.Contains(o, dbSecrets[0]) {
		t.Fatalf("user list: %d %s %s", code, o, e)
	}
}

// vaultDBKey reads the database key the vault of data holds.
func vaultDBKey(t *testing.T, data string) []byte {
	t.Helper()
	v, err := keys.Open(keys.DefaultDir(data))
	if err != nil {
		t.Fatal(err)
	}
	k, err := v.DatabaseKey(false)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestDBEncryptRekeyBackup: a clear database (database.encrypt false) is encrypted by
// privox db encrypt, keeps its rows, and shows none of them to a grep; db rekey replaces the
// key (the old one no longer opens it); db backup writes a copy no grep reads that opens with
// the vault's key only.
func TestDBEncryptRekeyBackup(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	env := []string{"PRIVOX_DATA_DIR=" + data}
	clear := append(env, "PRIVOX_DATABASE_ENCRYPT=false")
	fillDB(t, clear)
	if len(grepFiles(t, data)) == 0 {
		t.Fatal("the clear database shows nothing: the grep does not work")
	}
	if _, e, code := run(clear, "db", "encrypt"); code != 1 || !strings.Contains(e, "database.encrypt is false") {
		t.Fatalf("db encrypt with encryption off: %d %s", code, e)
	}
	o, e, code := run(env, "db", "encrypt")
	if code != 0 || !strings.Contains(o, "encrypted ") {
		t.Fatalf("db encrypt: %d %s %s", code, o, e)
	}
	if found := grepFiles(t, data); len(found) > 0 {
		t.Fatalf("readable after db encrypt: %v", found)
	}
	checkUser(t, env)
	if o, _, code := run(env, "db", "encrypt"); code != 0 || !strings.Contains(o, "already encrypted") {
		t.Fatalf("db encrypt twice: %d %s", code, o)
	}
	if _, e, code := run(clear, "user", "list", "--tenant", "acme"); code != 1 || !strings.Contains(e, "encrypted") {
		t.Fatalf("clear configuration on an encrypted database: %d %s", code, e)
	}

	old := vaultDBKey(t, data)
	if o, e, code := run(env, "db", "rekey"); code != 0 || !strings.Contains(o, "new database key") {
		t.Fatalf("db rekey: %d %s %s", code, o, e)
	}
	now := vaultDBKey(t, data)
	if bytes.Equal(old, now) {
		t.Fatal("db rekey kept the key")
	}
	if _, err := os.Stat(filepath.Join(keys.DefaultDir(data), "database.key.next")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a pending key is left after db rekey: %v", err)
	}
	path := filepath.Join(data, "privox.db")
	if err := store.CheckSQLiteKey(t.Context(), path, old); !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("the retired key after db rekey: %v", err)
	}
	checkUser(t, env)
	if found := grepFiles(t, data); len(found) > 0 {
		t.Fatalf("readable after db rekey: %v", found)
	}

	out := filepath.Join(t.TempDir(), "privox-backup.db")
	if o, e, code := run(env, "db", "backup", "--out", out); code != 0 || !strings.Contains(o, "encrypted with the database key") {
		t.Fatalf("db backup: %d %s %s", code, o, e)
	}
	checkBackup(t, out, now)
	if _, e, code := run(env, "db", "backup", "--out", out); code != 1 || !strings.Contains(e, "invalid --out") || !strings.Contains(e, "already exists") {
		t.Fatalf("db backup over a file: %d %s", code, e)
	}
	if _, e, code := run(env, "db", "backup"); code != 2 || !strings.Contains(e, "--out is required") {
		t.Fatalf("db backup without --out: %d %s", code, e)
	}
	if _, e, code := run(env, "db", "backup", "--out", filepath.Join(keys.DefaultDir(data), "b.db")); code != 1 || !strings.Contains(e, "inside the key vault") {
		t.Fatalf("db backup into the vault: %d %s", code, e)
	}
}

// checkBackup: no known value in the backup file, a wrong key is refused, the key opens it
// with the rows.
func checkBackup(t *testing.T, out string, key []byte) {
	t.Helper()
	if found := grepFiles(t, out); len(found) > 0 {
		t.Fatalf("readable in the backup: %v", found)
	}
	wrong := bytes.Repeat([]byte{7}, store.KeySize)
	if err := store.CheckSQLiteKey(t.Context(), out, wrong); !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("backup with a wrong key: %v", err)
	}
	// Opened from a copy, so that the check leaves the backup as it was written.
	cp := filepath.Join(t.TempDir(), "restore.db")
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(cp, b, 0o600)
	db, err := store.OpenSQLite(t.Context(), cp, key)
	if err != nil {
		t.Fatalf("backup does not open with the key: %v", err)
	}
	defer db.Close()
	var name string
	if err := db.QueryRow(t.Context(), `SELECT name FROM users WHERE email = ?`, dbSecrets[1]).Scan(&name); err != nil || name != dbSecrets[0] {
		t.Fatalf("backup lacks the user: %q %v", name, err)
	}
}

// TestDBCommandsBesideServer: db encrypt and db rekey are refused while a server holds the
// data directory, naming it; db backup runs beside it and takes an encrypted copy that holds
// what was written through the running server's database a moment before.
func TestDBCommandsBesideServer(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	env := []string{"PRIVOX_DATA_DIR=" + data}
	fillDB(t, env)
	srv := startProcess(t, serveArgs(data))
	pid := srv.cmd.Process.Pid
	for _, c := range []string{"encrypt", "rekey"} {
		_, e, code := run(env, "db", c)
		if code != 1 || !strings.Contains(e, "is running on data directory "+data) || !strings.Contains(e, "(pid ") || !strings.Contains(e, "stop it first") {
			t.Fatalf("db %s beside the server (pid %d): %d %s", c, pid, code, e)
		}
	}
	if o, e, code := run(env, "user", "add", "--tenant", "acme", "--name", "Beside Server", "--email", "beside@example.org"); code != 0 {
		t.Fatalf("user add beside the server: %d %s %s", code, o, e)
	}
	out := filepath.Join(t.TempDir(), "online.db")
	if o, e, code := run(env, "db", "backup", "--out", out); code != 0 {
		t.Fatalf("db backup beside the server: %d %s %s", code, o, e)
	}
	checkBackup(t, out, vaultDBKey(t, data))
	srv.kill()
}

// TestDBRekeyCrash kills privox db rekey (SIGKILL) at each point of a key rotation: the next
// command opens the database with a key from the vault, rows intact, the rotation either done
// or dropped, and a new rotation runs.
func TestDBRekeyCrash(t *testing.T) {
	for _, point := range []string{"after-next-key", "after-vacuum", "before-rename", "after-rename", "before-promote", "after-promote", "none"} {
		t.Run(point, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			env := []string{"PRIVOX_DATA_DIR=" + data}
			fillDB(t, env)
			old := vaultDBKey(t, data)
			ctx, cancel := context.WithTimeout(t.Context(), 2*60e9)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "db", "rekey", "--data", data)
			cmd.Env = append(procEnv(), "PRIVOX_TEST_CRASH_AT="+point)
			outb, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			killed := errors.As(err, &ee) && strings.Contains(ee.String(), "killed")
			if point != "none" && !killed {
				t.Fatalf("db rekey was not killed at %s: %v %s", point, err, outb)
			}
			if point == "none" && err != nil {
				t.Fatalf("db rekey: %v %s", err, outb)
			}
			checkUser(t, env) // settles the rotation
			if _, err := os.Stat(filepath.Join(keys.DefaultDir(data), "database.key.next")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("pending key left after the next start: %v", err)
			}
			rotated := !bytes.Equal(old, vaultDBKey(t, data))
			t.Logf("killed at %s: rotation %s", point, map[bool]string{true: "completed", false: "dropped"}[rotated])
			if found := grepFiles(t, data); len(found) > 0 {
				t.Fatalf("readable after the crash: %v", found)
			}
			if o, e, code := run(env, "db", "rekey"); code != 0 {
				t.Fatalf("db rekey after the crash: %d %s %s", code, o, e)
			}
			checkUser(t, env)
		})
	}
}

// TestPostgresRefusesPlaintext: a PostgreSQL connection string that allows plaintext (the
// driver's default sslmode=prefer, or disable) is refused at start with the option that fixes
// it; against a real server on loopback it is accepted once database.allow_plaintext_loopback
// allows it.
func TestPostgresRefusesPlaintext(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	for _, dsn := range []string{"postgres://privox@db.example.net/privox", "postgres://privox@db.example.net/privox?sslmode=disable"} {
		env := []string{"PRIVOX_DATA_DIR=" + data, "PRIVOX_DATABASE_DRIVER=postgres", "PRIVOX_DATABASE_DSN=" + dsn, "PRIVOX_DATABASE_ALLOW_PLAINTEXT_LOOPBACK=true"}
		_, e, code := run(env, "tenant", "list")
		if code != 1 || !strings.Contains(e, "without TLS") || !strings.Contains(e, "sslmode=verify-full") {
			t.Fatalf("%s: %d %s", dsn, code, e)
		}
	}
	dsn := storetest.PostgresDSN(t) // the test cluster: 127.0.0.1, sslmode=disable
	env := []string{"PRIVOX_DATA_DIR=" + data, "PRIVOX_DATABASE_DRIVER=postgres", "PRIVOX_DATABASE_DSN=" + dsn}
	if _, e, code := run(env, "tenant", "list"); code != 1 || !strings.Contains(e, "database.allow_plaintext_loopback: true") {
		t.Fatalf("loopback without the option: %d %s", code, e)
	}
	if o, e, code := run(append(env, "PRIVOX_DATABASE_ALLOW_PLAINTEXT_LOOPBACK=true"), "tenant", "list"); code != 0 {
		t.Fatalf("loopback with the option: %d %s %s", code, o, e)
	}
}

// TestConfigCheckPostgresTransport: privox config check finds a plaintext PostgreSQL DSN.
func TestConfigCheckPostgresTransport(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		yaml string
		ok   bool
	}{
		{"database:\n  driver: postgres\n  dsn: postgres://privox@db.example.net/privox?sslmode=require\n", false},
		{"database:\n  driver: postgres\n  dsn: postgres://privox@db.example.net/privox?sslmode=verify-full\n", true},
		{"database:\n  driver: postgres\n  dsn: postgres://privox@127.0.0.1/privox?sslmode=disable\n  allow_plaintext_loopback: true\n", true},
	} {
		f := filepath.Join(dir, "privox.yaml")
		os.WriteFile(f, []byte(tc.yaml), 0o600)
		_, e, code := run(nil, "config", "check", f)
		if tc.ok && code != 0 || !tc.ok && (code != 1 || !strings.Contains(e, "database.dsn") || !strings.Contains(e, "verify-full")) {
			t.Errorf("%s: %d %s", tc.yaml, code, e)
		}
	}
}
