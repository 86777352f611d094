package privacy

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/privox/privox/internal/datacat"
)

// ErasureItem is what erasing a person does to one table.
type ErasureItem struct {
	Table    string           `json:"table"`
	Category datacat.Category `json:"category"`
	// Action is "delete" (the person's rows go), "anonymise" (their rows stay without them),
	// "redact" (the row stays, its personal fields overwritten: the user row, an extension
	// number that stays in the tenant's plan) or "detach" (other people's records that name
	// the person keep existing without them).
	Action string `json:"action"`
	Rows   int64  `json:"rows"`
}

// ErasurePreview says, before a deactivation, what erasing the person will take away.
type ErasurePreview struct {
	TenantID int64         `json:"tenant_id"`
	UserID   int64         `json:"user_id"`
	Items    []ErasureItem `json:"items"`
	// KeyDestroyed: the person's data key goes, so their content in backups is unreadable.
	KeyDestroyed bool `json:"key_destroyed"`
	// Pending names what keeps data for now (a legal hold, a restriction); the erasure then
	// finishes when it ends.
	Pending string `json:"pending,omitempty"`
}

// Summary says in one line what goes, per category and table.
func (p ErasurePreview) Summary() string {
	var parts []string
	for _, it := range p.Items {
		parts = append(parts, fmt.Sprintf("%s %s: %d %s", it.Category, it.Table, it.Rows, map[string]string{
			"delete": "deleted", "anonymise": "anonymised", "redact": "redacted", "detach": "detached from other people's records"}[it.Action]))
	}
	s := strings.Join(parts, "; ")
	if s == "" {
		s = "no stored records"
	}
	if p.KeyDestroyed {
		s += "; the person's content key is destroyed (copies in backups become unreadable)"
	}
	if p.Pending != "" {
		s += "; kept for now: " + p.Pending
	}
	return s
}

// PreviewErasure counts, without changing anything, what Erase would do to a person now.
func (e *Engine) PreviewErasure(ctx context.Context, tenantID, userID int64) (ErasurePreview, error) {
	p := ErasurePreview{TenantID: tenantID, UserID: userID}
	if _, err := e.db.User(ctx, tenantID, userID); err != nil {
		return p, err
	}
	holds, err := e.loadHolds(ctx, e.opt.Now())
	if err != nil {
		return p, err
	}
	if holds.userHeld(userID) {
		p.Pending = "a legal hold or restriction on the person: nothing is erased until it ends"
	}
	book, err := e.loadRules(ctx)
	if err != nil {
		return p, err
	}
	counts := map[[2]string]*ErasureItem{}
	add := func(t datacat.Table, action, where string, args []any) error {
		var n int64
		if err := e.db.QueryRow(ctx, `SELECT COUNT(*) FROM `+t.Name+` WHERE `+t.TenantColumn+` = ? AND `+where, append([]any{tenantID}, args...)...).Scan(&n); err != nil {
			return fmt.Errorf("privacy: preview %s: %w", t.Name, err)
		}
		if n == 0 {
			return nil
		}
		k := [2]string{t.Name, action}
		if counts[k] == nil {
			counts[k] = &ErasureItem{Table: t.Name, Category: t.Category, Action: action}
		}
		counts[k].Rows += n
		return nil
	}
	for _, t := range erasureTables() {
		if err := checkTable(t); err != nil {
			return p, err
		}
		for _, kp := range kindPasses(t) {
			r := book.rule(tenantID, t.Category, kp.kind)
			owner, ownerArgs := "", []any(nil)
			if t.UserColumn != "" {
				owner, ownerArgs = t.UserColumn+" = ?", []any{userID}
				if kp.where != "" {
					owner += " AND " + kp.where
					ownerArgs = append(ownerArgs, kp.args...)
				}
			}
			switch r.OnDeactivation {
			case datacat.EraseDelete:
				if owner != "" {
					action := "delete"
					if t.Tombstone != nil {
						action = "redact"
					}
					if err := add(t, action, owner, ownerArgs); err != nil {
						return p, err
					}
				}
				if kp.where != "" {
					continue
				}
				for _, c := range t.PersonColumns {
					if err := add(t, "detach", c+" = ?", []any{userID}); err != nil {
						return p, err
					}
				}
			case datacat.EraseAnonymise:
				if kp.where != "" {
					continue
				}
				cond, n := personCond(t)
				if err := add(t, "anonymise", cond, repeat(userID, n)); err != nil {
					return p, err
				}
			}
		}
	}
	for _, it := range counts {
		p.Items = append(p.Items, *it)
	}
	sort.Slice(p.Items, func(i, j int) bool {
		if p.Items[i].Category != p.Items[j].Category {
			return p.Items[i].Category < p.Items[j].Category
		}
		if p.Items[i].Table != p.Items[j].Table {
			return p.Items[i].Table < p.Items[j].Table
		}
		return p.Items[i].Action < p.Items[j].Action
	})
	p.KeyDestroyed = e.vault != nil && !e.vault.Erased(tenantID, userID)
	return p, nil
}
