package store

import (
	"context"
	"database/sql"

	"github.com/privox/privox/internal/datacat"
)

func init() {
	addMigration("0206_chain_checkpoints", `
CREATE TABLE chain_checkpoints (
	table_name TEXT PRIMARY KEY,
	last_id BIGINT NOT NULL,
	last_hash TEXT NOT NULL,
	removed BIGINT NOT NULL DEFAULT 0,
	at BIGINT NOT NULL
);
`)
	datacat.RegisterTable(datacat.Table{Name: "chain_checkpoints", Category: datacat.Configuration, Owner: datacat.OwnerSystem,
		Purpose: "Where a hash chain (the audit log) starts after old entries were removed by retention: id and hash of the last removed entry"})
}

// ChainCheckpoint says that the entries of a hash-chained table up to LastID were removed by
// retention and that the last of them had hash LastHash: the first remaining entry must follow
// on from it.
type ChainCheckpoint struct {
	Table    string `json:"table"`
	LastID   int64  `json:"last_id"`
	LastHash string `json:"last_hash"`
	Removed  int64  `json:"removed"`
	At       int64  `json:"at"`
}

// ChainCheckpointOf returns a table's checkpoint; ErrNotFound when nothing was ever removed.
func (db *DB) ChainCheckpointOf(ctx context.Context, table string) (ChainCheckpoint, error) {
	var c ChainCheckpoint
	err := db.QueryRow(ctx, `SELECT table_name, last_id, last_hash, removed, at FROM chain_checkpoints WHERE table_name = ?`, table).
		Scan(&c.Table, &c.LastID, &c.LastHash, &c.Removed, &c.At)
	return c, mapErr(err)
}

// SetChainCheckpoint moves a table's checkpoint forward (run it in the transaction that
// removes the entries).
func (db *DB) SetChainCheckpoint(ctx context.Context, c ChainCheckpoint) error {
	if c.At == 0 {
		c.At = Now()
	}
	_, err := db.Exec(ctx, `INSERT INTO chain_checkpoints (table_name, last_id, last_hash, removed, at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (table_name) DO UPDATE SET last_id = excluded.last_id, last_hash = excluded.last_hash,
			removed = chain_checkpoints.removed + excluded.removed, at = excluded.at`, c.Table, c.LastID, c.LastHash, c.Removed, c.At)
	return err
}

// AuditQuery selects audit entries; zero fields do not filter.
type AuditQuery struct {
	TenantID    int64
	Action      string // exact action, or a prefix ending in "." ("export.")
	TargetType  string
	TargetID    string
	ActorUserID int64
	Since       int64 // unix ms, inclusive
	Until       int64 // unix ms, exclusive
	Page        Page
}

// QueryAudit lists audit entries in chain order (newest first with Page.Desc) with filters.
func (db *DB) QueryAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	kw, ka, order := Page{After: q.Page.After, Desc: q.Page.Desc}.keyset(nil)
	action, prefix := q.Action, ""
	if len(action) > 0 && action[len(action)-1] == '.' {
		action, prefix = "", q.Action
	}
	until := q.Until
	if until == 0 {
		until = 1<<62 - 1
	}
	rows, err := db.Query(ctx, `SELECT id, tenant_id, at, actor_user_id, actor, action, target_type, target_id, source_ip, detail, prev_hash, hash
		FROM audit_log WHERE (? = 0 OR tenant_id = ?) AND (? = '' OR action = ?) AND (? = '' OR substr(action, 1, ?) = ?)
		AND (? = '' OR target_type = ?) AND (? = '' OR target_id = ?) AND (? = 0 OR actor_user_id = ?)
		AND at >= ? AND at < ?`+kw+order+` LIMIT ?`,
		q.TenantID, q.TenantID, action, action, prefix, len(prefix), prefix,
		q.TargetType, q.TargetType, q.TargetID, q.TargetID, q.ActorUserID, q.ActorUserID,
		q.Since, until, ka[0], q.Page.limit())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var tid, aid sql.NullInt64
		if err := rows.Scan(&e.ID, &tid, &e.At, &aid, &e.Actor, &e.Action, &e.TargetType, &e.TargetID, &e.SourceIP, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
			return nil, err
		}
		e.TenantID, e.ActorUserID = idPtr(tid), idPtr(aid)
		out = append(out, e)
	}
	return out, rows.Err()
}
