package store

import (
	"context"
	"database/sql"

	"github.com/privox/privox/internal/datacat"
)

func init() {
	datacat.RegisterTable(datacat.Table{Name: "tenants", Category: datacat.TenantAdmin, Owner: datacat.OwnerTenant,
		TenantColumn: "id", TimeColumn: "terminated_at",
		Purpose: "Tenant registration, SIP domain, retention preset and administrative contact"})
	// The digest realm is stored per tenant so that renaming a tenant (or changing its SIP
	// domain) leaves every stored HA1 valid; existing tenants keep the realm they had.
	addMigration("0010_tenant_sip_realm", `
ALTER TABLE tenants ADD COLUMN sip_realm TEXT NOT NULL DEFAULT '';
UPDATE tenants SET sip_realm = CASE WHEN sip_domain <> '' THEN sip_domain ELSE name END;
`)
	// One SIP domain names one tenant, whatever its case. Where several tenants claimed the
	// same domain, the one that served it (the lowest id among active tenants) keeps it and
	// the others lose it; their realm, stored above, does not change.
	addMigration("0011_tenant_sip_domain_unique", `
UPDATE tenants SET sip_domain = lower(sip_domain);
UPDATE tenants SET sip_domain = '' WHERE sip_domain <> '' AND EXISTS (
	SELECT 1 FROM tenants o WHERE o.sip_domain = tenants.sip_domain AND o.id <> tenants.id AND (
		(o.terminated_at IS NULL AND tenants.terminated_at IS NOT NULL) OR
		((o.terminated_at IS NULL) = (tenants.terminated_at IS NULL) AND o.id < tenants.id)));
CREATE UNIQUE INDEX tenants_sip_domain ON tenants (lower(sip_domain)) WHERE sip_domain <> '';
`)
}

// Tenant is one organisation served by the installation.
type Tenant struct {
	ID              int64  `json:"id"`
	Name            string `json:"name"`
	SIPDomain       string `json:"sip_domain"`
	RetentionPreset string `json:"retention_preset"`
	AdminContact    string `json:"admin_contact"`
	// SIPRealm is the digest realm the tenant's HA1 values are computed for. It is fixed when
	// the tenant is created (its SIP domain, or its name) and never changes afterwards.
	SIPRealm     string `json:"sip_realm"`
	CreatedAt    int64  `json:"created_at"`
	TerminatedAt *int64 `json:"terminated_at,omitempty"`
}

const tenantCols = `id, name, sip_domain, retention_preset, admin_contact, sip_realm, created_at, terminated_at`

func scanTenant(s interface{ Scan(...any) error }) (Tenant, error) {
	var t Tenant
	var term sql.NullInt64
	err := s.Scan(&t.ID, &t.Name, &t.SIPDomain, &t.RetentionPreset, &t.AdminContact, &t.SIPRealm, &t.CreatedAt, &term)
	if term.Valid {
		t.TerminatedAt = &term.Int64
	}
	return t, mapErr(err)
}

// CreateTenant adds a tenant. Its SIP realm, when not given, is its SIP domain or else its
// name. A SIP domain another tenant has (in any case) is ErrConflict.
func (db *DB) CreateTenant(ctx context.Context, t Tenant) (Tenant, error) {
	if t.RetentionPreset == "" {
		t.RetentionPreset = "default"
	}
	if t.SIPRealm == "" {
		t.SIPRealm = t.SIPDomain
		if t.SIPRealm == "" {
			t.SIPRealm = t.Name
		}
	}
	t.CreatedAt = Now()
	id, err := db.insertID(ctx, `INSERT INTO tenants (name, sip_domain, retention_preset, admin_contact, sip_realm, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		t.Name, t.SIPDomain, t.RetentionPreset, t.AdminContact, t.SIPRealm, t.CreatedAt)
	t.ID = id
	return t, err
}

// Tenant returns one tenant by id.
func (db *DB) Tenant(ctx context.Context, id int64) (Tenant, error) {
	return scanTenant(db.QueryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = ?`, id))
}

// TenantByName returns one tenant by name.
func (db *DB) TenantByName(ctx context.Context, name string) (Tenant, error) {
	return scanTenant(db.QueryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE name = ?`, name))
}

// TenantBySIPDomain returns the tenant that serves a SIP domain (compared without case).
func (db *DB) TenantBySIPDomain(ctx context.Context, domain string) (Tenant, error) {
	if domain == "" {
		return Tenant{}, ErrNotFound
	}
	return scanTenant(db.QueryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE lower(sip_domain) = lower(?) AND sip_domain <> '' AND terminated_at IS NULL`, domain))
}

// ListTenants lists tenants by id.
func (db *DB) ListTenants(ctx context.Context, p Page) ([]Tenant, error) {
	rows, err := db.Query(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id > ? ORDER BY id LIMIT ?`, p.After, p.limit())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// UpdateTenant changes a tenant's editable fields (never its SIP realm). A SIP domain another
// tenant has is ErrConflict.
func (db *DB) UpdateTenant(ctx context.Context, t Tenant) error {
	res, err := db.Exec(ctx, `UPDATE tenants SET name = ?, sip_domain = ?, retention_preset = ?, admin_contact = ? WHERE id = ?`,
		t.Name, t.SIPDomain, t.RetentionPreset, t.AdminContact, t.ID)
	return affected(res, err)
}

func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
