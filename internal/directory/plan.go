package directory

import (
	"math"
	"slices"
	"strings"

	"github.com/privox/privox/internal/store"
)

// Plan narrows a scan of the index to candidates: contacts with a name token that begins with
// one of Names, or a normalised number equal to one of Numbers, beginning with one of
// NumPrefixes or ending with one of NumSuffixes (digits without "+"). A plan with All set
// visits every contact. The LDAP server builds plans from its filters and evaluates the
// whole filter on each candidate, so a plan only has to hold every match, not only matches.
type Plan struct {
	All         bool
	Names       []string
	Numbers     []string
	NumPrefixes []string
	NumSuffixes []string
}

// Union returns a plan whose candidates include both plans'.
func (p Plan) Union(q Plan) Plan {
	if p.All || q.All {
		return Plan{All: true}
	}
	return Plan{Names: append(p.Names[:len(p.Names):len(p.Names)], q.Names...), Numbers: append(p.Numbers[:len(p.Numbers):len(p.Numbers)], q.Numbers...),
		NumPrefixes: append(p.NumPrefixes[:len(p.NumPrefixes):len(p.NumPrefixes)], q.NumPrefixes...),
		NumSuffixes: append(p.NumSuffixes[:len(p.NumSuffixes):len(p.NumSuffixes)], q.NumSuffixes...)}
}

// Cost estimates how selective a plan is (lower is better), for choosing among the plans of
// an AND.
func (p Plan) Cost() int {
	if p.All {
		return 1 << 30
	}
	c := 0
	for _, n := range p.Names {
		c += 1000 >> min(len(n), 9)
	}
	c += len(p.Numbers)
	for _, n := range p.NumPrefixes {
		c += 1000 >> min(len(n)/2, 9)
	}
	for _, n := range p.NumSuffixes {
		c += 1000 >> min(len(n)/2, 9)
	}
	return c
}

// NamePlan returns the plan for a name attribute's value that begins with v.
func NamePlan(v string) Plan {
	t := tokens(v)
	if len(t) == 0 {
		return Plan{All: true}
	}
	return Plan{Names: []string{t[0]}}
}

// NumberKey returns the E.164 digits of an exact number in a tenant's country, or "" when
// the number does not normalise.
func NumberKey(v, country string) string {
	// A number already in E.164 form needs no parsing (the common lookup).
	if len(v) >= 7 && len(v) <= 16 && v[0] == '+' && v[1] != '0' && isDigits(v[1:]) {
		return v[1:]
	}
	if e := Normalize(v, country); e != "" {
		return e[1:]
	}
	return ""
}

// NumberPrefixKey returns the E.164 digits that a number beginning with v begins with
// ("+4930", "004930" and, in Germany, "030" all give "4930"); "" when that is not known.
func NumberPrefixKey(v, country string) string {
	v = strings.TrimSpace(v)
	d := digits(v)
	switch {
	case strings.HasPrefix(v, "+"):
		return d
	case strings.HasPrefix(d, "00"):
		return d[2:]
	case strings.HasPrefix(d, "0") && country != "":
		if cc := countryCode(country); cc != "" {
			return cc + d[1:]
		}
	}
	return ""
}

// Digits keeps the digits of s.
func Digits(s string) string { return digits(s) }

// Fold returns s in the index's comparison form (lower case, no diacritics).
func Fold(s string) string {
	f := fold(s)
	// Already one clean word or words with single spaces: no need to split and join.
	clean := len(f) > 0 && f[0] != ' ' && f[len(f)-1] != ' ' && !strings.Contains(f, "  ")
	if clean {
		return f
	}
	return strings.Join(strings.Fields(f), " ")
}

// Scan calls fn for every contact visible to v that the plan selects, each once, under the
// index's read lock, until fn returns false. fn must not keep c.
func (ix *Index) Scan(v Viewer, p Plan, fn func(c *store.Contact) bool) {
	if p.All {
		ix.Each(v, fn)
		return
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	// Only visible slots are remembered: an invisible one is rejected again when it comes back.
	seen := map[uint32]struct{}{}
	lastBook, lastVis := int64(math.MinInt64), false
	visit := func(slots []uint32) bool {
		for _, s := range slots {
			if b := ix.slotBook[s]; b != lastBook {
				lastBook, lastVis = b, ix.visibleBook(&v, b)
			}
			if !lastVis {
				continue
			}
			if _, dup := seen[s]; dup {
				continue
			}
			seen[s] = struct{}{}
			if c := &ix.entries[s]; c.ID != 0 && !fn(c) {
				return false
			}
		}
		return true
	}
	// A key whose range lies inside an earlier key's (the same name from cn and sn, or a longer
	// prefix) holds only contacts already visited: it is skipped.
	for i, n := range p.Numbers {
		if !slices.Contains(p.Numbers[:i], n) && !visit(ix.numPostings(n)) {
			return
		}
	}
	for i, n := range p.Names {
		if covered(p.Names[:i], n) {
			continue
		}
		lo, hi := ix.tokenRange(n)
		for _, id := range ix.tokNum[lo:hi] {
			if !visit(ix.posts[id]) {
				return
			}
		}
	}
	for i, n := range p.NumPrefixes {
		if covered(p.NumPrefixes[:i], n) {
			continue
		}
		for _, id := range ix.numKeys.prefix(n) {
			if !visit(ix.numPosts[id]) {
				return
			}
		}
	}
	for i, n := range p.NumSuffixes {
		if coveredSuffix(p.NumSuffixes[:i], n) {
			continue
		}
		for _, id := range ix.revKeys.prefix(reverse(n)) {
			if !visit(ix.numPosts[id]) {
				return
			}
		}
	}
}

// covered reports whether one of earlier is a prefix of k.
func covered(earlier []string, k string) bool {
	return slices.ContainsFunc(earlier, func(e string) bool { return strings.HasPrefix(k, e) })
}

// coveredSuffix reports whether one of earlier is a suffix of k.
func coveredSuffix(earlier []string, k string) bool {
	return slices.ContainsFunc(earlier, func(e string) bool { return strings.HasSuffix(k, e) })
}
