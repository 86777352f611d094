package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/privox/privox/internal/datacat"
)

func init() {
	// cdrs(start_at) duplicated what cdrs(tenant_id, start_at) serves: every reader of CDRs by
	// time (retention, statistics) asks per tenant. One index fewer per call and per swept row.
	addMigration("0207_cdrs_start_dropped", `DROP INDEX cdrs_start;`)
	// The lists page a tenant's CDRs and a user's journal by id (keyset): without these the
	// first page of a tenant with a million CDRs sorts them all.
	addMigration("0640_list_indexes", `
CREATE INDEX cdrs_tenant_id ON cdrs(tenant_id, id);
CREATE INDEX call_journal_user_id ON call_journal(tenant_id, user_id, id);
`)
	// A call's end completes its open CDR by tenant and Call-ID. With cdrs(tenant_id, id) in
	// place SQLite chose that index for it and read every CDR of the tenant at each call's
	// end; the open rows' index leads with the tenant too, so that it is the narrower one.
	// Recovery after a crash (every open row of a node) still reads this partial index alone.
	addMigration("0661_cdrs_open_by_tenant", `
DROP INDEX cdrs_open;
CREATE INDEX cdrs_open ON cdrs(tenant_id, call_id) WHERE in_progress;
`)
	// Users page by id and by name the same way (the unique (tenant_id, email) index made
	// SQLite sort a tenant's users for every page).
	addMigration("0641_user_list_indexes", `
CREATE INDEX users_tenant_id ON users(tenant_id, id);
CREATE INDEX users_tenant_name ON users(tenant_id, name, id);
`)
	// A journal line names the other party: erasing that person masks their side of the line
	// (number, name) and leaves the rest of the owner's journal alone. Existing lines learn
	// the other party from the call's CDR.
	addMigration("0211_call_journal_peer", `
ALTER TABLE call_journal ADD COLUMN peer_user_id BIGINT REFERENCES users(id) ON DELETE SET NULL;
UPDATE call_journal SET peer_user_id = (SELECT CASE WHEN c.caller_user_id = call_journal.user_id THEN c.callee_user_id ELSE c.caller_user_id END
	FROM cdrs c WHERE c.tenant_id = call_journal.tenant_id AND c.call_id = call_journal.call_id ORDER BY c.id LIMIT 1);
CREATE INDEX call_journal_peer ON call_journal(peer_user_id);
`)
	// A call's CDR is written when it is answered (in_progress, node = the node handling it)
	// and completed when it ends; after a crash, recovery at the next start completes the
	// node's open rows with end_unknown set. None of the new columns holds personal data.
	addMigration("0110_cdrs_in_progress", `
ALTER TABLE cdrs ADD COLUMN in_progress {{bool}} NOT NULL DEFAULT {{false}};
ALTER TABLE cdrs ADD COLUMN end_unknown {{bool}} NOT NULL DEFAULT {{false}};
ALTER TABLE cdrs ADD COLUMN node TEXT NOT NULL DEFAULT '';
CREATE INDEX cdrs_open ON cdrs(call_id) WHERE in_progress;
`)
	addMigration("0002_calls", `
CREATE TABLE cdrs (
	id {{id}},
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	call_id TEXT NOT NULL,
	caller TEXT NOT NULL,
	callee TEXT NOT NULL,
	caller_user_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
	callee_user_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
	direction TEXT NOT NULL,
	trunk TEXT NOT NULL DEFAULT '',
	start_at BIGINT NOT NULL,
	answer_at BIGINT,
	end_at BIGINT NOT NULL,
	duration_ms BIGINT NOT NULL DEFAULT 0,
	cause INTEGER NOT NULL,
	hangup_by TEXT NOT NULL DEFAULT '',
	anonymised {{bool}} NOT NULL DEFAULT {{false}}
);
CREATE INDEX cdrs_tenant_start ON cdrs(tenant_id, start_at);
CREATE INDEX cdrs_start ON cdrs(start_at);
CREATE INDEX cdrs_caller_user ON cdrs(caller_user_id);
CREATE INDEX cdrs_callee_user ON cdrs(callee_user_id);
CREATE TABLE call_journal (
	id {{id}},
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	call_id TEXT NOT NULL,
	direction TEXT NOT NULL,
	peer_number TEXT NOT NULL,
	peer_name TEXT NOT NULL DEFAULT '',
	start_at BIGINT NOT NULL,
	answered {{bool}} NOT NULL,
	duration_ms BIGINT NOT NULL DEFAULT 0,
	cause INTEGER NOT NULL
);
CREATE INDEX call_journal_user ON call_journal(tenant_id, user_id, start_at);
CREATE TABLE registrations (
	id {{id}},
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
	extension_id BIGINT NOT NULL REFERENCES extensions(id) ON DELETE CASCADE,
	aor TEXT NOT NULL,
	contact TEXT NOT NULL,
	source_ip TEXT NOT NULL,
	source_port INTEGER NOT NULL,
	transport TEXT NOT NULL,
	user_agent TEXT NOT NULL DEFAULT '',
	instance TEXT NOT NULL DEFAULT '',
	node TEXT NOT NULL DEFAULT '',
	expires_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX registrations_contact ON registrations(tenant_id, aor, contact);
CREATE INDEX registrations_expires ON registrations(expires_at);
`)
	datacat.RegisterTable(datacat.Table{Name: "cdrs", Category: datacat.Traffic, Owner: datacat.OwnerTenant,
		TenantColumn: "tenant_id", TimeColumn: "start_at",
		PersonColumns: []string{"caller_user_id", "callee_user_id"}, NumberColumns: []string{"caller", "callee", "forwarded_from"},
		Parties:          []datacat.Party{{Person: "caller_user_id", Numbers: []string{"caller"}}, {Person: "callee_user_id", Numbers: []string{"callee"}}},
		AnonymisedColumn: "anonymised", StatsDimensions: []string{"trunk", "direction"}, StatsSum: "duration_ms",
		Purpose: "Call detail records for operation, troubleshooting and statistics"})
	datacat.RegisterTable(datacat.Table{Name: "call_journal", Category: datacat.Usage, Owner: datacat.OwnerUser,
		TenantColumn: "tenant_id", UserColumn: "user_id", TimeColumn: "start_at", NumberColumns: []string{"peer_number"},
		PersonColumns: []string{"peer_user_id"}, Parties: []datacat.Party{{Person: "peer_user_id", Numbers: []string{"peer_number"}, Clear: []string{"peer_name"}}},
		Purpose: "Each user's own call list (incoming, outgoing, missed)"})
	datacat.RegisterTable(datacat.Table{Name: "registrations", Category: datacat.Connection, Owner: datacat.OwnerUser,
		TenantColumn: "tenant_id", UserColumn: "user_id", TimeColumn: "expires_at", ExpiresColumn: "expires_at", IPColumns: []string{"source_ip"},
		Purpose: "Where registered phones can be reached: SIP contact, source address, user agent"})
}

// CDR is one call detail record (traffic category).
type CDR struct {
	ID           int64  `json:"id"`
	TenantID     int64  `json:"tenant_id"`
	CallID       string `json:"call_id"`
	Caller       string `json:"caller"`
	Callee       string `json:"callee"`
	CallerUserID *int64 `json:"caller_user_id,omitempty"`
	CalleeUserID *int64 `json:"callee_user_id,omitempty"`
	Direction    string `json:"direction"` // internal, inbound, outbound
	Trunk        string `json:"trunk,omitempty"`
	StartAt      int64  `json:"start_at"`
	AnswerAt     *int64 `json:"answer_at,omitempty"`
	EndAt        int64  `json:"end_at"`
	DurationMS   int64  `json:"duration_ms"`
	Cause        int    `json:"cause"` // final SIP status (200 for answered calls)
	HangupBy     string `json:"hangup_by,omitempty"`
	Anonymised   bool   `json:"anonymised"`
	// InProgress: the call was answered and has not ended yet (EndAt is the answer time).
	InProgress bool `json:"in_progress,omitempty"`
	// EndUnknown: the node stopped (a crash) during the call; EndAt and DurationMS are what
	// was known at the answer, not the call's real end.
	EndUnknown bool   `json:"end_unknown,omitempty"`
	Node       string `json:"-"` // the node that handled the call
	// ForwardedFrom is the extension whose forwarding (or do-not-disturb) sent the call on
	// to Callee ("" for a call that was not forwarded); the first of a chain.
	ForwardedFrom string `json:"forwarded_from,omitempty"`
}

// JournalEntry is one line of a user's call journal (usage category).
type JournalEntry struct {
	ID         int64  `json:"id"`
	TenantID   int64  `json:"tenant_id"`
	UserID     int64  `json:"user_id"`
	CallID     string `json:"call_id"`
	Direction  string `json:"direction"` // in, out
	PeerNumber string `json:"peer_number"`
	PeerName   string `json:"peer_name,omitempty"`
	// PeerUserID is the other party when that is a user of the tenant (set by RecordCalls
	// from the CDR).
	PeerUserID *int64 `json:"peer_user_id,omitempty"`
	StartAt    int64  `json:"start_at"`
	Answered   bool   `json:"answered"`
	DurationMS int64  `json:"duration_ms"`
	Cause      int    `json:"cause"`
}

func nullID(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func idPtr(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	v := n.Int64
	return &v
}

// CallRecord is what one ended call leaves: its CDR and the journal entries of the users on
// both ends.
type CallRecord struct {
	CDR     CDR
	Journal []JournalEntry
}

// RecordCall stores a CDR and the journal entries of the users on both ends in one transaction.
func (db *DB) RecordCall(ctx context.Context, c CDR, journal []JournalEntry) (CDR, error) {
	recs := []CallRecord{{CDR: c, Journal: journal}}
	err := db.RecordCalls(ctx, recs)
	return recs[0].CDR, err
}

// RecordCalls stores several calls in one transaction (all or none), setting each CDR's ID.
// Busy installations end calls faster than one transaction each can commit. Nothing new is
// stored about a deactivated (erased) person: their journal lines are dropped, and their side
// of the CDR and of the other party's journal line is written anonymised (number masked,
// user reference and name removed), as erasure leaves older records. A CDR with InProgress
// set is a call's start row (written at answer); a CDR of an answered call that ends
// completes its start row when there is one and is inserted otherwise.
func (db *DB) RecordCalls(ctx context.Context, recs []CallRecord) error {
	return db.InTx(ctx, func(tx *DB) error {
		gone, err := tx.inactiveUsers(ctx, recs)
		if err != nil {
			return err
		}
		insCDR, err := tx.prepare(ctx, `INSERT INTO cdrs (tenant_id, call_id, caller, callee, caller_user_id, callee_user_id, direction, trunk, start_at, answer_at, end_at, duration_ms, cause, hangup_by, in_progress, node, forwarded_from)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
		if err != nil {
			return err
		}
		defer insCDR.Close()
		endCDR, err := tx.prepare(ctx, `UPDATE cdrs SET end_at = ?, duration_ms = ?, cause = ?, hangup_by = ?, callee_user_id = ?, in_progress = FALSE
			WHERE tenant_id = ? AND call_id = ? AND in_progress RETURNING id`)
		if err != nil {
			return err
		}
		defer endCDR.Close()
		insJournal, err := tx.prepare(ctx, `INSERT INTO call_journal (tenant_id, user_id, call_id, direction, peer_number, peer_name, peer_user_id, start_at, answered, duration_ms, cause)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer insJournal.Close()
		for i := range recs {
			c := &recs[i].CDR
			peers := make([]*int64, len(recs[i].Journal))
			for k, j := range recs[i].Journal {
				peers[k] = peerOf(*c, j.UserID)
			}
			anonymiseGone(c, gone)
			completed := false
			if c.AnswerAt != nil && !c.InProgress {
				err := endCDR.QueryRowContext(ctx, c.EndAt, c.DurationMS, c.Cause, c.HangupBy, nullID(c.CalleeUserID), c.TenantID, c.CallID).Scan(&c.ID)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return mapErr(err)
				}
				completed = err == nil
			}
			if !completed {
				if err := insCDR.QueryRowContext(ctx, c.TenantID, c.CallID, c.Caller, c.Callee, nullID(c.CallerUserID), nullID(c.CalleeUserID), c.Direction, c.Trunk,
					c.StartAt, nullID(c.AnswerAt), c.EndAt, c.DurationMS, c.Cause, c.HangupBy, c.InProgress, c.Node, c.ForwardedFrom).Scan(&c.ID); err != nil {
					return mapErr(err)
				}
			}
			for k, j := range recs[i].Journal {
				if gone[j.UserID] {
					continue
				}
				peer := peers[k]
				if peer != nil && gone[*peer] {
					j.PeerNumber, j.PeerName, peer = datacat.MaskNumber(j.PeerNumber), "", nil
				}
				if _, err := insJournal.ExecContext(ctx, j.TenantID, j.UserID, j.CallID, j.Direction, j.PeerNumber, j.PeerName, nullID(peer), j.StartAt, j.Answered, j.DurationMS, j.Cause); err != nil {
					return mapErr(err)
				}
			}
		}
		return nil
	})
}

// peerOf is the other user of a call, seen from one of its users (nil for an outsider).
func peerOf(c CDR, userID int64) *int64 {
	switch {
	case c.CallerUserID != nil && *c.CallerUserID == userID:
		return c.CalleeUserID
	case c.CalleeUserID != nil && *c.CalleeUserID == userID:
		return c.CallerUserID
	}
	return nil
}

// inactiveUsers returns which of the users named by the records are deactivated.
func (db *DB) inactiveUsers(ctx context.Context, recs []CallRecord) (map[int64]bool, error) {
	var ids []any
	seen := map[int64]bool{}
	add := func(p *int64) {
		if p != nil && !seen[*p] {
			seen[*p] = true
			ids = append(ids, *p)
		}
	}
	for i := range recs {
		add(recs[i].CDR.CallerUserID)
		add(recs[i].CDR.CalleeUserID)
		for _, j := range recs[i].Journal {
			add(&j.UserID)
		}
	}
	gone := map[int64]bool{}
	if len(ids) == 0 {
		return gone, nil
	}
	rows, err := db.Query(ctx, `SELECT id FROM users WHERE NOT active AND id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, ids...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		gone[id] = true
	}
	return gone, rows.Err()
}

// anonymiseGone removes a deactivated person's side from a CDR before it is written.
func anonymiseGone(c *CDR, gone map[int64]bool) {
	if c.CallerUserID != nil && gone[*c.CallerUserID] {
		c.Caller, c.CallerUserID = datacat.MaskNumber(c.Caller), nil
	}
	if c.CalleeUserID != nil && gone[*c.CalleeUserID] {
		c.Callee, c.CalleeUserID = datacat.MaskNumber(c.Callee), nil
	}
}

const cdrCols = `id, tenant_id, call_id, caller, callee, caller_user_id, callee_user_id, direction, trunk, start_at, answer_at, end_at, duration_ms, cause, hangup_by, anonymised, in_progress, end_unknown, node, forwarded_from`

// RecoverOpenCDRs completes the CDRs a node left in progress when it stopped without ending
// its calls (a crash, kill -9): their end is unknown, so they keep the answer time as end,
// no duration, and end_unknown set. It runs at the node's start, before it takes calls.
func (db *DB) RecoverOpenCDRs(ctx context.Context, node string) (int64, error) {
	res, err := db.Exec(ctx, `UPDATE cdrs SET in_progress = FALSE, end_unknown = TRUE, hangup_by = 'unknown'
		WHERE in_progress AND node = ?`, node)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func scanCDR(s interface{ Scan(...any) error }) (CDR, error) {
	var c CDR
	var cu, ce, ans sql.NullInt64
	err := s.Scan(&c.ID, &c.TenantID, &c.CallID, &c.Caller, &c.Callee, &cu, &ce, &c.Direction, &c.Trunk, &c.StartAt, &ans, &c.EndAt, &c.DurationMS, &c.Cause, &c.HangupBy, &c.Anonymised,
		&c.InProgress, &c.EndUnknown, &c.Node, &c.ForwardedFrom)
	c.CallerUserID, c.CalleeUserID, c.AnswerAt = idPtr(cu), idPtr(ce), idPtr(ans)
	return c, mapErr(err)
}

// CDRSorts are the columns a CDR list sorts by; searches match the caller and callee numbers.
var CDRSorts = map[string]sortCol{"start_at": {expr: "start_at", numeric: true}, "duration_ms": {expr: "duration_ms", numeric: true}}

// ListCDRs lists a tenant's CDRs, by id (newest last) unless the page sorts otherwise,
// optionally only those involving one user.
func (db *DB) ListCDRs(ctx context.Context, tenantID, userID int64, p Page) ([]CDR, error) {
	q, args := `SELECT `+cdrCols+` FROM cdrs WHERE tenant_id = ?`, []any{tenantID}
	if userID != 0 {
		q, args = q+` AND (caller_user_id = ? OR callee_user_id = ?)`, append(args, userID, userID)
	}
	sw, sa := p.search("caller", "callee")
	kw, ka, order := p.keyset(CDRSorts)
	args = append(append(args, sa...), ka...)
	rows, err := db.Query(ctx, q+sw+kw+order+` LIMIT ?`, append(args, p.limit())...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []CDR
	for rows.Next() {
		c, err := scanCDR(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// JournalSorts are the columns a call journal sorts by; searches match the other party's
// number and name.
var JournalSorts = map[string]sortCol{"start_at": {expr: "start_at", numeric: true}, "peer_name": {expr: "peer_name"}}

// ListJournal lists a user's call journal, by id unless the page sorts otherwise.
func (db *DB) ListJournal(ctx context.Context, tenantID, userID int64, p Page) ([]JournalEntry, error) {
	sw, sa := p.search("peer_number", "peer_name")
	kw, ka, order := p.keyset(JournalSorts)
	args := append(append([]any{tenantID, userID}, sa...), ka...)
	rows, err := db.Query(ctx, `SELECT id, tenant_id, user_id, call_id, direction, peer_number, peer_name, peer_user_id, start_at, answered, duration_ms, cause
		FROM call_journal WHERE tenant_id = ? AND user_id = ?`+sw+kw+order+` LIMIT ?`, append(args, p.limit())...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []JournalEntry
	for rows.Next() {
		var j JournalEntry
		var peer sql.NullInt64
		if err := rows.Scan(&j.ID, &j.TenantID, &j.UserID, &j.CallID, &j.Direction, &j.PeerNumber, &j.PeerName, &peer, &j.StartAt, &j.Answered, &j.DurationMS, &j.Cause); err != nil {
			return nil, err
		}
		j.PeerUserID = idPtr(peer)
		out = append(out, j)
	}
	return out, rows.Err()
}

// CountCDRs returns how many call records a tenant has stored (tenantID 0: every tenant).
func (db *DB) CountCDRs(ctx context.Context, tenantID int64) (int64, error) {
	q, args := `SELECT COUNT(*) FROM cdrs`, []any{}
	if tenantID != 0 { // one range of the index cdrs_tenant_id
		q, args = q+` WHERE tenant_id = ?`, []any{tenantID}
	}
	var n int64
	err := db.QueryRow(ctx, q, args...).Scan(&n)
	return n, mapErr(err)
}
