package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/store/storetest"
)

// DIDs (with their time rules), the default destination, CLIR, the dialling settings' calendar
// and ring groups on every engine: replaced by their key, kept per tenant, members in order
// and gone with their group.
func TestDIDsGroupsCLIR(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, err := db.CreateTenant(ctx, store.Tenant{Name: "acme"})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := db.CreateTenant(ctx, store.Tenant{Name: "beta"})
		d, err := db.PutDID(ctx, store.DID{TenantID: a.ID, Number: "+49305550100", Last: "+49305550199", DestKind: "extension", DestNumber: "1001"})
		if err != nil || d.ID == 0 {
			t.Fatalf("put DID: %+v %v", d, err)
		}
		d2, err := db.PutDID(ctx, store.DID{TenantID: a.ID, Number: "+49305550100", Last: "+49305550100", DestKind: "group", DestNumber: "600"})
		if err != nil || d2.ID != d.ID || d2.Last != "+49305550100" || d2.DestKind != "group" {
			t.Fatalf("replace DID: %+v %v", d2, err)
		}
		d3, err := db.PutDID(ctx, store.DID{TenantID: a.ID, Number: "+49305550100", Last: "+49305550100", DestKind: "group", DestNumber: "600",
			Calendar: "office", ClosedKind: "mailbox", ClosedNumber: "1001"})
		if err != nil || d3.ID != d.ID {
			t.Fatalf("DID with a time rule: %+v %v", d3, err)
		}
		if got, err := db.DIDByID(ctx, a.ID, d.ID); err != nil || got.Calendar != "office" || got.ClosedKind != "mailbox" || got.ClosedNumber != "1001" {
			t.Fatalf("stored time rule: %+v %v", got, err)
		}
		set := store.DefaultDialSettings(a.ID)
		set.OutsideCalendar = "office"
		if _, err := db.PutDialSettings(ctx, set); err != nil {
			t.Fatal(err)
		}
		if got, err := db.DialSettings(ctx, a.ID); err != nil || got.OutsideCalendar != "office" || got.MaxConcurrent != 2 {
			t.Fatalf("dial settings %+v %v", got, err)
		}
		if got, _ := db.DialSettings(ctx, b.ID); got.OutsideCalendar != "" {
			t.Fatalf("dial settings of another tenant %+v", got)
		}
		if _, err := db.DIDByID(ctx, b.ID, d.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("DID of another tenant: %v", err)
		}
		if err := db.DeleteDID(ctx, b.ID, d.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete as another tenant: %v", err)
		}
		for _, dd := range []store.DIDDefault{{TenantID: a.ID, DestKind: "extension", DestNumber: "1001"}, {TenantID: a.ID, DestKind: "group", DestNumber: "600"}} {
			if _, err := db.PutDIDDefault(ctx, dd); err != nil {
				t.Fatal(err)
			}
		}
		if def, err := db.DIDDefault(ctx, a.ID); err != nil || def.DestKind != "group" {
			t.Fatalf("default %+v %v", def, err)
		}
		if def, _ := db.DIDDefault(ctx, b.ID); def.DestKind != "" {
			t.Fatalf("default of another tenant %+v", def)
		}
		u, err := db.CreateUser(ctx, store.User{TenantID: a.ID, Name: "Ann", Email: "ann@acme.test"})
		if err != nil {
			t.Fatal(err)
		}
		for _, on := range []bool{true, false, true} {
			if err := db.PutCLIR(ctx, a.ID, u.ID, on); err != nil {
				t.Fatal(err)
			}
		}
		if on, err := db.CLIR(ctx, a.ID, u.ID); err != nil || !on {
			t.Fatalf("CLIR %v %v", on, err)
		}
		if us, err := db.CLIRUsers(ctx, a.ID); err != nil || !us[u.ID] || len(us) != 1 {
			t.Fatalf("CLIR users %v %v", us, err)
		}
		g, err := db.PutRingGroup(ctx, store.RingGroup{TenantID: a.ID, Number: "600", Strategy: "sequential", RingTimeS: 20,
			Members: []store.RingGroupMember{{Extension: "1002", RingTimeS: 10}, {Extension: "1001"}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.PutRingGroup(ctx, store.RingGroup{TenantID: a.ID, Number: "600", Strategy: "simultaneous", RingTimeS: 30,
			Members: []store.RingGroupMember{{Extension: "1003"}, {Extension: "1002"}, {Extension: "1001"}}}); err != nil {
			t.Fatal(err)
		}
		got, err := db.RingGroup(ctx, a.ID, "600")
		if err != nil || got.ID != g.ID || got.Strategy != "simultaneous" || len(got.Members) != 3 || got.Members[0].Extension != "1003" {
			t.Fatalf("group %+v %v", got, err)
		}
		if gs, err := db.ListRingGroups(ctx, b.ID); err != nil || len(gs) != 0 {
			t.Fatalf("groups of another tenant %v %v", gs, err)
		}
		if err := db.DeleteRingGroup(ctx, a.ID, "600"); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM ring_group_members`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d members left (%v)", n, err)
		}
	})
}
