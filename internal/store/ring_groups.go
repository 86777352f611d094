package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/privox/privox/internal/datacat"
)

// Ring and hunt groups of a tenant: a number that rings its member extensions all at once
// or one after the other, each for its ring time, then a fall-through destination.

func init() {
	addMigration("0511_ring_groups", `
CREATE TABLE ring_groups (
	id {{id}},
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	number TEXT NOT NULL,
	name TEXT NOT NULL DEFAULT '',
	strategy TEXT NOT NULL,
	ring_time_s INTEGER NOT NULL,
	fallthrough_kind TEXT NOT NULL DEFAULT '',
	fallthrough_number TEXT NOT NULL DEFAULT '',
	updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ring_groups_tenant_number ON ring_groups(tenant_id, number);
CREATE TABLE ring_group_members (
	group_id BIGINT NOT NULL REFERENCES ring_groups(id) ON DELETE CASCADE,
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	position INTEGER NOT NULL,
	extension TEXT NOT NULL,
	ring_time_s INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (group_id, position)
);
`)
	datacat.RegisterTable(datacat.Table{Name: "ring_groups", Category: datacat.Configuration, Owner: datacat.OwnerTenant,
		TenantColumn: "tenant_id", Purpose: "Ring and hunt groups: their number, how they ring, ring time and fall-through destination"})
	datacat.RegisterTable(datacat.Table{Name: "ring_group_members", Category: datacat.Configuration, Owner: datacat.OwnerTenant,
		TenantColumn: "tenant_id", Purpose: "The member extensions of ring and hunt groups, in order, with their ring time"})
}

// RingGroup is one ring or hunt group.
type RingGroup struct {
	ID       int64  `json:"id"`
	TenantID int64  `json:"tenant_id"`
	Number   string `json:"number"`
	Name     string `json:"name"`
	// Strategy is "simultaneous" (all members at once), or one member after the other:
	// "sequential" (in order), "round-robin" (starting one member further with every call)
	// or "least-recent" (longest idle first); see dialplan.Strategies.
	Strategy string `json:"strategy"`
	// RingTimeS is how long the group rings (simultaneous) or each member rings unless the
	// member has its own (the other strategies), in seconds.
	RingTimeS int `json:"ring_time_s"`
	// Fallthrough is where the call goes when no member answers (kind "": the caller hears
	// 480).
	FallthroughKind   string `json:"fallthrough_kind,omitempty"`
	FallthroughNumber string `json:"fallthrough_number,omitempty"`
	// Calendar names a calendar of the tenant ("": none); while it is closed, the
	// fall-through is ClosedKind and ClosedNumber instead (the fall-through's time rule).
	Calendar     string            `json:"calendar,omitempty"`
	ClosedKind   string            `json:"closed_kind,omitempty"`
	ClosedNumber string            `json:"closed_number,omitempty"`
	Members      []RingGroupMember `json:"members"`
	UpdatedAt    int64             `json:"updated_at"`
}

// RingGroupMember is one member extension of a group.
type RingGroupMember struct {
	Extension string `json:"extension"`
	// RingTimeS overrides the group's ring time for this member (0: the group's).
	RingTimeS int `json:"ring_time_s,omitempty"`
}

const groupCols = `id, tenant_id, number, name, strategy, ring_time_s, fallthrough_kind, fallthrough_number, calendar, closed_kind, closed_number, updated_at`

func scanGroup(s interface{ Scan(...any) error }) (RingGroup, error) {
	var g RingGroup
	err := s.Scan(&g.ID, &g.TenantID, &g.Number, &g.Name, &g.Strategy, &g.RingTimeS, &g.FallthroughKind, &g.FallthroughNumber, &g.Calendar, &g.ClosedKind, &g.ClosedNumber, &g.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return g, ErrNotFound
	}
	return g, err
}

// PutRingGroup creates or replaces the group with g's number, members included.
func (db *DB) PutRingGroup(ctx context.Context, g RingGroup) (RingGroup, error) {
	g.UpdatedAt = Now()
	err := db.InTx(ctx, func(tx *DB) error {
		res, err := tx.Exec(ctx, `UPDATE ring_groups SET name = ?, strategy = ?, ring_time_s = ?, fallthrough_kind = ?, fallthrough_number = ?, calendar = ?, closed_kind = ?, closed_number = ?, updated_at = ?
			WHERE tenant_id = ? AND number = ?`, g.Name, g.Strategy, g.RingTimeS, g.FallthroughKind, g.FallthroughNumber, g.Calendar, g.ClosedKind, g.ClosedNumber, g.UpdatedAt, g.TenantID, g.Number)
		switch err := affected(res, err); {
		case err == nil:
			if err := tx.QueryRow(ctx, `SELECT id FROM ring_groups WHERE tenant_id = ? AND number = ?`, g.TenantID, g.Number).Scan(&g.ID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM ring_group_members WHERE group_id = ?`, g.ID); err != nil {
				return err
			}
		case errors.Is(err, ErrNotFound):
			if g.ID, err = tx.insertID(ctx, `INSERT INTO ring_groups (tenant_id, number, name, strategy, ring_time_s, fallthrough_kind, fallthrough_number, calendar, closed_kind, closed_number, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, g.TenantID, g.Number, g.Name, g.Strategy, g.RingTimeS, g.FallthroughKind, g.FallthroughNumber, g.Calendar, g.ClosedKind, g.ClosedNumber, g.UpdatedAt); err != nil {
				return err
			}
		default:
			return err
		}
		for i, m := range g.Members {
			if _, err := tx.Exec(ctx, `INSERT INTO ring_group_members (group_id, tenant_id, position, extension, ring_time_s) VALUES (?, ?, ?, ?, ?)`,
				g.ID, g.TenantID, i, m.Extension, m.RingTimeS); err != nil {
				return err
			}
		}
		return nil
	})
	return g, err
}

// RingGroup returns a group of a tenant by number, with its members.
func (db *DB) RingGroup(ctx context.Context, tenantID int64, number string) (RingGroup, error) {
	g, err := scanGroup(db.QueryRow(ctx, `SELECT `+groupCols+` FROM ring_groups WHERE tenant_id = ? AND number = ?`, tenantID, number))
	if err != nil {
		return g, err
	}
	gs := []RingGroup{g}
	if err := db.groupMembers(ctx, tenantID, gs); err != nil {
		return g, err
	}
	return gs[0], nil
}

// ListRingGroups lists a tenant's groups by number, with their members.
func (db *DB) ListRingGroups(ctx context.Context, tenantID int64) ([]RingGroup, error) {
	rows, err := db.Query(ctx, `SELECT `+groupCols+` FROM ring_groups WHERE tenant_id = ? ORDER BY number`, tenantID)
	if err != nil {
		return nil, err
	}
	out := []RingGroup{}
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, db.groupMembers(ctx, tenantID, out)
}

func (db *DB) groupMembers(ctx context.Context, tenantID int64, gs []RingGroup) error {
	idx := map[int64]int{}
	for i := range gs {
		idx[gs[i].ID] = i
		gs[i].Members = []RingGroupMember{}
	}
	q, args := `SELECT group_id, extension, ring_time_s FROM ring_group_members WHERE tenant_id = ? ORDER BY group_id, position`, []any{tenantID}
	if len(gs) == 1 {
		q, args = `SELECT group_id, extension, ring_time_s FROM ring_group_members WHERE tenant_id = ? AND group_id = ? ORDER BY position`, []any{tenantID, gs[0].ID}
	}
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var m RingGroupMember
		if err := rows.Scan(&id, &m.Extension, &m.RingTimeS); err != nil {
			return err
		}
		if i, ok := idx[id]; ok {
			gs[i].Members = append(gs[i].Members, m)
		}
	}
	return rows.Err()
}

// DeleteRingGroup removes a group and its members.
func (db *DB) DeleteRingGroup(ctx context.Context, tenantID int64, number string) error {
	return db.InTx(ctx, func(tx *DB) error {
		if _, err := tx.Exec(ctx, `DELETE FROM ring_group_members WHERE group_id IN (SELECT id FROM ring_groups WHERE tenant_id = ? AND number = ?)`, tenantID, number); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `DELETE FROM ring_groups WHERE tenant_id = ? AND number = ?`, tenantID, number)
		return affected(res, err)
	})
}
