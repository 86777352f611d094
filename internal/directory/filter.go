package directory

import "sync"

// wordFilter keeps the candidates of a several-word search that match its other words (each
// word a prefix of one of the contact's name tokens). It compares a candidate's folded name,
// which costs a few cache misses per candidate, until checking a bitset of the contacts that
// match the rarest other word is cheaper: at once when the page is expected to need many
// candidates, else after enough candidates were rejected. Both ways give the same answer
// (the bitset holds exactly the slots in the postings of the word's tokens).
type wordFilter struct {
	ix     *Index
	others []string
	// pivot is the other word with the fewest contacts, pivotN their number.
	pivot   string
	pivotN  int
	rejects int
	bits    *[]uint64
}

// bitsetRent is about how many bits the bitset sets in the time one candidate's folded name
// is compared (memory it misses in cache against a bitset that stays in cache).
// (A variable so that the tests can run every way of filtering.)
var bitsetRent = 128

var bitsetPool sync.Pool

func (ix *Index) newWordFilter(others []string, limit int) *wordFilter {
	f := &wordFilter{ix: ix, others: others, pivotN: -1}
	for _, t := range others {
		if n := ix.prefixCount(t, f.pivotN); f.pivotN < 0 || n < f.pivotN {
			f.pivot, f.pivotN = t, n
		}
	}
	// With the words independent, a page takes about limit*len/pivotN candidates.
	if alive := len(ix.byID); f.pivotN > 0 && limit*alive/f.pivotN*bitsetRent > f.pivotN {
		f.build()
	}
	return f
}

func (f *wordFilter) keep(slot uint32) bool {
	if f.bits != nil {
		if (*f.bits)[slot>>6]&(1<<(slot&63)) == 0 {
			return false
		}
		if len(f.others) == 1 {
			return true
		}
	}
	if matchesAll(f.ix.folded[slot], f.others) {
		return true
	}
	if f.rejects++; f.bits == nil && f.rejects*bitsetRent > f.pivotN {
		f.build()
	}
	return false
}

// build sets the bit of every slot holding a token that begins with the pivot.
func (f *wordFilter) build() {
	words := (len(f.ix.entries) + 63) / 64
	b, _ := bitsetPool.Get().(*[]uint64)
	if b == nil || cap(*b) < words {
		s := make([]uint64, words)
		b = &s
	}
	*b = (*b)[:words]
	lo, hi := f.ix.tokenRange(f.pivot)
	for _, id := range f.ix.tokNum[lo:hi] {
		for _, s := range f.ix.posts[id] {
			(*b)[s>>6] |= 1 << (s & 63)
		}
	}
	f.bits = b
}

// release returns the bitset, cleared, to the pool.
func (f *wordFilter) release() {
	if f.bits != nil {
		clear(*f.bits)
		bitsetPool.Put(f.bits)
		f.bits = nil
	}
}
