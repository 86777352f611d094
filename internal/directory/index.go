package directory

import (
	"iter"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/privox/privox/internal/store"
)

// Index is the in-memory search index of one tenant's phonebooks. It holds every contact
// (the cache the LDAP server and the search API answer from) and, per contact, its folded
// name tokens, their phonetic codes and its E.164 numbers. It is built from the store at
// start and changed in place on every write; nothing about a query is kept.
type Index struct {
	mu sync.RWMutex
	// entries are indexed by slot; a deleted entry has ID 0 and its slot is reused.
	entries []store.Contact
	free    []uint32
	byID    map[int64]uint32
	books   map[int64]bookInfo

	tok     map[string]uint32 // folded name token → its token number
	posts   [][]uint32        // by token number: the slots holding the token
	tokList []string          // every token ever indexed, by token number
	tokKeys []string          // every token ever indexed, sorted (prefix ranges)
	// tokNum and tokCnt hold, for each key of tokKeys in the same order, its token number
	// and len(posts[number]): a prefix range is walked and its contacts counted from
	// contiguous arrays instead of looking every key up in tok (a 4-letter prefix spans
	// thousands of keys).
	tokNum []uint32
	tokCnt []uint32
	tri    map[string][]uint32 // three-byte sequence → numbers of the tokens holding it
	folded []string            // per slot: the folded name tokens joined by spaces
	// slotBook is the phonebook of the entry in each slot (freeBook for a free slot), so that
	// a search rejects candidates it may not show without reading the whole entry.
	slotBook []int64
	phon     map[string][]uint32 // "c"+Kölner code or "m"+Metaphone code → slots
	num      map[string]uint32   // E.164 digits (no "+") → the number's number in numPosts
	numPosts [][]uint32          // by number: the slots holding it
	numKeys  sortedKeys          // E.164 digits, sorted (prefix ranges)
	revKeys  sortedKeys          // reversed E.164 digits, sorted (suffix ranges)

	newToks, newNums []string // keys added by the current batch, merged by commit
	// maxUpdated is the latest change of any contact indexed (Reconcile compares it).
	maxUpdated int64
}

// freeBook marks a free slot in slotBook; no phonebook has it.
const freeBook = -1

type bookInfo struct {
	kind    string
	owner   int64
	members map[int64]bool
	// priority is the highest priority of the sources replicated into the book: when
	// entries of several books share a number, the higher one names the caller.
	priority int
}

// Viewer says who searches: personal entries are visible only to their owner, group entries
// to the group phonebook's owner and members, company entries to everyone in the tenant.
// Books, when set, narrows results to those phonebooks (an LDAP bind for one phonebook).
type Viewer struct {
	UserID int64
	Books  map[int64]bool
}

// CompanyOnly is the viewer of a tenant-wide LDAP bind: company phonebooks only.
var CompanyOnly = Viewer{}

func newIndex() *Index {
	return &Index{byID: map[int64]uint32{}, books: map[int64]bookInfo{}, tok: map[string]uint32{},
		phon: map[string][]uint32{}, num: map[string]uint32{}, tri: map[string][]uint32{}}
}

// Len returns the number of contacts indexed.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.byID)
}

func (ix *Index) setBook(b store.Phonebook) {
	bi := bookInfo{kind: b.Kind, members: map[int64]bool{}, priority: ix.books[b.ID].priority}
	if b.OwnerUserID != nil {
		bi.owner = *b.OwnerUserID
	}
	for _, m := range b.Members {
		bi.members[m] = true
	}
	ix.books[b.ID] = bi
}

// visible reports whether v may see the entry c.
func (ix *Index) visible(v *Viewer, c *store.Contact) bool { return ix.visibleBook(v, c.PhonebookID) }

// visibleBook reports whether v may see the entries of a phonebook.
func (ix *Index) visibleBook(v *Viewer, book int64) bool {
	if v.Books != nil && !v.Books[book] {
		return false
	}
	b, ok := ix.books[book]
	if !ok {
		return false
	}
	switch b.kind {
	case store.BookCompany:
		return true
	case store.BookGroup:
		return v.UserID != 0 && (b.owner == v.UserID || b.members[v.UserID]) || v.Books != nil
	case store.BookPersonal:
		return v.UserID != 0 && b.owner == v.UserID
	}
	return false
}

// nameTokens returns the folded tokens of every name part of a contact.
func nameTokens(c *store.Contact) []string {
	var out []string
	for _, s := range [...]string{c.DisplayName, c.GivenName, c.FamilyName} {
		for _, t := range tokens(s) {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	return out
}

// contactNumbers returns the index keys of a contact's numbers: the E.164 digits, or for a
// number that does not normalise (an internal extension such as "1001") "x" and its digits,
// which only exact lookups (caller ID) use.
func contactNumbers(c *store.Contact) []string {
	var out []string
	entered := c.Numbers.Slots()
	for i, p := range c.E164.Slots() {
		d := strings.TrimPrefix(*p, "+")
		if d == "" {
			if x := digits(*entered[i]); x != "" {
				d = "x" + x
			}
		}
		if d != "" && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// put adds or replaces a contact; call commit after a batch of puts.
func (ix *Index) put(c store.Contact) {
	ix.maxUpdated = max(ix.maxUpdated, c.UpdatedAt)
	if slot, ok := ix.byID[c.ID]; ok {
		ix.unlink(slot)
		ix.entries[slot] = c
		ix.slotBook[slot] = c.PhonebookID
		ix.link(slot)
		return
	}
	var slot uint32
	if n := len(ix.free); n > 0 {
		slot = ix.free[n-1]
		ix.free = ix.free[:n-1]
		ix.entries[slot] = c
	} else {
		slot = uint32(len(ix.entries))
		ix.entries = append(ix.entries, c)
		ix.folded = append(ix.folded, "")
		ix.slotBook = append(ix.slotBook, freeBook)
	}
	ix.slotBook[slot] = c.PhonebookID
	ix.byID[c.ID] = slot
	ix.link(slot)
}

// remove drops a contact by id.
func (ix *Index) remove(id int64) {
	slot, ok := ix.byID[id]
	if !ok {
		return
	}
	ix.unlink(slot)
	delete(ix.byID, id)
	ix.entries[slot] = store.Contact{}
	ix.folded[slot] = ""
	ix.slotBook[slot] = freeBook
	ix.free = append(ix.free, slot)
}

func (ix *Index) link(slot uint32) {
	c := &ix.entries[slot]
	toks := nameTokens(c)
	ix.folded[slot] = strings.Join(toks, " ")
	for _, t := range toks {
		id, seen := ix.tok[t]
		if !seen {
			ix.newToks = append(ix.newToks, t)
			id = uint32(len(ix.tokList))
			ix.tok[t] = id
			ix.tokList = append(ix.tokList, t)
			ix.posts = append(ix.posts, nil)
			for i := 0; i+3 <= len(t); i++ {
				tp := ix.tri[t[i:i+3]]
				if n := len(tp); n == 0 || tp[n-1] != id {
					ix.tri[t[i:i+3]] = append(tp, id)
				}
			}
		}
		ix.posts[id] = append(ix.posts[id], slot)
		if seen {
			ix.countToken(t, 1)
		}
		if len(t) >= 2 {
			for _, k := range phonKeys(t) {
				ix.phon[k] = append(ix.phon[k], slot)
			}
		}
	}
	for _, d := range contactNumbers(c) {
		id, seen := ix.num[d]
		if !seen {
			id = uint32(len(ix.numPosts))
			ix.num[d] = id
			ix.numPosts = append(ix.numPosts, nil)
			if d[0] != 'x' {
				ix.newNums = append(ix.newNums, d)
			}
		}
		ix.numPosts[id] = append(ix.numPosts[id], slot)
	}
}

func (ix *Index) unlink(slot uint32) {
	c := &ix.entries[slot]
	for _, t := range nameTokens(c) {
		if id, ok := ix.tok[t]; ok {
			if q := dropSlot(ix.posts[id], slot); len(q) < len(ix.posts[id]) {
				ix.posts[id] = q
				ix.countToken(t, -1)
			}
		}
		if len(t) >= 2 {
			for _, k := range phonKeys(t) {
				if p := dropSlot(ix.phon[k], slot); len(p) == 0 {
					delete(ix.phon, k)
				} else {
					ix.phon[k] = p
				}
			}
		}
	}
	for _, d := range contactNumbers(c) {
		if id, ok := ix.num[d]; ok {
			ix.numPosts[id] = dropSlot(ix.numPosts[id], slot)
		}
	}
}

// countToken adds d to the count of token t in tokCnt. A token added by the current batch is
// not in tokKeys yet; commit counts it.
func (ix *Index) countToken(t string, d int) {
	if i, ok := slices.BinarySearch(ix.tokKeys, t); ok {
		ix.tokCnt[i] = uint32(int(ix.tokCnt[i]) + d)
	}
}

// phonKeys returns the phonetic keys of a token: its Kölner Phonetik and Metaphone codes.
func phonKeys(t string) [2]string { return [2]string{"c" + Cologne(t), "m" + Metaphone(t)} }

func dropSlot(p []uint32, slot uint32) []uint32 {
	if i := slices.Index(p, slot); i >= 0 {
		return slices.Delete(p, i, i+1)
	}
	return p
}

// commit merges the keys a batch added into the sorted key lists.
func (ix *Index) commit() {
	if len(ix.newToks) > 0 {
		ix.mergeTokens(ix.newToks)
		ix.newToks = nil
	}
	if len(ix.newNums) > 0 {
		ids := make([]uint32, len(ix.newNums))
		rev := make([]string, len(ix.newNums))
		for i, d := range ix.newNums {
			ids[i], rev[i] = ix.num[d], reverse(d)
		}
		ix.numKeys.merge(ix.newNums, ids)
		ix.revKeys.merge(rev, ids)
		ix.newNums = nil
	}
}

// mergeTokens merges new tokens into tokKeys, tokNum and tokCnt.
func (ix *Index) mergeTokens(add []string) {
	sort.Strings(add)
	a := ix.tokKeys
	n := len(a) + len(add)
	out, num, cnt := make([]string, 0, n), make([]uint32, 0, n), make([]uint32, 0, n)
	i, j := 0, 0
	for i < len(a) || j < len(add) {
		switch {
		case j == len(add) || (i < len(a) && a[i] <= add[j]):
			out, num, cnt = append(out, a[i]), append(num, ix.tokNum[i]), append(cnt, ix.tokCnt[i])
			i++
		default:
			id := ix.tok[add[j]]
			out, num, cnt = append(out, add[j]), append(num, id), append(cnt, uint32(len(ix.posts[id])))
			j++
		}
	}
	ix.tokKeys, ix.tokNum, ix.tokCnt = out, num, cnt
}

// postings returns the slots holding token t.
func (ix *Index) postings(t string) []uint32 {
	if id, ok := ix.tok[t]; ok {
		return ix.posts[id]
	}
	return nil
}

// tokenRange returns the positions [lo, hi) in tokKeys of the tokens that begin with p.
func (ix *Index) tokenRange(p string) (lo, hi int) {
	lo = sort.SearchStrings(ix.tokKeys, p)
	return lo, lo + len(prefixRange(ix.tokKeys[lo:], p))
}

// sortedKeys is a sorted list of keys, each with the number of its postings.
type sortedKeys struct {
	keys []string
	ids  []uint32
}

// merge adds keys (new ones) with their ids.
func (sk *sortedKeys) merge(add []string, ids []uint32) {
	type pair struct {
		key string
		id  uint32
	}
	ps := make([]pair, len(add))
	for i, k := range add {
		ps[i] = pair{k, ids[i]}
	}
	slices.SortFunc(ps, func(a, b pair) int { return strings.Compare(a.key, b.key) })
	n := len(sk.keys) + len(ps)
	keys, out := make([]string, 0, n), make([]uint32, 0, n)
	i, j := 0, 0
	for i < len(sk.keys) || j < len(ps) {
		switch {
		case j == len(ps) || (i < len(sk.keys) && sk.keys[i] <= ps[j].key):
			keys, out = append(keys, sk.keys[i]), append(out, sk.ids[i])
			i++
		default:
			keys, out = append(keys, ps[j].key), append(out, ps[j].id)
			j++
		}
	}
	sk.keys, sk.ids = keys, out
}

// prefix returns the ids of the keys that begin with p, in key order.
func (sk *sortedKeys) prefix(p string) []uint32 {
	lo := sort.SearchStrings(sk.keys, p)
	return sk.ids[lo : lo+len(prefixRange(sk.keys[lo:], p))]
}

// numPostings returns the slots holding the number key d.
func (ix *Index) numPostings(d string) []uint32 {
	if id, ok := ix.num[d]; ok {
		return ix.numPosts[id]
	}
	return nil
}

func reverse(s string) string {
	b := []byte(s)
	slices.Reverse(b)
	return string(b)
}

// prefixRange returns the keys of a sorted list that begin with p.
func prefixRange(keys []string, p string) []string {
	lo := sort.SearchStrings(keys, p)
	// The keys with the prefix are one block from lo; its end is found by bisection too (a
	// short prefix can span tens of thousands of keys).
	hi := lo + sort.Search(len(keys)-lo, func(i int) bool { return !strings.HasPrefix(keys[lo+i], p) })
	return keys[lo:hi]
}

// Rank says why a contact matched a search, best first.
type Rank int

const (
	RankExact Rank = iota
	RankPrefix
	RankSubstring
	RankPhonetic
)

func (r Rank) String() string {
	return [...]string{"exact", "prefix", "substring", "phonetic"}[r]
}

// Hit is one search result.
type Hit struct {
	Contact store.Contact `json:"contact"`
	Rank    string        `json:"rank"`
}

// collector gathers up to limit distinct visible hits.
type collector struct {
	ix    *Index
	v     *Viewer
	limit int
	// seen holds the slots of the hits. A candidate that is rejected (not visible, or not
	// kept) is rejected again whenever it comes back, so only accepted slots need
	// remembering: the set stays at most limit long however many candidates a search visits.
	seen map[uint32]struct{}
	hits []Hit
	keep func(slot uint32) bool
	// lastBook and lastVis remember the visibility of the last candidate's phonebook
	// (candidates come mostly from one or a few books).
	lastBook int64
	lastVis  bool
}

func newCollector(ix *Index, v *Viewer, limit int) *collector {
	return &collector{ix: ix, v: v, limit: limit, lastBook: math.MinInt64}
}

func (c *collector) full() bool { return len(c.hits) >= c.limit }

func (c *collector) add(p []uint32, r Rank) bool {
	for _, slot := range p {
		// The filter first: a word filter's bitset stays in cache, slotBook does not.
		if c.keep != nil && !c.keep(slot) {
			continue
		}
		if b := c.ix.slotBook[slot]; b != c.lastBook {
			c.lastBook, c.lastVis = b, c.ix.visibleBook(c.v, b)
		}
		if !c.lastVis {
			continue
		}
		if _, dup := c.seen[slot]; dup {
			continue
		}
		e := &c.ix.entries[slot]
		if e.ID == 0 {
			continue
		}
		if c.seen == nil {
			c.seen = make(map[uint32]struct{}, c.limit)
		}
		c.seen[slot] = struct{}{}
		if len(c.hits) == cap(c.hits) {
			// A hit is a whole contact (448 bytes), and the garbage collector of a large
			// directory's heap is paid per byte allocated: a small first page, then the
			// whole page at once, instead of append's doublings.
			n := min(c.limit, 16)
			if len(c.hits) > 0 {
				n = c.limit
			}
			c.hits = append(make([]Hit, 0, n), c.hits...)
		}
		c.hits = append(c.hits, Hit{Contact: *e, Rank: r.String()})
		if c.full() {
			return true
		}
	}
	return false
}

// looksLikeNumber reports whether a query is a phone number (digits and the punctuation
// people type in numbers, at least three digits).
func looksLikeNumber(q string) bool {
	n := 0
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c >= '0' && c <= '9':
			n++
		case c == '+' || c == ' ' || c == '-' || c == '(' || c == ')' || c == '/' || c == '.':
		default:
			return false
		}
	}
	return n >= 3
}

// Search finds contacts by name (prefix of any name part, substring, phonetic) or by number
// (exact, prefix, suffix of the normalised numbers), best matches first. Every word of a
// name query must match. country is the tenant's, for normalising a number query.
func (ix *Index) Search(q string, country string, v Viewer, limit int) []Hit {
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	col := newCollector(ix, &v, limit)
	if looksLikeNumber(q) {
		ix.searchNumber(col, q, country)
		return col.hits
	}
	terms := tokens(q)
	if len(terms) == 0 {
		return nil
	}
	// Drive the search with the most selective word; the others filter.
	lead := 0
	if len(terms) > 1 {
		best := -1
		for i, t := range terms {
			if n := ix.prefixCount(t, best); best < 0 || n < best {
				lead, best = i, n
			}
		}
	}
	t := terms[lead]
	if len(terms) > 1 {
		others := append(slices.Clone(terms[:lead]), terms[lead+1:]...)
		f := ix.newWordFilter(others, limit)
		defer f.release()
		col.keep = f.keep
	}
	if col.add(ix.postings(t), RankExact) {
		return col.hits
	}
	lo, hi := ix.tokenRange(t)
	for i := lo; i < hi; i++ {
		if ix.tokKeys[i] != t && col.add(ix.posts[ix.tokNum[i]], RankPrefix) {
			return col.hits
		}
	}
	if len(t) >= 3 {
		for id := range ix.substringTokens(t) {
			k := ix.tokList[id]
			if !strings.HasPrefix(k, t) && strings.Contains(k, t) && col.add(ix.posts[id], RankSubstring) {
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

// substringTokens yields, in ascending order, the numbers of the tokens that hold every
// three-byte sequence of t (len(t) >= 3): a superset of the tokens containing t. It walks the
// rarest sequence's list and skips the numbers missing from the next rarest ones (all lists
// are ascending), so that few token names need comparing.
func (ix *Index) substringTokens(t string) iter.Seq[uint32] {
	return func(yield func(uint32) bool) {
		var buf [8][]uint32
		lists := buf[:0]
		for i := 0; i+3 <= len(t); i++ {
			p := ix.tri[t[i:i+3]]
			if len(p) == 0 {
				return
			}
			lists = append(lists, p)
		}
		slices.SortStableFunc(lists, func(a, b []uint32) int { return len(a) - len(b) })
		rare, rest := lists[0], lists[1:min(len(lists), 4)]
		var pos [3]int
	next:
		for _, id := range rare {
			for j, l := range rest {
				i := pos[j]
				i += sort.Search(len(l)-i, func(n int) bool { return l[i+n] >= id })
				pos[j] = i
				if i == len(l) {
					return
				}
				if l[i] != id {
					continue next
				}
			}
			if !yield(id) {
				return
			}
		}
	}
}

// prefixCount counts the contacts with a name token beginning with t, stopping once the
// count passes limit (when limit >= 0).
func (ix *Index) prefixCount(t string, limit int) int {
	n := 0
	lo, hi := ix.tokenRange(t)
	for _, c := range ix.tokCnt[lo:hi] {
		n += int(c)
		if limit >= 0 && n > limit {
			break
		}
	}
	return n
}

// matchesAll reports whether every term is a prefix of one of the words of folded (a
// contact's folded name tokens joined by spaces).
func matchesAll(folded string, terms []string) bool {
	for _, t := range terms {
		if !strings.HasPrefix(folded, t) && !strings.Contains(folded, " "+t) {
			return false
		}
	}
	return true
}

func (ix *Index) searchNumber(col *collector, q, country string) {
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
	for _, id := range ix.numKeys.prefix(d) {
		if col.add(ix.numPosts[id], RankPrefix) {
			return
		}
	}
	for _, id := range ix.revKeys.prefix(reverse(d)) {
		if col.add(ix.numPosts[id], RankSubstring) {
			return
		}
	}
}

// CallerName returns the display name of the contact whose number is e164 ("+49301234567"),
// as seen by the called user (0: company entries only), preferring company entries.
// A number that is not in E.164 form is looked up by its digits among the numbers that did
// not normalise (internal extensions).
func (ix *Index) CallerName(e164 string, callee int64) (string, bool) {
	key := ""
	switch {
	case len(e164) > 1 && e164[0] == '+':
		key = e164[1:]
	case isDigits(e164):
		key = "x" + e164
	default:
		return "", false
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	v := Viewer{UserID: callee}
	best := ""
	bestKind, bestPrio := 3, 0
	for _, slot := range ix.numPostings(key) {
		c := &ix.entries[slot]
		if !ix.visible(&v, c) {
			continue
		}
		b := ix.books[c.PhonebookID]
		k := 2
		switch b.kind {
		case store.BookCompany:
			k = 0
		case store.BookGroup:
			k = 1
		}
		if k < bestKind || (k == bestKind && b.priority > bestPrio) {
			best, bestKind, bestPrio = displayName(c), k, b.priority
		}
	}
	return best, best != ""
}

// displayName is the name a contact is shown with.
func displayName(c *store.Contact) string {
	if c.DisplayName != "" {
		return c.DisplayName
	}
	if n := strings.TrimSpace(c.GivenName + " " + c.FamilyName); n != "" {
		return n
	}
	return c.Company
}

// Each calls fn for every contact visible to v in slot order until fn returns false, under
// the index's read lock (the LDAP server's fallback for filters the index cannot narrow).
func (ix *Index) Each(v Viewer, fn func(c *store.Contact) bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	for i := range ix.entries {
		c := &ix.entries[i]
		if c.ID != 0 && ix.visible(&v, c) && !fn(c) {
			return
		}
	}
}

// setPriority records a source's priority on its phonebook.
func (ix *Index) setPriority(book int64, prio int) {
	b, ok := ix.books[book]
	if !ok {
		return
	}
	if prio > b.priority {
		b.priority = prio
		ix.books[book] = b
	}
}
