package store

import (
	"context"
	"database/sql"
)

// The registrations table itself is created in calls.go (migration 0002_calls); this file holds
// the queries the SIP registrar runs on it, and the one on sip_secrets that lets the registrar's
// credential cache notice password changes.

func init() {
	// The credential cache of the registrar polls for secrets changed since its last look;
	// without this index that poll scans every secret of the installation.
	addMigration("0100_sip_secrets_updated", `CREATE INDEX sip_secrets_updated ON sip_secrets(updated_at);`)
}

// Registration is one stored SIP contact binding (connection category). The registrar keeps
// the live set in memory and writes it here behind its back, so that a restart restores it.
type Registration struct {
	TenantID    int64
	UserID      *int64
	ExtensionID int64
	// Number is the extension number (read from the extensions table; not stored here).
	Number     string
	AOR        string
	Contact    string
	SourceIP   string
	SourcePort int
	Transport  string
	UserAgent  string
	Instance   string
	Node       string
	ExpiresAt  int64 // unix ms
	UpdatedAt  int64 // unix ms
}

// RegistrationKey names one binding.
type RegistrationKey struct {
	TenantID int64
	AOR      string
	Contact  string
}

// SaveRegistrations inserts or updates bindings and deletes others, in one transaction.
func (db *DB) SaveRegistrations(ctx context.Context, upserts []Registration, deletes []RegistrationKey) error {
	if len(upserts) == 0 && len(deletes) == 0 {
		return nil
	}
	return db.InTx(ctx, func(tx *DB) error {
		for _, r := range upserts {
			// The binding takes the extension's current owner; a binding whose extension was
			// deleted meanwhile selects no row and is not written (nothing to restore it for).
			if _, err := tx.Exec(ctx, `INSERT INTO registrations (tenant_id, user_id, extension_id, aor, contact, source_ip, source_port, transport, user_agent, instance, node, expires_at, updated_at)
				SELECT e.tenant_id, e.user_id, e.id, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS INTEGER), CAST(? AS TEXT),
					CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT)
				FROM extensions e WHERE e.id = ? AND e.tenant_id = ?
				ON CONFLICT (tenant_id, aor, contact) DO UPDATE SET user_id = excluded.user_id, extension_id = excluded.extension_id,
					source_ip = excluded.source_ip, source_port = excluded.source_port, transport = excluded.transport,
					user_agent = excluded.user_agent, instance = excluded.instance, node = excluded.node,
					expires_at = excluded.expires_at, updated_at = excluded.updated_at`,
				r.AOR, r.Contact, r.SourceIP, r.SourcePort, r.Transport, r.UserAgent, r.Instance, r.Node, r.ExpiresAt, r.UpdatedAt,
				r.ExtensionID, r.TenantID); err != nil {
				return err
			}
		}
		for _, k := range deletes {
			if _, err := tx.Exec(ctx, `DELETE FROM registrations WHERE tenant_id = ? AND aor = ? AND contact = ?`, k.TenantID, k.AOR, k.Contact); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListRegistrations returns a node's bindings that expire after now (unix ms), with the
// extension number of each, in id order from after (keyset pagination).
func (db *DB) ListRegistrations(ctx context.Context, node string, now, after int64, limit int) ([]Registration, int64, error) {
	rows, err := db.Query(ctx, `SELECT r.id, r.tenant_id, r.user_id, r.extension_id, e.number, r.aor, r.contact, r.source_ip, r.source_port,
			r.transport, r.user_agent, r.instance, r.node, r.expires_at, r.updated_at
		FROM registrations r JOIN extensions e ON e.id = r.extension_id
		WHERE r.node = ? AND r.expires_at > ? AND r.id > ? ORDER BY r.id LIMIT ?`, node, now, after, limit)
	if err != nil {
		return nil, after, err
	}
	defer rows.Close()
	var out []Registration
	last := after
	for rows.Next() {
		var r Registration
		var uid sql.NullInt64
		if err := rows.Scan(&last, &r.TenantID, &uid, &r.ExtensionID, &r.Number, &r.AOR, &r.Contact, &r.SourceIP, &r.SourcePort,
			&r.Transport, &r.UserAgent, &r.Instance, &r.Node, &r.ExpiresAt, &r.UpdatedAt); err != nil {
			return nil, after, err
		}
		r.UserID = idPtr(uid)
		out = append(out, r)
	}
	return out, last, rows.Err()
}

// DeleteExpiredRegistrations removes a node's bindings that expired at or before now (unix ms).
func (db *DB) DeleteExpiredRegistrations(ctx context.Context, node string, now int64) (int64, error) {
	res, err := db.Exec(ctx, `DELETE FROM registrations WHERE node = ? AND expires_at <= ?`, node, now)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ChangedSecret names a SIP account whose digest secret was created or replaced.
type ChangedSecret struct {
	TenantID  int64
	Username  string
	UpdatedAt int64
}

// SIPSecretsChangedSince lists the SIP accounts whose secret changed at or after since (unix ms).
func (db *DB) SIPSecretsChangedSince(ctx context.Context, since int64) ([]ChangedSecret, error) {
	rows, err := db.Query(ctx, `SELECT e.tenant_id, e.sip_username, s.updated_at FROM sip_secrets s JOIN extensions e ON e.id = s.extension_id
		WHERE s.updated_at >= ? ORDER BY s.updated_at LIMIT 10000`, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ChangedSecret
	for rows.Next() {
		var c ChangedSecret
		if err := rows.Scan(&c.TenantID, &c.Username, &c.UpdatedAt); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// FirstTenant returns the installation's first tenant (the fallback for SIP requests whose
// domain names no tenant).
func (db *DB) FirstTenant(ctx context.Context) (Tenant, error) {
	return scanTenant(db.QueryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE terminated_at IS NULL ORDER BY id LIMIT 1`))
}

// ExtensionRegistered reports whether an extension has a stored binding that has not
// expired at now (unix ms), on any node.
func (db *DB) ExtensionRegistered(ctx context.Context, tenantID, extensionID, now int64) (bool, error) {
	var n int64
	err := db.QueryRow(ctx, `SELECT COUNT(*) FROM registrations WHERE tenant_id = ? AND extension_id = ? AND expires_at > ?`, tenantID, extensionID, now).Scan(&n)
	return n > 0, err
}
