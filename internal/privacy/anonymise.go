package privacy

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/privox/privox/internal/datacat"
	"github.com/privox/privox/internal/store"
)

// MaskNumber keeps the leading digits of a phone number, which say where it is (country, area,
// exchange), and masks the rest: at least half of its digits, and at least four, become "x".
// A value that is not a phone number (a SIP URI, "anonymous", a name) is removed entirely.
func MaskNumber(s string) string {
	s = strings.TrimSpace(s)
	n := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			n++
		case strings.ContainsRune("+ -()/.*#", r):
		default:
			return ""
		}
	}
	if n == 0 {
		return ""
	}
	mask := max(4, (n+1)/2)
	b := []byte(s)
	for i := len(b) - 1; i >= 0 && mask > 0; i-- {
		if b[i] >= '0' && b[i] <= '9' {
			b[i] = 'x'
			mask--
		}
	}
	return string(b)
}

// TruncateIP keeps the network of an address and drops the host: IPv4 to its /24, IPv6 to its
// /48. A port, brackets or a zone are dropped; anything that is not an address is removed.
func TruncateIP(s string) string {
	s = strings.TrimSpace(s)
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return ""
	}
	a = a.WithZone("").Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.Addr().String()
}

// anonymiseRows anonymises in place the rows of t that name userID in a tenant: numbers masked,
// addresses truncated, this user's references removed, the row flagged anonymised. The record
// stays for the rest of its period (a CDR still counts for the tenant's traffic and billing).
func (e *Engine) anonymiseRows(ctx context.Context, t datacat.Table, tenantID, userID int64, excl string) (int64, error) {
	if ok, err := e.hasID(ctx, t.Name); err != nil {
		return 0, err
	} else if !ok {
		return 0, fmt.Errorf("privacy: %s: anonymising needs an id column", t.Name)
	}
	cond, n := personCond(t)
	fields := append(append([]string{}, t.NumberColumns...), t.IPColumns...)
	sel := `SELECT id`
	for _, f := range fields {
		sel += `, ` + f
	}
	sel += ` FROM ` + t.Name + ` WHERE ` + t.TenantColumn + ` = ? AND ` + cond + excl + ` AND id > ? ORDER BY id LIMIT ?`
	var set []string
	for _, f := range fields {
		set = append(set, f+` = ?`)
	}
	for _, c := range personColumns(t) {
		set = append(set, c+` = CASE WHEN `+c+` = ? THEN NULL ELSE `+c+` END`)
	}
	if t.AnonymisedColumn != "" {
		set = append(set, t.AnonymisedColumn+` = ?`)
	}
	upd := `UPDATE ` + t.Name + ` SET ` + strings.Join(set, ", ") + ` WHERE id = ?`
	var total, after int64
	for {
		var got int
		err := e.db.InTx(ctx, func(tx *store.DB) error {
			args := append(append([]any{tenantID}, repeat(userID, n)...), after, e.opt.FileBatchSize)
			rows, err := tx.Query(ctx, sel, args...)
			if err != nil {
				return err
			}
			type row struct {
				id   int64
				vals []sql.NullString
			}
			var batch []row
			for rows.Next() {
				r := row{vals: make([]sql.NullString, len(fields))}
				dst := []any{&r.id}
				for i := range r.vals {
					dst = append(dst, &r.vals[i])
				}
				if err := rows.Scan(dst...); err != nil {
					rows.Close()
					return err
				}
				batch = append(batch, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, r := range batch {
				var args []any
				for i, v := range r.vals {
					switch {
					case !v.Valid:
						args = append(args, nil)
					case i < len(t.NumberColumns):
						args = append(args, MaskNumber(v.String))
					default:
						args = append(args, TruncateIP(v.String))
					}
				}
				args = append(args, repeat(userID, len(personColumns(t)))...)
				if t.AnonymisedColumn != "" {
					args = append(args, true)
				}
				if _, err := tx.Exec(ctx, upd, append(args, r.id)...); err != nil {
					return err
				}
				after = r.id
			}
			got = len(batch)
			return nil
		})
		if err != nil {
			return total, err
		}
		total += int64(got)
		if got < e.opt.FileBatchSize {
			return total, nil
		}
	}
}
