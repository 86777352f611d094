package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/store/storetest"
)

// TestSIPDomainUniqueMigration upgrades a database from before the per-tenant realm and the
// unique SIP domain, holding tenants that claim one domain in different cases: the tenant
// that served the domain keeps it, the others lose it, and every tenant keeps the realm its
// HA1 values were computed for.
func TestSIPDomainUniqueMigration(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(string(e.Name), func(t *testing.T) {
			ctx := context.Background()
			dsn := e.DSN(t)
			db, err := store.Open(ctx, e.Name, dsn)
			if err != nil {
				t.Fatal(err)
			}
			// Back to the schema before 0010 and 0011.
			for _, q := range []string{
				`DROP INDEX tenants_sip_domain`,
				`ALTER TABLE tenants DROP COLUMN sip_realm`,
				`DELETE FROM schema_migrations WHERE name IN ('0010_tenant_sip_realm', '0011_tenant_sip_domain_unique')`,
			} {
				if _, err := db.Exec(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			old := []struct {
				name, domain string
				terminated   bool
			}{
				{"first", "", false},
				{"gone", "shared.example", true}, // terminated: did not serve the domain
				{"owner", "Shared.Example", false},
				{"thief", "shared.example", false},
				{"solo", "solo.example", false},
			}
			for _, o := range old {
				var term any
				if o.terminated {
					term = int64(1)
				}
				if _, err := db.Exec(ctx, `INSERT INTO tenants (name, sip_domain, created_at, terminated_at) VALUES (?, ?, 1, ?)`, o.name, o.domain, term); err != nil {
					t.Fatal(err)
				}
			}
			db.Close()
			if db, err = store.Open(ctx, e.Name, dsn); err != nil {
				t.Fatalf("migrate: %v", err)
			}
			defer db.Close()
			want := map[string][2]string{ // name → domain, realm
				"first": {"", "first"},
				"gone":  {"", "shared.example"},
				"owner": {"shared.example", "Shared.Example"},
				"thief": {"", "shared.example"},
				"solo":  {"solo.example", "solo.example"},
			}
			for name, w := range want {
				tn, err := db.TenantByName(ctx, name)
				if err != nil || tn.SIPDomain != w[0] || tn.SIPRealm != w[1] {
					t.Errorf("%s after migration: %+v %v, want domain %q realm %q", name, tn, err, w[0], w[1])
				}
			}
			if tn, err := db.TenantBySIPDomain(ctx, "SHARED.example"); err != nil || tn.Name != "owner" {
				t.Errorf("shared.example serves %+v %v", tn, err)
			}
			if _, err := db.CreateTenant(ctx, store.Tenant{Name: "late", SIPDomain: "SOLO.example"}); !errors.Is(err, store.ErrConflict) {
				t.Errorf("second tenant on solo.example: %v", err)
			}
			thief, _ := db.TenantByName(ctx, "thief")
			thief.SIPDomain = "Solo.Example"
			if err := db.UpdateTenant(ctx, thief); !errors.Is(err, store.ErrConflict) {
				t.Errorf("moving thief onto solo.example: %v", err)
			}
			// Empty domains do not collide; a rename keeps the realm.
			first, _ := db.TenantByName(ctx, "first")
			first.Name = "renamed"
			if err := db.UpdateTenant(ctx, first); err != nil {
				t.Fatal(err)
			}
			if tn, _ := db.Tenant(ctx, first.ID); tn.SIPRealm != "first" {
				t.Errorf("realm after rename: %q", tn.SIPRealm)
			}
		})
	}
}
