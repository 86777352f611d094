package store_test

import (
	"context"
	"testing"

	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/store/storetest"
)

// TestForwarding: an extension's setting is stored with its owner, read per tenant only,
// removed when emptied, and does not pass to the extension's next owner.
func TestForwarding(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		vault, err := keys.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		db.SetSecretSealer(vault)
		a, _ := db.CreateTenant(ctx, store.Tenant{Name: "acme"})
		b, _ := db.CreateTenant(ctx, store.Tenant{Name: "beta"})
		alice, _ := db.CreateUser(ctx, store.User{TenantID: a.ID, Name: "Alice", Email: "alice@acme.test"})
		bob, _ := db.CreateUser(ctx, store.User{TenantID: a.ID, Name: "Bob", Email: "bob@acme.test"})
		e, err := db.CreateExtension(ctx, store.Extension{TenantID: a.ID, UserID: &alice.ID, Number: "1001"}, store.SIPSecret{Realm: "acme", HA1MD5: "x", HA1SHA256: "y"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.PutForwarding(ctx, store.Forwarding{TenantID: b.ID, ExtensionID: e.ID, Always: "1"}); err == nil {
			t.Fatal("forwarding stored for another tenant's extension")
		}
		f, err := db.PutForwarding(ctx, store.Forwarding{TenantID: a.ID, ExtensionID: e.ID, Busy: "1002", NoAnswer: "1003", NoAnswerRingS: 9, DND: true})
		if err != nil || f.UserID == nil || *f.UserID != alice.ID {
			t.Fatalf("put: %+v %v", f, err)
		}
		got, err := db.Forwarding(ctx, a.ID, e.ID)
		if err != nil || got.Busy != "1002" || got.NoAnswerRingS != 9 || !got.DND || got.Number != "1001" {
			t.Fatalf("read: %+v %v", got, err)
		}
		mine, err := db.ForwardingOfUser(ctx, a.ID, alice.ID)
		if err != nil || len(mine) != 1 || mine[0].NoAnswer != "1003" {
			t.Fatalf("of user: %+v %v", mine, err)
		}
		if l, _ := db.ListForwarding(ctx, b.ID); len(l) != 0 {
			t.Fatalf("another tenant lists %+v", l)
		}
		e.UserID = &bob.ID
		if err := db.UpdateExtension(ctx, e); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.Forwarding(ctx, a.ID, e.ID); !got.Empty() {
			t.Fatalf("the next owner inherited the forwarding: %+v", got)
		}
		if _, err := db.PutForwarding(ctx, store.Forwarding{TenantID: a.ID, ExtensionID: e.ID, Always: "1002"}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.PutForwarding(ctx, store.Forwarding{TenantID: a.ID, ExtensionID: e.ID}); err != nil {
			t.Fatal(err)
		}
		if l, _ := db.ListForwarding(ctx, a.ID); len(l) != 0 {
			t.Fatalf("an empty setting left a row: %+v", l)
		}
	})
}
