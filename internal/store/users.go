package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/privox/privox/internal/datacat"
)

func init() {
	// Suspension blocks sign-in, registration and calls and keeps every record: it is not a
	// deactivation, so retention "while active" keeps running for a suspended user.
	addMigration("0210_users_suspended", `ALTER TABLE users ADD COLUMN suspended_at BIGINT;`)
	datacat.RegisterTable(datacat.Table{Name: "users", Category: datacat.Personal, Owner: datacat.OwnerUser,
		TenantColumn: "tenant_id", UserColumn: "id", Tombstone: map[string]string{"name": "Erased user", "email": "erased-{id}@invalid"},
		Purpose: "User accounts: name, e-mail address, language, role"})
	datacat.RegisterTable(datacat.Table{Name: "user_passwords", Category: datacat.Credentials, Owner: datacat.OwnerUser,
		TenantColumn: "tenant_id", UserColumn: "user_id", SecretColumns: []string{"hash"},
		Purpose: "Argon2id hashes of web and API passwords"})
}

// Roles.
const (
	RoleAdmin = "admin"
	RoleUser  = "user"
)

// User is a person with an account in a tenant.
type User struct {
	ID            int64  `json:"id"`
	TenantID      int64  `json:"tenant_id"`
	Name          string `json:"name"`
	Email         string `json:"email"`
	Language      string `json:"language"`
	Role          string `json:"role"`
	Active        bool   `json:"active"`
	CreatedAt     int64  `json:"created_at"`
	DeactivatedAt *int64 `json:"deactivated_at,omitempty"`
	// SuspendedAt is set while the user is suspended (reversible; the data stays).
	SuspendedAt *int64 `json:"suspended_at,omitempty"`
}

// Usable reports whether the user may sign in, register phones and make or take calls:
// active and not suspended.
func (u User) Usable() bool { return u.Active && u.SuspendedAt == nil }

const userCols = `id, tenant_id, name, email, language, role, active, created_at, deactivated_at, suspended_at`

func scanUser(s interface{ Scan(...any) error }) (User, error) {
	var u User
	var d, sus sql.NullInt64
	err := s.Scan(&u.ID, &u.TenantID, &u.Name, &u.Email, &u.Language, &u.Role, &u.Active, &u.CreatedAt, &d, &sus)
	u.DeactivatedAt, u.SuspendedAt = idPtr(d), idPtr(sus)
	return u, mapErr(err)
}

// CreateUser adds a user.
func (db *DB) CreateUser(ctx context.Context, u User) (User, error) {
	if u.Language == "" {
		u.Language = "en"
	}
	if u.Role == "" {
		u.Role = RoleUser
	}
	u.Active = true
	u.CreatedAt = Now()
	id, err := db.insertID(ctx, `INSERT INTO users (tenant_id, name, email, language, role, active, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.TenantID, u.Name, u.Email, u.Language, u.Role, true, u.CreatedAt)
	u.ID = id
	return u, err
}

// User returns one user of a tenant.
func (db *DB) User(ctx context.Context, tenantID, id int64) (User, error) {
	return scanUser(db.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE tenant_id = ? AND id = ?`, tenantID, id))
}

// UserByEmail returns one user of a tenant by e-mail address.
func (db *DB) UserByEmail(ctx context.Context, tenantID int64, email string) (User, error) {
	return scanUser(db.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE tenant_id = ? AND email = ?`, tenantID, email))
}

// UserSorts are the columns a user list sorts by (Page.Sort); searches match name and e-mail.
var UserSorts = map[string]sortCol{"name": {expr: "name"}, "email": {expr: "email"}, "created_at": {expr: "created_at", numeric: true}}

// ListUsers lists a tenant's users, by id unless the page sorts by another column.
func (db *DB) ListUsers(ctx context.Context, tenantID int64, p Page) ([]User, error) {
	sw, sa := p.search("name", "email")
	kw, ka, order := p.keyset(UserSorts)
	args := append(append([]any{tenantID}, sa...), ka...)
	rows, err := db.Query(ctx, `SELECT `+userCols+` FROM users WHERE tenant_id = ?`+sw+kw+order+` LIMIT ?`, append(args, p.limit())...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// UpdateUser changes a user's editable fields (rectification).
func (db *DB) UpdateUser(ctx context.Context, u User) error {
	res, err := db.Exec(ctx, `UPDATE users SET name = ?, email = ?, language = ?, role = ? WHERE tenant_id = ? AND id = ?`,
		u.Name, u.Email, u.Language, u.Role, u.TenantID, u.ID)
	return affected(res, err)
}

// SetUserActive activates or deactivates a user.
func (db *DB) SetUserActive(ctx context.Context, tenantID, id int64, active bool) error {
	var at any
	if !active {
		at = Now()
	}
	res, err := db.Exec(ctx, `UPDATE users SET active = ?, deactivated_at = ? WHERE tenant_id = ? AND id = ?`, active, at, tenantID, id)
	return affected(res, err)
}

// SetUserSuspended suspends or resumes a user. Suspending an inactive user fails with
// ErrConflict: deactivation is final.
func (db *DB) SetUserSuspended(ctx context.Context, tenantID, id int64, suspended bool) error {
	u, err := db.User(ctx, tenantID, id)
	if err != nil {
		return err
	}
	if !u.Active {
		return fmt.Errorf("%w: user %d is deactivated", ErrConflict, id)
	}
	var at any
	if suspended {
		at = Now()
		if u.SuspendedAt != nil {
			at = *u.SuspendedAt
		}
	}
	res, err := db.Exec(ctx, `UPDATE users SET suspended_at = ? WHERE tenant_id = ? AND id = ?`, at, tenantID, id)
	return affected(res, err)
}

// UserRef names a user of a tenant.
type UserRef struct {
	TenantID int64
	ID       int64
}

// UsersBlockedSince lists the users deactivated or suspended after a time (unix ms); since 0
// lists every user deactivated or suspended now.
func (db *DB) UsersBlockedSince(ctx context.Context, since int64) ([]UserRef, error) {
	q, args := `SELECT tenant_id, id FROM users WHERE deactivated_at > ? OR suspended_at > ?`, []any{since, since}
	if since == 0 {
		q, args = `SELECT tenant_id, id FROM users WHERE NOT active OR suspended_at IS NOT NULL`, nil
	}
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []UserRef
	for rows.Next() {
		var u UserRef
		if err := rows.Scan(&u.TenantID, &u.ID); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// SetPassword stores a user's password hash (argon2id, made by the caller).
func (db *DB) SetPassword(ctx context.Context, tenantID, userID int64, hash string) error {
	if _, err := db.User(ctx, tenantID, userID); err != nil {
		return err
	}
	_, err := db.Exec(ctx, `INSERT INTO user_passwords (user_id, tenant_id, hash, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at`, userID, tenantID, hash, Now())
	return err
}

// PasswordHash returns a user's password hash.
func (db *DB) PasswordHash(ctx context.Context, tenantID, userID int64) (string, error) {
	var h string
	err := db.QueryRow(ctx, `SELECT hash FROM user_passwords WHERE tenant_id = ? AND user_id = ?`, tenantID, userID).Scan(&h)
	return h, mapErr(err)
}
