package store

import (
	"context"
	"encoding/json"

	"github.com/privox/privox/internal/datacat"
)

func init() {
	addMigration("0320_menus", `
CREATE TABLE calendars (
	id {{id}},
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	name TEXT NOT NULL,
	spec TEXT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX calendars_tenant_name ON calendars(tenant_id, name);
CREATE TABLE menus (
	id {{id}},
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	name TEXT NOT NULL,
	number TEXT NOT NULL DEFAULT '',
	spec TEXT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX menus_tenant_name ON menus(tenant_id, name);
CREATE UNIQUE INDEX menus_tenant_number ON menus(tenant_id, number) WHERE number <> '';
`)
	// Auto-attendant menus and their calendars are the tenant's configuration: greetings,
	// digits and the extension numbers of its own number plan, opening hours and holidays.
	// They name no person, so they are configuration, not a user's profile.
	datacat.RegisterTable(datacat.Table{Name: "menus", Category: datacat.Configuration, Owner: datacat.OwnerTenant,
		TenantColumn: "tenant_id", Purpose: "Auto-attendant menus: greeting, options per digit, time-outs, fallback, attendant number"})
	datacat.RegisterTable(datacat.Table{Name: "calendars", Category: datacat.Configuration, Owner: datacat.OwnerTenant,
		TenantColumn: "tenant_id", Purpose: "Business hours and holidays per tenant calendar, with its time zone, for time-based routing"})
}

// Menu is a stored auto-attendant menu: its name, its attendant number (empty when it is only
// reached from another menu) and its definition, which the attendant validates and reads.
type Menu struct {
	ID        int64           `json:"id"`
	TenantID  int64           `json:"tenant_id"`
	Name      string          `json:"name"`
	Number    string          `json:"number"`
	Spec      json.RawMessage `json:"spec"`
	UpdatedAt int64           `json:"updated_at"`
}

// Calendar is a stored business-hours calendar (its definition is the attendant's).
type Calendar struct {
	ID        int64           `json:"id"`
	TenantID  int64           `json:"tenant_id"`
	Name      string          `json:"name"`
	Spec      json.RawMessage `json:"spec"`
	UpdatedAt int64           `json:"updated_at"`
}

const menuCols = `id, tenant_id, name, number, spec, updated_at`

func scanMenu(s interface{ Scan(...any) error }) (Menu, error) {
	var m Menu
	var spec string
	err := s.Scan(&m.ID, &m.TenantID, &m.Name, &m.Number, &spec, &m.UpdatedAt)
	m.Spec = json.RawMessage(spec)
	return m, mapErr(err)
}

// PutMenu creates or replaces a tenant's menu by name.
func (db *DB) PutMenu(ctx context.Context, m Menu) (Menu, error) {
	m.UpdatedAt = Now()
	_, err := db.Exec(ctx, `INSERT INTO menus (tenant_id, name, number, spec, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, name) DO UPDATE SET number = excluded.number, spec = excluded.spec, updated_at = excluded.updated_at`,
		m.TenantID, m.Name, m.Number, string(m.Spec), m.UpdatedAt)
	if err != nil {
		return m, mapErr(err)
	}
	return db.MenuByName(ctx, m.TenantID, m.Name)
}

// MenuByName returns a tenant's menu.
func (db *DB) MenuByName(ctx context.Context, tenantID int64, name string) (Menu, error) {
	return scanMenu(db.QueryRow(ctx, `SELECT `+menuCols+` FROM menus WHERE tenant_id = ? AND name = ?`, tenantID, name))
}

// MenuByNumber returns the menu a tenant's attendant number leads to.
func (db *DB) MenuByNumber(ctx context.Context, tenantID int64, number string) (Menu, error) {
	return scanMenu(db.QueryRow(ctx, `SELECT `+menuCols+` FROM menus WHERE tenant_id = ? AND number = ? AND number <> ''`, tenantID, number))
}

// ListMenus lists a tenant's menus by name.
func (db *DB) ListMenus(ctx context.Context, tenantID int64) ([]Menu, error) {
	rows, err := db.Query(ctx, `SELECT `+menuCols+` FROM menus WHERE tenant_id = ? ORDER BY name`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Menu
	for rows.Next() {
		m, err := scanMenu(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// DeleteMenu removes a tenant's menu.
func (db *DB) DeleteMenu(ctx context.Context, tenantID int64, name string) error {
	res, err := db.Exec(ctx, `DELETE FROM menus WHERE tenant_id = ? AND name = ?`, tenantID, name)
	return affected(res, err)
}

func scanCalendar(s interface{ Scan(...any) error }) (Calendar, error) {
	var c Calendar
	var spec string
	err := s.Scan(&c.ID, &c.TenantID, &c.Name, &spec, &c.UpdatedAt)
	c.Spec = json.RawMessage(spec)
	return c, mapErr(err)
}

// PutCalendar creates or replaces a tenant's calendar by name.
func (db *DB) PutCalendar(ctx context.Context, c Calendar) (Calendar, error) {
	c.UpdatedAt = Now()
	_, err := db.Exec(ctx, `INSERT INTO calendars (tenant_id, name, spec, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (tenant_id, name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at`,
		c.TenantID, c.Name, string(c.Spec), c.UpdatedAt)
	if err != nil {
		return c, mapErr(err)
	}
	return db.CalendarByName(ctx, c.TenantID, c.Name)
}

// CalendarByName returns a tenant's calendar.
func (db *DB) CalendarByName(ctx context.Context, tenantID int64, name string) (Calendar, error) {
	return scanCalendar(db.QueryRow(ctx, `SELECT id, tenant_id, name, spec, updated_at FROM calendars WHERE tenant_id = ? AND name = ?`, tenantID, name))
}

// ListCalendars lists a tenant's calendars by name.
func (db *DB) ListCalendars(ctx context.Context, tenantID int64) ([]Calendar, error) {
	rows, err := db.Query(ctx, `SELECT id, tenant_id, name, spec, updated_at FROM calendars WHERE tenant_id = ? ORDER BY name`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Calendar
	for rows.Next() {
		c, err := scanCalendar(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// DeleteCalendar removes a tenant's calendar.
func (db *DB) DeleteCalendar(ctx context.Context, tenantID int64, name string) error {
	res, err := db.Exec(ctx, `DELETE FROM calendars WHERE tenant_id = ? AND name = ?`, tenantID, name)
	return affected(res, err)
}
