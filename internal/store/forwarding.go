package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/privox/privox/internal/datacat"
)

// Call forwarding and do-not-disturb of an extension (its owner's profile): where calls go
// unconditionally, on busy, on no answer after a ring time and when no phone is registered,
// and whether the extension takes calls at all. The tenant's feature codes and forwarding
// hop limit are configuration.

func init() {
	addMigration("0520_call_forwarding", `
CREATE TABLE call_forwarding (
	extension_id BIGINT PRIMARY KEY REFERENCES extensions(id) ON DELETE CASCADE,
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
	always_target TEXT NOT NULL DEFAULT '',
	busy_target TEXT NOT NULL DEFAULT '',
	no_answer_target TEXT NOT NULL DEFAULT '',
	no_answer_ring_s INTEGER NOT NULL DEFAULT 0,
	unreachable_target TEXT NOT NULL DEFAULT '',
	dnd {{bool}} NOT NULL DEFAULT {{false}},
	updated_at BIGINT NOT NULL
);
CREATE INDEX call_forwarding_tenant ON call_forwarding(tenant_id);
CREATE TABLE forward_settings (
	tenant_id BIGINT PRIMARY KEY REFERENCES tenants(id),
	max_hops INTEGER NOT NULL DEFAULT 0,
	codes TEXT NOT NULL DEFAULT '',
	updated_at BIGINT NOT NULL
);
`)
	addMigration("0521_cdrs_forwarded_from", `ALTER TABLE cdrs ADD COLUMN forwarded_from TEXT NOT NULL DEFAULT '';`)
	datacat.RegisterTable(datacat.Table{Name: "call_forwarding", Category: datacat.Profile, Owner: datacat.OwnerUser,
		TenantColumn: "tenant_id", UserColumn: "user_id",
		Purpose: "Call forwarding (unconditional, busy, no answer with its ring time, unreachable) and do-not-disturb of an extension"})
	datacat.RegisterTable(datacat.Table{Name: "forward_settings", Category: datacat.Configuration, Owner: datacat.OwnerTenant,
		TenantColumn: "tenant_id", Purpose: "The tenant's feature codes for forwarding and do-not-disturb, and the limit on forwarding hops"})
}

// Forwarding is the forwarding and do-not-disturb setting of one extension. An empty target
// is no forwarding for that condition.
type Forwarding struct {
	ExtensionID int64 `json:"extension_id"`
	TenantID    int64 `json:"tenant_id"`
	// Number is the extension's number (read, not stored here).
	Number   string `json:"number"`
	UserID   *int64 `json:"user_id,omitempty"`
	Always   string `json:"always"`
	Busy     string `json:"busy"`
	NoAnswer string `json:"no_answer"`
	// NoAnswerRingS is how long the extension rings before the no-answer forward takes the
	// call (0: the server's ring time-out).
	NoAnswerRingS int    `json:"no_answer_ring_s"`
	Unreachable   string `json:"unreachable"`
	DND           bool   `json:"dnd"`
	UpdatedAt     int64  `json:"updated_at"`
}

// Empty reports whether the setting forwards nothing and is not on do-not-disturb.
func (f Forwarding) Empty() bool {
	return f.Always == "" && f.Busy == "" && f.NoAnswer == "" && f.Unreachable == "" && !f.DND
}

const fwdCols = `extension_id, tenant_id, user_id, always_target, busy_target, no_answer_target, no_answer_ring_s, unreachable_target, dnd, updated_at`

const fwdSelect = `SELECT f.extension_id, f.tenant_id, f.user_id, f.always_target, f.busy_target, f.no_answer_target, f.no_answer_ring_s,
	f.unreachable_target, f.dnd, f.updated_at, e.number FROM call_forwarding f JOIN extensions e ON e.id = f.extension_id`

func scanForwarding(s interface{ Scan(...any) error }) (Forwarding, error) {
	var f Forwarding
	var uid sql.NullInt64
	err := s.Scan(&f.ExtensionID, &f.TenantID, &uid, &f.Always, &f.Busy, &f.NoAnswer, &f.NoAnswerRingS, &f.Unreachable, &f.DND, &f.UpdatedAt, &f.Number)
	if errors.Is(err, sql.ErrNoRows) {
		return f, ErrNotFound
	}
	if uid.Valid {
		f.UserID = &uid.Int64
	}
	return f, err
}

// Forwarding returns an extension's setting; an extension without one gets the empty
// setting (no error).
func (db *DB) Forwarding(ctx context.Context, tenantID, extensionID int64) (Forwarding, error) {
	f, err := scanForwarding(db.QueryRow(ctx, fwdSelect+` WHERE f.tenant_id = ? AND f.extension_id = ?`, tenantID, extensionID))
	if errors.Is(err, ErrNotFound) {
		e, err := db.Extension(ctx, tenantID, extensionID)
		if err != nil {
			return Forwarding{}, err
		}
		f := Forwarding{ExtensionID: extensionID, TenantID: tenantID, Number: e.Number, UserID: e.UserID}
		return f, nil
	}
	return f, err
}

// ListForwarding lists the tenant's settings that are not empty, by extension id.
func (db *DB) ListForwarding(ctx context.Context, tenantID int64) ([]Forwarding, error) {
	rows, err := db.Query(ctx, fwdSelect+` WHERE f.tenant_id = ? ORDER BY f.extension_id`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Forwarding{}
	for rows.Next() {
		f, err := scanForwarding(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// PutForwarding stores an extension's setting (the extension must be the tenant's; its
// owner is taken from the extension). An empty setting removes the row.
func (db *DB) PutForwarding(ctx context.Context, f Forwarding) (Forwarding, error) {
	f.UpdatedAt = Now()
	err := db.InTx(ctx, func(tx *DB) error {
		var uid sql.NullInt64
		if err := tx.QueryRow(ctx, `SELECT user_id FROM extensions WHERE tenant_id = ? AND id = ?`, f.TenantID, f.ExtensionID).Scan(&uid); err != nil {
			return mapErr(err)
		}
		f.UserID = nil
		if uid.Valid {
			f.UserID = &uid.Int64
		}
		if _, err := tx.Exec(ctx, `DELETE FROM call_forwarding WHERE tenant_id = ? AND extension_id = ?`, f.TenantID, f.ExtensionID); err != nil {
			return err
		}
		if f.Empty() {
			return nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO call_forwarding (`+fwdCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			f.ExtensionID, f.TenantID, nullID(f.UserID), f.Always, f.Busy, f.NoAnswer, f.NoAnswerRingS, f.Unreachable, f.DND, f.UpdatedAt)
		return err
	})
	return f, err
}

// ForwardSettings is a tenant's forwarding configuration: the hop limit (0: the default)
// and its feature codes in the dial plan's notation ("" for each: the default codes).
type ForwardSettings struct {
	TenantID  int64  `json:"tenant_id"`
	MaxHops   int    `json:"max_hops"`
	Codes     string `json:"codes"`
	UpdatedAt int64  `json:"updated_at"`
}

// ForwardSettings returns a tenant's settings (zero when none are stored).
func (db *DB) ForwardSettings(ctx context.Context, tenantID int64) (ForwardSettings, error) {
	s := ForwardSettings{TenantID: tenantID}
	err := db.QueryRow(ctx, `SELECT max_hops, codes, updated_at FROM forward_settings WHERE tenant_id = ?`, tenantID).Scan(&s.MaxHops, &s.Codes, &s.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return s, nil
	}
	return s, err
}

// PutForwardSettings stores a tenant's settings.
func (db *DB) PutForwardSettings(ctx context.Context, s ForwardSettings) (ForwardSettings, error) {
	s.UpdatedAt = Now()
	err := db.InTx(ctx, func(tx *DB) error {
		if _, err := tx.Exec(ctx, `DELETE FROM forward_settings WHERE tenant_id = ?`, s.TenantID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO forward_settings (tenant_id, max_hops, codes, updated_at) VALUES (?, ?, ?, ?)`, s.TenantID, s.MaxHops, s.Codes, s.UpdatedAt)
		return err
	})
	return s, err
}

// ForwardingOfUser lists the settings of every extension of a user (empty settings for
// extensions that forward nothing), by number.
func (db *DB) ForwardingOfUser(ctx context.Context, tenantID, userID int64) ([]Forwarding, error) {
	rows, err := db.Query(ctx, `SELECT e.id, e.number, f.always_target, f.busy_target, f.no_answer_target, f.no_answer_ring_s, f.unreachable_target, f.dnd, f.updated_at
		FROM extensions e LEFT JOIN call_forwarding f ON f.extension_id = e.id WHERE e.tenant_id = ? AND e.user_id = ? ORDER BY e.number`, tenantID, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Forwarding{}
	for rows.Next() {
		f := Forwarding{TenantID: tenantID, UserID: &userID}
		var always, busy, noAnswer, unreachable sql.NullString
		var ring, updated sql.NullInt64
		var dnd sql.NullBool
		if err := rows.Scan(&f.ExtensionID, &f.Number, &always, &busy, &noAnswer, &ring, &unreachable, &dnd, &updated); err != nil {
			return nil, err
		}
		f.Always, f.Busy, f.NoAnswer, f.Unreachable = always.String, busy.String, noAnswer.String, unreachable.String
		f.NoAnswerRingS, f.DND, f.UpdatedAt = int(ring.Int64), dnd.Bool, updated.Int64
		out = append(out, f)
	}
	return out, rows.Err()
}
