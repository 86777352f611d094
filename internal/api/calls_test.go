package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/privox/privox/internal/store"
)

// TestCDRsAndJournal: CDRs for admins of the tenant only, journals for the user and admins,
// nothing of another tenant, keyset pagination.
func TestCDRsAndJournal(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	db := f.p.App.DB
	record := func(tenant, caller, callee int64, callID string, cause int) {
		t.Helper()
		c := store.CDR{TenantID: tenant, CallID: callID, Caller: "1001", Callee: "1002", CallerUserID: &caller, CalleeUserID: &callee,
			Direction: "internal", StartAt: 1000, EndAt: 2000, Cause: cause}
		j := []store.JournalEntry{
			{TenantID: tenant, UserID: caller, CallID: callID, Direction: "out", PeerNumber: "1002", StartAt: 1000, Cause: cause},
			{TenantID: tenant, UserID: callee, CallID: callID, Direction: "in", PeerNumber: "1001", StartAt: 1000, Cause: cause},
		}
		if _, err := db.RecordCall(ctx, c, j); err != nil {
			t.Fatal(err)
		}
	}
	record(f.tenantA, f.userA, f.memberIDA, "a-1", 200)
	record(f.tenantA, f.memberIDA, f.userA, "a-2", 486)
	record(f.tenantA, f.userA, f.userA, "a-3", 404)
	record(f.tenantB, f.userB, f.userB, "b-1", 200)

	type page[T any] struct {
		Items     []T    `json:"items"`
		NextAfter *int64 `json:"next_after"`
	}
	get := func(token, path string, want int) []byte {
		t.Helper()
		st, body := f.p.Do("GET", path, token, nil)
		if st != want {
			t.Fatalf("GET %s: %d, want %d: %s", path, st, want, body)
		}
		return body
	}
	cdrs := func(token, path string) page[store.CDR] {
		var p page[store.CDR]
		if err := json.Unmarshal(get(token, path, 200), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := f.tenantA, f.tenantB
	all := cdrs(f.adminA, fmt.Sprintf("/api/v1/tenants/%d/cdrs", a))
	if len(all.Items) != 3 {
		t.Fatalf("tenant A has %d CDRs, want 3", len(all.Items))
	}
	for _, c := range all.Items {
		if c.TenantID != a {
			t.Errorf("CDR of tenant %d in tenant A's list", c.TenantID)
		}
	}
	if got := cdrs(f.adminB, fmt.Sprintf("/api/v1/tenants/%d/cdrs", b)); len(got.Items) != 1 || got.Items[0].CallID != "b-1" {
		t.Errorf("tenant B's CDRs: %+v", got.Items)
	}
	// pagination and the user filter
	p1 := cdrs(f.adminA, fmt.Sprintf("/api/v1/tenants/%d/cdrs?limit=2", a))
	if len(p1.Items) != 2 || p1.NextAfter == nil {
		t.Fatalf("first page: %d items, next %v", len(p1.Items), p1.NextAfter)
	}
	if p2 := cdrs(f.adminA, fmt.Sprintf("/api/v1/tenants/%d/cdrs?limit=2&after=%d", a, *p1.NextAfter)); len(p2.Items) != 1 || p2.Items[0].CallID != "a-3" {
		t.Errorf("second page: %+v", p2.Items)
	}
	if m := cdrs(f.adminA, fmt.Sprintf("/api/v1/tenants/%d/cdrs?user=%d", a, f.memberIDA)); len(m.Items) != 2 {
		t.Errorf("CDRs involving the member: %d, want 2", len(m.Items))
	}
	get(f.adminA, fmt.Sprintf("/api/v1/tenants/%d/cdrs?limit=0", a), http.StatusBadRequest)
	get(f.adminA, fmt.Sprintf("/api/v1/tenants/%d/cdrs?user=x", a), http.StatusBadRequest)

	// CDRs are for admins; another tenant's do not exist
	get(f.memberA, fmt.Sprintf("/api/v1/tenants/%d/cdrs", a), http.StatusForbidden)
	get(f.adminB, fmt.Sprintf("/api/v1/tenants/%d/cdrs", a), http.StatusNotFound)
	get(f.adminA, fmt.Sprintf("/api/v1/tenants/%d/cdrs", b), http.StatusNotFound)

	// journals: the user themself and admins of the tenant
	journal := func(token string, user int64) []store.JournalEntry {
		var p page[store.JournalEntry]
		if err := json.Unmarshal(get(token, fmt.Sprintf("/api/v1/tenants/%d/users/%d/journal", a, user), 200), &p); err != nil {
			t.Fatal(err)
		}
		return p.Items
	}
	mine := journal(f.memberA, f.memberIDA)
	if len(mine) != 2 {
		t.Fatalf("member's journal: %d entries, want 2", len(mine))
	}
	for _, j := range mine {
		if j.UserID != f.memberIDA {
			t.Errorf("someone else's entry in the member's journal: %+v", j)
		}
	}
	if got := journal(f.adminA, f.memberIDA); len(got) != 2 {
		t.Errorf("admin reading the member's journal: %d entries", len(got))
	}
	get(f.memberA, fmt.Sprintf("/api/v1/tenants/%d/users/%d/journal", a, f.userA), http.StatusForbidden)
	get(f.adminB, fmt.Sprintf("/api/v1/tenants/%d/users/%d/journal", a, f.memberIDA), http.StatusNotFound)
	get(f.adminA, fmt.Sprintf("/api/v1/tenants/%d/users/%d/journal", a, f.userB), http.StatusNotFound) // B's user is not in A
	get(f.adminA, fmt.Sprintf("/api/v1/tenants/%d/users/999999/journal", a), http.StatusNotFound)
}
