package privacy

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/privox/privox/internal/datacat"
	"github.com/privox/privox/internal/store"
)

// MaskNumber masks the trailing digits of a phone number (see datacat.MaskNumber).
func MaskNumber(s string) string { return datacat.MaskNumber(s) }

// TruncateIP keeps the network of an address (see datacat.TruncateIP).
func TruncateIP(s string) string { return datacat.TruncateIP(s) }

// anonymiseRows anonymises in place the rows of t that name userID in a tenant, per SPEC §2:
// the erased person's side of each row loses its user reference, its numbers are masked and
// its names cleared; numbers of outsiders (a side with no user) are masked too, since they
// say whom the person called; the side of another user of the tenant stays as it is, because
// the row is that user's record too (Bob's CDR of a call with an erased Alice keeps Bob's
// number). Addresses are truncated. A row is flagged anonymised once no user is left on it.
// The record stays for the rest of its period (a CDR still counts for the tenant's traffic
// and billing).
func (e *Engine) anonymiseRows(ctx context.Context, t datacat.Table, tenantID, userID int64, excl string) (int64, error) {
	if ok, err := e.hasID(ctx, t.Name); err != nil {
		return 0, err
	} else if !ok {
		return 0, fmt.Errorf("privacy: %s: anonymising needs an id column", t.Name)
	}
	cond, n := personCond(t)
	persons := personColumns(t)
	fields := append(append([]string{}, t.NumberColumns...), t.IPColumns...)
	sel := `SELECT id`
	for _, f := range append(append([]string{}, fields...), persons...) {
		sel += `, ` + f
	}
	sel += ` FROM ` + t.Name + ` WHERE ` + t.TenantColumn + ` = ? AND ` + cond + excl + ` AND id > ? ORDER BY id LIMIT ?`
	var set []string
	for _, f := range fields {
		set = append(set, f+` = ?`)
	}
	for _, p := range t.Parties {
		for _, c := range p.Clear {
			set = append(set, c+` = CASE WHEN `+p.Person+` = ? THEN '' ELSE `+c+` END`)
		}
	}
	for _, c := range persons {
		set = append(set, c+` = CASE WHEN `+c+` = ? THEN NULL ELSE `+c+` END`)
	}
	if t.AnonymisedColumn != "" {
		set = append(set, t.AnonymisedColumn+` = (`+t.AnonymisedColumn+` OR ?)`)
	}
	upd := `UPDATE ` + t.Name + ` SET ` + strings.Join(set, ", ") + ` WHERE id = ?`
	// partyOf[i] is the person column of number field i's side ("" for none).
	partyOf := make([]string, len(t.NumberColumns))
	for _, p := range t.Parties {
		for _, c := range p.Numbers {
			for i, f := range t.NumberColumns {
				if f == c {
					partyOf[i] = p.Person
				}
			}
		}
	}
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
				id     int64
				vals   []sql.NullString
				people map[string]sql.NullInt64
			}
			var batch []row
			for rows.Next() {
				r := row{vals: make([]sql.NullString, len(fields)), people: map[string]sql.NullInt64{}}
				ps := make([]sql.NullInt64, len(persons))
				dst := []any{&r.id}
				for i := range r.vals {
					dst = append(dst, &r.vals[i])
				}
				for i := range ps {
					dst = append(dst, &ps[i])
				}
				if err := rows.Scan(dst...); err != nil {
					rows.Close()
					return err
				}
				for i, c := range persons {
					r.people[c] = ps[i]
				}
				batch = append(batch, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, r := range batch {
				other := func(col string) bool {
					v := r.people[col]
					return v.Valid && v.Int64 != userID
				}
				var args []any
				for i, v := range r.vals {
					switch {
					case !v.Valid:
						args = append(args, nil)
					case i < len(t.NumberColumns):
						if partyOf[i] != "" && other(partyOf[i]) {
							args = append(args, v.String) // another user's side
						} else {
							args = append(args, MaskNumber(v.String))
						}
					default:
						args = append(args, TruncateIP(v.String))
					}
				}
				for _, p := range t.Parties {
					args = append(args, repeat(userID, len(p.Clear))...)
				}
				args = append(args, repeat(userID, len(persons))...)
				if t.AnonymisedColumn != "" {
					left := false
					for _, c := range persons {
						left = left || other(c)
					}
					args = append(args, !left)
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

// detachParty removes a person from other people's records of a category whose rule deletes
// the person's own records: the person column is cleared, the numbers of the person's side
// masked and its names emptied; the owner's side stays (Bob's journal line of a call with an
// erased Alice keeps the call, without Alice's number or name).
func (e *Engine) detachParty(ctx context.Context, t datacat.Table, col string, tenantID, userID int64, excl string) (int64, error) {
	p, ok := t.PartyOf(col)
	hasID, err := e.hasID(ctx, t.Name)
	if err != nil {
		return 0, err
	}
	if !ok || len(p.Numbers) == 0 || !hasID {
		set := col + ` = NULL`
		if ok {
			for _, c := range p.Clear {
				set += `, ` + c + ` = ''`
			}
		}
		res, err := e.db.Exec(ctx, `UPDATE `+t.Name+` SET `+set+` WHERE `+t.TenantColumn+` = ? AND `+col+` = ?`+excl, tenantID, userID)
		if err != nil {
			return 0, err
		}
		n, _ := res.RowsAffected()
		return n, nil
	}
	sel := `SELECT id, ` + strings.Join(p.Numbers, ", ") + ` FROM ` + t.Name + ` WHERE ` + t.TenantColumn + ` = ? AND ` + col + ` = ?` + excl + ` AND id > ? ORDER BY id LIMIT ?`
	set := []string{col + ` = NULL`}
	for _, c := range p.Numbers {
		set = append(set, c+` = ?`)
	}
	for _, c := range p.Clear {
		set = append(set, c+` = ''`)
	}
	upd := `UPDATE ` + t.Name + ` SET ` + strings.Join(set, ", ") + ` WHERE id = ?`
	var total, after int64
	for {
		var got int
		err := e.db.InTx(ctx, func(tx *store.DB) error {
			rows, err := tx.Query(ctx, sel, tenantID, userID, after, e.opt.FileBatchSize)
			if err != nil {
				return err
			}
			type row struct {
				id   int64
				nums []sql.NullString
			}
			var batch []row
			for rows.Next() {
				r := row{nums: make([]sql.NullString, len(p.Numbers))}
				dst := []any{&r.id}
				for i := range r.nums {
					dst = append(dst, &r.nums[i])
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
				for _, v := range r.nums {
					if v.Valid {
						args = append(args, MaskNumber(v.String))
					} else {
						args = append(args, nil)
					}
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
