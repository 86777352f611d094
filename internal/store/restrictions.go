package store

import (
	"context"

	"github.com/privox/privox/internal/datacat"
)

func init() {
	addMigration("0202_restrictions", `
CREATE TABLE restrictions (
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	user_id BIGINT NOT NULL REFERENCES users(id),
	reason TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (tenant_id, user_id)
);
`)
	datacat.RegisterTable(datacat.Table{Name: "restrictions", Category: datacat.Profile, Owner: datacat.OwnerUser,
		TenantColumn: "tenant_id", UserColumn: "user_id",
		Purpose: "Restriction of processing a person asked for (GDPR Art. 18): their data is kept but not processed"})
}

// Restriction freezes a person's data: kept, not processed, not passed to third parties.
type Restriction struct {
	TenantID  int64  `json:"tenant_id"`
	UserID    int64  `json:"user_id"`
	Reason    string `json:"reason"`
	CreatedBy string `json:"created_by"`
	CreatedAt int64  `json:"created_at"`
}

// SetRestriction restricts a person (replacing the reason of an existing restriction).
func (db *DB) SetRestriction(ctx context.Context, r Restriction) (Restriction, error) {
	if r.CreatedAt == 0 {
		r.CreatedAt = Now()
	}
	_, err := db.Exec(ctx, `INSERT INTO restrictions (tenant_id, user_id, reason, created_by, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, user_id) DO UPDATE SET reason = excluded.reason`, r.TenantID, r.UserID, r.Reason, r.CreatedBy, r.CreatedAt)
	if err != nil {
		return r, err
	}
	return db.Restriction(ctx, r.TenantID, r.UserID)
}

// Restriction returns a person's restriction, ErrNotFound when there is none.
func (db *DB) Restriction(ctx context.Context, tenantID, userID int64) (Restriction, error) {
	var r Restriction
	err := db.QueryRow(ctx, `SELECT tenant_id, user_id, reason, created_by, created_at FROM restrictions WHERE tenant_id = ? AND user_id = ?`,
		tenantID, userID).Scan(&r.TenantID, &r.UserID, &r.Reason, &r.CreatedBy, &r.CreatedAt)
	return r, mapErr(err)
}

// ListRestrictions lists a tenant's restricted people (tenantID 0: every tenant's).
func (db *DB) ListRestrictions(ctx context.Context, tenantID int64) ([]Restriction, error) {
	rows, err := db.Query(ctx, `SELECT tenant_id, user_id, reason, created_by, created_at FROM restrictions
		WHERE (? = 0 OR tenant_id = ?) ORDER BY tenant_id, user_id`, tenantID, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Restriction
	for rows.Next() {
		var r Restriction
		if err := rows.Scan(&r.TenantID, &r.UserID, &r.Reason, &r.CreatedBy, &r.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteRestriction lifts a restriction.
func (db *DB) DeleteRestriction(ctx context.Context, tenantID, userID int64) error {
	res, err := db.Exec(ctx, `DELETE FROM restrictions WHERE tenant_id = ? AND user_id = ?`, tenantID, userID)
	return affected(res, err)
}
