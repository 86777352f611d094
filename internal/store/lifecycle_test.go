package store_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/store/storetest"
)

// TestNothingNewStoredAboutDeactivated: a call with a deactivated person (a CDR written after
// the deactivation, or by a node that did not hear of it yet) stores nothing new about them:
// no journal line of theirs, their side of the CDR and of the other party's journal line
// anonymised, the other party's side untouched.
func TestNothingNewStoredAboutDeactivated(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		vault, err := keys.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		db.SetSecretSealer(vault)
		tn, _ := db.CreateTenant(ctx, store.Tenant{Name: "acme"})
		alice, _ := db.CreateUser(ctx, store.User{TenantID: tn.ID, Name: "Alice", Email: "alice@acme.test"})
		bob, _ := db.CreateUser(ctx, store.User{TenantID: tn.ID, Name: "Bob", Email: "bob@acme.test"})
		if err := db.SetUserActive(ctx, tn.ID, alice.ID, false); err != nil {
			t.Fatal(err)
		}
		c, err := db.RecordCall(ctx, store.CDR{TenantID: tn.ID, CallID: "c1", Caller: "1001", Callee: "1002", CallerUserID: &bob.ID, CalleeUserID: &alice.ID,
			Direction: "internal", StartAt: 1, EndAt: 2, Cause: 200}, []store.JournalEntry{
			{TenantID: tn.ID, UserID: bob.ID, CallID: "c1", Direction: "out", PeerNumber: "1002", PeerName: "Alice", StartAt: 1, Cause: 200},
			{TenantID: tn.ID, UserID: alice.ID, CallID: "c1", Direction: "in", PeerNumber: "1001", PeerName: "Bob", StartAt: 1, Cause: 200},
		})
		if err != nil {
			t.Fatal(err)
		}
		cs, _ := db.ListCDRs(ctx, tn.ID, 0, store.Page{})
		if len(cs) != 1 || cs[0].ID != c.ID || cs[0].Callee != "xxxx" || cs[0].CalleeUserID != nil || cs[0].Caller != "1001" || cs[0].CallerUserID == nil {
			t.Fatalf("CDR: %+v", cs)
		}
		if js, _ := db.ListJournal(ctx, tn.ID, alice.ID, store.Page{}); len(js) != 0 {
			t.Fatalf("journal of the deactivated user: %+v", js)
		}
		js, _ := db.ListJournal(ctx, tn.ID, bob.ID, store.Page{})
		if len(js) != 1 || js[0].PeerNumber != "xxxx" || js[0].PeerName != "" || js[0].PeerUserID != nil {
			t.Fatalf("bob's journal: %+v", js)
		}
		// An active peer is named in the journal line (what erasure later follows).
		_, err = db.RecordCall(ctx, store.CDR{TenantID: tn.ID, CallID: "c2", Caller: "1002", Callee: "1001", CallerUserID: &bob.ID, CalleeUserID: &bob.ID,
			Direction: "internal", StartAt: 3, EndAt: 4, Cause: 200}, []store.JournalEntry{{TenantID: tn.ID, UserID: bob.ID, CallID: "c2", Direction: "out", PeerNumber: "1001", StartAt: 3, Cause: 200}})
		if err != nil {
			t.Fatal(err)
		}
		if js, _ := db.ListJournal(ctx, tn.ID, bob.ID, store.Page{}); len(js) != 2 || js[1].PeerUserID == nil || *js[1].PeerUserID != bob.ID {
			t.Fatalf("journal line names its peer: %+v", js)
		}
		// The digest lookup skips a deactivated or suspended owner's extension.
		carol, _ := db.CreateUser(ctx, store.User{TenantID: tn.ID, Name: "Carol", Email: "carol@acme.test"})
		if _, err := db.CreateExtension(ctx, store.Extension{TenantID: tn.ID, UserID: &carol.ID, Number: "1003"}, store.SIPSecret{Realm: "acme"}); err != nil {
			t.Fatal(err)
		}
		if err := db.SetUserSuspended(ctx, tn.ID, carol.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.ExtensionByUsername(ctx, tn.ID, "1003"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("suspended owner's extension found for digest auth: %v", err)
		}
		if us, err := db.UsersBlockedSince(ctx, 0); err != nil || len(us) != 2 {
			t.Fatalf("blocked users: %+v %v", us, err)
		}
		if err := db.SetUserSuspended(ctx, tn.ID, carol.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.ExtensionByUsername(ctx, tn.ID, "1003"); err != nil {
			t.Fatalf("resumed owner's extension: %v", err)
		}
		if err := db.SetUserSuspended(ctx, tn.ID, alice.ID, true); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("suspending a deactivated user: %v", err)
		}
	})
}

// TestScrub: after Scrub, a deleted row is in no database file on SQLite (secure_delete and
// a truncating checkpoint); on PostgreSQL the tables were vacuumed.
func TestScrub(t *testing.T) {
	const secret = "scrub-me-7a1c9e"
	for _, e := range storetest.Engines(t) {
		t.Run(string(e.Name), func(t *testing.T) {
			ctx := context.Background()
			dsn := e.DSN(t)
			db, err := store.Open(ctx, e.Name, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			tn, _ := db.CreateTenant(ctx, store.Tenant{Name: "acme"})
			for i := 0; i < 50; i++ { // more than one page
				u, err := db.CreateUser(ctx, store.User{TenantID: tn.ID, Name: secret, Email: secret + "@x" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ".test"})
				if err != nil {
					t.Fatal(err)
				}
				_ = u
			}
			if _, err := db.Exec(ctx, `DELETE FROM users WHERE name = ?`, secret); err != nil {
				t.Fatal(err)
			}
			if err := db.Scrub(ctx, "users"); err != nil {
				t.Fatal(err)
			}
			if e.Name == store.Postgres {
				deadline := time.Now().Add(30 * time.Second)
				for {
					var n int64
					if err := db.QueryRow(ctx, `SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'users'`).Scan(&n); err != nil {
						t.Fatal(err)
					}
					if n > 0 {
						return
					}
					if time.Now().After(deadline) {
						t.Fatal("users was not vacuumed")
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
			files, _ := filepath.Glob(dsn + "*")
			if len(files) == 0 {
				t.Fatal("no database files")
			}
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(b, []byte(secret)) {
					t.Errorf("deleted value still readable in %s", filepath.Base(f))
				}
			}
		})
	}
}
