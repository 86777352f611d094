package api_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
)

// TestSortedSearchedKeysetPages pages through the users sorted by name both ways, with
// names that tie, and through a search: every page continues exactly where the last one
// ended (nothing skipped or repeated), in the order asked for.
func TestSortedSearchedKeysetPages(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	names := []string{"Mia", "anna", "Zoe", "Mia", "Bob", "mia", "Carl 50%_off", "Mia", "Dora"}
	for i, n := range names {
		p.MustDo(201, "POST", "/api/v1/tenants/1/users", p.AdminToken, map[string]any{"name": n, "email": fmt.Sprintf("u%d@x.test", i)}, nil)
	}
	walk := func(query string) []store.User {
		t.Helper()
		var all []store.User
		cur := ""
		for i := 0; i < 20; i++ {
			var l struct {
				Items     []store.User `json:"items"`
				NextAfter *int64       `json:"next_after"`
				NextKey   *string      `json:"next_key"`
			}
			p.MustDo(200, "GET", "/api/v1/tenants/1/users?limit=2&"+query+cur, p.AdminToken, nil, &l)
			all = append(all, l.Items...)
			if l.NextAfter == nil {
				return all
			}
			cur = fmt.Sprintf("&after=%d", *l.NextAfter)
			if l.NextKey != nil {
				cur += "&after_key=" + url.QueryEscape(*l.NextKey)
			}
		}
		t.Fatalf("%s: no end after 20 pages", query)
		return nil
	}
	byName := func(a, b store.User) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return int(a.ID - b.ID)
	}
	asc := walk("sort=name")
	if len(asc) != len(names)+1 || !slices.IsSortedFunc(asc, byName) {
		t.Fatalf("sorted by name: %d users, order %v", len(asc), userNames(asc))
	}
	desc := walk("sort=name&order=desc")
	slices.Reverse(desc)
	if !slices.EqualFunc(asc, desc, func(a, b store.User) bool { return a.ID == b.ID }) {
		t.Fatalf("descending is not ascending reversed:\n%v\n%v", userNames(asc), userNames(desc))
	}
	ids := walk("order=desc")
	if len(ids) != len(names)+1 || !slices.IsSortedFunc(ids, func(a, b store.User) int { return int(b.ID - a.ID) }) {
		t.Fatalf("by id descending: %v", userNames(ids))
	}
	mia := walk("q=MIA&sort=email")
	if len(mia) != 4 {
		t.Fatalf("q=MIA found %v, want the four Mias", userNames(mia))
	}
	// LIKE's wildcards are searched for as themselves.
	if got := walk("q=" + url.QueryEscape("%_")); len(got) != 1 || got[0].Name != "Carl 50%_off" {
		t.Fatalf("q=%%_ found %v", userNames(got))
	}
	for _, bad := range []string{"sort=password", "order=up", "q=" + strings.Repeat("x", 201)} {
		if st, _ := p.Do("GET", "/api/v1/tenants/1/users?"+bad, p.AdminToken, nil); st != 400 {
			t.Errorf("%s: status %d, want 400", bad, st)
		}
	}
	if st, _ := p.Do("GET", "/api/v1/tenants/1/tokens?q=x", p.AdminToken, nil); st != 400 {
		t.Errorf("q on a list without search: %d, want 400", st)
	}
}

func userNames(us []store.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, fmt.Sprintf("%d:%s", u.ID, u.Name))
	}
	return out
}
