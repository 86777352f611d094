package privacy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/privox/privox/internal/datacat"
	"github.com/privox/privox/internal/store"
)

// HoldRequest asks for a legal hold on one record (Table and RecordID) or on everything of one
// person (UserID).
type HoldRequest struct {
	Table     string `json:"table,omitempty"`
	RecordID  int64  `json:"record_id,omitempty"`
	UserID    int64  `json:"user_id,omitempty"`
	Reason    string `json:"reason"`
	ExpiresAt int64  `json:"expires_at"` // unix ms
}

// maxHold is the longest a hold may last before someone renews it (ten years).
const maxHold = 10 * 366 * 24 * 3600 * 1000

// PlaceHold suspends deletion of a record or of a person's data until the hold expires or is
// released. Sweeps and erasure leave held data alone; the hold is audited.
func (e *Engine) PlaceHold(ctx context.Context, tenantID int64, req HoldRequest, a Actor) (store.LegalHold, error) {
	now := e.opt.Now()
	req.Reason = strings.TrimSpace(req.Reason)
	switch {
	case req.Reason == "" || utf8.RuneCountInString(req.Reason) > 500:
		return store.LegalHold{}, invalid("reason: give the reason for the hold (1 to 500 characters)")
	case req.ExpiresAt <= now:
		return store.LegalHold{}, invalid("expires_at: a hold must expire in the future")
	case req.ExpiresAt > now+maxHold:
		return store.LegalHold{}, invalid("expires_at: a hold lasts at most ten years; renew it when it ends")
	case (req.UserID != 0) == (req.Table != "" || req.RecordID != 0):
		return store.LegalHold{}, invalid("hold either one record (table and record_id) or one person (user_id)")
	}
	h := store.LegalHold{TenantID: tenantID, Reason: req.Reason, CreatedBy: a.Name, CreatedAt: now, ExpiresAt: req.ExpiresAt}
	if req.UserID != 0 {
		if _, err := e.db.User(ctx, tenantID, req.UserID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return h, invalid("user_id: no such user in this tenant")
			}
			return h, err
		}
		uid := req.UserID
		h.UserID = &uid
	} else {
		t, ok := datacat.LookupTable(req.Table)
		if !ok || t.TenantColumn == "" || t.TenantColumn == "id" {
			return h, invalid("table: %q is not a table whose records can be held", req.Table)
		}
		if ok, err := e.hasID(ctx, t.Name); err != nil {
			return h, err
		} else if !ok {
			return h, invalid("table: records of %s have no id to hold", t.Name)
		}
		var n int
		if err := e.db.QueryRow(ctx, `SELECT COUNT(*) FROM `+t.Name+` WHERE id = ? AND `+t.TenantColumn+` = ?`, req.RecordID, tenantID).Scan(&n); err != nil {
			return h, err
		}
		if n == 0 {
			return h, invalid("record_id: no record %d in %s of this tenant", req.RecordID, t.Name)
		}
		rid := req.RecordID
		h.Table, h.RecordID = t.Name, &rid
	}
	err := e.db.InTx(ctx, func(tx *store.DB) error {
		var err error
		if h, err = tx.CreateLegalHold(ctx, h); err != nil {
			return err
		}
		return e.audit(ctx, tx, a, tenantID, "hold.place", "hold", h.ID, holdTarget(h)+" expires="+fmtDay(h.ExpiresAt))
	})
	return h, err
}

func holdTarget(h store.LegalHold) string {
	if h.UserID != nil {
		return fmt.Sprintf("user=%d", *h.UserID)
	}
	return fmt.Sprintf("table=%s record=%d", h.Table, *h.RecordID)
}

// ReleaseHold ends a hold before it expires.
func (e *Engine) ReleaseHold(ctx context.Context, tenantID, id int64, a Actor) error {
	return e.db.InTx(ctx, func(tx *store.DB) error {
		if err := tx.ReleaseLegalHold(ctx, tenantID, id, e.opt.Now(), a.Name); err != nil {
			return err
		}
		return e.audit(ctx, tx, a, tenantID, "hold.release", "hold", id, "")
	})
}

// Holds lists a tenant's holds (tenantID 0: every tenant's).
func (e *Engine) Holds(ctx context.Context, tenantID int64, openOnly bool, p store.Page) ([]store.LegalHold, error) {
	return e.db.ListLegalHolds(ctx, tenantID, openOnly, p)
}

// expireHolds closes holds whose time is up, so that the audit log says when each ended.
func (e *Engine) expireHolds(ctx context.Context, now int64, dry bool) (int, error) {
	n := 0
	for p := (store.Page{Limit: 500}); ; {
		hs, err := e.db.ListLegalHolds(ctx, 0, true, p)
		if err != nil {
			return n, err
		}
		for _, h := range hs {
			if h.ExpiresAt > now {
				continue
			}
			n++
			if dry {
				continue
			}
			err := e.db.InTx(ctx, func(tx *store.DB) error {
				if err := tx.ReleaseLegalHold(ctx, h.TenantID, h.ID, h.ExpiresAt, "expiry"); err != nil {
					return err
				}
				return e.audit(ctx, tx, System, h.TenantID, "hold.expire", "hold", h.ID, holdTarget(h))
			})
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return n, err
			}
		}
		if len(hs) < p.Limit {
			return n, nil
		}
		p.After = hs[len(hs)-1].ID
	}
}

// holdSet is what must not be deleted now: held records per table and held people. A
// restricted person counts as held: restriction means the data is kept, not processed.
type holdSet struct {
	records map[string][]int64
	users   []int64
}

func (e *Engine) loadHolds(ctx context.Context, now int64) (*holdSet, error) {
	h := &holdSet{records: map[string][]int64{}}
	for p := (store.Page{Limit: 1000}); ; {
		hs, err := e.db.ListLegalHolds(ctx, 0, true, p)
		if err != nil {
			return nil, err
		}
		for _, x := range hs {
			if !x.Active(now) {
				continue
			}
			if x.UserID != nil {
				h.users = append(h.users, *x.UserID)
			} else if x.RecordID != nil {
				h.records[x.Table] = append(h.records[x.Table], *x.RecordID)
			}
		}
		if len(hs) < p.Limit {
			break
		}
		p.After = hs[len(hs)-1].ID
	}
	rs, err := e.db.ListRestrictions(ctx, 0)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		h.users = append(h.users, r.UserID)
	}
	slices.Sort(h.users)
	h.users = slices.Compact(h.users)
	for t := range h.records {
		slices.Sort(h.records[t])
		h.records[t] = slices.Compact(h.records[t])
	}
	return h, nil
}

// exclude returns the SQL condition (starting with " AND") that leaves held rows of t out.
// User ids are unique across tenants, so one list serves every tenant.
func (h *holdSet) exclude(t datacat.Table, hasID bool) string {
	var b strings.Builder
	if ids := h.records[t.Name]; len(ids) > 0 && hasID {
		b.WriteString(" AND id NOT IN (" + intList(ids) + ")")
	}
	if len(h.users) > 0 {
		list := intList(h.users)
		for _, c := range personColumns(t) {
			b.WriteString(" AND (" + c + " IS NULL OR " + c + " NOT IN (" + list + "))")
		}
	}
	if t.FileColumn == "id" {
		// A held row of a table that refers to content files keeps its file too.
		for _, r := range referringTables() {
			if ids := h.records[r.Name]; len(ids) > 0 {
				b.WriteString(" AND id NOT IN (SELECT " + r.FileColumn + " FROM " + r.Name + " WHERE id IN (" + intList(ids) + ") AND " +
					r.FileColumn + " IS NOT NULL)")
			}
		}
	}
	return b.String()
}

func (h *holdSet) empty(t datacat.Table) bool {
	if t.FileColumn == "id" {
		for _, r := range referringTables() {
			if len(h.records[r.Name]) > 0 {
				return false
			}
		}
	}
	return len(h.records[t.Name]) == 0 && (len(h.users) == 0 || len(personColumns(t)) == 0)
}

// referringTables are the tables whose rows refer to content files (a voicemail index).
func referringTables() []datacat.Table {
	var out []datacat.Table
	for _, t := range datacat.Tables() {
		if t.FileColumn != "" && t.FileColumn != "id" {
			out = append(out, t)
		}
	}
	return out
}

func (h *holdSet) userHeld(uid int64) bool {
	_, ok := slices.BinarySearch(h.users, uid)
	return ok
}
