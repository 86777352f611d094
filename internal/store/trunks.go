package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/privox/privox/internal/datacat"
)

// SIP trunks of a tenant: the provider connections outbound routes name. A trunk either
// registers with the provider (its user name and password, the password sealed with the
// tenant key, never returned) or is authenticated by its source addresses.

func init() {
	addMigration("0503_trunks", `
CREATE TABLE trunks (
	id {{id}},
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	name TEXT NOT NULL,
	kind TEXT NOT NULL,
	transport TEXT NOT NULL DEFAULT 'udp',
	server TEXT NOT NULL,
	failover TEXT NOT NULL DEFAULT '',
	register_expires INTEGER NOT NULL DEFAULT 300,
	allowed_sources TEXT NOT NULL DEFAULT '',
	did_from TEXT NOT NULL DEFAULT 'ruri',
	trusted {{bool}} NOT NULL DEFAULT {{false}},
	updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX trunks_tenant_name ON trunks(tenant_id, name);
CREATE TABLE trunk_credentials (
	trunk_id BIGINT PRIMARY KEY REFERENCES trunks(id) ON DELETE CASCADE,
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	username TEXT NOT NULL,
	secret_sealed TEXT NOT NULL
);
`)
	datacat.RegisterTable(datacat.Table{Name: "trunks", Category: datacat.Configuration, Owner: datacat.OwnerTenant,
		TenantColumn: "tenant_id", Purpose: "SIP trunks to providers: servers, transport, registration or allowed source addresses"})
	datacat.RegisterTable(datacat.Table{Name: "trunk_credentials", Category: datacat.Credentials, Owner: datacat.OwnerTenant,
		TenantColumn: "tenant_id", SecretColumns: []string{"secret_sealed"},
		Purpose: "Provider account of a registering trunk, the password sealed under the tenant key"})
}

// Trunk is one stored trunk (the dial plan validates it).
type Trunk struct {
	ID       int64  `json:"id"`
	TenantID int64  `json:"tenant_id"`
	Name     string `json:"name"`
	// Kind is "register" or "ip".
	Kind            string   `json:"kind"`
	Transport       string   `json:"transport"`
	Server          string   `json:"server"`
	Failover        string   `json:"failover,omitempty"`
	RegisterExpires int      `json:"register_expires"`
	AllowedSources  []string `json:"allowed_sources,omitempty"`
	// DIDFrom says where inbound calls carry the dialled number: "ruri" or "to".
	DIDFrom string `json:"did_from"`
	// Trusted trunks receive P-Asserted-Identity (RFC 3325).
	Trusted bool `json:"trusted"`
	// Username is the provider account (register trunks); the password is never returned.
	Username    string `json:"username,omitempty"`
	HasPassword bool   `json:"has_password"`
	UpdatedAt   int64  `json:"updated_at"`
}

const trunkCols = `t.id, t.tenant_id, t.name, t.kind, t.transport, t.server, t.failover, t.register_expires, t.allowed_sources, t.did_from, t.trusted, t.updated_at,
	COALESCE(c.username, ''), c.trunk_id IS NOT NULL`

const trunkFrom = ` FROM trunks t LEFT JOIN trunk_credentials c ON c.trunk_id = t.id`

func scanTrunk(s interface{ Scan(...any) error }) (Trunk, error) {
	var t Trunk
	var src string
	err := s.Scan(&t.ID, &t.TenantID, &t.Name, &t.Kind, &t.Transport, &t.Server, &t.Failover, &t.RegisterExpires, &src, &t.DIDFrom, &t.Trusted, &t.UpdatedAt,
		&t.Username, &t.HasPassword)
	if src != "" {
		t.AllowedSources = strings.Split(src, ",")
	}
	return t, mapErr(err)
}

// PutTrunk creates or replaces the trunk of that name; seal, when not nil, seals the
// password for the trunk's id (the binding of the sealed value) and the credentials are
// replaced in the same transaction. A nil seal keeps stored credentials.
func (db *DB) PutTrunk(ctx context.Context, t Trunk, seal func(trunkID int64) (string, error)) (Trunk, error) {
	t.UpdatedAt = Now()
	src := strings.Join(t.AllowedSources, ",")
	err := db.InTx(ctx, func(tx *DB) error {
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM trunks WHERE tenant_id = ? AND name = ?`, t.TenantID, t.Name).Scan(&id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			id, err = tx.insertID(ctx, `INSERT INTO trunks (tenant_id, name, kind, transport, server, failover, register_expires, allowed_sources, did_from, trusted, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, t.TenantID, t.Name, t.Kind, t.Transport, t.Server, t.Failover, t.RegisterExpires, src, t.DIDFrom, t.Trusted, t.UpdatedAt)
		case err == nil:
			_, err = tx.Exec(ctx, `UPDATE trunks SET kind = ?, transport = ?, server = ?, failover = ?, register_expires = ?, allowed_sources = ?, did_from = ?, trusted = ?, updated_at = ?
				WHERE id = ?`, t.Kind, t.Transport, t.Server, t.Failover, t.RegisterExpires, src, t.DIDFrom, t.Trusted, t.UpdatedAt, id)
		}
		if err != nil {
			return mapErr(err)
		}
		t.ID = id
		if t.Kind != "register" {
			_, err := tx.Exec(ctx, `DELETE FROM trunk_credentials WHERE trunk_id = ?`, id)
			return err
		}
		if seal == nil {
			return nil
		}
		sealed, err := seal(id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM trunk_credentials WHERE trunk_id = ?`, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO trunk_credentials (trunk_id, tenant_id, username, secret_sealed) VALUES (?, ?, ?, ?)`, id, t.TenantID, t.Username, sealed)
		return err
	})
	if err != nil {
		return t, err
	}
	return db.Trunk(ctx, t.TenantID, t.Name)
}

// Trunk returns a trunk by name.
func (db *DB) Trunk(ctx context.Context, tenantID int64, name string) (Trunk, error) {
	return scanTrunk(db.QueryRow(ctx, `SELECT `+trunkCols+trunkFrom+` WHERE t.tenant_id = ? AND t.name = ?`, tenantID, name))
}

// TrunkSecret returns a register trunk's sealed password.
func (db *DB) TrunkSecret(ctx context.Context, tenantID, trunkID int64) (string, error) {
	var s string
	err := db.QueryRow(ctx, `SELECT secret_sealed FROM trunk_credentials WHERE tenant_id = ? AND trunk_id = ?`, tenantID, trunkID).Scan(&s)
	return s, mapErr(err)
}

// ListTrunks lists a tenant's trunks (every tenant's when tenantID is 0).
func (db *DB) ListTrunks(ctx context.Context, tenantID int64) ([]Trunk, error) {
	q, args := `SELECT `+trunkCols+trunkFrom+` ORDER BY t.id`, []any{}
	if tenantID != 0 {
		q, args = `SELECT `+trunkCols+trunkFrom+` WHERE t.tenant_id = ? ORDER BY t.name`, []any{tenantID}
	}
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Trunk{}
	for rows.Next() {
		t, err := scanTrunk(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteTrunk removes a trunk and its credentials.
func (db *DB) DeleteTrunk(ctx context.Context, tenantID int64, name string) error {
	res, err := db.Exec(ctx, `DELETE FROM trunks WHERE tenant_id = ? AND name = ?`, tenantID, name)
	return affected(res, err)
}
