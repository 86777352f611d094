package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/store/storetest"
)

// A large upsert (the bulk path on SQLite) inserts and updates by key, refuses a phonebook
// that is not the tenant's without writing anything, and leaves foreign keys enforced on
// the connections afterwards.
func TestUpsertContactsBulk(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ten, err := db.CreateTenant(ctx, store.Tenant{Name: "acme"})
		if err != nil {
			t.Fatal(err)
		}
		other, err := db.CreateTenant(ctx, store.Tenant{Name: "other"})
		if err != nil {
			t.Fatal(err)
		}
		book, err := db.CreatePhonebook(ctx, store.Phonebook{TenantID: ten.ID, Kind: store.BookCompany, Name: "c"})
		if err != nil {
			t.Fatal(err)
		}
		const n = 10050
		mk := func(suffix string) []store.Contact {
			cs := make([]store.Contact, n)
			for i := range cs {
				cs[i] = store.Contact{Key: fmt.Sprintf("k%d", i), DisplayName: fmt.Sprintf("Name %d%s", i, suffix)}
			}
			return cs
		}
		if _, err := db.UpsertContacts(ctx, other.ID, book.ID, nil, mk("")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("upsert into another tenant's phonebook: %v, want not found", err)
		}
		if keys, _ := db.ContactKeys(ctx, ten.ID, book.ID); len(keys) != 0 {
			t.Fatalf("%d contacts written by a refused upsert", len(keys))
		}
		out, err := db.UpsertContacts(ctx, ten.ID, book.ID, nil, mk(""))
		if err != nil {
			t.Fatal(err)
		}
		ids := map[int64]bool{}
		for _, c := range out {
			if c.ID == 0 || ids[c.ID] || c.TenantID != ten.ID || c.PhonebookID != book.ID {
				t.Fatalf("contact %+v: id missing, repeated or wrong owner", c)
			}
			ids[c.ID] = true
		}
		again, err := db.UpsertContacts(ctx, ten.ID, book.ID, nil, mk(" v2"))
		if err != nil {
			t.Fatal(err)
		}
		keys, _ := db.ContactKeys(ctx, ten.ID, book.ID)
		if len(keys) != n || again[7].ID != out[7].ID {
			t.Fatalf("re-import: %d rows, id %d then %d", len(keys), out[7].ID, again[7].ID)
		}
		c, err := db.Contact(ctx, ten.ID, out[7].ID)
		if err != nil || c.DisplayName != "Name 7 v2" {
			t.Fatalf("updated contact %+v %v", c, err)
		}
		// Foreign keys hold on every pooled connection afterwards.
		for i := 0; i < 4; i++ {
			if _, err := db.Exec(ctx, `INSERT INTO contacts (tenant_id, phonebook_id, ext_key, created_at, updated_at) VALUES (?, ?, ?, 0, 0)`, ten.ID, book.ID+1000, fmt.Sprintf("x%d", i)); err == nil {
				t.Fatal("a contact of a phonebook that does not exist was inserted")
			}
		}
	})
}
