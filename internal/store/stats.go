package store

import (
	"context"

	"github.com/privox/privox/internal/datacat"
)

func init() {
	addMigration("0203_stats_hourly", `
CREATE TABLE stats_hourly (
	tenant_id BIGINT NOT NULL,
	source TEXT NOT NULL,
	hour BIGINT NOT NULL,
	dims TEXT NOT NULL DEFAULT '',
	records BIGINT NOT NULL DEFAULT 0,
	total BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (tenant_id, source, hour, dims)
);
`)
	datacat.RegisterTable(datacat.Table{Name: "stats_hourly", Category: datacat.Statistics, Owner: datacat.OwnerTenant,
		TenantColumn: "tenant_id",
		Purpose:      "Anonymous hourly aggregates (records and summed duration per tenant, hour, trunk and direction) kept after the records themselves are gone"})
}

// HourlyStat is one anonymous aggregate: how many records of a source table fell into one
// hour of one tenant with the same dimension values, and the sum of the table's declared
// numeric column (for CDRs: the call duration in milliseconds).
type HourlyStat struct {
	TenantID int64  `json:"tenant_id"`
	Source   string `json:"source"`
	Hour     int64  `json:"hour"` // unix ms at the start of the hour
	Dims     string `json:"dims"` // "direction=inbound;trunk=carrier"
	Records  int64  `json:"records"`
	Total    int64  `json:"total"`
}

// StatsQuery selects aggregates.
type StatsQuery struct {
	TenantID int64
	Source   string // "" for every source
	From, To int64  // hour range [From, To); 0 for open ends
	Limit    int
}

// ListHourlyStats lists aggregates in hour order.
func (db *DB) ListHourlyStats(ctx context.Context, q StatsQuery) ([]HourlyStat, error) {
	if q.Limit <= 0 || q.Limit > 10000 {
		q.Limit = 1000
	}
	to := q.To
	if to == 0 {
		to = 1<<62 - 1
	}
	rows, err := db.Query(ctx, `SELECT tenant_id, source, hour, dims, records, total FROM stats_hourly
		WHERE tenant_id = ? AND (? = '' OR source = ?) AND hour >= ? AND hour < ? ORDER BY hour, source, dims LIMIT ?`,
		q.TenantID, q.Source, q.Source, q.From, to, q.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []HourlyStat
	for rows.Next() {
		var s HourlyStat
		if err := rows.Scan(&s.TenantID, &s.Source, &s.Hour, &s.Dims, &s.Records, &s.Total); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
