package store

import (
	"context"
	"database/sql"

	"github.com/privox/privox/internal/datacat"
)

func init() {
	addMigration("0201_legal_holds", `
CREATE TABLE legal_holds (
	id {{id}},
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	table_name TEXT NOT NULL DEFAULT '',
	record_id BIGINT,
	user_id BIGINT,
	reason TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	released_at BIGINT,
	released_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX legal_holds_tenant ON legal_holds(tenant_id, released_at);
`)
	// A hold is an accountability record like the audit log; it is kept for the audit period
	// after it ended (released_at is set when it is released or expires).
	datacat.RegisterTable(datacat.Table{Name: "legal_holds", Category: datacat.Audit, Owner: datacat.OwnerTenant,
		TenantColumn: "tenant_id", TimeColumn: "released_at", PersonColumns: []string{"user_id"},
		Purpose: "Legal holds that suspend deletion of named records or of a person's data (fraud investigation, billing dispute, reported problem)"})
}

// LegalHold suspends deletion of one record (Table and RecordID) or of everything of one
// person (UserID) in a tenant until it expires or is released.
type LegalHold struct {
	ID         int64  `json:"id"`
	TenantID   int64  `json:"tenant_id"`
	Table      string `json:"table,omitempty"`
	RecordID   *int64 `json:"record_id,omitempty"`
	UserID     *int64 `json:"user_id,omitempty"`
	Reason     string `json:"reason"`
	CreatedBy  string `json:"created_by"`
	CreatedAt  int64  `json:"created_at"`
	ExpiresAt  int64  `json:"expires_at"`
	ReleasedAt *int64 `json:"released_at,omitempty"`
	ReleasedBy string `json:"released_by,omitempty"`
}

// Active reports whether the hold is in force at time now (unix ms).
func (h LegalHold) Active(now int64) bool { return h.ReleasedAt == nil && h.ExpiresAt > now }

const holdCols = `id, tenant_id, table_name, record_id, user_id, reason, created_by, created_at, expires_at, released_at, released_by`

func scanHold(s interface{ Scan(...any) error }) (LegalHold, error) {
	var h LegalHold
	var rec, uid, rel sql.NullInt64
	err := s.Scan(&h.ID, &h.TenantID, &h.Table, &rec, &uid, &h.Reason, &h.CreatedBy, &h.CreatedAt, &h.ExpiresAt, &rel, &h.ReleasedBy)
	h.RecordID, h.UserID, h.ReleasedAt = idPtr(rec), idPtr(uid), idPtr(rel)
	return h, mapErr(err)
}

// CreateLegalHold stores a hold.
func (db *DB) CreateLegalHold(ctx context.Context, h LegalHold) (LegalHold, error) {
	if h.CreatedAt == 0 {
		h.CreatedAt = Now()
	}
	id, err := db.insertID(ctx, `INSERT INTO legal_holds (tenant_id, table_name, record_id, user_id, reason, created_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, h.TenantID, h.Table, nullID(h.RecordID), nullID(h.UserID), h.Reason, h.CreatedBy, h.CreatedAt, h.ExpiresAt)
	h.ID = id
	return h, err
}

// LegalHold returns one hold of a tenant.
func (db *DB) LegalHold(ctx context.Context, tenantID, id int64) (LegalHold, error) {
	return scanHold(db.QueryRow(ctx, `SELECT `+holdCols+` FROM legal_holds WHERE tenant_id = ? AND id = ?`, tenantID, id))
}

// ListLegalHolds lists a tenant's holds (tenantID 0: every tenant's), optionally only those
// not yet released.
func (db *DB) ListLegalHolds(ctx context.Context, tenantID int64, openOnly bool, p Page) ([]LegalHold, error) {
	rows, err := db.Query(ctx, `SELECT `+holdCols+` FROM legal_holds WHERE (? = 0 OR tenant_id = ?) AND (? = 0 OR released_at IS NULL)
		AND id > ? ORDER BY id LIMIT ?`, tenantID, tenantID, boolInt(openOnly), p.After, p.limit())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LegalHold
	for rows.Next() {
		h, err := scanHold(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// ReleaseLegalHold ends a hold that is still open; ErrNotFound when there is none.
func (db *DB) ReleaseLegalHold(ctx context.Context, tenantID, id int64, at int64, by string) error {
	res, err := db.Exec(ctx, `UPDATE legal_holds SET released_at = ?, released_by = ? WHERE tenant_id = ? AND id = ? AND released_at IS NULL`,
		at, by, tenantID, id)
	return affected(res, err)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
