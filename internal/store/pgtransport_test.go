package store_test

import (
	"errors"
	"testing"

	"github.com/privox/privox/internal/store"
)

// TestCheckPostgresTransport: only verified TLS, a Unix socket, or (when allowed) a loopback
// host pass; plaintext and unverified TLS to any other host are refused.
func TestCheckPostgresTransport(t *testing.T) {
	for _, tc := range []struct {
		dsn      string
		loopback bool // database.allow_plaintext_loopback
		ok       bool
	}{
		{"postgres://u@db.example.net/privox?sslmode=verify-full", false, true},
		{"postgres://u@db.example.net/privox?sslmode=verify-ca", false, true},
		{"host=db.example.net user=u dbname=privox sslmode=verify-full", false, true},
		{"postgres://u@db.example.net/privox", false, false}, // prefer: may fall back to plaintext
		{"postgres://u@db.example.net/privox?sslmode=prefer", true, false},
		{"postgres://u@db.example.net/privox?sslmode=allow", false, false},
		{"postgres://u@db.example.net/privox?sslmode=disable", true, false},
		{"postgres://u@db.example.net/privox?sslmode=require", false, false}, // not verified
		{"postgres://u@127.0.0.1:5432/privox?sslmode=disable", false, false},
		{"postgres://u@127.0.0.1:5432/privox?sslmode=disable", true, true},
		{"postgres://u@[::1]:5432/privox?sslmode=prefer", true, true},
		{"postgres://u@localhost/privox?sslmode=disable", true, true},
		{"postgres://u@localhost/privox?sslmode=require", false, false},
		{"host=/var/run/postgresql user=u dbname=privox", false, true}, // Unix socket
		{"postgres://u@127.0.0.1,db.example.net/privox?sslmode=disable", true, false},
		{"postgres://u@127.0.0.1,db.example.net/privox?sslmode=verify-full", false, true},
	} {
		err := store.CheckPostgresTransport(tc.dsn, tc.loopback)
		if tc.ok && err != nil {
			t.Errorf("%s (loopback allowed: %v): refused: %v", tc.dsn, tc.loopback, err)
		}
		if !tc.ok && !errors.Is(err, store.ErrPlaintextPostgres) {
			t.Errorf("%s (loopback allowed: %v): want ErrPlaintextPostgres, got %v", tc.dsn, tc.loopback, err)
		}
	}
	if err := store.CheckPostgresTransport("postgres://u@db:notaport/x", false); err == nil || errors.Is(err, store.ErrPlaintextPostgres) {
		t.Errorf("a malformed DSN: %v", err)
	}
}
