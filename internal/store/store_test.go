package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/privox/privox/internal/datacat"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/store/storetest"
)

// TestEveryTableRegistered fails when a migration creates a table the privacy registry does not know.
func TestEveryTableRegistered(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		names, err := db.TableNames(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(names) < 5 {
			t.Fatalf("too few tables: %v", names)
		}
		for _, n := range names {
			if _, ok := datacat.LookupTable(n); !ok {
				t.Errorf("table %s has no data category in the registry", n)
			}
		}
		have := map[string]bool{}
		for _, n := range names {
			have[n] = true
		}
		for _, tb := range datacat.Tables() {
			if !have[tb.Name] {
				t.Errorf("registry declares table %s that no migration creates", tb.Name)
			}
		}
	})
}

func TestMigrateTwice(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(string(e.Name), func(t *testing.T) {
			dsn := e.DSN(t)
			for i := 0; i < 2; i++ {
				db, err := store.Open(context.Background(), e.Name, dsn)
				if err != nil {
					t.Fatal(err)
				}
				db.Close()
			}
		})
	}
}

func TestTenantUserExtension(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, err := db.CreateTenant(ctx, store.Tenant{Name: "acme"})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := db.CreateTenant(ctx, store.Tenant{Name: "beta"})
		if _, err := db.CreateTenant(ctx, store.Tenant{Name: "acme"}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate tenant: %v", err)
		}
		u, err := db.CreateUser(ctx, store.User{TenantID: a.ID, Name: "Alice", Email: "alice@acme.test"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.User(ctx, b.ID, u.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("user visible in other tenant: %v", err)
		}
		if _, err := db.CreateExtension(ctx, store.Extension{TenantID: a.ID, Number: "1009"}, store.SIPSecret{Realm: "acme", HA1MD5: "x", HA1SHA256: "y"}); !errors.Is(err, store.ErrNoSealer) {
			t.Fatalf("secret written without a sealer: %v", err)
		}
		vault, err := keys.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		db.SetSecretSealer(vault)
		e, err := db.CreateExtension(ctx, store.Extension{TenantID: a.ID, UserID: &u.ID, Number: "1001"}, store.SIPSecret{Realm: "acme", HA1MD5: "x", HA1SHA256: "y"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateExtension(ctx, store.Extension{TenantID: a.ID, Number: "1001"}, store.SIPSecret{Realm: "acme"}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate number: %v", err)
		}
		// The same number in another tenant is fine.
		if _, err := db.CreateExtension(ctx, store.Extension{TenantID: b.ID, Number: "1001"}, store.SIPSecret{Realm: "beta"}); err != nil {
			t.Fatal(err)
		}
		// A user of another tenant cannot own the extension, and nothing is left behind.
		if _, err := db.CreateExtension(ctx, store.Extension{TenantID: b.ID, UserID: &u.ID, Number: "1002"}, store.SIPSecret{Realm: "beta"}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("cross-tenant owner: %v", err)
		}
		if _, err := db.ExtensionByNumber(ctx, b.ID, "1002"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("failed create left a row: %v", err)
		}
		got, sec, err := db.ExtensionByUsername(ctx, a.ID, "1001")
		if err != nil || got.ID != e.ID || *got.UserID != u.ID {
			t.Fatalf("by username: %+v %+v %v", got, sec, err)
		}
		if md5, err := vault.OpenSecret(a.ID, store.SIPSecretBinding(e.ID, "ha1_md5"), sec.HA1MD5); err != nil || md5 != "x" {
			t.Fatalf("stored HA1 MD5: %q %v", md5, err)
		}
		if err := db.SetUserActive(ctx, a.ID, u.ID, false); err != nil {
			t.Fatal(err)
		}
		u2, _ := db.User(ctx, a.ID, u.ID)
		if u2.Active || u2.DeactivatedAt == nil {
			t.Fatalf("not deactivated: %+v", u2)
		}
		list, err := db.ListExtensions(ctx, a.ID, store.Page{Limit: 10})
		if err != nil || len(list) != 1 {
			t.Fatalf("list: %v %v", list, err)
		}
		if err := db.DeleteExtension(ctx, a.ID, e.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.ExtensionByUsername(ctx, a.ID, "1001"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("secret survived delete: %v", err)
		}
	})
}

func TestPagination(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tn, _ := db.CreateTenant(ctx, store.Tenant{Name: "p"})
		for i := 0; i < 25; i++ {
			if _, err := db.CreateUser(ctx, store.User{TenantID: tn.ID, Name: "u", Email: string(rune('a'+i)) + "@x"}); err != nil {
				t.Fatal(err)
			}
		}
		seen := 0
		var after int64
		for {
			page, err := db.ListUsers(ctx, tn.ID, store.Page{After: after, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			seen += len(page)
			after = page[len(page)-1].ID
		}
		if seen != 25 {
			t.Fatalf("saw %d users", seen)
		}
	})
}

func TestTxRollback(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := db.InTx(ctx, func(tx *store.DB) error {
			if _, err := tx.CreateTenant(ctx, store.Tenant{Name: "gone"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if _, err := db.TenantByName(ctx, "gone"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rolled back tenant exists: %v", err)
		}
	})
}

func TestTokensAndSessions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tn, _ := db.CreateTenant(ctx, store.Tenant{Name: "t"})
		u, _ := db.CreateUser(ctx, store.User{TenantID: tn.ID, Name: "U", Email: "u@x"})
		tok, err := db.CreateAPIToken(ctx, store.APIToken{TenantID: tn.ID, UserID: u.ID, Name: "ci"}, "digest1")
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.APITokenByDigest(ctx, "digest1")
		if err != nil || got.ID != tok.ID {
			t.Fatalf("token lookup: %v", err)
		}
		if _, err := db.CreateSession(ctx, store.Session{TenantID: tn.ID, UserID: u.ID, CSRF: "c", ExpiresAt: store.Now() + 60000}, "sess1"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateSession(ctx, store.Session{TenantID: tn.ID, UserID: u.ID, CSRF: "c", ExpiresAt: store.Now() - 1}, "sess2"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SessionByDigest(ctx, "sess2"); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("expired session accepted")
		}
		if err := db.DeleteUserCredentials(ctx, tn.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.APITokenByDigest(ctx, "digest1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("token survived")
		}
		if _, err := db.SessionByDigest(ctx, "sess1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("session survived")
		}
	})
}

// TestRecordCallsBatch: a batch of calls lands in one transaction, all or none.
func TestRecordCallsBatch(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tn, err := db.CreateTenant(ctx, store.Tenant{Name: "acme"})
		if err != nil {
			t.Fatal(err)
		}
		u, err := db.CreateUser(ctx, store.User{TenantID: tn.ID, Name: "Alice", Email: "alice@acme.test"})
		if err != nil {
			t.Fatal(err)
		}
		rec := func(id string, tenant int64) store.CallRecord {
			return store.CallRecord{
				CDR:     store.CDR{TenantID: tenant, CallID: id, Caller: "1001", Callee: "1002", CallerUserID: &u.ID, Direction: "internal", StartAt: 1, EndAt: 2},
				Journal: []store.JournalEntry{{TenantID: tenant, UserID: u.ID, CallID: id, Direction: "out", PeerNumber: "1002", StartAt: 1}},
			}
		}
		batch := []store.CallRecord{rec("a", tn.ID), rec("b", tn.ID), rec("c", tn.ID)}
		if err := db.RecordCalls(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if batch[0].CDR.ID == 0 || batch[0].CDR.ID == batch[1].CDR.ID || batch[1].CDR.ID == batch[2].CDR.ID {
			t.Fatalf("ids not set: %d %d %d", batch[0].CDR.ID, batch[1].CDR.ID, batch[2].CDR.ID)
		}
		// One record naming a tenant that does not exist: nothing of the batch is stored.
		if err := db.RecordCalls(ctx, []store.CallRecord{rec("d", tn.ID), rec("e", tn.ID+1000)}); err == nil {
			t.Fatal("batch with a record of a missing tenant stored")
		}
		cdrs, err := db.ListCDRs(ctx, tn.ID, 0, store.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		j, err := db.ListJournal(ctx, tn.ID, u.ID, store.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(cdrs) != 3 || len(j) != 3 {
			t.Fatalf("want 3 CDRs and 3 journal entries, got %d and %d", len(cdrs), len(j))
		}
	})
}

// TestSealClearSIPSecrets: HA1 values stored in clear are sealed once, sealed ones are left
// alone, and the sealed values open to the clear ones for their extension only.
func TestSealClearSIPSecrets(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		vault, err := keys.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		db.SetSecretSealer(vault)
		tn, _ := db.CreateTenant(ctx, store.Tenant{Name: "acme"})
		e1, err := db.CreateExtension(ctx, store.Extension{TenantID: tn.ID, Number: "1001"}, store.SIPSecret{Realm: "acme", HA1MD5: "m1", HA1SHA256: "s1"})
		if err != nil {
			t.Fatal(err)
		}
		e2, _ := db.CreateExtension(ctx, store.Extension{TenantID: tn.ID, Number: "1002"}, store.SIPSecret{Realm: "acme", HA1MD5: "m2", HA1SHA256: "s2"})
		_, sealed2, _ := db.ExtensionByUsername(ctx, tn.ID, "1002")
		// 1001 as a release before sealing left it.
		if _, err := db.Exec(ctx, `UPDATE sip_secrets SET ha1_md5 = 'm1', ha1_sha256 = 's1' WHERE extension_id = ?`, e1.ID); err != nil {
			t.Fatal(err)
		}
		if n, err := db.SealClearSIPSecrets(ctx, keys.IsSealed); err != nil || n != 1 {
			t.Fatalf("sealed %d rows, %v; want 1", n, err)
		}
		_, sec1, _ := db.ExtensionByUsername(ctx, tn.ID, "1001")
		if m, err := vault.OpenSecret(tn.ID, store.SIPSecretBinding(e1.ID, "ha1_md5"), sec1.HA1MD5); err != nil || m != "m1" {
			t.Fatalf("1001 MD5: %q %v", m, err)
		}
		if s, err := vault.OpenSecret(tn.ID, store.SIPSecretBinding(e1.ID, "ha1_sha256"), sec1.HA1SHA256); err != nil || s != "s1" {
			t.Fatalf("1001 SHA-256: %q %v", s, err)
		}
		if _, err := vault.OpenSecret(tn.ID, store.SIPSecretBinding(e2.ID, "ha1_md5"), sec1.HA1MD5); err == nil {
			t.Fatal("1001's sealed HA1 opens for 1002")
		}
		if _, again, _ := db.ExtensionByUsername(ctx, tn.ID, "1002"); again != sealed2 {
			t.Fatal("a sealed row was sealed again")
		}
		if n, err := db.SealClearSIPSecrets(ctx, keys.IsSealed); err != nil || n != 0 {
			t.Fatalf("second run sealed %d rows, %v; want 0", n, err)
		}
	})
}
