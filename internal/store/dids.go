package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/privox/privox/internal/datacat"
)

// Inbound numbers of a tenant (DIDs): single numbers or ranges in E.164, each routed to a
// typed destination; the tenant's default destination for numbers no DID covers; and the
// users' caller-ID preference (CLIR: their number withheld on outside calls).

func init() {
	addMigration("0510_dids", `
CREATE TABLE dids (
	id {{id}},
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	first_number TEXT NOT NULL,
	last_number TEXT NOT NULL,
	dest_kind TEXT NOT NULL,
	dest_number TEXT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX dids_tenant_first ON dids(tenant_id, first_number);
CREATE TABLE did_defaults (
	tenant_id BIGINT PRIMARY KEY REFERENCES tenants(id),
	dest_kind TEXT NOT NULL,
	dest_number TEXT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE TABLE caller_id_prefs (
	user_id BIGINT PRIMARY KEY REFERENCES users(id),
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	clir {{bool}} NOT NULL DEFAULT {{false}},
	updated_at BIGINT NOT NULL
);
`)
	datacat.RegisterTable(datacat.Table{Name: "dids", Category: datacat.Configuration, Owner: datacat.OwnerTenant,
		TenantColumn: "tenant_id", Purpose: "The tenant's inbound numbers (single numbers and ranges) and the destination each is routed to"})
	datacat.RegisterTable(datacat.Table{Name: "did_defaults", Category: datacat.Configuration, Owner: datacat.OwnerTenant,
		TenantColumn: "tenant_id", Purpose: "Where inbound calls to numbers no DID covers go"})
	datacat.RegisterTable(datacat.Table{Name: "caller_id_prefs", Category: datacat.Profile, Owner: datacat.OwnerUser,
		TenantColumn: "tenant_id", UserColumn: "user_id", Purpose: "Whether a user's number is withheld on outside calls (CLIR)"})
	// Time rules: a DID names a calendar and the destination its calls go to while the
	// calendar is closed; the dialling settings name the calendar outside calls are allowed
	// in. Both are configuration of the tables they extend.
	addMigration("0630_time_rules", `
ALTER TABLE dids ADD COLUMN calendar TEXT NOT NULL DEFAULT '';
ALTER TABLE dids ADD COLUMN closed_kind TEXT NOT NULL DEFAULT '';
ALTER TABLE dids ADD COLUMN closed_number TEXT NOT NULL DEFAULT '';
ALTER TABLE dial_settings ADD COLUMN outside_calendar TEXT NOT NULL DEFAULT '';
`)
	// Time rules on the other destinations: the tenant's default destination and a ring
	// group's fall-through name a calendar and where calls go while it is closed, as a DID
	// does.
	addMigration("0660_time_rules_default_groups", `
ALTER TABLE did_defaults ADD COLUMN calendar TEXT NOT NULL DEFAULT '';
ALTER TABLE did_defaults ADD COLUMN closed_kind TEXT NOT NULL DEFAULT '';
ALTER TABLE did_defaults ADD COLUMN closed_number TEXT NOT NULL DEFAULT '';
ALTER TABLE ring_groups ADD COLUMN calendar TEXT NOT NULL DEFAULT '';
ALTER TABLE ring_groups ADD COLUMN closed_kind TEXT NOT NULL DEFAULT '';
ALTER TABLE ring_groups ADD COLUMN closed_number TEXT NOT NULL DEFAULT '';
`)
}

// DID is one inbound number or range of a tenant.
type DID struct {
	ID       int64 `json:"id"`
	TenantID int64 `json:"tenant_id"`
	// Number is the DID in E.164; Last the end of a range (equal to Number for one number).
	Number string `json:"number"`
	Last   string `json:"last"`
	// DestKind and DestNumber are the destination (the dial plan's kinds: extension,
	// application, mailbox, outbound).
	DestKind   string `json:"dest_kind"`
	DestNumber string `json:"dest_number"`
	// Calendar names a calendar of the tenant ("": none); while it is closed, calls go to
	// ClosedKind and ClosedNumber instead of the destination.
	Calendar     string `json:"calendar"`
	ClosedKind   string `json:"closed_kind"`
	ClosedNumber string `json:"closed_number"`
	UpdatedAt    int64  `json:"updated_at"`
}

const didCols = `id, tenant_id, first_number, last_number, dest_kind, dest_number, calendar, closed_kind, closed_number, updated_at`

func scanDID(s interface{ Scan(...any) error }) (DID, error) {
	var d DID
	err := s.Scan(&d.ID, &d.TenantID, &d.Number, &d.Last, &d.DestKind, &d.DestNumber, &d.Calendar, &d.ClosedKind, &d.ClosedNumber, &d.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return d, ErrNotFound
	}
	return d, err
}

// PutDID stores a DID, replacing the one that starts at the same number.
func (db *DB) PutDID(ctx context.Context, d DID) (DID, error) {
	d.UpdatedAt = Now()
	res, err := db.Exec(ctx, `UPDATE dids SET last_number = ?, dest_kind = ?, dest_number = ?, calendar = ?, closed_kind = ?, closed_number = ?, updated_at = ?
		WHERE tenant_id = ? AND first_number = ?`,
		d.Last, d.DestKind, d.DestNumber, d.Calendar, d.ClosedKind, d.ClosedNumber, d.UpdatedAt, d.TenantID, d.Number)
	if err := affected(res, err); err == nil {
		return scanDID(db.QueryRow(ctx, `SELECT `+didCols+` FROM dids WHERE tenant_id = ? AND first_number = ?`, d.TenantID, d.Number))
	} else if !errors.Is(err, ErrNotFound) {
		return d, err
	}
	d.ID, err = db.insertID(ctx, `INSERT INTO dids (tenant_id, first_number, last_number, dest_kind, dest_number, calendar, closed_kind, closed_number, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.TenantID, d.Number, d.Last, d.DestKind, d.DestNumber, d.Calendar, d.ClosedKind, d.ClosedNumber, d.UpdatedAt)
	return d, err
}

// DIDByID returns one DID of a tenant.
func (db *DB) DIDByID(ctx context.Context, tenantID, id int64) (DID, error) {
	return scanDID(db.QueryRow(ctx, `SELECT `+didCols+` FROM dids WHERE tenant_id = ? AND id = ?`, tenantID, id))
}

// ListDIDs lists a tenant's DIDs by number.
func (db *DB) ListDIDs(ctx context.Context, tenantID int64) ([]DID, error) {
	rows, err := db.Query(ctx, `SELECT `+didCols+` FROM dids WHERE tenant_id = ? ORDER BY first_number`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []DID{}
	for rows.Next() {
		d, err := scanDID(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeleteDID removes a DID of a tenant.
func (db *DB) DeleteDID(ctx context.Context, tenantID, id int64) error {
	res, err := db.Exec(ctx, `DELETE FROM dids WHERE tenant_id = ? AND id = ?`, tenantID, id)
	return affected(res, err)
}

// DIDDefault is where a tenant's inbound calls to numbers no DID covers go (Kind "": they
// are refused).
type DIDDefault struct {
	TenantID   int64  `json:"tenant_id"`
	DestKind   string `json:"dest_kind"`
	DestNumber string `json:"dest_number"`
	// Calendar names a calendar of the tenant ("": none); while it is closed, calls go to
	// ClosedKind and ClosedNumber instead, as for a DID.
	Calendar     string `json:"calendar"`
	ClosedKind   string `json:"closed_kind"`
	ClosedNumber string `json:"closed_number"`
	UpdatedAt    int64  `json:"updated_at"`
}

// DIDDefault returns a tenant's default destination (empty when none is set).
func (db *DB) DIDDefault(ctx context.Context, tenantID int64) (DIDDefault, error) {
	d := DIDDefault{TenantID: tenantID}
	err := db.QueryRow(ctx, `SELECT dest_kind, dest_number, calendar, closed_kind, closed_number, updated_at FROM did_defaults WHERE tenant_id = ?`, tenantID).
		Scan(&d.DestKind, &d.DestNumber, &d.Calendar, &d.ClosedKind, &d.ClosedNumber, &d.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return d, nil
	}
	return d, err
}

// PutDIDDefault stores a tenant's default destination; an empty kind removes it.
func (db *DB) PutDIDDefault(ctx context.Context, d DIDDefault) (DIDDefault, error) {
	d.UpdatedAt = Now()
	if d.DestKind == "" {
		_, err := db.Exec(ctx, `DELETE FROM did_defaults WHERE tenant_id = ?`, d.TenantID)
		return d, err
	}
	res, err := db.Exec(ctx, `UPDATE did_defaults SET dest_kind = ?, dest_number = ?, calendar = ?, closed_kind = ?, closed_number = ?, updated_at = ? WHERE tenant_id = ?`,
		d.DestKind, d.DestNumber, d.Calendar, d.ClosedKind, d.ClosedNumber, d.UpdatedAt, d.TenantID)
	if err := affected(res, err); err == nil || !errors.Is(err, ErrNotFound) {
		return d, err
	}
	_, err = db.Exec(ctx, `INSERT INTO did_defaults (tenant_id, dest_kind, dest_number, calendar, closed_kind, closed_number, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		d.TenantID, d.DestKind, d.DestNumber, d.Calendar, d.ClosedKind, d.ClosedNumber, d.UpdatedAt)
	return d, err
}

// CLIR reports whether a user's number is withheld on outside calls.
func (db *DB) CLIR(ctx context.Context, tenantID, userID int64) (bool, error) {
	var on bool
	err := db.QueryRow(ctx, `SELECT clir FROM caller_id_prefs WHERE tenant_id = ? AND user_id = ?`, tenantID, userID).Scan(&on)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return on, err
}

// PutCLIR sets whether a user's number is withheld on outside calls.
func (db *DB) PutCLIR(ctx context.Context, tenantID, userID int64, on bool) error {
	now := Now()
	res, err := db.Exec(ctx, `UPDATE caller_id_prefs SET clir = ?, updated_at = ? WHERE tenant_id = ? AND user_id = ?`, on, now, tenantID, userID)
	if err := affected(res, err); err == nil || !errors.Is(err, ErrNotFound) {
		return err
	}
	_, err = db.Exec(ctx, `INSERT INTO caller_id_prefs (user_id, tenant_id, clir, updated_at) VALUES (?, ?, ?, ?)`, userID, tenantID, on, now)
	return err
}

// CLIRUsers returns the users of a tenant whose number is withheld on outside calls.
func (db *DB) CLIRUsers(ctx context.Context, tenantID int64) (map[int64]bool, error) {
	rows, err := db.Query(ctx, `SELECT user_id FROM caller_id_prefs WHERE tenant_id = ? AND clir = ?`, tenantID, true)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}
