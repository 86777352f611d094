package store

import (
	"context"
	"database/sql"

	"github.com/privox/privox/internal/datacat"
)

func init() {
	addMigration("0205_erasures", `
CREATE TABLE erasures (
	id {{id}},
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	user_id BIGINT NOT NULL,
	requested_at BIGINT NOT NULL,
	requested_by TEXT NOT NULL,
	completed_at BIGINT,
	pending_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX erasures_open ON erasures(completed_at);
`)
	// That a person's data was erased, when and on whose request, is itself an accountability
	// record; it names no more than the user id.
	datacat.RegisterTable(datacat.Table{Name: "erasures", Category: datacat.Audit, Owner: datacat.OwnerTenant,
		TenantColumn: "tenant_id", TimeColumn: "completed_at", PersonColumns: []string{"user_id"},
		Purpose: "Erasure requests and their completion; an erasure waits while a legal hold or restriction keeps the data"})
}

// Erasure is a request to erase a person's data, open until everything is gone.
type Erasure struct {
	ID            int64  `json:"id"`
	TenantID      int64  `json:"tenant_id"`
	UserID        int64  `json:"user_id"`
	RequestedAt   int64  `json:"requested_at"`
	RequestedBy   string `json:"requested_by"`
	CompletedAt   *int64 `json:"completed_at,omitempty"`
	PendingReason string `json:"pending_reason,omitempty"`
}

// OpenErasure returns the open erasure of a person, creating it when there is none.
func (db *DB) OpenErasure(ctx context.Context, tenantID, userID int64, by string) (Erasure, error) {
	var e Erasure
	err := db.InTx(ctx, func(tx *DB) error {
		got, err := tx.scanErasure(tx.QueryRow(ctx, `SELECT id, tenant_id, user_id, requested_at, requested_by, completed_at, pending_reason
			FROM erasures WHERE tenant_id = ? AND user_id = ? AND completed_at IS NULL ORDER BY id LIMIT 1`, tenantID, userID))
		if err == nil {
			e = got
			return nil
		}
		if err != ErrNotFound {
			return err
		}
		e = Erasure{TenantID: tenantID, UserID: userID, RequestedAt: Now(), RequestedBy: by}
		e.ID, err = tx.insertID(ctx, `INSERT INTO erasures (tenant_id, user_id, requested_at, requested_by) VALUES (?, ?, ?, ?)`,
			tenantID, userID, e.RequestedAt, by)
		return err
	})
	return e, err
}

func (db *DB) scanErasure(s interface{ Scan(...any) error }) (Erasure, error) {
	var e Erasure
	var done sql.NullInt64
	err := s.Scan(&e.ID, &e.TenantID, &e.UserID, &e.RequestedAt, &e.RequestedBy, &done, &e.PendingReason)
	e.CompletedAt = idPtr(done)
	return e, mapErr(err)
}

// OpenErasures lists erasures not yet complete.
func (db *DB) OpenErasures(ctx context.Context, p Page) ([]Erasure, error) {
	rows, err := db.Query(ctx, `SELECT id, tenant_id, user_id, requested_at, requested_by, completed_at, pending_reason
		FROM erasures WHERE completed_at IS NULL AND id > ? ORDER BY id LIMIT ?`, p.After, p.limit())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Erasure
	for rows.Next() {
		e, err := db.scanErasure(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// FinishErasure records an erasure's outcome: complete, or still waiting with a reason.
func (db *DB) FinishErasure(ctx context.Context, id int64, complete bool, pendingReason string) error {
	var at any
	if complete {
		at = Now()
		pendingReason = ""
	}
	_, err := db.Exec(ctx, `UPDATE erasures SET completed_at = ?, pending_reason = ? WHERE id = ?`, at, pendingReason, id)
	return err
}
