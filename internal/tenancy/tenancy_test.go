package tenancy_test

import (
	"context"
	"errors"
	"testing"

	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/store/storetest"
	"github.com/privox/privox/internal/tenancy"
)

// TestTenantDomainAndRealm: SIP domains are stored normalised and unique without case, a
// conflict names the field at fault, and the realm fixed at creation survives a rename and a
// new domain.
func TestTenantDomainAndRealm(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, err := tenancy.CreateTenant(ctx, db, store.Tenant{Name: "alpha"})
		if err != nil || a.SIPRealm != "alpha" || tenancy.Realm(a) != "alpha" {
			t.Fatalf("alpha: %+v %v", a, err)
		}
		b, err := tenancy.CreateTenant(ctx, db, store.Tenant{Name: "beta", SIPDomain: " PBX.Beta.Example. "})
		if err != nil || b.SIPDomain != "pbx.beta.example" || b.SIPRealm != "pbx.beta.example" {
			t.Fatalf("beta: %+v %v", b, err)
		}
		field := func(err error) string {
			var fe *tenancy.FieldError
			if errors.As(err, &fe) {
				return fe.Field
			}
			return ""
		}
		if _, err := tenancy.CreateTenant(ctx, db, store.Tenant{Name: "gamma", SIPDomain: "pbx.BETA.example"}); field(err) != "sip_domain" {
			t.Errorf("second tenant on beta's domain: %v", err)
		}
		if _, err := tenancy.CreateTenant(ctx, db, store.Tenant{Name: "beta"}); field(err) != "name" {
			t.Errorf("second tenant named beta: %v", err)
		}
		a.SIPDomain = "Pbx.Beta.Example"
		if _, err := tenancy.UpdateTenant(ctx, db, a); field(err) != "sip_domain" {
			t.Errorf("alpha onto beta's domain: %v", err)
		}
		a.SIPDomain, a.Name = "alpha.example", "alpha-renamed"
		if _, err := tenancy.UpdateTenant(ctx, db, a); err != nil {
			t.Fatal(err)
		}
		got, _ := db.Tenant(ctx, a.ID)
		if got.Name != "alpha-renamed" || got.SIPDomain != "alpha.example" || tenancy.Realm(got) != "alpha" {
			t.Errorf("after rename and new domain: %+v, realm %q", got, tenancy.Realm(got))
		}
	})
}
