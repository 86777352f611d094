package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/privox/privox/internal/datacat"
)

// Outbound routes and the dialling settings of a tenant: which outside numbers leave through
// which trunks, the country numbers are read in, and the destination classes the toll-fraud
// guard lets out. Both are tenant configuration that names no person.

func init() {
	addMigration("0500_outbound_routes", `
CREATE TABLE outbound_routes (
	id {{id}},
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	name TEXT NOT NULL,
	position INTEGER NOT NULL DEFAULT 0,
	pattern TEXT NOT NULL,
	strip INTEGER NOT NULL DEFAULT 0,
	prepend TEXT NOT NULL DEFAULT '',
	e164 {{bool}} NOT NULL DEFAULT {{true}},
	trunks TEXT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX outbound_routes_tenant_name ON outbound_routes(tenant_id, name);
`)
	addMigration("0501_dial_settings", `
CREATE TABLE dial_settings (
	tenant_id BIGINT PRIMARY KEY REFERENCES tenants(id),
	country TEXT NOT NULL DEFAULT '',
	main_number TEXT NOT NULL DEFAULT '',
	allow_international {{bool}} NOT NULL DEFAULT {{false}},
	allow_premium {{bool}} NOT NULL DEFAULT {{false}},
	max_concurrent INTEGER NOT NULL DEFAULT 2,
	minutes_per_day INTEGER NOT NULL DEFAULT 0,
	burst_calls INTEGER NOT NULL DEFAULT 10,
	burst_window_s INTEGER NOT NULL DEFAULT 60,
	updated_at BIGINT NOT NULL
);
`)
	addMigration("0502_outside_suspensions", `
CREATE TABLE outside_suspensions (
	id {{id}},
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	extension_id BIGINT NOT NULL REFERENCES extensions(id) ON DELETE CASCADE,
	user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
	reason TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX outside_suspensions_extension ON outside_suspensions(extension_id);
`)
	// A suspension stops one person's outside calls (service state, like do-not-disturb):
	// profile data, gone with the user.
	datacat.RegisterTable(datacat.Table{Name: "outside_suspensions", Category: datacat.Profile, Owner: datacat.OwnerUser,
		TenantColumn: "tenant_id", UserColumn: "user_id",
		Purpose: "Extensions whose outside calls the toll-fraud guard suspended after a burst, until an admin resumes them"})
	datacat.RegisterTable(datacat.Table{Name: "outbound_routes", Category: datacat.Configuration, Owner: datacat.OwnerTenant,
		TenantColumn: "tenant_id", Purpose: "Outbound routes: number patterns, digit manipulation and the trunks calls leave through"})
	datacat.RegisterTable(datacat.Table{Name: "dial_settings", Category: datacat.Configuration, Owner: datacat.OwnerTenant,
		TenantColumn: "tenant_id", Purpose: "Dialling settings: the tenant's country and main number, the destination classes the toll-fraud guard allows"})
}

// OutboundRoute is one stored outbound route (the dial plan validates the pattern).
type OutboundRoute struct {
	ID        int64    `json:"id"`
	TenantID  int64    `json:"tenant_id"`
	Name      string   `json:"name"`
	Position  int      `json:"position"`
	Pattern   string   `json:"pattern"`
	Strip     int      `json:"strip"`
	Prepend   string   `json:"prepend"`
	E164      bool     `json:"e164"`
	Trunks    []string `json:"trunks"`
	UpdatedAt int64    `json:"updated_at"`
}

const routeCols = `id, tenant_id, name, position, pattern, strip, prepend, e164, trunks, updated_at`

func scanRoute(s interface{ Scan(...any) error }) (OutboundRoute, error) {
	var r OutboundRoute
	var trunks string
	err := s.Scan(&r.ID, &r.TenantID, &r.Name, &r.Position, &r.Pattern, &r.Strip, &r.Prepend, &r.E164, &trunks, &r.UpdatedAt)
	r.Trunks = strings.Split(trunks, ",")
	return r, mapErr(err)
}

// PutOutboundRoute creates or replaces the route of that name.
func (db *DB) PutOutboundRoute(ctx context.Context, r OutboundRoute) (OutboundRoute, error) {
	r.UpdatedAt = Now()
	trunks := strings.Join(r.Trunks, ",")
	res, err := db.Exec(ctx, `UPDATE outbound_routes SET position = ?, pattern = ?, strip = ?, prepend = ?, e164 = ?, trunks = ?, updated_at = ?
		WHERE tenant_id = ? AND name = ?`, r.Position, r.Pattern, r.Strip, r.Prepend, r.E164, trunks, r.UpdatedAt, r.TenantID, r.Name)
	if err := affected(res, err); err == nil {
		return db.OutboundRoute(ctx, r.TenantID, r.Name)
	} else if !errors.Is(err, ErrNotFound) {
		return r, err
	}
	r.ID, err = db.insertID(ctx, `INSERT INTO outbound_routes (tenant_id, name, position, pattern, strip, prepend, e164, trunks, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.TenantID, r.Name, r.Position, r.Pattern, r.Strip, r.Prepend, r.E164, trunks, r.UpdatedAt)
	return r, err
}

// OutboundRoute returns a route by name.
func (db *DB) OutboundRoute(ctx context.Context, tenantID int64, name string) (OutboundRoute, error) {
	return scanRoute(db.QueryRow(ctx, `SELECT `+routeCols+` FROM outbound_routes WHERE tenant_id = ? AND name = ?`, tenantID, name))
}

// ListOutboundRoutes lists a tenant's routes in the order they are tried.
func (db *DB) ListOutboundRoutes(ctx context.Context, tenantID int64) ([]OutboundRoute, error) {
	rows, err := db.Query(ctx, `SELECT `+routeCols+` FROM outbound_routes WHERE tenant_id = ? ORDER BY position, id`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []OutboundRoute{}
	for rows.Next() {
		r, err := scanRoute(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteOutboundRoute removes a route.
func (db *DB) DeleteOutboundRoute(ctx context.Context, tenantID int64, name string) error {
	res, err := db.Exec(ctx, `DELETE FROM outbound_routes WHERE tenant_id = ? AND name = ?`, tenantID, name)
	return affected(res, err)
}

// DialSettings is a tenant's dialling configuration.
type DialSettings struct {
	TenantID int64 `json:"tenant_id"`
	// Country is the ISO 3166 code national numbers are read in ("DE").
	Country    string `json:"country"`
	MainNumber string `json:"main_number"`
	// AllowInternational and AllowPremium open the toll-fraud guard for those classes.
	AllowInternational bool `json:"allow_international"`
	AllowPremium       bool `json:"allow_premium"`
	// MaxConcurrent bounds a user's simultaneous outside calls (0: no limit);
	// MinutesPerDay their outside minutes per day (0: no limit). BurstCalls outside calls
	// within BurstWindowS seconds suspend the extension's outside calls (0: never).
	MaxConcurrent int `json:"max_concurrent"`
	MinutesPerDay int `json:"minutes_per_day"`
	BurstCalls    int `json:"burst_calls"`
	BurstWindowS  int `json:"burst_window_s"`
	// OutsideCalendar names a calendar of the tenant ("": none); while it is closed, the
	// toll-fraud guard refuses outside calls dialled at extensions.
	OutsideCalendar string `json:"outside_calendar"`
	UpdatedAt       int64  `json:"updated_at"`
}

// DefaultDialSettings are a tenant's settings until an admin stores others.
func DefaultDialSettings(tenantID int64) DialSettings {
	return DialSettings{TenantID: tenantID, MaxConcurrent: 2, BurstCalls: 10, BurstWindowS: 60}
}

// DialSettings returns a tenant's settings (the defaults when none were stored).
func (db *DB) DialSettings(ctx context.Context, tenantID int64) (DialSettings, error) {
	d := DefaultDialSettings(tenantID)
	err := db.QueryRow(ctx, `SELECT country, main_number, allow_international, allow_premium, max_concurrent, minutes_per_day, burst_calls, burst_window_s,
		outside_calendar, updated_at FROM dial_settings WHERE tenant_id = ?`, tenantID).
		Scan(&d.Country, &d.MainNumber, &d.AllowInternational, &d.AllowPremium, &d.MaxConcurrent, &d.MinutesPerDay, &d.BurstCalls, &d.BurstWindowS,
			&d.OutsideCalendar, &d.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return d, nil
	}
	return d, mapErr(err)
}

// PutDialSettings stores a tenant's settings.
func (db *DB) PutDialSettings(ctx context.Context, d DialSettings) (DialSettings, error) {
	d.UpdatedAt = Now()
	res, err := db.Exec(ctx, `UPDATE dial_settings SET country = ?, main_number = ?, allow_international = ?, allow_premium = ?,
		max_concurrent = ?, minutes_per_day = ?, burst_calls = ?, burst_window_s = ?, outside_calendar = ?, updated_at = ? WHERE tenant_id = ?`,
		d.Country, d.MainNumber, d.AllowInternational, d.AllowPremium, d.MaxConcurrent, d.MinutesPerDay, d.BurstCalls, d.BurstWindowS, d.OutsideCalendar, d.UpdatedAt, d.TenantID)
	if err := affected(res, err); err == nil || !errors.Is(err, ErrNotFound) {
		return d, err
	}
	_, err = db.Exec(ctx, `INSERT INTO dial_settings (tenant_id, country, main_number, allow_international, allow_premium, max_concurrent, minutes_per_day, burst_calls, burst_window_s,
		outside_calendar, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.TenantID, d.Country, d.MainNumber, d.AllowInternational, d.AllowPremium, d.MaxConcurrent, d.MinutesPerDay, d.BurstCalls, d.BurstWindowS, d.OutsideCalendar, d.UpdatedAt)
	return d, err
}

// OutsideSuspension is an extension whose outside calls are suspended.
type OutsideSuspension struct {
	ID          int64  `json:"id"`
	TenantID    int64  `json:"tenant_id"`
	ExtensionID int64  `json:"extension_id"`
	UserID      *int64 `json:"user_id,omitempty"`
	Reason      string `json:"reason"`
	CreatedAt   int64  `json:"created_at"`
}

// SuspendOutside suspends an extension's outside calls; suspending it again keeps the first
// suspension (and returns ErrConflict).
func (db *DB) SuspendOutside(ctx context.Context, tenantID, extensionID int64, reason string) (OutsideSuspension, error) {
	e, err := db.Extension(ctx, tenantID, extensionID)
	if err != nil {
		return OutsideSuspension{}, err
	}
	s := OutsideSuspension{TenantID: tenantID, ExtensionID: extensionID, UserID: e.UserID, Reason: reason, CreatedAt: Now()}
	s.ID, err = db.insertID(ctx, `INSERT INTO outside_suspensions (tenant_id, extension_id, user_id, reason, created_at) VALUES (?, ?, ?, ?, ?)`,
		tenantID, extensionID, e.UserID, reason, s.CreatedAt)
	return s, err
}

// ResumeOutside lifts an extension's suspension.
func (db *DB) ResumeOutside(ctx context.Context, tenantID, extensionID int64) error {
	res, err := db.Exec(ctx, `DELETE FROM outside_suspensions WHERE tenant_id = ? AND extension_id = ?`, tenantID, extensionID)
	return affected(res, err)
}

// OutsideSuspended reports whether an extension's outside calls are suspended.
func (db *DB) OutsideSuspended(ctx context.Context, tenantID, extensionID int64) (bool, error) {
	var n int64
	err := db.QueryRow(ctx, `SELECT COUNT(*) FROM outside_suspensions WHERE tenant_id = ? AND extension_id = ?`, tenantID, extensionID).Scan(&n)
	return n > 0, err
}

// ListOutsideSuspensions lists a tenant's suspended extensions.
func (db *DB) ListOutsideSuspensions(ctx context.Context, tenantID int64) ([]OutsideSuspension, error) {
	rows, err := db.Query(ctx, `SELECT id, tenant_id, extension_id, user_id, reason, created_at FROM outside_suspensions WHERE tenant_id = ? ORDER BY id`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []OutsideSuspension{}
	for rows.Next() {
		var s OutsideSuspension
		var uid sql.NullInt64
		if err := rows.Scan(&s.ID, &s.TenantID, &s.ExtensionID, &uid, &s.Reason, &s.CreatedAt); err != nil {
			return nil, err
		}
		if uid.Valid {
			s.UserID = &uid.Int64
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
