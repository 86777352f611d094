package store

import (
	"context"

	"github.com/privox/privox/internal/datacat"
)

func init() {
	addMigration("0200_retention", `
CREATE TABLE retention_rules (
	tenant_id BIGINT NOT NULL,
	category TEXT NOT NULL,
	kind TEXT NOT NULL DEFAULT '',
	mode TEXT NOT NULL,
	days INTEGER NOT NULL DEFAULT 0,
	on_deactivation TEXT NOT NULL,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (tenant_id, category, kind)
);
CREATE INDEX content_files_sweep ON content_files(tenant_id, kind, created_at);
`)
	datacat.RegisterTable(datacat.Table{Name: "retention_rules", Category: datacat.Configuration, Owner: datacat.OwnerTenant,
		TenantColumn: "tenant_id",
		Purpose:      "Retention rules that differ from a tenant's preset (tenant 0: the installation's own tables)"})
}

// InstallationTenant is the tenant id under which installation-wide settings are stored (rules
// for system tables and for the audit chain, which spans every tenant).
const InstallationTenant int64 = 0

// RetentionRule is a stored retention rule that overrides the preset for one tenant and one
// category, or one kind of content within a category.
type RetentionRule struct {
	TenantID       int64  `json:"tenant_id"`
	Category       string `json:"category"`
	Kind           string `json:"kind,omitempty"`
	Mode           string `json:"mode"`
	Days           int    `json:"days,omitempty"`
	OnDeactivation string `json:"on_deactivation"`
	UpdatedAt      int64  `json:"updated_at"`
}

// RetentionRules lists the stored rules of a tenant (InstallationTenant for the installation).
func (db *DB) RetentionRules(ctx context.Context, tenantID int64) ([]RetentionRule, error) {
	return db.queryRules(ctx, `SELECT tenant_id, category, kind, mode, days, on_deactivation, updated_at FROM retention_rules
		WHERE tenant_id = ? ORDER BY category, kind`, tenantID)
}

// AllRetentionRules lists every stored rule (the sweeper reads them once per run).
func (db *DB) AllRetentionRules(ctx context.Context) ([]RetentionRule, error) {
	return db.queryRules(ctx, `SELECT tenant_id, category, kind, mode, days, on_deactivation, updated_at FROM retention_rules
		ORDER BY tenant_id, category, kind`)
}

func (db *DB) queryRules(ctx context.Context, q string, args ...any) ([]RetentionRule, error) {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RetentionRule
	for rows.Next() {
		var r RetentionRule
		if err := rows.Scan(&r.TenantID, &r.Category, &r.Kind, &r.Mode, &r.Days, &r.OnDeactivation, &r.UpdatedAt); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetRetentionRule stores (or replaces) a rule.
func (db *DB) SetRetentionRule(ctx context.Context, r RetentionRule) error {
	if r.UpdatedAt == 0 {
		r.UpdatedAt = Now()
	}
	_, err := db.Exec(ctx, `INSERT INTO retention_rules (tenant_id, category, kind, mode, days, on_deactivation, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, category, kind) DO UPDATE SET mode = excluded.mode, days = excluded.days,
			on_deactivation = excluded.on_deactivation, updated_at = excluded.updated_at`,
		r.TenantID, r.Category, r.Kind, r.Mode, r.Days, r.OnDeactivation, r.UpdatedAt)
	return err
}

// DeleteRetentionRule removes a stored rule, so that the preset applies again.
func (db *DB) DeleteRetentionRule(ctx context.Context, tenantID int64, category, kind string) error {
	res, err := db.Exec(ctx, `DELETE FROM retention_rules WHERE tenant_id = ? AND category = ? AND kind = ?`, tenantID, category, kind)
	return affected(res, err)
}
