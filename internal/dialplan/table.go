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
	Country string
	Policy  Policy
	Limits  Limits
	routes  []*Route
	// first holds, per first character, the routes that can match a number starting with
	// it (in order), so a decision looks at few patterns.
	first map[byte][]*Route
}

// NewTable builds a table; routes keep their order (the first match wins).
func NewTable(country string, p Policy, routes []*Route) (*Table, error) {
	t := &Table{Country: strings.ToUpper(country), Policy: p, routes: routes, first: map[byte][]*Route{}}
	for _, r := range routes {
		if r.Pattern == nil {
			return nil, fmt.Errorf("dialplan: route %s has no pattern", r.Name)
		}
		if len(r.Trunks) == 0 {
			return nil, fmt.Errorf("dialplan: route %s has no trunk", r.Name)
		}
		for _, c := range []byte("0123456789*#+") {
			if len(r.Pattern.elems) > 0 && r.Pattern.elems[0]&charBit(c) != 0 {
				t.first[c] = append(t.first[c], r)
			}
		}
	}
	return t, nil
}

// Match returns the first route matching a number, nil when none does.
func (t *Table) Match(num string) *Route {
	if num == "" {
		return nil
	}
	for _, r := range t.first[num[0]] {
		if r.Pattern.Match(num) {
			return r
		}
	}
	return nil
}
