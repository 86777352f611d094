package privacy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/privox/privox/internal/datacat"
	"github.com/privox/privox/internal/store"
)

// ErasureReport says what an erasure did.
type ErasureReport struct {
	TenantID   int64            `json:"tenant_id"`
	UserID     int64            `json:"user_id"`
	ErasureID  int64            `json:"erasure_id"`
	Deleted    map[string]int64 `json:"deleted"`    // table → rows removed
	Anonymised map[string]int64 `json:"anonymised"` // table → rows anonymised in place
	Redacted   []string         `json:"redacted,omitempty"`
	Files      int64            `json:"files"`
	// KeyDestroyed says the user's data key is gone: every copy of their content, in backups
	// too, is unreadable.
	KeyDestroyed bool `json:"key_destroyed"`
	// Complete is false while a legal hold or restriction keeps some data; the sweeper
	// finishes the erasure once it ends.
	Complete      bool   `json:"complete"`
	PendingReason string `json:"pending_reason,omitempty"`
}

// Erase erases a person per SPEC §2, last column: every category whose rule says delete on
// deactivation is deleted (with its files), every one that says anonymise is anonymised in
// place, and the user's data key is destroyed (crypto-erasure). The user row stays as a
// tombstone without personal data. An active user is deactivated first. Data under a legal
// hold or restriction is kept and the erasure stays open until the sweeper can finish it.
func (e *Engine) Erase(ctx context.Context, tenantID, userID int64, a Actor) (ErasureReport, error) {
	u, err := e.db.User(ctx, tenantID, userID)
	if err != nil {
		return ErasureReport{}, err
	}
	if u.Active {
		err := e.db.InTx(ctx, func(tx *store.DB) error {
			if err := tx.SetUserActive(ctx, tenantID, userID, false); err != nil {
				return err
			}
			return tx.DeleteUserCredentials(ctx, tenantID, userID)
		})
		if err != nil {
			return ErasureReport{}, fmt.Errorf("privacy: deactivate before erasure: %w", err)
		}
	}
	er, err := e.db.OpenErasure(ctx, tenantID, userID, a.Name)
	if err != nil {
		return ErasureReport{}, err
	}
	rep, err := e.eraseOnce(ctx, er)
	if err != nil {
		return rep, err
	}
	if err := e.scrubErasure(ctx); err != nil {
		return rep, err
	}
	detail := fmt.Sprintf("complete=%v files=%d key_destroyed=%v", rep.Complete, rep.Files, rep.KeyDestroyed)
	if !rep.Complete {
		detail += " pending=" + rep.PendingReason
	}
	// The erasure ran in many transactions and cannot be rolled back; if it cannot be recorded
	// the caller learns so (the erasure record in the store says what was done).
	return rep, e.audit(ctx, e.db, a, tenantID, "user.erase", "user", userID, detail)
}

// scrubErasure makes what an erasure removed unreadable in the database files too (see
// store.DB.Scrub): on PostgreSQL every table that can hold a person's data is vacuumed.
func (e *Engine) scrubErasure(ctx context.Context) error {
	var names []string
	for _, t := range erasureTables() {
		names = append(names, t.Name)
	}
	if err := e.db.Scrub(context.WithoutCancel(ctx), names...); err != nil {
		return fmt.Errorf("privacy: erasure done, but scrubbing the database files failed: %w", err)
	}
	return nil
}

// OnDeactivate is the hook the API and the CLI run after deactivating a user.
func (e *Engine) OnDeactivate(ctx context.Context, tenantID, userID int64) error {
	_, err := e.Erase(ctx, tenantID, userID, Actor{Name: "deactivation"})
	return err
}

// erasureTables lists the tables that can hold a person's data in the order erasure visits
// them: tables with content files first (so the files go early), owner rows (tombstones) last.
func erasureTables() []datacat.Table {
	var out []datacat.Table
	for _, t := range datacat.Tables() {
		if t.LinksPerson() && t.TenantColumn != "" {
			out = append(out, t)
		}
	}
	rank := func(t datacat.Table) int {
		switch {
		case t.FileColumn != "":
			return 0
		case t.Tombstone != nil:
			return 2
		}
		return 1
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return out
}

func (e *Engine) eraseOnce(ctx context.Context, er store.Erasure) (ErasureReport, error) {
	tid, uid := er.TenantID, er.UserID
	rep := ErasureReport{TenantID: tid, UserID: uid, ErasureID: er.ID, Deleted: map[string]int64{}, Anonymised: map[string]int64{}}
	now := e.opt.Now()
	holds, err := e.loadHolds(ctx, now)
	if err != nil {
		return rep, err
	}
	if holds.userHeld(uid) {
		rep.PendingReason = "legal hold on the person"
		if _, err := e.db.Restriction(ctx, tid, uid); err == nil {
			rep.PendingReason = "processing restricted"
		}
		return rep, e.db.FinishErasure(ctx, er.ID, false, rep.PendingReason)
	}
	book, err := e.loadRules(ctx)
	if err != nil {
		return rep, err
	}
	// Crypto-erasure first, so that a crash halfway leaves nothing readable, unless a hold
	// keeps one of the user's content files: that must stay readable until the hold ends.
	heldContent, err := e.heldContent(ctx, tid, uid, holds)
	if err != nil {
		return rep, err
	}
	destroy := func() error {
		if e.vault == nil || e.vault.Erased(tid, uid) {
			rep.KeyDestroyed = e.vault != nil
			return nil
		}
		if err := e.vault.DestroyUserKey(tid, uid); err != nil {
			return fmt.Errorf("privacy: crypto-erase: %w", err)
		}
		rep.KeyDestroyed = true
		e.hook("key-destroyed")
		return nil
	}
	if !heldContent {
		if err := destroy(); err != nil {
			return rep, err
		}
	}
	for _, t := range erasureTables() {
		if err := checkTable(t); err != nil {
			return rep, err
		}
		hasID, err := e.hasID(ctx, t.Name)
		if err != nil {
			return rep, err
		}
		excl := holds.exclude(t, hasID)
		for _, kp := range kindPasses(t) {
			r := book.rule(tid, t.Category, kp.kind)
			switch r.OnDeactivation {
			case datacat.EraseDelete:
				if t.UserColumn != "" {
					if t.Tombstone != nil {
						if err := e.tombstone(ctx, t, tid, uid, excl); err != nil {
							return rep, err
						}
						rep.Redacted = append(rep.Redacted, t.Name)
					} else {
						p := pass{t: t, where: t.TenantColumn + " = ? AND " + t.UserColumn + " = ?", args: []any{tid, uid}}
						if kp.where != "" {
							p.where += " AND " + kp.where
							p.args = append(p.args, kp.args...)
						}
						var tr TableReport
						if err := e.runPass(ctx, p, holds, false, &tr); err != nil {
							return rep, fmt.Errorf("privacy: erase %s: %w", t.Name, err)
						}
						rep.Deleted[t.Name] += tr.Removed
						rep.Files += tr.Files
					}
				}
				if kp.where != "" {
					continue // person columns are nulled once, in the pass for the other kinds
				}
				// Someone else's record that names this person keeps existing without the name.
				for _, c := range t.PersonColumns {
					n, err := e.detachParty(ctx, t, c, tid, uid, excl)
					if err != nil {
						return rep, fmt.Errorf("privacy: erase %s.%s: %w", t.Name, c, err)
					}
					rep.Anonymised[t.Name] += n
				}
			case datacat.EraseAnonymise:
				if kp.where != "" {
					continue
				}
				n, err := e.anonymiseRows(ctx, t, tid, uid, excl)
				if err != nil {
					return rep, fmt.Errorf("privacy: anonymise %s: %w", t.Name, err)
				}
				rep.Anonymised[t.Name] += n
			}
		}
	}
	for t, n := range rep.Deleted {
		if n == 0 {
			delete(rep.Deleted, t)
		}
	}
	for t, n := range rep.Anonymised {
		if n == 0 {
			delete(rep.Anonymised, t)
		}
	}
	left, err := e.remainingLinks(ctx, book, tid, uid)
	if err != nil {
		return rep, err
	}
	if left > 0 || heldContent {
		rep.PendingReason = "legal hold on " + strconv.FormatInt(max(left, 1), 10) + " record(s)"
		return rep, e.db.FinishErasure(ctx, er.ID, false, rep.PendingReason)
	}
	if err := destroy(); err != nil {
		return rep, err
	}
	rep.Complete = true
	return rep, e.db.FinishErasure(ctx, er.ID, true, "")
}

// remainingLinks counts the records that still name the person in categories whose rule says
// delete or anonymise on deactivation (owner rows kept as tombstones aside): after a complete
// erasure there are none; records a hold keeps are what is left otherwise.
func (e *Engine) remainingLinks(ctx context.Context, book *ruleBook, tid, uid int64) (int64, error) {
	var total int64
	for _, t := range erasureTables() {
		if t.Tombstone != nil {
			continue
		}
		for _, kp := range kindPasses(t) {
			if book.rule(tid, t.Category, kp.kind).OnDeactivation == datacat.EraseNA {
				continue
			}
			cond, n := personCond(t)
			q := `SELECT COUNT(*) FROM ` + t.Name + ` WHERE ` + t.TenantColumn + ` = ? AND ` + cond
			args := append([]any{tid}, repeat(uid, n)...)
			if kp.where != "" {
				q += " AND " + kp.where
				args = append(args, kp.args...)
			}
			if t.FileColumn == "id" {
				q += " AND state = '" + store.FileReady + "'"
			}
			var k int64
			if err := e.db.QueryRow(ctx, q, args...).Scan(&k); err != nil {
				return 0, err
			}
			total += k
		}
	}
	return total, nil
}

// heldContent reports whether a hold keeps one of the user's content files.
func (e *Engine) heldContent(ctx context.Context, tid, uid int64, holds *holdSet) (bool, error) {
	for _, t := range datacat.Tables() {
		ids := holds.records[t.Name]
		if t.FileColumn == "" || len(ids) == 0 || !t.LinksPerson() || t.TenantColumn == "" {
			continue
		}
		cond, n := personCond(t)
		var k int
		err := e.db.QueryRow(ctx, `SELECT COUNT(*) FROM `+t.Name+` WHERE `+t.TenantColumn+` = ? AND `+cond+` AND id IN (`+intList(ids)+`)`,
			append([]any{tid}, repeat(uid, n)...)...).Scan(&k)
		if err != nil {
			return false, err
		}
		if k > 0 {
			return true, nil
		}
	}
	return false, nil
}

// tombstone overwrites the declared columns of a row instead of deleting it, and detaches the
// row from its owner unless it is the owner.
func (e *Engine) tombstone(ctx context.Context, t datacat.Table, tid, uid int64, excl string) error {
	cols := make([]string, 0, len(t.Tombstone))
	for c := range t.Tombstone {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	var set []string
	var args []any
	for _, c := range cols {
		set = append(set, c+" = ?")
		args = append(args, strings.ReplaceAll(t.Tombstone[c], "{id}", strconv.FormatInt(uid, 10)))
	}
	if t.UserColumn != "id" {
		set = append(set, t.UserColumn+" = NULL")
	}
	_, err := e.db.Exec(ctx, `UPDATE `+t.Name+` SET `+strings.Join(set, ", ")+` WHERE `+t.TenantColumn+` = ? AND `+t.UserColumn+` = ?`+excl,
		append(args, tid, uid)...)
	return err
}

// completeErasures retries the erasures a hold or restriction kept open.
func (e *Engine) completeErasures(ctx context.Context, tenantID int64) (done, pending int, err error) {
	for p := (store.Page{Limit: 200}); ; {
		ers, err := e.db.OpenErasures(ctx, p)
		if err != nil {
			return done, pending, err
		}
		for _, er := range ers {
			if tenantID != 0 && er.TenantID != tenantID {
				continue
			}
			rep, err := e.eraseOnce(ctx, er)
			if err != nil {
				if errors.Is(err, context.Canceled) {
					return done, pending, err
				}
				return done, pending, fmt.Errorf("privacy: complete erasure %d: %w", er.ID, err)
			}
			if rep.Complete {
				if err := e.scrubErasure(ctx); err != nil {
					return done, pending, err
				}
				done++
				if err := e.audit(ctx, e.db, System, er.TenantID, "user.erase.complete", "user", er.UserID, ""); err != nil {
					return done, pending, err
				}
			} else {
				pending++
			}
		}
		if len(ers) < p.Limit {
			return done, pending, nil
		}
		p.After = ers[len(ers)-1].ID
	}
}
