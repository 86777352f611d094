package store

import (
	"context"
	"database/sql"

	"github.com/privox/privox/internal/datacat"
)

func init() {
	// The number belongs to the tenant's number plan; erasure removes the person from it.
	datacat.RegisterTable(datacat.Table{Name: "extensions", Category: datacat.Personal, Owner: datacat.OwnerUser,
		TenantColumn: "tenant_id", UserColumn: "user_id", Tombstone: map[string]string{"display_name": ""},
		Purpose: "Extension numbers and SIP user names assigned to users"})
	datacat.RegisterTable(datacat.Table{Name: "sip_secrets", Category: datacat.Credentials, Owner: datacat.OwnerUser,
		TenantColumn: "tenant_id", UserColumn: "user_id", SecretColumns: []string{"ha1_md5", "ha1_sha256"},
		Purpose: "SIP digest HA1 secrets (MD5 and SHA-256); the SIP password itself is never stored"})
}

// Extension is a phone number in a tenant with its SIP account.
type Extension struct {
	ID          int64  `json:"id"`
	TenantID    int64  `json:"tenant_id"`
	UserID      *int64 `json:"user_id,omitempty"`
	Number      string `json:"number"`
	SIPUsername string `json:"sip_username"`
	DisplayName string `json:"display_name"`
	CreatedAt   int64  `json:"created_at"`
}

// SIPSecret is the digest secret of an extension for one realm. Written in clear HA1 values
// (the store seals them); read back sealed (see SIPSecretBinding).
type SIPSecret struct {
	Realm     string
	HA1MD5    string
	HA1SHA256 string
}

const extCols = `id, tenant_id, user_id, number, sip_username, display_name, created_at`

func scanExt(s interface{ Scan(...any) error }) (Extension, error) {
	var e Extension
	var uid sql.NullInt64
	err := s.Scan(&e.ID, &e.TenantID, &uid, &e.Number, &e.SIPUsername, &e.DisplayName, &e.CreatedAt)
	if uid.Valid {
		e.UserID = &uid.Int64
	}
	return e, mapErr(err)
}

// CreateExtension adds an extension with its digest secret in one transaction.
func (db *DB) CreateExtension(ctx context.Context, e Extension, sec SIPSecret) (Extension, error) {
	e.CreatedAt = Now()
	if e.SIPUsername == "" {
		e.SIPUsername = e.Number
	}
	err := db.InTx(ctx, func(tx *DB) error {
		var uid any
		if e.UserID != nil {
			if _, err := tx.User(ctx, e.TenantID, *e.UserID); err != nil {
				return err
			}
			uid = *e.UserID
		}
		id, err := tx.insertID(ctx, `INSERT INTO extensions (tenant_id, user_id, number, sip_username, display_name, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			e.TenantID, uid, e.Number, e.SIPUsername, e.DisplayName, e.CreatedAt)
		if err != nil {
			return err
		}
		e.ID = id
		if err := tx.createVoicemailBox(ctx, e); err != nil {
			return err
		}
		md5, sha, err := tx.sealSIP(e.TenantID, id, sec)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO sip_secrets (extension_id, tenant_id, user_id, realm, ha1_md5, ha1_sha256, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			id, e.TenantID, uid, sec.Realm, md5, sha, e.CreatedAt)
		return err
	})
	return e, err
}

// Extension returns one extension of a tenant.
func (db *DB) Extension(ctx context.Context, tenantID, id int64) (Extension, error) {
	return scanExt(db.QueryRow(ctx, `SELECT `+extCols+` FROM extensions WHERE tenant_id = ? AND id = ?`, tenantID, id))
}

// ExtensionByNumber returns the extension with a number in a tenant.
func (db *DB) ExtensionByNumber(ctx context.Context, tenantID int64, number string) (Extension, error) {
	return scanExt(db.QueryRow(ctx, `SELECT `+extCols+` FROM extensions WHERE tenant_id = ? AND number = ?`, tenantID, number))
}

// ExtensionByUsername returns an extension and its secret by SIP user name, for digest auth;
// the HA1 values are sealed (the SIP account cache opens them).
func (db *DB) ExtensionByUsername(ctx context.Context, tenantID int64, username string) (Extension, SIPSecret, error) {
	var e Extension
	var sec SIPSecret
	var uid sql.NullInt64
	err := db.QueryRow(ctx, `SELECT e.id, e.tenant_id, e.user_id, e.number, e.sip_username, e.display_name, e.created_at, s.realm, s.ha1_md5, s.ha1_sha256
		FROM extensions e JOIN sip_secrets s ON s.extension_id = e.id WHERE e.tenant_id = ? AND e.sip_username = ?`+
		// a deactivated or suspended owner's phones neither register nor call
		` AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = e.user_id AND (NOT u.active OR u.suspended_at IS NOT NULL))`, tenantID, username).
		Scan(&e.ID, &e.TenantID, &uid, &e.Number, &e.SIPUsername, &e.DisplayName, &e.CreatedAt, &sec.Realm, &sec.HA1MD5, &sec.HA1SHA256)
	if uid.Valid {
		e.UserID = &uid.Int64
	}
	return e, sec, mapErr(err)
}

// ExtensionSorts are the columns an extension list sorts by; searches match the number, the
// SIP user name and the display name.
var ExtensionSorts = map[string]sortCol{"number": {expr: "number"}, "display_name": {expr: "display_name"}, "sip_username": {expr: "sip_username"}}

// ListExtensions lists a tenant's extensions, by id unless the page sorts by another column.
func (db *DB) ListExtensions(ctx context.Context, tenantID int64, p Page) ([]Extension, error) {
	sw, sa := p.search("number", "sip_username", "display_name")
	kw, ka, order := p.keyset(ExtensionSorts)
	args := append(append([]any{tenantID}, sa...), ka...)
	rows, err := db.Query(ctx, `SELECT `+extCols+` FROM extensions WHERE tenant_id = ?`+sw+kw+order+` LIMIT ?`, append(args, p.limit())...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Extension
	for rows.Next() {
		e, err := scanExt(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// UpdateExtension changes an extension's display name and owner.
func (db *DB) UpdateExtension(ctx context.Context, e Extension) error {
	var uid any
	if e.UserID != nil {
		if _, err := db.User(ctx, e.TenantID, *e.UserID); err != nil {
			return err
		}
		uid = *e.UserID
	}
	return db.InTx(ctx, func(tx *DB) error {
		res, err := tx.Exec(ctx, `UPDATE extensions SET display_name = ?, user_id = ? WHERE tenant_id = ? AND id = ?`, e.DisplayName, uid, e.TenantID, e.ID)
		if err := affected(res, err); err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `UPDATE sip_secrets SET user_id = ? WHERE extension_id = ?`, uid, e.ID); err != nil {
			return err
		}
		// Forwarding and do-not-disturb are the previous owner's profile: they do not pass
		// to the extension's next owner.
		var owner int64
		if e.UserID != nil {
			owner = *e.UserID
		}
		_, err = tx.Exec(ctx, `DELETE FROM call_forwarding WHERE extension_id = ? AND COALESCE(user_id, 0) <> ?`, e.ID, owner)
		return err
	})
}

// SetSIPSecret replaces an extension's digest secret (sealed before it is written).
func (db *DB) SetSIPSecret(ctx context.Context, tenantID, extID int64, sec SIPSecret) error {
	md5, sha, err := db.sealSIP(tenantID, extID, sec)
	if err != nil {
		return err
	}
	res, err := db.Exec(ctx, `UPDATE sip_secrets SET realm = ?, ha1_md5 = ?, ha1_sha256 = ?, updated_at = ? WHERE tenant_id = ? AND extension_id = ?`,
		sec.Realm, md5, sha, Now(), tenantID, extID)
	return affected(res, err)
}

// DeleteExtension removes an extension and its secret, and with them its voicemail box,
// whose messages' and greetings' files are marked for deletion in the same step
// (voicemail.go).
func (db *DB) DeleteExtension(ctx context.Context, tenantID, id int64) error {
	return db.InTx(ctx, func(tx *DB) error {
		if err := tx.dropVoicemailFiles(ctx, tenantID, id); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `DELETE FROM extensions WHERE tenant_id = ? AND id = ?`, tenantID, id)
		return affected(res, err)
	})
}
