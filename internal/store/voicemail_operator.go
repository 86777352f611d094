package store

import (
	"context"

	"github.com/privox/privox/internal/datacat"
)

// The operator a caller reaches by pressing 0 while leaving a voice message: a dial-plan
// number (an extension or a group) per tenant, overridable per box (voicemail_boxes.operator).

func init() {
	addMigration("0620_voicemail_operator", `
ALTER TABLE voicemail_boxes ADD COLUMN operator TEXT NOT NULL DEFAULT '';
CREATE TABLE voicemail_settings (
	tenant_id BIGINT PRIMARY KEY REFERENCES tenants(id),
	operator TEXT NOT NULL DEFAULT '',
	updated_at BIGINT NOT NULL
);
`)
	datacat.RegisterTable(datacat.Table{Name: "voicemail_settings", Category: datacat.Configuration, Owner: datacat.OwnerTenant,
		TenantColumn: "tenant_id",
		Purpose:      "A tenant's voicemail defaults: the operator number callers reach with 0 during a deposit"})
}

// VoicemailSettings are a tenant's voicemail defaults.
type VoicemailSettings struct {
	TenantID int64 `json:"tenant_id"`
	// Operator is the number (an extension or a group) a caller reaches by pressing 0 while
	// leaving a message; "" for none. A box's own operator overrides it.
	Operator  string `json:"operator"`
	UpdatedAt int64  `json:"updated_at"`
}

// VoicemailSettings returns a tenant's voicemail defaults (empty ones when never set).
func (db *DB) VoicemailSettings(ctx context.Context, tenantID int64) (VoicemailSettings, error) {
	v := VoicemailSettings{TenantID: tenantID}
	err := mapErr(db.QueryRow(ctx, `SELECT operator, updated_at FROM voicemail_settings WHERE tenant_id = ?`, tenantID).Scan(&v.Operator, &v.UpdatedAt))
	if err == ErrNotFound {
		return v, nil
	}
	return v, err
}

// PutVoicemailSettings stores a tenant's voicemail defaults.
func (db *DB) PutVoicemailSettings(ctx context.Context, v VoicemailSettings) (VoicemailSettings, error) {
	v.UpdatedAt = Now()
	_, err := db.Exec(ctx, `INSERT INTO voicemail_settings (tenant_id, operator, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET operator = excluded.operator, updated_at = excluded.updated_at`, v.TenantID, v.Operator, v.UpdatedAt)
	return v, err
}
