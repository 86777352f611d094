package directory_test

import (
	"context"
	"testing"

	"github.com/privox/privox/internal/directory"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/store/storetest"
)

type env struct {
	db         *store.DB
	dir        *directory.Service
	tenant     int64
	alice, bob int64
	company    store.Phonebook
	alicePB    store.Phonebook
	group      store.Phonebook
}

func setup(t *testing.T, engine storetest.Engine) *env {
	ctx := context.Background()
	db, err := store.Open(ctx, engine.Name, engine.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ten, err := db.CreateTenant(ctx, store.Tenant{Name: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetTenantCountry(ctx, ten.ID, "DE"); err != nil {
		t.Fatal(err)
	}
	a, _ := db.CreateUser(ctx, store.User{TenantID: ten.ID, Name: "Alice", Email: "a@x"})
	b, _ := db.CreateUser(ctx, store.User{TenantID: ten.ID, Name: "Bob", Email: "b@x"})
	e := &env{db: db, dir: directory.New(db, nil, nil), tenant: ten.ID, alice: a.ID, bob: b.ID}
	if err := e.dir.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if e.company, err = e.dir.CreatePhonebook(ctx, store.Phonebook{TenantID: ten.ID, Kind: store.BookCompany, Name: "Company"}); err != nil {
		t.Fatal(err)
	}
	if e.alicePB, err = e.dir.CreatePhonebook(ctx, store.Phonebook{TenantID: ten.ID, Kind: store.BookPersonal, Name: "Mine", OwnerUserID: &a.ID}); err != nil {
		t.Fatal(err)
	}
	if e.group, err = e.dir.CreatePhonebook(ctx, store.Phonebook{TenantID: ten.ID, Kind: store.BookGroup, Name: "Sales", OwnerUserID: &a.ID, Members: []int64{b.ID}}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) add(t *testing.T, b store.Phonebook, given, family, work string) store.Contact {
	c, err := e.dir.SaveContact(context.Background(), b, store.Contact{GivenName: given, FamilyName: family, Numbers: store.Numbers{Work: work}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func names(hits []directory.Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.Contact.DisplayName+"/"+h.Rank)
	}
	return out
}

func TestSearchAndCallerID(t *testing.T) {
	for _, engine := range storetest.Engines(t) {
		t.Run(string(engine.Name), func(t *testing.T) {
			ctx := context.Background()
			e := setup(t, engine)
			m := e.add(t, e.company, "Hans", "Müller", "030 1234567")
			e.add(t, e.company, "Petra", "Müllerschön", "+49 89 987654-12")
			e.add(t, e.company, "Anna", "Schmidt", "0049 40 555 1234")
			e.add(t, e.alicePB, "Mila", "Privat", "0171 2345678")
			e.add(t, e.group, "Gerd", "Gruppe", "0221 99887766")
			if m.E164.Work != "+49301234567" || m.Numbers.Work != "030 1234567" {
				t.Fatalf("numbers: %+v %+v", m.Numbers, m.E164)
			}
			search := func(q string, v directory.Viewer) []string {
				hits, err := e.dir.Search(ctx, e.tenant, v, q, 50, "test")
				if err != nil {
					t.Fatal(err)
				}
				return names(hits)
			}
			pub := directory.Viewer{}
			if got := search("Mül", pub); len(got) != 2 || got[0] != "Hans Müller/prefix" {
				t.Errorf("Mül: %v", got)
			}
			if got := search("müller", pub); len(got) != 2 || got[0] != "Hans Müller/exact" || got[1] != "Petra Müllerschön/prefix" {
				t.Errorf("müller: %v", got)
			}
			if got := search("Mueler", pub); len(got) != 1 || got[0] != "Hans Müller/phonetic" {
				t.Errorf("Mueler: %v", got)
			}
			if got := search("llersch", pub); len(got) != 1 || got[0] != "Petra Müllerschön/substring" {
				t.Errorf("llersch: %v", got)
			}
			if got := search("hans mül", pub); len(got) != 1 {
				t.Errorf("hans mül: %v", got)
			}
			if got := search("+49 30 1234567", pub); len(got) != 1 || got[0] != "Hans Müller/exact" {
				t.Errorf("number: %v", got)
			}
			if got := search("4989", pub); len(got) != 1 || got[0] != "Petra Müllerschön/prefix" {
				t.Errorf("number prefix: %v", got)
			}
			if got := search("1234", pub); len(got) != 1 || got[0] != "Anna Schmidt/substring" {
				t.Errorf("number suffix: %v", got)
			}
			// Owner scoping: Mila is Alice's, Gerd is the group's (Alice owns, Bob is a member).
			if got := search("Mila", pub); len(got) != 0 {
				t.Errorf("personal entry visible to the company view: %v", got)
			}
			if got := search("Mila", directory.Viewer{UserID: e.bob}); len(got) != 0 {
				t.Errorf("Alice's entry visible to Bob: %v", got)
			}
			if got := search("Mila", directory.Viewer{UserID: e.alice}); len(got) != 1 {
				t.Errorf("Alice's entry for Alice: %v", got)
			}
			if got := search("Gerd", directory.Viewer{UserID: e.bob}); len(got) != 1 {
				t.Errorf("group entry for a member: %v", got)
			}
			if got := search("Gerd", pub); len(got) != 0 {
				t.Errorf("group entry for the company view: %v", got)
			}
			if n, ok := e.dir.CallerName(e.tenant, "+49301234567", 0); !ok || n != "Hans Müller" {
				t.Errorf("caller name: %q %v", n, ok)
			}
			if n, ok := e.dir.CallerName(e.tenant, "030 1234567", 0); !ok || n != "Hans Müller" {
				t.Errorf("caller name national: %q %v", n, ok)
			}
			if _, ok := e.dir.CallerName(e.tenant, "+491712345678", e.bob); ok {
				t.Error("Alice's personal entry named a call to Bob")
			}
			if n, ok := e.dir.CallerName(e.tenant, "+491712345678", e.alice); !ok || n != "Mila Privat" {
				t.Errorf("personal caller name: %q %v", n, ok)
			}
			// Updates and deletes reach the index at once, and a fresh load sees the same.
			m.FamilyName, m.DisplayName = "Maier", ""
			if _, err := e.dir.SaveContact(ctx, e.company, m); err != nil {
				t.Fatal(err)
			}
			if got := search("müller", pub); len(got) != 1 {
				t.Errorf("after rename: %v", got)
			}
			if got := search("maier", pub); len(got) != 1 || got[0] != "Hans Maier/exact" {
				t.Errorf("after rename: %v", got)
			}
			if err := e.dir.DeleteContact(ctx, e.tenant, m.ID); err != nil {
				t.Fatal(err)
			}
			if _, ok := e.dir.CallerName(e.tenant, "+49301234567", 0); ok {
				t.Error("deleted contact still names callers")
			}
			d2 := directory.New(e.db, nil, nil)
			if err := d2.Load(ctx); err != nil {
				t.Fatal(err)
			}
			if got, _ := d2.Search(ctx, e.tenant, pub, "Müllersch", 10, "test"); len(got) != 1 {
				t.Errorf("reloaded: %v", names(got))
			}
			if d2.Index(e.tenant).Len() != 4 {
				t.Errorf("reloaded %d contacts", d2.Index(e.tenant).Len())
			}
		})
	}
}
