package store

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// sortCol is a column a list can be sorted by: the SQL expression and whether its values
// are numbers (the cursor's key is then compared as a number).
type sortCol struct {
	expr    string
	numeric bool
}

// keyset is the WHERE fragment (starting with " AND "), its arguments and the ORDER BY
// clause of one keyset page over cols (the page's Sort names one of them; "" and "id" sort
// by id). The cursor is the last row of the previous page: its id (After) and, for another
// column, that column's value (AfterKey). Ties in the sort column are broken by id, so no
// row is skipped or repeated between pages, whatever the sort.
func (p Page) keyset(cols map[string]sortCol) (string, []any, string) {
	dir, cmp := "", ">"
	if p.Desc {
		dir, cmp = " DESC", "<"
	}
	col, ok := cols[p.Sort]
	if p.Sort == "" || p.Sort == "id" || !ok {
		after := p.After
		if p.Desc && after == 0 {
			after = math.MaxInt64
		}
		return " AND id " + cmp + " ?", []any{after}, " ORDER BY id" + dir
	}
	order := " ORDER BY " + col.expr + dir + ", id" + dir
	if p.After == 0 {
		return "", nil, order
	}
	var key any = p.AfterKey
	if col.numeric {
		n, _ := strconv.ParseInt(p.AfterKey, 10, 64)
		key = n
	}
	// A row value, which both engines compare in order and read from an index on (col, id)
	// as one range.
	return " AND (" + col.expr + ", id) " + cmp + " (?, ?)", []any{key, p.After}, order
}

// search is the WHERE fragment (starting with " AND ") matching the page's Search as a
// case-insensitive substring of any of exprs, or "" when there is no search.
func (p Page) search(exprs ...string) (string, []any) {
	q := strings.TrimSpace(p.Search)
	if q == "" {
		return "", nil
	}
	pat := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(q)) + "%"
	parts := make([]string, len(exprs))
	args := make([]any, len(exprs))
	for i, e := range exprs {
		parts[i] = "lower(" + e + `) LIKE ? ESCAPE '\'`
		args[i] = pat
	}
	return " AND (" + strings.Join(parts, " OR ") + ")", args
}

// SortNames are the names of a list's sort columns besides id, in a stable order.
func SortNames(cols map[string]sortCol) []string {
	out := make([]string, 0, len(cols))
	for k := range cols {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
