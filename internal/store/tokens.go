package store

import (
	"context"
	"database/sql"

	"github.com/privox/privox/internal/datacat"
)

func init() {
	datacat.RegisterTable(datacat.Table{Name: "api_tokens", Category: datacat.Credentials, Owner: datacat.OwnerUser,
		TenantColumn: "tenant_id", UserColumn: "user_id", TimeColumn: "created_at", ExpiresColumn: "expires_at", SecretColumns: []string{"digest"},
		Purpose: "API tokens, stored only as their SHA-256 digest"})
	datacat.RegisterTable(datacat.Table{Name: "sessions", Category: datacat.Credentials, Owner: datacat.OwnerUser,
		TenantColumn: "tenant_id", UserColumn: "user_id", TimeColumn: "expires_at", ExpiresColumn: "expires_at", SecretColumns: []string{"digest", "csrf"},
		Purpose: "Web sessions behind the session cookie, stored only as their SHA-256 digest"})
}

// APIToken is a bearer token of a user (the token itself is shown once, never stored).
type APIToken struct {
	ID         int64  `json:"id"`
	TenantID   int64  `json:"tenant_id"`
	UserID     int64  `json:"user_id"`
	Name       string `json:"name"`
	CreatedAt  int64  `json:"created_at"`
	ExpiresAt  *int64 `json:"expires_at,omitempty"`
	LastUsedAt *int64 `json:"last_used_at,omitempty"`
}

// CreateAPIToken stores a token's digest.
func (db *DB) CreateAPIToken(ctx context.Context, t APIToken, digest string) (APIToken, error) {
	t.CreatedAt = Now()
	var exp any
	if t.ExpiresAt != nil {
		exp = *t.ExpiresAt
	}
	id, err := db.insertID(ctx, `INSERT INTO api_tokens (tenant_id, user_id, name, digest, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		t.TenantID, t.UserID, t.Name, digest, t.CreatedAt, exp)
	t.ID = id
	return t, err
}

func scanToken(s interface{ Scan(...any) error }) (APIToken, error) {
	var t APIToken
	var exp, used sql.NullInt64
	err := s.Scan(&t.ID, &t.TenantID, &t.UserID, &t.Name, &t.CreatedAt, &exp, &used)
	if exp.Valid {
		t.ExpiresAt = &exp.Int64
	}
	if used.Valid {
		t.LastUsedAt = &used.Int64
	}
	return t, mapErr(err)
}

// APITokenByDigest finds an unexpired token and marks it used.
func (db *DB) APITokenByDigest(ctx context.Context, digest string) (APIToken, error) {
	now := Now()
	t, err := scanToken(db.QueryRow(ctx, `SELECT id, tenant_id, user_id, name, created_at, expires_at, last_used_at FROM api_tokens
		WHERE digest = ? AND (expires_at IS NULL OR expires_at > ?)`, digest, now))
	if err != nil {
		return t, err
	}
	// Record use at most once a minute to keep token checks read-mostly.
	if t.LastUsedAt == nil || now-*t.LastUsedAt > 60_000 {
		db.Exec(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, now, t.ID)
	}
	return t, nil
}

// ListAPITokens lists a tenant's tokens, optionally of one user (userID 0: all).
func (db *DB) ListAPITokens(ctx context.Context, tenantID, userID int64, p Page) ([]APIToken, error) {
	rows, err := db.Query(ctx, `SELECT id, tenant_id, user_id, name, created_at, expires_at, last_used_at FROM api_tokens
		WHERE tenant_id = ? AND (? = 0 OR user_id = ?) AND id > ? ORDER BY id LIMIT ?`, tenantID, userID, userID, p.After, p.limit())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []APIToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// APIToken returns one token of a tenant.
func (db *DB) APIToken(ctx context.Context, tenantID, id int64) (APIToken, error) {
	return scanToken(db.QueryRow(ctx, `SELECT id, tenant_id, user_id, name, created_at, expires_at, last_used_at FROM api_tokens
		WHERE tenant_id = ? AND id = ?`, tenantID, id))
}

// DeleteAPIToken revokes a token.
func (db *DB) DeleteAPIToken(ctx context.Context, tenantID, id int64) error {
	res, err := db.Exec(ctx, `DELETE FROM api_tokens WHERE tenant_id = ? AND id = ?`, tenantID, id)
	return affected(res, err)
}

// Session is a logged-in browser.
type Session struct {
	ID        int64
	TenantID  int64
	UserID    int64
	CSRF      string
	ExpiresAt int64
}

// CreateSession stores a session's digest.
func (db *DB) CreateSession(ctx context.Context, s Session, digest string) (Session, error) {
	id, err := db.insertID(ctx, `INSERT INTO sessions (tenant_id, user_id, digest, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		s.TenantID, s.UserID, digest, s.CSRF, Now(), s.ExpiresAt)
	s.ID = id
	return s, err
}

// SessionByDigest finds an unexpired session.
func (db *DB) SessionByDigest(ctx context.Context, digest string) (Session, error) {
	var s Session
	err := db.QueryRow(ctx, `SELECT id, tenant_id, user_id, csrf, expires_at FROM sessions WHERE digest = ? AND expires_at > ?`, digest, Now()).
		Scan(&s.ID, &s.TenantID, &s.UserID, &s.CSRF, &s.ExpiresAt)
	return s, mapErr(err)
}

// DeleteSession ends a session.
func (db *DB) DeleteSession(ctx context.Context, digest string) error {
	_, err := db.Exec(ctx, `DELETE FROM sessions WHERE digest = ?`, digest)
	return err
}

// DeleteUserCredentials removes every session and token of a user (deactivation).
func (db *DB) DeleteUserCredentials(ctx context.Context, tenantID, userID int64) error {
	return db.InTx(ctx, func(tx *DB) error {
		for _, q := range []string{`DELETE FROM sessions WHERE tenant_id = ? AND user_id = ?`, `DELETE FROM api_tokens WHERE tenant_id = ? AND user_id = ?`} {
			if _, err := tx.Exec(ctx, q, tenantID, userID); err != nil {
				return err
			}
		}
		return nil
	})
}
