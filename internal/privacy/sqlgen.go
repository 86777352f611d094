package privacy

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/privox/privox/internal/datacat"
	"github.com/privox/privox/internal/store"
)

// The engine builds its SQL from the registry's table and column names. Those come from code,
// never from input, but every one is checked before it is spliced into a statement.
var identRe = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

func checkIdent(names ...string) error {
	for _, n := range names {
		if !identRe.MatchString(n) {
			return fmt.Errorf("privacy: registry names an invalid SQL identifier %q", n)
		}
	}
	return nil
}

// checkTable validates every name a table declaration hands the engine.
func checkTable(t datacat.Table) error {
	names := []string{t.Name}
	for _, c := range []string{t.TenantColumn, t.UserColumn, t.TimeColumn, t.FileColumn, t.ExpiresColumn, t.KindColumn, t.AnonymisedColumn, t.StatsSum, t.HashColumn} {
		if c != "" {
			names = append(names, c)
		}
	}
	names = append(names, t.PersonColumns...)
	names = append(names, t.NumberColumns...)
	names = append(names, t.IPColumns...)
	names = append(names, t.StatsDimensions...)
	names = append(names, t.SecretColumns...)
	for c := range t.Tombstone {
		names = append(names, c)
	}
	for c := range t.VCard {
		names = append(names, c)
	}
	return checkIdent(names...)
}

// inIDs returns a condition "col is one of a set of ids" that takes the set as one argument
// (idsArg), so that the statement text stays the same whatever the batch holds.
func inIDs(db *store.DB, col string) string {
	if db.Engine() == store.Postgres {
		return col + ` = ANY(CAST(? AS BIGINT[]))`
	}
	return col + ` IN (SELECT value FROM json_each(?))`
}

// idsArg encodes ids for inIDs: a JSON array for SQLite, an array literal for PostgreSQL.
func idsArg(db *store.DB, ids []int64) string {
	var b strings.Builder
	open, close := "[", "]"
	if db.Engine() == store.Postgres {
		open, close = "{", "}"
	}
	b.Grow(len(ids)*8 + 2)
	b.WriteString(open)
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	b.WriteString(close)
	return b.String()
}

// intList renders ids as a literal list for the few places where the set is small and
// changes rarely (held records and people), keeping statements cacheable.
func intList(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ",")
}

// personCond is "one of the table's person references is userID": the owner column and every
// further person column.
func personCond(t datacat.Table) (string, int) {
	var parts []string
	if t.UserColumn != "" {
		parts = append(parts, t.UserColumn+" = ?")
	}
	for _, c := range t.PersonColumns {
		parts = append(parts, c+" = ?")
	}
	return "(" + strings.Join(parts, " OR ") + ")", len(parts)
}

func repeat(v any, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// personColumns lists the owner column and the further person columns.
func personColumns(t datacat.Table) []string {
	var out []string
	if t.UserColumn != "" {
		out = append(out, t.UserColumn)
	}
	return append(out, t.PersonColumns...)
}
