// Package storetest opens fresh databases for tests on every engine: the embedded SQLite in a
// temporary directory, and PostgreSQL when PRIVOX_TEST_POSTGRES points at a server (make test
// starts a private cluster and sets it). With PRIVOX_REQUIRE_POSTGRES=1 a missing server fails
// the test instead of skipping the PostgreSQL half.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/privox/privox/internal/store"
)

// Engine is one database engine a test can run on.
type Engine struct {
	Name store.Engine
	// DSN returns a connection string for a fresh, empty database that is dropped after t.
	DSN func(t testing.TB) string
	// Key, for SQLite, opens the database encrypted with it (nil: clear).
	Key []byte
}

// Label names the engine in subtest and benchmark names: "sqlite", "sqlite_encrypted",
// "postgres".
func (e Engine) Label() string {
	if e.Key != nil {
		return string(e.Name) + "_encrypted"
	}
	return string(e.Name)
}

// Engines lists the engines available to tests. SQLite runs clear (tests of the encryption
// itself are in the store); with PRIVOX_TEST_SQLITE_ENCRYPTED=1 (bench/engines.sh sets it to
// measure both forms in one run) SQLite encrypted at rest, as Privox runs it, is listed too.
func Engines(t testing.TB) []Engine {
	sqlitePath := func(t testing.TB) string { return filepath.Join(t.TempDir(), "privox.db") }
	out := []Engine{{Name: store.SQLite, DSN: sqlitePath}}
	if os.Getenv("PRIVOX_TEST_SQLITE_ENCRYPTED") == "1" {
		key := make([]byte, store.KeySize)
		rand.Read(key)
		out = append(out, Engine{Name: store.SQLite, DSN: sqlitePath, Key: key})
	}
	admin := os.Getenv("PRIVOX_TEST_POSTGRES")
	if admin == "" {
		if os.Getenv("PRIVOX_REQUIRE_POSTGRES") == "1" {
			t.Fatal("PRIVOX_REQUIRE_POSTGRES=1 but PRIVOX_TEST_POSTGRES is not set")
		}
		return out
	}
	out = append(out, Engine{Name: store.Postgres, DSN: func(t testing.TB) string { return freshPostgres(t, admin) }})
	return out
}

// PostgresDSN returns a fresh PostgreSQL database, or skips when none is configured.
func PostgresDSN(t testing.TB) string {
	admin := os.Getenv("PRIVOX_TEST_POSTGRES")
	if admin == "" {
		if os.Getenv("PRIVOX_REQUIRE_POSTGRES") == "1" {
			t.Fatal("PRIVOX_REQUIRE_POSTGRES=1 but PRIVOX_TEST_POSTGRES is not set")
		}
		t.Skip("PRIVOX_TEST_POSTGRES not set")
	}
	return freshPostgres(t, admin)
}

func freshPostgres(t testing.TB, admin string) string {
	b := make([]byte, 6)
	rand.Read(b)
	name := "privox_test_" + hex.EncodeToString(b)
	adb, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adb.Exec(`CREATE DATABASE ` + name); err != nil {
		adb.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		adb.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
		adb.Close()
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// Open opens a fresh migrated database on an engine, closed after t.
func Open(t testing.TB, e Engine) *store.DB {
	var (
		db  *store.DB
		err error
	)
	if e.Name == store.SQLite && e.Key != nil {
		db, err = store.OpenSQLite(context.Background(), e.DSN(t), e.Key)
	} else {
		db, err = store.Open(context.Background(), e.Name, e.DSN(t))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Run runs f as a subtest on every engine.
func Run(t *testing.T, f func(t *testing.T, db *store.DB)) {
	for _, e := range Engines(t) {
		t.Run(e.Label(), func(t *testing.T) { f(t, Open(t, e)) })
	}
}
