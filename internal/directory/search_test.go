package directory

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/privox/privox/internal/store"
)

// refSearch is Index.Search as it was before the search kept counts per token and remembered
// only accepted hits: every candidate marked in a map, the contacts under a prefix counted
// through the token map. The tests hold the index's answers to it.
func refSearch(ix *Index, q string, country string, v Viewer, limit int) []Hit {
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	col := &refCollector{ix: ix, v: &v, limit: limit, seen: map[uint32]bool{}}
	if looksLikeNumber(q) {
		refSearchNumber(ix, col, q, country)
		return col.hits
	}
	terms := tokens(q)
	if len(terms) == 0 {
		return nil
	}
	lead := 0
	if len(terms) > 1 {
		best := -1
		for i, t := range terms {
			if n := refPrefixCount(ix, t, best); best < 0 || n < best {
				lead, best = i, n
			}
		}
	}
	t := terms[lead]
	if len(terms) > 1 {
		others := append(slices.Clone(terms[:lead]), terms[lead+1:]...)
		col.keep = func(slot uint32) bool { return matchesAll(ix.folded[slot], others) }
	}
	if col.add(ix.postings(t), RankExact) {
		return col.hits
	}
	for _, k := range prefixRange(ix.tokKeys, t) {
		if k != t && col.add(ix.postings(k), RankPrefix) {
			return col.hits
		}
	}
	if len(t) >= 3 {
		var rare []uint32
		for i := 0; i+3 <= len(t); i++ {
			p := ix.tri[t[i:i+3]]
			if len(p) == 0 {
				rare = nil
				break
			}
			if rare == nil || len(p) < len(rare) {
				rare = p
			}
		}
		for _, id := range rare {
			k := ix.tokList[id]
			if !strings.HasPrefix(k, t) && strings.Contains(k, t) && col.add(ix.postings(k), RankSubstring) {
				return col.hits
			}
		}
		for _, k := range phonKeys(t) {
			if len(k) > 1 && col.add(ix.phon[k], RankPhonetic) {
				return col.hits
			}
		}
	}
	return col.hits
}

type refCollector struct {
	ix    *Index
	v     *Viewer
	limit int
	seen  map[uint32]bool
	hits  []Hit
	keep  func(slot uint32) bool
}

func (c *refCollector) add(p []uint32, r Rank) bool {
	for _, slot := range p {
		if c.seen[slot] {
			continue
		}
		c.seen[slot] = true
		e := &c.ix.entries[slot]
		if e.ID == 0 || !c.ix.visible(c.v, e) || (c.keep != nil && !c.keep(slot)) {
			continue
		}
		c.hits = append(c.hits, Hit{Contact: *e, Rank: r.String()})
		if len(c.hits) >= c.limit {
			return true
		}
	}
	return false
}

func refPrefixCount(ix *Index, t string, limit int) int {
	n := 0
	lo := sort.SearchStrings(ix.tokKeys, t)
	for _, k := range ix.tokKeys[lo:] {
		if !strings.HasPrefix(k, t) {
			break
		}
		n += len(ix.postings(k))
		if limit >= 0 && n > limit {
			break
		}
	}
	return n
}

func refSearchNumber(ix *Index, col *refCollector, q, country string) {
	if e := Normalize(q, country); e != "" {
		if col.add(ix.numPostings(e[1:]), RankExact) {
			return
		}
	}
	d := digits(q)
	if strings.HasPrefix(strings.TrimSpace(q), "00") {
		d = d[2:]
	}
	if d == "" {
		return
	}
	for _, k := range prefixRange(ix.numKeys.keys, d) {
		if col.add(ix.numPostings(k), RankPrefix) {
			return
		}
	}
	for _, k := range prefixRange(ix.revKeys.keys, reverse(d)) {
		if col.add(ix.numPostings(reverse(k)), RankSubstring) {
			return
		}
	}
}

// checkIndex verifies the index's derived per-key and per-slot arrays against the maps and
// entries they mirror.
func checkIndex(t *testing.T, ix *Index) {
	t.Helper()
	if len(ix.tokCnt) != len(ix.tokKeys) {
		t.Fatalf("tokCnt has %d counts for %d keys", len(ix.tokCnt), len(ix.tokKeys))
	}
	for i, k := range ix.tokKeys {
		if ix.tokList[ix.tokNum[i]] != k {
			t.Fatalf("token %q: number %d is %q", k, ix.tokNum[i], ix.tokList[ix.tokNum[i]])
		}
		if int(ix.tokCnt[i]) != len(ix.postings(k)) {
			t.Fatalf("token %q: count %d, %d slots", k, ix.tokCnt[i], len(ix.postings(k)))
		}
	}
	if len(ix.tokKeys) != len(ix.tok) || len(ix.tokList) != len(ix.tok) || len(ix.posts) != len(ix.tok) {
		t.Fatalf("%d sorted keys for %d tokens", len(ix.tokKeys), len(ix.tok))
	}
	for _, sk := range []struct {
		keys *sortedKeys
		rev  bool
	}{{&ix.numKeys, false}, {&ix.revKeys, true}} {
		if !slices.IsSorted(sk.keys.keys) || len(sk.keys.ids) != len(sk.keys.keys) {
			t.Fatalf("number keys unsorted or ids missing")
		}
		for i, k := range sk.keys.keys {
			if sk.rev {
				k = reverse(k)
			}
			if id, ok := ix.num[k]; !ok || id != sk.keys.ids[i] {
				t.Fatalf("number %q: id %d, map %d %v", k, sk.keys.ids[i], id, ok)
			}
		}
	}
	for slot := range ix.entries {
		want := int64(freeBook)
		if ix.entries[slot].ID != 0 {
			want = ix.entries[slot].PhonebookID
		}
		if ix.slotBook[slot] != want {
			t.Fatalf("slot %d: book %d, entry's %d", slot, ix.slotBook[slot], want)
		}
	}
}

var randSyllables = []string{"mül", "ler", "mu", "el", "schm", "idt", "meier", "mayr", "ba", "uer", "kra", "use", "ner", "hof",
	"mann", "be", "cker", "ko", "ch", "ri", "n", "ge", "wer", "jä", "ß", "o", "an", "na"}
var randGivens = []string{"Anna", "Hans", "Jürgen", "Maria", "Emma", "Mia", "Jonas", "Ann", "Hanna", "Müller", ""}

func randName(r *rand.Rand) string {
	var b strings.Builder
	for range 1 + r.IntN(3) {
		b.WriteString(randSyllables[r.IntN(len(randSyllables))])
	}
	s := b.String()
	if r.IntN(8) == 0 {
		s += "-" + randSyllables[r.IntN(len(randSyllables))]
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func randContact(r *rand.Rand, id int64) store.Contact {
	c := store.Contact{ID: id, PhonebookID: int64(1 + r.IntN(4)), GivenName: randGivens[r.IntN(len(randGivens))], FamilyName: randName(r)}
	switch r.IntN(4) {
	case 0:
		c.DisplayName = c.GivenName + " " + c.FamilyName
	case 1:
		c.DisplayName = randName(r) + " " + randName(r)
	}
	c.E164.Work = fmt.Sprintf("+4930%06d", r.IntN(1_000_000))
	if r.IntN(2) == 0 {
		c.E164.Mobile = fmt.Sprintf("+49171%05d", r.IntN(100_000))
	}
	return c
}

// randQuery is a query of the kinds people type: a name part's prefix, a whole name part,
// two or three words, a misspelling, a substring, a number's beginning or end, or nothing
// that is indexed.
func randQuery(r *rand.Rand, cs []store.Contact) string {
	c := cs[r.IntN(len(cs))]
	part := func() string {
		w := tokens(c.DisplayName + " " + c.GivenName + " " + c.FamilyName)
		if len(w) == 0 {
			return "x"
		}
		return w[r.IntN(len(w))]
	}
	cut := func(s string) string {
		rs := []rune(s)
		return string(rs[:1+r.IntN(len(rs))])
	}
	switch r.IntN(9) {
	case 0:
		return cut(part())
	case 1:
		return part()
	case 2:
		return cut(part()) + " " + cut(part())
	case 3:
		return part() + " " + cut(part()) + " " + cut(part())
	case 4:
		p := []byte(part())
		if len(p) > 2 {
			i := r.IntN(len(p))
			p = append(p[:i:i], p[i+1:]...)
		}
		return string(p)
	case 5:
		p := part()
		if len(p) > 3 {
			return p[1 : 1+r.IntN(len(p)-1)]
		}
		return p
	case 6:
		return c.E164.Work[:4+r.IntN(len(c.E164.Work)-4)]
	case 7:
		return c.E164.Work[len(c.E164.Work)-3-r.IntN(5):]
	}
	return randSyllables[r.IntN(len(randSyllables))] + " " + randGivens[r.IntN(len(randGivens))]
}

// TestSearchMatchesReference compares every answer of Search with refSearch's on random
// directories changed by adds, updates and removals (slots reused, postings out of slot
// order), for several viewers and page sizes, with the word filter's bitset never built,
// built after rejections, as estimated, and always at once.
func TestSearchMatchesReference(t *testing.T) {
	defer func(r int) { bitsetRent = r }(bitsetRent)
	for _, rent := range []int{0, 1, 128, 1 << 30} {
		bitsetRent = rent
		t.Run(fmt.Sprint("rent", rent), testSearchMatchesReference)
	}
}

func testSearchMatchesReference(t *testing.T) {
	owner, member := int64(7), int64(8)
	viewers := []Viewer{{}, {UserID: owner}, {UserID: member}, {UserID: 99}, {Books: map[int64]bool{3: true}}, {UserID: owner, Books: map[int64]bool{1: true, 4: true}}}
	ranks := map[string]int{}
	full, queries := 0, 0
	for seed := range uint64(4) {
		r := rand.New(rand.NewPCG(seed, 10))
		ix := newIndex()
		ix.setBook(store.Phonebook{ID: 1, Kind: store.BookCompany})
		ix.setBook(store.Phonebook{ID: 2, Kind: store.BookCompany})
		ix.setBook(store.Phonebook{ID: 3, Kind: store.BookGroup, OwnerUserID: &owner, Members: []int64{member}})
		ix.setBook(store.Phonebook{ID: 4, Kind: store.BookPersonal, OwnerUserID: &owner})
		var cs []store.Contact
		next := int64(1)
		for range 3000 {
			c := randContact(r, next)
			next++
			cs = append(cs, c)
			ix.put(c)
		}
		ix.commit()
		for round := range 6 {
			checkIndex(t, ix)
			for range 300 {
				q := randQuery(r, cs)
				v := viewers[r.IntN(len(viewers))]
				limit := []int{1, 5, 50, 50, 200, 0}[r.IntN(6)]
				got, want := ix.Search(q, "DE", v, limit), refSearch(ix, q, "DE", v, limit)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("seed %d round %d: Search(%q, %+v, %d): %d hits %v, reference %d hits %v", seed, round, q, v, limit, len(got), hitIDs(got), len(want), hitIDs(want))
				}
				queries++
				if lim := cmpLimit(limit); len(got) == lim {
					full++
				}
				for _, h := range got {
					ranks[h.Rank]++
				}
			}
			// Change the directory: remove some, rename some, add new ones into freed slots.
			for range 200 {
				i := r.IntN(len(cs))
				switch r.IntN(3) {
				case 0:
					ix.remove(cs[i].ID)
					cs[i] = cs[len(cs)-1]
					cs = cs[:len(cs)-1]
				case 1:
					c := randContact(r, cs[i].ID)
					cs[i] = c
					ix.put(c)
				default:
					c := randContact(r, next)
					next++
					cs = append(cs, c)
					ix.put(c)
				}
			}
			ix.commit()
		}
	}
	// The comparison means something only if the queries reached every stage.
	for _, rk := range []string{"exact", "prefix", "substring", "phonetic"} {
		if ranks[rk] == 0 {
			t.Errorf("no %s hits in %d queries", rk, queries)
		}
	}
	if full == 0 || full == queries {
		t.Errorf("%d of %d pages full", full, queries)
	}
}

func cmpLimit(limit int) int {
	if limit <= 0 || limit > 1000 {
		return 50
	}
	return limit
}

func hitIDs(hs []Hit) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = fmt.Sprintf("%d/%s", h.Contact.ID, h.Rank)
	}
	return out
}

// refScan is Index.Scan as it was before it skipped covered keys and remembered only
// visible slots.
func refScan(ix *Index, v Viewer, p Plan, fn func(c *store.Contact) bool) {
	if p.All {
		ix.Each(v, fn)
		return
	}
	seen := map[uint32]bool{}
	visit := func(slots []uint32) bool {
		for _, s := range slots {
			if seen[s] {
				continue
			}
			seen[s] = true
			c := &ix.entries[s]
			if c.ID != 0 && ix.visible(&v, c) && !fn(c) {
				return false
			}
		}
		return true
	}
	for _, n := range p.Numbers {
		if !visit(ix.numPostings(n)) {
			return
		}
	}
	for _, n := range p.Names {
		for _, k := range prefixRange(ix.tokKeys, n) {
			if !visit(ix.postings(k)) {
				return
			}
		}
	}
	for _, n := range p.NumPrefixes {
		for _, k := range prefixRange(ix.numKeys.keys, n) {
			if !visit(ix.numPostings(k)) {
				return
			}
		}
	}
	for _, n := range p.NumSuffixes {
		for _, k := range prefixRange(ix.revKeys.keys, reverse(n)) {
			if !visit(ix.numPostings(reverse(k))) {
				return
			}
		}
	}
}

// TestScanMatchesReference compares the contacts Scan visits, in order and with early stops,
// with refScan's for plans like the LDAP server's: the same name from several attributes,
// nested prefixes, exact numbers and number prefixes and suffixes.
func TestScanMatchesReference(t *testing.T) {
	owner, member := int64(7), int64(8)
	viewers := []Viewer{{}, {UserID: owner}, {UserID: member}, {Books: map[int64]bool{3: true}}}
	r := rand.New(rand.NewPCG(7, 8))
	ix := newIndex()
	ix.setBook(store.Phonebook{ID: 1, Kind: store.BookCompany})
	ix.setBook(store.Phonebook{ID: 2, Kind: store.BookCompany})
	ix.setBook(store.Phonebook{ID: 3, Kind: store.BookGroup, OwnerUserID: &owner, Members: []int64{member}})
	ix.setBook(store.Phonebook{ID: 4, Kind: store.BookPersonal, OwnerUserID: &owner})
	var cs []store.Contact
	for i := range 3000 {
		c := randContact(r, int64(i+1))
		cs = append(cs, c)
		ix.put(c)
	}
	ix.commit()
	for i := 0; i < 300; i++ {
		ix.remove(cs[r.IntN(len(cs))].ID)
	}
	visits := 0
	for range 2000 {
		var p Plan
		for range 1 + r.IntN(4) {
			c := cs[r.IntN(len(cs))]
			w := tokens(c.FamilyName + " " + c.GivenName)
			d := c.E164.Work[1:]
			switch r.IntN(4) {
			case 0:
				if len(w) > 0 {
					p = p.Union(Plan{Names: []string{w[0][:1+r.IntN(len(w[0]))]}})
				}
			case 1:
				p = p.Union(Plan{Numbers: []string{d}})
			case 2:
				p = p.Union(Plan{NumPrefixes: []string{d[:2+r.IntN(len(d)-2)]}})
			default:
				p = p.Union(Plan{NumSuffixes: []string{d[r.IntN(len(d)-2):]}})
			}
		}
		if r.IntN(3) == 0 { // the same key twice, as from (|(cn=x*)(sn=x*))
			p = p.Union(p)
		}
		v := viewers[r.IntN(len(viewers))]
		stop := 1 + r.IntN(200)
		collect := func(scan func(Viewer, Plan, func(*store.Contact) bool)) []int64 {
			var ids []int64
			scan(v, p, func(c *store.Contact) bool {
				ids = append(ids, c.ID)
				return len(ids) < stop
			})
			return ids
		}
		got := collect(ix.Scan)
		want := collect(func(v Viewer, p Plan, fn func(*store.Contact) bool) { refScan(ix, v, p, fn) })
		if !slices.Equal(got, want) {
			t.Fatalf("Scan(%+v, %+v): %v, reference %v", v, p, got, want)
		}
		visits += len(got)
	}
	if visits == 0 {
		t.Fatal("no contact visited")
	}
}
