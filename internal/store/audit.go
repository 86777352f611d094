package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/privox/privox/internal/datacat"
)

func init() {
	addMigration("0003_audit", `
CREATE TABLE audit_log (
	id {{id}},
	tenant_id BIGINT,
	at BIGINT NOT NULL,
	actor_user_id BIGINT,
	actor TEXT NOT NULL,
	action TEXT NOT NULL,
	target_type TEXT NOT NULL,
	target_id TEXT NOT NULL,
	source_ip TEXT NOT NULL DEFAULT '',
	detail TEXT NOT NULL DEFAULT '',
	prev_hash TEXT NOT NULL,
	hash TEXT NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log(tenant_id, id);
CREATE INDEX audit_log_at ON audit_log(at);
`)
	datacat.RegisterTable(datacat.Table{Name: "audit_log", Category: datacat.Audit, Owner: datacat.OwnerTenant,
		TenantColumn: "tenant_id", TimeColumn: "at", PersonColumns: []string{"actor_user_id"}, IPColumns: []string{"source_ip"}, HashColumn: "hash",
		TargetPerson: &datacat.TargetRef{TypeColumn: "target_type", Type: "user", IDColumn: "target_id"},
		Purpose:      "Who read, played, downloaded, exported or deleted which content, and every administrative change"})
}

// AuditEntry is one line of the tamper-evident audit log. Each entry's hash covers its fields
// and the previous entry's hash, so that editing or removing a line breaks the chain.
type AuditEntry struct {
	ID          int64  `json:"id"`
	TenantID    *int64 `json:"tenant_id,omitempty"`
	At          int64  `json:"at"`
	ActorUserID *int64 `json:"actor_user_id,omitempty"`
	Actor       string `json:"actor"`       // "user:12", "cli", "system"
	Action      string `json:"action"`      // e.g. user.create, voicemail.play, export.download
	TargetType  string `json:"target_type"` // e.g. user, extension, voicemail
	TargetID    string `json:"target_id"`
	SourceIP    string `json:"source_ip,omitempty"`
	Detail      string `json:"detail,omitempty"` // never secrets or content
	PrevHash    string `json:"prev_hash"`
	Hash        string `json:"hash"`
}

// AuditHash computes an entry's chain hash from its fields and the previous hash.
func AuditHash(e AuditEntry) string {
	h := sha256.New()
	tid, aid := "", ""
	if e.TenantID != nil {
		tid = strconv.FormatInt(*e.TenantID, 10)
	}
	if e.ActorUserID != nil {
		aid = strconv.FormatInt(*e.ActorUserID, 10)
	}
	for _, f := range []string{e.PrevHash, strconv.FormatInt(e.ID, 10), tid, strconv.FormatInt(e.At, 10), aid, e.Actor, e.Action, e.TargetType, e.TargetID, e.SourceIP, e.Detail} {
		fmt.Fprintf(h, "%d:%s|", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// AppendAudit adds an entry at the end of the chain. Appends are serialised (on PostgreSQL by
// an advisory transaction lock; SQLite transactions are already exclusive).
func (db *DB) AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	err := db.InTx(ctx, func(tx *DB) error {
		if tx.engine == Postgres {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7364111)`); err != nil {
				return err
			}
		}
		var last sql.NullString
		var lastID sql.NullInt64
		err := tx.QueryRow(ctx, `SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1`).Scan(&lastID, &last)
		if err != nil && mapErr(err) != ErrNotFound {
			return err
		}
		e.PrevHash = last.String
		e.ID = lastID.Int64 + 1
		if e.At == 0 {
			e.At = Now()
		}
		e.Hash = AuditHash(e)
		_, err = tx.Exec(ctx, `INSERT INTO audit_log (id, tenant_id, at, actor_user_id, actor, action, target_type, target_id, source_ip, detail, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.ID, nullID(e.TenantID), e.At, nullID(e.ActorUserID), e.Actor, e.Action, e.TargetType, e.TargetID, e.SourceIP, e.Detail, e.PrevHash, e.Hash)
		return err
	})
	return e, err
}

// ListAudit lists audit entries in chain order; tenantID 0 lists every tenant's.
func (db *DB) ListAudit(ctx context.Context, tenantID int64, p Page) ([]AuditEntry, error) {
	rows, err := db.Query(ctx, `SELECT id, tenant_id, at, actor_user_id, actor, action, target_type, target_id, source_ip, detail, prev_hash, hash
		FROM audit_log WHERE (? = 0 OR tenant_id = ?) AND id > ? ORDER BY id LIMIT ?`, tenantID, tenantID, p.After, p.limit())
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
