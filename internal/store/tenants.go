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
}

// Tenant is one organisation served by the installation.
type Tenant struct {
	ID              int64  `json:"id"`
	Name            string `json:"name"`
	SIPDomain       string `json:"sip_domain"`
	RetentionPreset string `json:"retention_preset"`
	AdminContact    string `json:"admin_contact"`
	CreatedAt       int64  `json:"created_at"`
	TerminatedAt    *int64 `json:"terminated_at,omitempty"`
}

const tenantCols = `id, name, sip_domain, retention_preset, admin_contact, created_at, terminated_at`

func scanTenant(s interface{ Scan(...any) error }) (Tenant, error) {
	var t Tenant
	var term sql.NullInt64
	err := s.Scan(&t.ID, &t.Name, &t.SIPDomain, &t.RetentionPreset, &t.AdminContact, &t.CreatedAt, &term)
	if term.Valid {
		t.TerminatedAt = &term.Int64
	}
	return t, mapErr(err)
}

// CreateTenant adds a tenant.
func (db *DB) CreateTenant(ctx context.Context, t Tenant) (Tenant, error) {
	if t.RetentionPreset == "" {
		t.RetentionPreset = "default"
	}
	t.CreatedAt = Now()
	id, err := db.insertID(ctx, `INSERT INTO tenants (name, sip_domain, retention_preset, admin_contact, created_at) VALUES (?, ?, ?, ?, ?)`,
		t.Name, t.SIPDomain, t.RetentionPreset, t.AdminContact, t.CreatedAt)
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

// TenantBySIPDomain returns the tenant that serves a SIP domain.
func (db *DB) TenantBySIPDomain(ctx context.Context, domain string) (Tenant, error) {
	return scanTenant(db.QueryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE sip_domain = ? AND terminated_at IS NULL`, domain))
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

// UpdateTenant changes a tenant's editable fields.
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
