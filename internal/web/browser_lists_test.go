package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
)

// columnTexts is the text of one column of the page's table, row by row.
func columnTexts(col int) chromedp.Action[[]string] {
	return chromedp.Evaluate[[]string](fmt.Sprintf(`Array.from(document.querySelectorAll("main table:not(.aside) tbody tr")).map(r => (r.cells[%d] || {}).innerText || "")`, col))
}

// TestBrowserListsSearchSortPages drives the users, extensions, CDR, audit and my-calls
// tables in Chromium: a search narrows the table, a column header sorts it both ways, and
// the next-page link continues the sorted, searched list by keyset where the last page ended.
func TestBrowserListsSearchSortPages(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	ctx := chrome(t, t.TempDir())
	def := defaultTenant(t, p)
	tp := func(path string) string { return fmt.Sprintf("%s/t/%d%s", p.URL, def.ID, path) }
	// 30 users called Person NN and 5 called Mia NN, created in a shuffled order so that
	// the id order is not the name order.
	for i := 0; i < 35; i++ {
		n := (i * 17) % 35
		name := fmt.Sprintf("Person %02d", n)
		if n >= 30 {
			name = fmt.Sprintf("Mia %02d", n)
		}
		p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/users", def.ID), p.AdminToken, map[string]string{"name": name, "email": fmt.Sprintf("p%02d@example.test", n)}, nil)
	}
	admin, err := p.App.DB.UserByEmail(t.Context(), def.ID, "admin@localhost")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	var recs []store.CallRecord
	for i := 0; i < 30; i++ {
		peer := fmt.Sprintf("+4930%04d", i)
		c := store.CDR{TenantID: def.ID, CallID: fmt.Sprintf("call-%d", i), Caller: "100", Callee: peer, CallerUserID: &admin.ID, Direction: "out",
			StartAt: now - int64(i)*60000, EndAt: now - int64(i)*60000 + int64(i)*1000, DurationMS: int64(i) * 1000, Cause: 16}
		j := store.JournalEntry{TenantID: def.ID, UserID: admin.ID, CallID: c.CallID, Direction: "out", PeerNumber: peer, StartAt: c.StartAt, Answered: true, DurationMS: c.DurationMS, Cause: 16}
		recs = append(recs, store.CallRecord{CDR: c, Journal: []store.JournalEntry{j}})
	}
	if err := p.App.DB.RecordCalls(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	signIn(t, ctx, p.URL, "default", "admin@localhost", privoxtest.AdminPassword)

	// Users: sort by name (one click ascending, another descending), then page on.
	var names, more []string
	run(t, ctx, "users sorted by name",
		chromedp.Navigate(tp("/users")),
		chromedp.Click(chromedp.CSS(`th a[href*="sort=name"]`)),
		chromedp.WaitVisible(chromedp.CSS(`th[aria-sort="ascending"]`)),
		into(columnTexts(1), &names),
	)
	if len(names) != 25 || names[0] != "Administrator" || names[1] != "Mia 30" || names[6] != "Person 00" {
		t.Fatalf("users by name, first page: %v", names)
	}
	shot(t, ctx, "users-sorted-en")
	run(t, ctx, "users by name, descending, page 2",
		chromedp.Click(chromedp.CSS(`th[aria-sort="ascending"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`th[aria-sort="descending"]`)),
		into(columnTexts(1), &names),
		chromedp.Click(chromedp.ID("#next-page")),
		chromedp.WaitVisible(chromedp.ID("#first-page")),
		into(columnTexts(1), &more),
	)
	all := append(names, more...)
	if len(all) != 36 || all[0] != "Person 29" || all[29] != "Person 00" || all[30] != "Mia 34" || all[35] != "Administrator" {
		t.Fatalf("users by name descending over two pages: %v", all)
	}
	// A search keeps the sort and finds the five Mias.
	run(t, ctx, "search users",
		chromedp.SendKeys(chromedp.ID("#q"), "mia"),
		chromedp.Click(chromedp.ID("#search-go")),
		// the answer is the new page once its search form offers to clear the search
		chromedp.WaitVisible(chromedp.CSS(`form[role="search"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`th[aria-sort="descending"]`)),
		into(columnTexts(1), &names),
	)
	if strings.Join(names, ",") != "Mia 34,Mia 33,Mia 32,Mia 31,Mia 30" {
		t.Fatalf("search mia, name descending: %v", names)
	}
	shot(t, ctx, "users-search-en")

	// CDRs: longest first, and a number search.
	var durs, callees []string
	run(t, ctx, "cdrs by duration",
		chromedp.Navigate(tp("/cdrs?sort=duration_ms&order=desc")),
		chromedp.WaitVisible(chromedp.CSS(`th[aria-sort="descending"]`)),
		into(columnTexts(5), &durs),
		chromedp.Click(chromedp.ID("#next-page")),
		chromedp.WaitVisible(chromedp.ID("#first-page")),
		into(columnTexts(5), &more),
	)
	if len(durs) != 25 || durs[0] != "29 s" || durs[24] != "5 s" || strings.Join(more, ",") != "4 s,3 s,2 s,1 s,0 s" {
		t.Fatalf("CDRs by duration descending: %v then %v", durs, more)
	}
	run(t, ctx, "cdr search",
		chromedp.Navigate(tp("/cdrs")),
		chromedp.SendKeys(chromedp.ID("#q"), "+49300012"),
		chromedp.Click(chromedp.ID("#search-go")),
		chromedp.WaitVisible(chromedp.CSS(`#q[value="+49300012"]`)),
		into(columnTexts(3), &callees),
	)
	if strings.Join(callees, ",") != "+49300012" {
		t.Fatalf("CDR search: %v", callees)
	}
	shot(t, ctx, "cdrs-en")
	// My calls: the journal, searched.
	run(t, ctx, "my calls search",
		chromedp.Navigate(tp("/me/calls?q=0007")),
		chromedp.WaitVisible(chromedp.CSS("main table")),
		into(columnTexts(2), &callees),
	)
	if len(callees) != 1 || !strings.Contains(callees[0], "+49300007") {
		t.Fatalf("my calls, q=0007: %v", callees)
	}
	shot(t, ctx, "my-calls-en")
	// A sort the API does not know is said, not ignored.
	var msg string
	run(t, ctx, "bad sort", chromedp.Navigate(tp("/users?sort=password")), into(chromedp.Text(chromedp.ID("#form-error")), &msg))
	if !strings.Contains(msg, "sort must be one of") {
		t.Fatalf("unknown sort: %q", msg)
	}
	// Audit: filtered by an action prefix, newest first.
	var actions []string
	run(t, ctx, "audit filter",
		chromedp.Navigate(tp("/audit")),
		chromedp.SendKeys(chromedp.ID("#action"), "user."),
		chromedp.Click(chromedp.ID("#filter-go")),
		chromedp.WaitVisible(chromedp.CSS(`#action[value="user."]`)),
		into(columnTexts(3), &actions),
	)
	if len(actions) == 0 {
		t.Fatal("audit filter user.: no rows")
	}
	for _, a := range actions {
		if !strings.HasPrefix(a, "user.") {
			t.Fatalf("audit filter user.: row %q", a)
		}
	}
	var ids []string
	run(t, ctx, "audit ids", into(columnTexts(0), &ids))
	if len(ids) > 1 && ids[0] < ids[1] && len(ids[0]) == len(ids[1]) {
		t.Fatalf("audit not newest first: %v", ids)
	}
	shot(t, ctx, "audit-filter-en")
}
