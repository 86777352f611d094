package store

import (
	"context"

	"github.com/privox/privox/internal/datacat"
)

func init() {
	addMigration("0204_flow_settings", `
CREATE TABLE flow_settings (
	name TEXT PRIMARY KEY,
	enabled {{bool}} NOT NULL,
	updated_at BIGINT NOT NULL
);
`)
	datacat.RegisterTable(datacat.Table{Name: "flow_settings", Category: datacat.Configuration, Owner: datacat.OwnerSystem,
		Purpose: "Which declared outbound data flows an operator switched on or off"})
}

// FlowSetting is the stored switch of one declared outbound flow.
type FlowSetting struct {
	Name      string `json:"name"`
	Enabled   bool   `json:"enabled"`
	UpdatedAt int64  `json:"updated_at"`
}

// FlowSettings lists the stored switches.
func (db *DB) FlowSettings(ctx context.Context) ([]FlowSetting, error) {
	rows, err := db.Query(ctx, `SELECT name, enabled, updated_at FROM flow_settings ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []FlowSetting
	for rows.Next() {
		var f FlowSetting
		if err := rows.Scan(&f.Name, &f.Enabled, &f.UpdatedAt); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// SetFlowSetting stores a flow's switch.
func (db *DB) SetFlowSetting(ctx context.Context, name string, enabled bool) error {
	_, err := db.Exec(ctx, `INSERT INTO flow_settings (name, enabled, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at`, name, enabled, Now())
	return err
}
