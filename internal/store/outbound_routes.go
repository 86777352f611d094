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
	updated_at BIGINT NOT NULL
);
`)
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
	AllowInternational bool  `json:"allow_international"`
	AllowPremium       bool  `json:"allow_premium"`
	UpdatedAt          int64 `json:"updated_at"`
}

// DialSettings returns a tenant's settings (the defaults when none were stored).
func (db *DB) DialSettings(ctx context.Context, tenantID int64) (DialSettings, error) {
	d := DialSettings{TenantID: tenantID}
	err := db.QueryRow(ctx, `SELECT country, main_number, allow_international, allow_premium, updated_at FROM dial_settings WHERE tenant_id = ?`, tenantID).
		Scan(&d.Country, &d.MainNumber, &d.AllowInternational, &d.AllowPremium, &d.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return d, nil
	}
	return d, mapErr(err)
}

// PutDialSettings stores a tenant's settings.
func (db *DB) PutDialSettings(ctx context.Context, d DialSettings) (DialSettings, error) {
	d.UpdatedAt = Now()
	res, err := db.Exec(ctx, `UPDATE dial_settings SET country = ?, main_number = ?, allow_international = ?, allow_premium = ?, updated_at = ? WHERE tenant_id = ?`,
		d.Country, d.MainNumber, d.AllowInternational, d.AllowPremium, d.UpdatedAt, d.TenantID)
	if err := affected(res, err); err == nil || !errors.Is(err, ErrNotFound) {
		return d, err
	}
	_, err = db.Exec(ctx, `INSERT INTO dial_settings (tenant_id, country, main_number, allow_international, allow_premium, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		d.TenantID, d.Country, d.MainNumber, d.AllowInternational, d.AllowPremium, d.UpdatedAt)
	return d, err
}
