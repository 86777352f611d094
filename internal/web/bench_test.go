package web_test

import (
	"fmt"
	"html"
	"io"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
)

// benchSize reads a row count from the environment (the figures are
// PRIVOX_BENCH_USERS=10000 PRIVOX_BENCH_CDRS=1000000; the defaults keep a CI run short).
func benchSize(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkListPages measures the server time of every list page of the console (users,
// extensions, CDRs, audit, my calls), the first page and a deep page reached by keyset, in
// a tenant holding PRIVOX_BENCH_USERS users and PRIVOX_BENCH_CDRS CDRs, with 8 concurrent
// signed-in clients; it reports the p99 and the largest page transferred.
//
//	PRIVOX_BENCH_USERS=10000 PRIVOX_BENCH_CDRS=1000000 go test -run '^$' -bench ListPages -benchtime 2000x ./internal/web
func BenchmarkListPages(b *testing.B) {
	nUsers, nCDRs := benchSize("PRIVOX_BENCH_USERS", 500), benchSize("PRIVOX_BENCH_CDRS", 5000)
	p := privoxtest.Start(b, privoxtest.Options{})
	ctx := b.Context()
	def, err := p.App.DB.TenantByName(ctx, "default")
	if err != nil {
		b.Fatal(err)
	}
	admin, err := p.App.DB.UserByEmail(ctx, def.ID, "admin@localhost")
	if err != nil {
		b.Fatal(err)
	}
	seed := time.Now()
	var mu sync.Mutex
	for i := 0; i < nUsers; i++ {
		if _, err := p.App.DB.CreateUser(ctx, store.User{TenantID: def.ID, Name: fmt.Sprintf("Person %05d", (i*7919)%nUsers), Email: fmt.Sprintf("p%d@bench.test", i), Language: "en", Role: "user", Active: true}); err != nil {
			b.Fatal(err)
		}
	}
	now := time.Now().UnixMilli()
	const batch = 5000
	for start := 0; start < nCDRs; start += batch {
		var recs []store.CallRecord
		for i := start; i < min(start+batch, nCDRs); i++ {
			c := store.CDR{TenantID: def.ID, CallID: "bench-" + strconv.Itoa(i), Caller: "100", Callee: fmt.Sprintf("+49301%06d", i), CallerUserID: &admin.ID,
				Direction: "out", StartAt: now - int64(nCDRs-i)*1000, EndAt: now - int64(nCDRs-i)*1000 + 30000, DurationMS: int64(i%600) * 1000, Cause: 16}
			var j []store.JournalEntry
			if i%10 == 0 {
				j = []store.JournalEntry{{TenantID: def.ID, UserID: admin.ID, CallID: c.CallID, Direction: "out", PeerNumber: c.Callee, StartAt: c.StartAt, Answered: true, DurationMS: c.DurationMS, Cause: 16}}
			}
			recs = append(recs, store.CallRecord{CDR: c, Journal: j})
		}
		if err := p.App.DB.RecordCalls(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("seeded %d users and %d CDRs in %v", nUsers, nCDRs, time.Since(seed).Round(time.Millisecond))

	const clients = 8
	browsers := make([]*browser, clients)
	for i := range browsers {
		browsers[i] = newBrowser(&testing.T{}, p.URL)
		br := browsers[i]
		_, page := getPage(b, br, "/login")
		form := url.Values{"csrf": {csrfFromPage(b, page)}, "tenant": {"default"}, "email": {"admin@localhost"}, "password": {privoxtest.AdminPassword}}
		resp, err := br.c.PostForm(p.URL+"/login", form)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
	// The deep pages: a cursor far into each list, as the next-page links carry it.
	t := def.ID
	pages := []string{
		fmt.Sprintf("/t/%d/users", t),
		fmt.Sprintf("/t/%d/users?sort=name&after=%d&after_key=%s", t, nUsers/2, url.QueryEscape(fmt.Sprintf("Person %05d", nUsers*9/10))),
		fmt.Sprintf("/t/%d/extensions", t),
		fmt.Sprintf("/t/%d/cdrs", t),
		fmt.Sprintf("/t/%d/cdrs?after=%d", t, nCDRs*9/10),
		fmt.Sprintf("/t/%d/cdrs?order=desc&after=%d", t, nCDRs/10),
		fmt.Sprintf("/t/%d/audit", t),
		fmt.Sprintf("/t/%d/me/calls", t),
		fmt.Sprintf("/t/%d/me/calls?after=%d", t, nCDRs/2),
	}
	lat := map[string][]time.Duration{}
	size := map[string]int{}
	var next int
	b.ResetTimer()
	var clientN int
	b.SetParallelism(max(1, clients/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		br := browsers[clientN%clients]
		clientN++
		mu.Unlock()
		for pb.Next() {
			mu.Lock()
			path := pages[next%len(pages)]
			next++
			mu.Unlock()
			start := time.Now()
			resp, err := br.c.Get(p.URL + path)
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			d := time.Since(start)
			if resp.StatusCode != 200 {
				b.Errorf("%s: %d", path, resp.StatusCode)
				return
			}
			mu.Lock()
			lat[path] = append(lat[path], d)
			size[path] = max(size[path], int(n))
			mu.Unlock()
		}
	})
	b.StopTimer()
	var worst time.Duration
	heaviest := 0
	for _, path := range pages {
		ds := lat[path]
		if len(ds) == 0 {
			continue
		}
		slices.Sort(ds)
		p99 := ds[min(len(ds)-1, len(ds)*99/100)]
		worst = max(worst, p99)
		heaviest = max(heaviest, size[path])
		b.Logf("%-70s n=%4d p50=%6.2fms p99=%6.2fms %6.1f kB", path, len(ds), float64(ds[len(ds)/2].Microseconds())/1000, float64(p99.Microseconds())/1000, float64(size[path])/1000)
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "p99-ms-worst-page")
	b.ReportMetric(float64(heaviest)/1000, "kB-heaviest-page")
}

func getPage(b *testing.B, br *browser, path string) (int, string) {
	resp, err := br.c.Get(br.base + path)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func csrfFromPage(b *testing.B, page string) string {
	m := csrfRe.FindStringSubmatch(page)
	if m == nil {
		b.Fatalf("no CSRF token in %.200s", page)
	}
	return html.UnescapeString(m[1])
}
