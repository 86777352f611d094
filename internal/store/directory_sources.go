package store

import (
	"context"
	"database/sql"

	"github.com/privox/privox/internal/datacat"
)

// Directory sources: LDAP or Active Directory servers whose entries a sync connector
// replicates into one phonebook. The bind password is stored sealed with the tenant key.

func init() {
	addMigration("0402_directory_sources", `
CREATE TABLE directory_sources (
	id {{id}},
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	phonebook_id BIGINT NOT NULL REFERENCES phonebooks(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	url TEXT NOT NULL,
	bind_dn TEXT NOT NULL DEFAULT '',
	secret_sealed {{blob}},
	base_dn TEXT NOT NULL,
	filter TEXT NOT NULL DEFAULT '',
	settings TEXT NOT NULL DEFAULT '{}',
	priority INTEGER NOT NULL DEFAULT 0,
	enabled {{bool}} NOT NULL DEFAULT {{true}},
	interval_s BIGINT NOT NULL DEFAULT 3600,
	last_run_at BIGINT,
	last_ok_at BIGINT,
	last_error TEXT NOT NULL DEFAULT '',
	last_count BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL
);
CREATE INDEX directory_sources_tenant ON directory_sources(tenant_id);
`)
	datacat.RegisterTable(datacat.Table{Name: "directory_sources", Category: datacat.Configuration, Owner: datacat.OwnerTenant,
		TenantColumn: "tenant_id", SecretColumns: []string{"secret_sealed"},
		Purpose: "Directory servers replicated into phonebooks, with their bind credentials sealed under the tenant key"})
	// Configuration, not credentials: a source and its bind account belong to the tenant, not
	// to a person, and stay until the admin removes them; the secret is sealed either way.
}

// DirectorySource is one replicated directory server.
type DirectorySource struct {
	ID          int64  `json:"id"`
	TenantID    int64  `json:"tenant_id"`
	PhonebookID int64  `json:"phonebook_id"`
	Name        string `json:"name"`
	URL         string `json:"url"`
	BindDN      string `json:"bind_dn,omitempty"`
	Sealed      []byte `json:"-"`
	BaseDN      string `json:"base_dn"`
	Filter      string `json:"filter,omitempty"`
	// Settings is JSON: attribute mapping, number rules, TLS options (directory.SourceSettings).
	Settings  string `json:"settings"`
	Priority  int    `json:"priority"`
	Enabled   bool   `json:"enabled"`
	IntervalS int64  `json:"interval_s"`
	LastRunAt *int64 `json:"last_run_at,omitempty"`
	LastOKAt  *int64 `json:"last_ok_at,omitempty"`
	LastError string `json:"last_error,omitempty"`
	LastCount int64  `json:"last_count"`
	CreatedAt int64  `json:"created_at"`
}

const sourceCols = `id, tenant_id, phonebook_id, name, url, bind_dn, secret_sealed, base_dn, filter, settings, priority, enabled, interval_s,
	last_run_at, last_ok_at, last_error, last_count, created_at`

func scanSource(s interface{ Scan(...any) error }) (DirectorySource, error) {
	var d DirectorySource
	var run, ok sql.NullInt64
	err := s.Scan(&d.ID, &d.TenantID, &d.PhonebookID, &d.Name, &d.URL, &d.BindDN, &d.Sealed, &d.BaseDN, &d.Filter, &d.Settings, &d.Priority,
		&d.Enabled, &d.IntervalS, &run, &ok, &d.LastError, &d.LastCount, &d.CreatedAt)
	if run.Valid {
		d.LastRunAt = &run.Int64
	}
	if ok.Valid {
		d.LastOKAt = &ok.Int64
	}
	return d, mapErr(err)
}

// CreateDirectorySource adds a source (Sealed already sealed by the caller).
func (db *DB) CreateDirectorySource(ctx context.Context, d DirectorySource) (DirectorySource, error) {
	d.CreatedAt = Now()
	id, err := db.insertID(ctx, `INSERT INTO directory_sources (tenant_id, phonebook_id, name, url, bind_dn, secret_sealed, base_dn, filter, settings, priority, enabled, interval_s, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, d.TenantID, d.PhonebookID, d.Name, d.URL, d.BindDN, d.Sealed, d.BaseDN, d.Filter, d.Settings, d.Priority, d.Enabled, d.IntervalS, d.CreatedAt)
	d.ID = id
	return d, err
}

// SetDirectorySourceSecret stores a sealed secret (sealing binds the row's id).
func (db *DB) SetDirectorySourceSecret(ctx context.Context, tenantID, id int64, sealed []byte) error {
	res, err := db.Exec(ctx, `UPDATE directory_sources SET secret_sealed = ? WHERE tenant_id = ? AND id = ?`, sealed, tenantID, id)
	return affected(res, err)
}

// UpdateDirectorySource changes a source's settings (not its phonebook nor its secret) and
// forgets its last good run, so that the next run copies every entry again under the new
// settings instead of only those changed since.
func (db *DB) UpdateDirectorySource(ctx context.Context, d DirectorySource) error {
	res, err := db.Exec(ctx, `UPDATE directory_sources SET name = ?, url = ?, bind_dn = ?, base_dn = ?, filter = ?, settings = ?, priority = ?, enabled = ?,
		interval_s = ?, last_ok_at = NULL WHERE tenant_id = ? AND id = ?`, d.Name, d.URL, d.BindDN, d.BaseDN, d.Filter, d.Settings, d.Priority, d.Enabled, d.IntervalS, d.TenantID, d.ID)
	return affected(res, err)
}

// DirectorySource returns one source.
func (db *DB) DirectorySource(ctx context.Context, tenantID, id int64) (DirectorySource, error) {
	return scanSource(db.QueryRow(ctx, `SELECT `+sourceCols+` FROM directory_sources WHERE tenant_id = ? AND id = ?`, tenantID, id))
}

// ListDirectorySources lists a tenant's sources (every tenant's when tenantID is 0).
func (db *DB) ListDirectorySources(ctx context.Context, tenantID int64) ([]DirectorySource, error) {
	q, args := `SELECT `+sourceCols+` FROM directory_sources ORDER BY id`, []any{}
	if tenantID != 0 {
		q, args = `SELECT `+sourceCols+` FROM directory_sources WHERE tenant_id = ? ORDER BY id`, []any{tenantID}
	}
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DirectorySource
	for rows.Next() {
		d, err := scanSource(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeleteDirectorySource removes a source (its phonebook stays).
func (db *DB) DeleteDirectorySource(ctx context.Context, tenantID, id int64) error {
	res, err := db.Exec(ctx, `DELETE FROM directory_sources WHERE tenant_id = ? AND id = ?`, tenantID, id)
	return affected(res, err)
}

// RecordSourceRun stores the outcome of a sync run.
func (db *DB) RecordSourceRun(ctx context.Context, tenantID, id int64, at int64, ok bool, count int64, errText string) error {
	if ok {
		_, err := db.Exec(ctx, `UPDATE directory_sources SET last_run_at = ?, last_ok_at = ?, last_error = '', last_count = ? WHERE tenant_id = ? AND id = ?`, at, at, count, tenantID, id)
		return err
	}
	_, err := db.Exec(ctx, `UPDATE directory_sources SET last_run_at = ?, last_error = ? WHERE tenant_id = ? AND id = ?`, at, errText, tenantID, id)
	return err
}
