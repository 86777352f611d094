package store

import (
	"context"
	"database/sql"

	"github.com/privox/privox/internal/datacat"
)

// LDAP bind accounts: the credentials desk phones bind with to read a tenant's company
// phonebooks, or one phonebook. Only an argon2id hash of the password is stored.

func init() {
	addMigration("0401_ldap_accounts", `
CREATE TABLE ldap_accounts (
	id {{id}},
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	phonebook_id BIGINT REFERENCES phonebooks(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	hash TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ldap_accounts_name ON ldap_accounts(tenant_id, name);
`)
	datacat.RegisterTable(datacat.Table{Name: "ldap_accounts", Category: datacat.Credentials, Owner: datacat.OwnerTenant,
		TenantColumn: "tenant_id", SecretColumns: []string{"hash"},
		Purpose: "Bind accounts of the LDAP directory server (argon2id password hashes) for desk phones"})
}

// LDAPAccount is one bind identity of the LDAP server.
type LDAPAccount struct {
	ID       int64 `json:"id"`
	TenantID int64 `json:"tenant_id"`
	// PhonebookID limits the account to one phonebook (nil: the tenant's company phonebooks).
	PhonebookID *int64 `json:"phonebook_id,omitempty"`
	Name        string `json:"name"`
	Hash        string `json:"-"`
	CreatedAt   int64  `json:"created_at"`
}

func scanLDAPAccount(s interface{ Scan(...any) error }) (LDAPAccount, error) {
	var a LDAPAccount
	var pb sql.NullInt64
	err := s.Scan(&a.ID, &a.TenantID, &pb, &a.Name, &a.Hash, &a.CreatedAt)
	if pb.Valid {
		a.PhonebookID = &pb.Int64
	}
	return a, mapErr(err)
}

// CreateLDAPAccount adds a bind account (hash made by the caller).
func (db *DB) CreateLDAPAccount(ctx context.Context, a LDAPAccount) (LDAPAccount, error) {
	a.CreatedAt = Now()
	id, err := db.insertID(ctx, `INSERT INTO ldap_accounts (tenant_id, phonebook_id, name, hash, created_at) VALUES (?, ?, ?, ?, ?)`,
		a.TenantID, a.PhonebookID, a.Name, a.Hash, a.CreatedAt)
	a.ID = id
	return a, err
}

// LDAPAccountByName returns a tenant's bind account by name.
func (db *DB) LDAPAccountByName(ctx context.Context, tenantID int64, name string) (LDAPAccount, error) {
	return scanLDAPAccount(db.QueryRow(ctx, `SELECT id, tenant_id, phonebook_id, name, hash, created_at FROM ldap_accounts WHERE tenant_id = ? AND name = ?`, tenantID, name))
}

// ListLDAPAccounts lists a tenant's bind accounts.
func (db *DB) ListLDAPAccounts(ctx context.Context, tenantID int64) ([]LDAPAccount, error) {
	rows, err := db.Query(ctx, `SELECT id, tenant_id, phonebook_id, name, hash, created_at FROM ldap_accounts WHERE tenant_id = ? ORDER BY id`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LDAPAccount
	for rows.Next() {
		a, err := scanLDAPAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// DeleteLDAPAccount removes a bind account.
func (db *DB) DeleteLDAPAccount(ctx context.Context, tenantID, id int64) error {
	res, err := db.Exec(ctx, `DELETE FROM ldap_accounts WHERE tenant_id = ? AND id = ?`, tenantID, id)
	return affected(res, err)
}
