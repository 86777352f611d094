package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"

	"github.com/privox/privox/internal/datacat"
)

// Voicemail to e-mail: the per-box switches (voicemail_boxes.email_*), the delivery queue
// (one row per message to mail, kept through retries and restarts), the people who objected
// to e-mail copies, and the SMTP relays tenants configure for themselves (the password sealed
// with the tenant key, never returned).

func init() {
	addMigration("0610_voicemail_mail", `
ALTER TABLE voicemail_boxes ADD COLUMN email_copy {{bool}} NOT NULL DEFAULT {{false}};
ALTER TABLE voicemail_boxes ADD COLUMN email_attach {{bool}} NOT NULL DEFAULT {{true}};
ALTER TABLE voicemail_boxes ADD COLUMN email_delete {{bool}} NOT NULL DEFAULT {{false}};
CREATE TABLE voicemail_mail (
	id {{id}},
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	user_id BIGINT,
	box_id BIGINT NOT NULL REFERENCES voicemail_boxes(id) ON DELETE CASCADE,
	message_id BIGINT NOT NULL,
	state TEXT NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	next_at BIGINT NOT NULL,
	last_error TEXT NOT NULL DEFAULT '',
	reason TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX voicemail_mail_due ON voicemail_mail(state, next_at);
CREATE INDEX voicemail_mail_tenant ON voicemail_mail(tenant_id, state, id);
CREATE INDEX voicemail_mail_user ON voicemail_mail(user_id);
CREATE INDEX voicemail_mail_created ON voicemail_mail(created_at);
CREATE TABLE mail_objections (
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	user_id BIGINT NOT NULL REFERENCES users(id),
	created_at BIGINT NOT NULL,
	PRIMARY KEY (tenant_id, user_id)
);
CREATE TABLE mail_relays (
	tenant_id BIGINT PRIMARY KEY REFERENCES tenants(id),
	enabled {{bool}} NOT NULL DEFAULT {{false}},
	host TEXT NOT NULL,
	port INTEGER NOT NULL,
	mode TEXT NOT NULL,
	username TEXT NOT NULL DEFAULT '',
	secret_sealed TEXT NOT NULL DEFAULT '',
	ca_pem TEXT NOT NULL DEFAULT '',
	from_addr TEXT NOT NULL DEFAULT '',
	updated_at BIGINT NOT NULL
);
`)
	// A delivery row names the message, never the address or the content; it lives as long
	// as voice messages do (user content, per the tenant's rule) and goes with its person.
	datacat.RegisterTable(datacat.Table{Name: "voicemail_mail", Category: datacat.UserContent, Owner: datacat.OwnerUser,
		TenantColumn: "tenant_id", UserColumn: "user_id", TimeColumn: "created_at", SubCategory: "voicemail",
		Purpose: "E-mail deliveries of voice messages: state, attempts, the relay's last error, the reason nothing was sent"})
	datacat.RegisterTable(datacat.Table{Name: "mail_objections", Category: datacat.Profile, Owner: datacat.OwnerUser,
		TenantColumn: "tenant_id", UserColumn: "user_id",
		Purpose: "People who objected to e-mail copies of their voice messages (GDPR Art. 21)"})
	datacat.RegisterTable(datacat.Table{Name: "mail_relays", Category: datacat.Credentials, Owner: datacat.OwnerTenant,
		TenantColumn: "tenant_id", SecretColumns: []string{"secret_sealed"},
		Purpose: "A tenant's own SMTP relay for voicemail e-mails, the password sealed under the tenant key"})
}

// States of a voicemail e-mail delivery.
const (
	MailPending    = "pending"    // waiting for its next attempt
	MailSent       = "sent"       // the relay accepted the e-mail
	MailFailed     = "failed"     // the last retry failed; the message stays in the box
	MailSuppressed = "suppressed" // nothing was sent, for Reason (restriction, objection)
	MailDropped    = "dropped"    // the message was gone before it could be sent
)

// VoicemailMail is one e-mail delivery of a voice message.
type VoicemailMail struct {
	ID        int64  `json:"id"`
	TenantID  int64  `json:"tenant_id"`
	UserID    *int64 `json:"user_id,omitempty"`
	BoxID     int64  `json:"box_id"`
	MessageID int64  `json:"message_id"`
	State     string `json:"state"`
	Attempts  int    `json:"attempts"`
	NextAt    int64  `json:"next_at"`
	// LastError is the relay's or the connection's last error (no address, no content).
	LastError string `json:"last_error,omitempty"`
	// Reason says why nothing was sent (state suppressed or dropped).
	Reason    string `json:"reason,omitempty"`
	CreatedAt int64  `json:"created_at"`
	UpdatedAt int64  `json:"updated_at"`
}

const mailCols = `id, tenant_id, user_id, box_id, message_id, state, attempts, next_at, last_error, reason, created_at, updated_at`

func scanMail(s interface{ Scan(...any) error }) (VoicemailMail, error) {
	var d VoicemailMail
	var uid sql.NullInt64
	err := s.Scan(&d.ID, &d.TenantID, &uid, &d.BoxID, &d.MessageID, &d.State, &d.Attempts, &d.NextAt, &d.LastError, &d.Reason, &d.CreatedAt, &d.UpdatedAt)
	d.UserID = nullInt(uid)
	return d, mapErr(err)
}

// EnqueueVoicemailMail adds a pending delivery of a message (in the transaction that stores
// the message, so that a stored message with e-mail on always has its delivery).
func (db *DB) EnqueueVoicemailMail(ctx context.Context, m VoicemailMessage, at int64) (VoicemailMail, error) {
	var uid any
	if m.UserID != nil {
		uid = *m.UserID
	}
	now := Now()
	id, err := db.insertID(ctx, `INSERT INTO voicemail_mail (tenant_id, user_id, box_id, message_id, state, attempts, next_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)`, m.TenantID, uid, m.BoxID, m.ID, MailPending, at, now, now)
	if err != nil {
		return VoicemailMail{}, err
	}
	return db.VoicemailMailByID(ctx, m.TenantID, id)
}

// VoicemailMailByID returns one delivery of a tenant.
func (db *DB) VoicemailMailByID(ctx context.Context, tenantID, id int64) (VoicemailMail, error) {
	return scanMail(db.QueryRow(ctx, `SELECT `+mailCols+` FROM voicemail_mail WHERE tenant_id = ? AND id = ?`, tenantID, id))
}

// DueVoicemailMail lists at most limit pending deliveries whose next attempt is due at now,
// earliest first.
func (db *DB) DueVoicemailMail(ctx context.Context, now int64, limit int) ([]VoicemailMail, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	return db.queryMail(ctx, `SELECT `+mailCols+` FROM voicemail_mail WHERE state = ? AND next_at <= ? ORDER BY next_at, id LIMIT ?`, MailPending, now, limit)
}

// NextVoicemailMailAt returns when the earliest pending delivery is due (0: none pending).
func (db *DB) NextVoicemailMailAt(ctx context.Context) (int64, error) {
	var at sql.NullInt64
	err := db.QueryRow(ctx, `SELECT MIN(next_at) FROM voicemail_mail WHERE state = ?`, MailPending).Scan(&at)
	return at.Int64, mapErr(err)
}

// VoicemailMails lists a tenant's deliveries in a state ("" for all), by id.
func (db *DB) VoicemailMails(ctx context.Context, tenantID int64, state string, p Page) ([]VoicemailMail, error) {
	return db.queryMail(ctx, `SELECT `+mailCols+` FROM voicemail_mail WHERE tenant_id = ? AND (? = '' OR state = ?) AND id > ? ORDER BY id LIMIT ?`,
		tenantID, state, state, p.After, p.limit())
}

// VoicemailMailsOfMessage lists the deliveries of one message.
func (db *DB) VoicemailMailsOfMessage(ctx context.Context, tenantID, messageID int64) ([]VoicemailMail, error) {
	return db.queryMail(ctx, `SELECT `+mailCols+` FROM voicemail_mail WHERE tenant_id = ? AND message_id = ? ORDER BY id`, tenantID, messageID)
}

func (db *DB) queryMail(ctx context.Context, q string, args ...any) ([]VoicemailMail, error) {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []VoicemailMail
	for rows.Next() {
		d, err := scanMail(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ErrMailNotPending: the delivery was finished by someone else meanwhile.
var ErrMailNotPending = errors.New("store: delivery is no longer pending")

// FinishVoicemailMail records the outcome of an attempt on a pending delivery: its new state,
// attempts, next attempt, error and reason. It fails with ErrMailNotPending when the row is
// not pending any more.
func (db *DB) FinishVoicemailMail(ctx context.Context, d VoicemailMail) error {
	res, err := db.Exec(ctx, `UPDATE voicemail_mail SET state = ?, attempts = ?, next_at = ?, last_error = ?, reason = ?, updated_at = ?
		WHERE tenant_id = ? AND id = ? AND state = ?`, d.State, d.Attempts, d.NextAt, d.LastError, d.Reason, Now(), d.TenantID, d.ID, MailPending)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrMailNotPending
	}
	return nil
}

// ErrMailNotFailed: only a failed delivery can be retried.
var ErrMailNotFailed = errors.New("store: delivery is not failed")

// RetryVoicemailMail puts a failed delivery back in the queue: pending, due at at, its
// attempts counted from zero again and its last error cleared. It fails with ErrNotFound when
// the tenant has no such delivery and with ErrMailNotFailed when the delivery is in another
// state (returned with it).
func (db *DB) RetryVoicemailMail(ctx context.Context, tenantID, id, at int64) (VoicemailMail, error) {
	res, err := db.Exec(ctx, `UPDATE voicemail_mail SET state = ?, attempts = 0, next_at = ?, last_error = '', reason = '', updated_at = ?
		WHERE tenant_id = ? AND id = ? AND state = ?`, MailPending, at, Now(), tenantID, id, MailFailed)
	if err != nil {
		return VoicemailMail{}, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return VoicemailMail{}, err
	}
	d, err := db.VoicemailMailByID(ctx, tenantID, id)
	if err == nil && n == 0 {
		err = ErrMailNotFailed
	}
	return d, err
}

// SetMailObjection records (on) or withdraws a person's objection to e-mail copies.
func (db *DB) SetMailObjection(ctx context.Context, tenantID, userID int64, on bool) error {
	if !on {
		_, err := db.Exec(ctx, `DELETE FROM mail_objections WHERE tenant_id = ? AND user_id = ?`, tenantID, userID)
		return err
	}
	_, err := db.Exec(ctx, `INSERT INTO mail_objections (tenant_id, user_id, created_at) VALUES (?, ?, ?) ON CONFLICT (tenant_id, user_id) DO NOTHING`,
		tenantID, userID, Now())
	return err
}

// MailObjection reports whether a person objected to e-mail copies.
func (db *DB) MailObjection(ctx context.Context, tenantID, userID int64) (bool, error) {
	var n int
	err := db.QueryRow(ctx, `SELECT COUNT(*) FROM mail_objections WHERE tenant_id = ? AND user_id = ?`, tenantID, userID).Scan(&n)
	return n > 0, mapErr(err)
}

// MailRelay is a tenant's own SMTP relay; the password is never returned.
type MailRelay struct {
	TenantID    int64  `json:"tenant_id"`
	Enabled     bool   `json:"enabled"`
	Host        string `json:"host"`
	Port        int    `json:"port"`
	Mode        string `json:"mode"`
	Username    string `json:"username,omitempty"`
	HasPassword bool   `json:"has_password"`
	CAPEM       string `json:"ca_pem,omitempty"`
	From        string `json:"from,omitempty"`
	UpdatedAt   int64  `json:"updated_at"`
}

// MailRelaySecretBinding names the sealed password of a tenant's relay.
func MailRelaySecretBinding(tenantID int64) string {
	return "mail_relays:" + strconv.FormatInt(tenantID, 10) + ":password"
}

const relayCols = `tenant_id, enabled, host, port, mode, username, secret_sealed <> '', ca_pem, from_addr, updated_at`

func scanRelay(s interface{ Scan(...any) error }) (MailRelay, error) {
	var r MailRelay
	err := s.Scan(&r.TenantID, &r.Enabled, &r.Host, &r.Port, &r.Mode, &r.Username, &r.HasPassword, &r.CAPEM, &r.From, &r.UpdatedAt)
	return r, mapErr(err)
}

// PutMailRelay stores a tenant's relay. sealed is the password sealed for
// MailRelaySecretBinding; keep, when true, leaves a stored password as it is.
func (db *DB) PutMailRelay(ctx context.Context, r MailRelay, sealed string, keep bool) (MailRelay, error) {
	r.UpdatedAt = Now()
	q := `INSERT INTO mail_relays (tenant_id, enabled, host, port, mode, username, secret_sealed, ca_pem, from_addr, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET enabled = excluded.enabled, host = excluded.host, port = excluded.port, mode = excluded.mode,
		username = excluded.username, ca_pem = excluded.ca_pem, from_addr = excluded.from_addr, updated_at = excluded.updated_at`
	if !keep {
		q += `, secret_sealed = excluded.secret_sealed`
	}
	if _, err := db.Exec(ctx, q, r.TenantID, r.Enabled, r.Host, r.Port, r.Mode, r.Username, sealed, r.CAPEM, r.From, r.UpdatedAt); err != nil {
		return r, err
	}
	return db.MailRelay(ctx, r.TenantID)
}

// MailRelay returns a tenant's relay (ErrNotFound when it uses the installation's).
func (db *DB) MailRelay(ctx context.Context, tenantID int64) (MailRelay, error) {
	return scanRelay(db.QueryRow(ctx, `SELECT `+relayCols+` FROM mail_relays WHERE tenant_id = ?`, tenantID))
}

// MailRelaySecret returns the sealed password of a tenant's relay ("" when none).
func (db *DB) MailRelaySecret(ctx context.Context, tenantID int64) (string, error) {
	var s string
	err := db.QueryRow(ctx, `SELECT secret_sealed FROM mail_relays WHERE tenant_id = ?`, tenantID).Scan(&s)
	return s, mapErr(err)
}

// DeleteMailRelay removes a tenant's relay; the tenant falls back to the installation's.
func (db *DB) DeleteMailRelay(ctx context.Context, tenantID int64) error {
	res, err := db.Exec(ctx, `DELETE FROM mail_relays WHERE tenant_id = ?`, tenantID)
	return affected(res, err)
}

// EnabledMailRelays counts the tenants' enabled relays, and those of them in plaintext mode.
func (db *DB) EnabledMailRelays(ctx context.Context) (total, plaintext int, err error) {
	err = db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN mode = 'plaintext' THEN 1 ELSE 0 END), 0) FROM mail_relays WHERE enabled = ?`, true).
		Scan(&total, &plaintext)
	return total, plaintext, mapErr(err)
}

// CountVoicemailMail returns how many of a tenant's deliveries are in a state (tenantID 0:
// every tenant's).
func (db *DB) CountVoicemailMail(ctx context.Context, tenantID int64, state string) (int64, error) {
	q, args := `SELECT COUNT(*) FROM voicemail_mail WHERE state = ?`, []any{state} // index voicemail_mail_due
	if tenantID != 0 {
		q, args = `SELECT COUNT(*) FROM voicemail_mail WHERE tenant_id = ? AND state = ?`, []any{tenantID, state} // voicemail_mail_tenant
	}
	var n int64
	err := db.QueryRow(ctx, q, args...).Scan(&n)
	return n, mapErr(err)
}
