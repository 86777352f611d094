package dialplan

import (
	"fmt"
	"strings"
)

// Route is one outbound route: numbers matching Pattern go out through Trunks, tried in
// order, after Strip leading digits are removed and Prepend is put in front.
type Route struct {
	Name    string
	Pattern *Pattern
	Strip   int
	Prepend string
	// E164: send the trunk the number in E.164 ("+4930…") rather than as dialled.
	E164   bool
	Trunks []string

	ord int // position in the table
}

// Policy is the toll-fraud policy of a tenant: which destination classes its users may
// call. Emergency, national and special numbers are always allowed.
type Policy struct {
	International bool
	Premium       bool
}

// refuse returns the reason a class is not allowed ("" when it is).
func (p Policy) refuse(c Class) string {
	switch c {
	case ClassInternational:
		if !p.International {
			return "international"
		}
	case ClassPremium:
		if !p.Premium {
			return "premium"
		}
	}
	return ""
}

// Table is a tenant's outbound routing: its country, policy and ordered routes.
type Table struct {
	Country    string
	MainNumber string
	Policy     Policy
	Limits     Limits
	routes     []*Route
	// byPrefix holds the routes by their pattern's literal prefix (the leading positions
	// that admit one character each), in table order: a number can only match routes
	// filed under one of its own prefixes, so a decision looks at few patterns however
	// many the table has.
	byPrefix map[string][]*Route
	maxKey   int
}

// NewTable builds a table; routes keep their order (the first match wins).
func NewTable(country string, p Policy, routes []*Route) (*Table, error) {
	t := &Table{Country: strings.ToUpper(country), Policy: p, routes: routes, byPrefix: map[string][]*Route{}}
	for i, r := range routes {
		if r.Pattern == nil {
			return nil, fmt.Errorf("dialplan: route %s has no pattern", r.Name)
		}
		if len(r.Trunks) == 0 {
			return nil, fmt.Errorf("dialplan: route %s has no trunk", r.Name)
		}
		r.ord = i
		k := r.Pattern.literalPrefix()
		t.byPrefix[k] = append(t.byPrefix[k], r)
		t.maxKey = max(t.maxKey, len(k))
	}
	return t, nil
}

// Match returns the first route matching a number, nil when none does.
func (t *Table) Match(num string) *Route {
	var best *Route
	for k := 0; k <= len(num) && k <= t.maxKey; k++ {
		for _, r := range t.byPrefix[num[:k]] {
			if best != nil && r.ord > best.ord {
				break
			}
			if r.Pattern.Match(num) {
				best = r
				break
			}
		}
	}
	return best
}
