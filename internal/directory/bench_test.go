package directory

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/privox/privox/internal/store"
)

// benchIndex is a company phonebook of n contacts with names made of syllables (many distinct
// surnames, as in a real company directory) and unique numbers.
var (
	benchOnce sync.Once
	benchIx   *Index
	benchCs   []store.Contact
)

var syllables = []string{"mül", "ler", "schm", "idt", "ba", "uer", "kra", "use", "wag", "ner", "fi", "sch", "hof", "mann", "be", "cker",
	"ko", "ch", "ri", "ter", "klein", "wolf", "neu", "schwarz", "zim", "mer", "brau", "n", "hart", "lan", "ge", "wer", "sto", "ja", "ko", "bs", "en"}
var givens = []string{"Anna", "Hans", "Jürgen", "Maria", "Thomas", "Petra", "Sabine", "Klaus", "Lena", "Jonas", "Emma", "Paul", "Mia", "Felix", "Leon", "Lukas"}

func benchName(r *rand.Rand) string {
	n := 2 + r.IntN(3)
	b := []byte{}
	for i := 0; i < n; i++ {
		b = append(b, syllables[r.IntN(len(syllables))]...)
	}
	b[0] -= 32
	return string(b)
}

func buildBench(n int) (*Index, []store.Contact) {
	r := rand.New(rand.NewPCG(1, 2))
	ix := newIndex()
	ix.setBook(store.Phonebook{ID: 1, Kind: store.BookCompany})
	cs := make([]store.Contact, n)
	for i := range cs {
		c := store.Contact{ID: int64(i + 1), PhonebookID: 1, GivenName: givens[r.IntN(len(givens))], FamilyName: benchName(r)}
		c.DisplayName = c.GivenName + " " + c.FamilyName
		c.E164.Work = fmt.Sprintf("+4930%08d", (i*7919+1234567)%100000000)
		c.E164.Mobile = fmt.Sprintf("+49171%08d", (i*104729+7654321)%100000000)
		cs[i] = c
		ix.put(c)
	}
	ix.commit()
	return ix, cs
}

func benchData(b *testing.B) (*Index, []store.Contact) {
	benchOnce.Do(func() {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		start := time.Now()
		benchIx, benchCs = buildBench(1_000_000)
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.Logf("indexed %d contacts in %v, heap %d MB", len(benchCs), time.Since(start).Round(time.Millisecond), (m1.HeapAlloc-m0.HeapAlloc)>>20)
	})
	return benchIx, benchCs
}

// reportP99 runs op b.N times and reports p50 and p99 latencies and the process CPU time per
// operation (user and system, garbage collection included: on a shared machine the latency
// holds the waits for a core, the CPU time does not).
func reportP99(b *testing.B, op func(i int)) {
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		op(i)
		lat = append(lat, time.Since(t0))
	}
	cpu := processCPU() - cpu0
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkSearch1M mixes the searches phones and users make over 1,000,000 contacts: name
// prefixes of 3 letters, full surnames, two-word queries, phonetic misspellings, substrings
// and number prefixes, 50 results per page.
func BenchmarkSearch1M(b *testing.B) {
	ix, cs := benchData(b)
	r := rand.New(rand.NewPCG(3, 4))
	queries := make([]string, 4096)
	for i := range queries {
		c := cs[r.IntN(len(cs))]
		switch i % 6 {
		case 0:
			queries[i] = string([]rune(c.FamilyName)[:3])
		case 1:
			queries[i] = c.FamilyName
		case 2:
			queries[i] = c.GivenName + " " + string([]rune(c.FamilyName)[:4])
		case 3:
			queries[i] = "Mueler"
		case 4:
			queries[i] = "erschw"
		case 5:
			queries[i] = c.E164.Work[:9]
		}
	}
	v := Viewer{}
	reportP99(b, func(i int) { ix.Search(queries[i%len(queries)], "DE", v, 50) })
}

// BenchmarkSearchKinds1M reports each kind of BenchmarkSearch1M's queries on its own.
func BenchmarkSearchKinds1M(b *testing.B) {
	ix, cs := benchData(b)
	r := rand.New(rand.NewPCG(3, 4))
	kinds := map[string]func(c store.Contact) string{
		"prefix3":   func(c store.Contact) string { return string([]rune(c.FamilyName)[:3]) },
		"surname":   func(c store.Contact) string { return c.FamilyName },
		"two-words": func(c store.Contact) string { return c.GivenName + " " + string([]rune(c.FamilyName)[:4]) },
		"phonetic":  func(c store.Contact) string { return "Mueler" },
		"substring": func(c store.Contact) string { return "erschw" },
		"number":    func(c store.Contact) string { return c.E164.Work[:9] },
	}
	for name, mk := range kinds {
		queries := make([]string, 1024)
		for i := range queries {
			queries[i] = mk(cs[r.IntN(len(cs))])
		}
		b.Run(name, func(b *testing.B) {
			reportP99(b, func(i int) { ix.Search(queries[i%len(queries)], "DE", Viewer{}, 50) })
		})
	}
}

// BenchmarkCallerID1M is the caller-ID lookup in the call path over 1,000,000 contacts.
func BenchmarkCallerID1M(b *testing.B) {
	ix, cs := benchData(b)
	nums := make([]string, 4096)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range nums {
		nums[i] = cs[r.IntN(len(cs))].E164.Mobile
	}
	reportP99(b, func(i int) {
		if _, ok := ix.CallerName(nums[i%len(nums)], 0); !ok {
			b.Fatal("number not found")
		}
	})
}

// processCPU is the user and system CPU time the test process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScan1M is the LDAP server's candidate scan over 1,000,000 contacts for the filters
// desk phones send: a name-prefix page, `(|(cn=Mül*)(sn=Mül*))` (the same prefix twice, 50
// entries), the same with a whole surname (a page that does not fill), and a number lookup; "reference" runs the scan as it was before it skipped
// covered keys (refScan, in search_test.go) on the same index.
func BenchmarkScan1M(b *testing.B) {
	ix, cs := benchData(b)
	r := rand.New(rand.NewPCG(7, 8))
	plans := map[string][]Plan{}
	for range 1024 {
		c := cs[r.IntN(len(cs))]
		p := NamePlan(string([]rune(c.FamilyName)[:3]))
		plans["name-prefix"] = append(plans["name-prefix"], p.Union(p))
		p = NamePlan(c.FamilyName)
		plans["whole-name"] = append(plans["whole-name"], p.Union(p))
		plans["number"] = append(plans["number"], Plan{Numbers: []string{c.E164.Work[1:]}})
	}
	scans := map[string]func(Viewer, Plan, func(*store.Contact) bool){
		"scan": ix.Scan,
		"reference": func(v Viewer, p Plan, fn func(*store.Contact) bool) {
			ix.mu.RLock()
			refScan(ix, v, p, fn)
			ix.mu.RUnlock()
		},
	}
	for _, kind := range []string{"name-prefix", "whole-name", "number"} {
		for _, name := range []string{"scan", "reference"} {
			scan, ps := scans[name], plans[kind]
			b.Run(kind+"/"+name, func(b *testing.B) {
				reportP99(b, func(i int) {
					n := 0
					scan(Viewer{}, ps[i%len(ps)], func(*store.Contact) bool { n++; return n < 50 })
				})
			})
		}
	}
}
