package store

import (
	"context"
	"database/sql"

	"github.com/privox/privox/internal/datacat"
)

func init() {
	addMigration("0600_voicemail", `
CREATE TABLE voicemail_boxes (
	id {{id}},
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	extension_id BIGINT NOT NULL UNIQUE REFERENCES extensions(id) ON DELETE CASCADE,
	user_id BIGINT,
	language TEXT NOT NULL DEFAULT '',
	max_message_secs INTEGER NOT NULL DEFAULT 180,
	max_messages INTEGER NOT NULL DEFAULT 100,
	retention_days INTEGER NOT NULL DEFAULT 90,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX voicemail_boxes_tenant ON voicemail_boxes(tenant_id, id);
CREATE INDEX voicemail_boxes_user ON voicemail_boxes(user_id);
CREATE TABLE voicemail_pins (
	box_id BIGINT PRIMARY KEY REFERENCES voicemail_boxes(id) ON DELETE CASCADE,
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	user_id BIGINT,
	pin_hash TEXT NOT NULL DEFAULT '',
	failures INTEGER NOT NULL DEFAULT 0,
	locked_until BIGINT NOT NULL DEFAULT 0,
	updated_at BIGINT NOT NULL
);
CREATE INDEX voicemail_pins_user ON voicemail_pins(user_id);
CREATE TABLE voicemail_greetings (
	box_id BIGINT NOT NULL REFERENCES voicemail_boxes(id) ON DELETE CASCADE,
	slot TEXT NOT NULL,
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	user_id BIGINT,
	file_id BIGINT NOT NULL REFERENCES content_files(id) ON DELETE CASCADE,
	duration_ms BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (box_id, slot)
);
CREATE INDEX voicemail_greetings_file ON voicemail_greetings(file_id);
CREATE INDEX voicemail_greetings_user ON voicemail_greetings(user_id);
CREATE TABLE voicemail_messages (
	id {{id}},
	tenant_id BIGINT NOT NULL REFERENCES tenants(id),
	box_id BIGINT NOT NULL REFERENCES voicemail_boxes(id) ON DELETE CASCADE,
	user_id BIGINT,
	file_id BIGINT NOT NULL REFERENCES content_files(id) ON DELETE CASCADE,
	caller_number TEXT NOT NULL DEFAULT '',
	caller_name TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	duration_ms BIGINT NOT NULL,
	urgent {{bool}} NOT NULL DEFAULT {{false}},
	read_at BIGINT NOT NULL DEFAULT 0,
	expires_at BIGINT NOT NULL
);
CREATE INDEX voicemail_messages_box ON voicemail_messages(tenant_id, box_id, id);
CREATE INDEX voicemail_messages_file ON voicemail_messages(file_id);
CREATE INDEX voicemail_messages_user ON voicemail_messages(user_id);
CREATE INDEX voicemail_messages_expires ON voicemail_messages(expires_at);
CREATE INDEX voicemail_messages_created ON voicemail_messages(created_at);
INSERT INTO voicemail_boxes (tenant_id, extension_id, user_id, created_at, updated_at)
	SELECT tenant_id, id, user_id, created_at, created_at FROM extensions;
`)
	// A box takes unanswered calls once enabled (its extension's calls keep failing with
	// 480/486 until then); dialling *<number> reaches it either way.
	addMigration("0601_voicemail_enabled", `ALTER TABLE voicemail_boxes ADD COLUMN enabled {{bool}} NOT NULL DEFAULT {{false}};`)
	addMigration("0612_voicemail_mwi_unsolicited", `ALTER TABLE voicemail_boxes ADD COLUMN mwi_unsolicited {{bool}} NOT NULL DEFAULT {{false}};`)
	datacat.RegisterTable(datacat.Table{Name: "voicemail_boxes", Category: datacat.Profile, Owner: datacat.OwnerUser,
		TenantColumn: "tenant_id", UserColumn: "user_id",
		Purpose: "Voicemail box of each extension: language, message length and count limits, retention in days"})
	datacat.RegisterTable(datacat.Table{Name: "voicemail_pins", Category: datacat.Credentials, Owner: datacat.OwnerUser,
		TenantColumn: "tenant_id", UserColumn: "user_id", SecretColumns: []string{"pin_hash"},
		Purpose: "Voicemail PIN (argon2id hash) and the failed attempts that lock a box"})
	// The row says which slot a box recorded (profile, while the user is active); the
	// recording is a content file of kind "greeting" (user_content, while the user is active),
	// and deleting the file removes the row.
	datacat.RegisterTable(datacat.Table{Name: "voicemail_greetings", Category: datacat.Profile, Owner: datacat.OwnerUser,
		TenantColumn: "tenant_id", UserColumn: "user_id", FileColumn: "file_id",
		Purpose: "Which greetings (unavailable, busy, name) a voicemail box has recorded"})
	// A message expires by its box's retention (expires_at, recomputed when the box's
	// retention changes); the tenant's rule for user content (default 90 days) is the ceiling.
	datacat.RegisterTable(datacat.Table{Name: "voicemail_messages", Category: datacat.UserContent, Owner: datacat.OwnerUser,
		TenantColumn: "tenant_id", UserColumn: "user_id", TimeColumn: "created_at", FileColumn: "file_id", ExpiresColumn: "expires_at",
		SubCategory: "voicemail", NumberColumns: []string{"caller_number"},
		Purpose: "Index of voice messages: caller number and name, time, duration, urgency, read state"})
}

// VoicemailBox is the mailbox of one extension.
type VoicemailBox struct {
	ID             int64  `json:"id"`
	TenantID       int64  `json:"tenant_id"`
	ExtensionID    int64  `json:"extension_id"`
	Number         string `json:"number"`
	UserID         *int64 `json:"user_id,omitempty"`
	Enabled        bool   `json:"enabled"`
	Language       string `json:"language"`
	MaxMessageSecs int    `json:"max_message_secs"`
	MaxMessages    int    `json:"max_messages"`
	RetentionDays  int    `json:"retention_days"`
	// EmailCopy mails each new message to the box owner's address; EmailAttach sends the
	// recording as a WAV attachment (else a notice without audio); EmailDelete removes the
	// message from the box once the relay accepted the e-mail.
	EmailCopy   bool `json:"email_copy"`
	EmailAttach bool `json:"email_attach"`
	EmailDelete bool `json:"email_delete"`
	// MWIUnsolicited sends the box's counts to the extension's registered phones without a
	// subscription (for phones configured to expect unsolicited message-waiting NOTIFYs).
	MWIUnsolicited bool `json:"mwi_unsolicited"`
	// Operator is the number a caller reaches by pressing 0 while leaving a message; ""
	// uses the tenant's (VoicemailSettings).
	Operator  string `json:"operator"`
	CreatedAt int64  `json:"created_at"`
	UpdatedAt int64  `json:"updated_at"`
}

const boxCols = `b.id, b.tenant_id, b.extension_id, e.number, b.user_id, b.enabled, b.language, b.max_message_secs, b.max_messages, b.retention_days, b.email_copy, b.email_attach, b.email_delete, b.mwi_unsolicited, b.operator, b.created_at, b.updated_at`
const boxFrom = ` FROM voicemail_boxes b JOIN extensions e ON e.id = b.extension_id`

func scanBox(s interface{ Scan(...any) error }, extra ...any) (VoicemailBox, error) {
	var b VoicemailBox
	var uid sql.NullInt64
	err := s.Scan(append([]any{&b.ID, &b.TenantID, &b.ExtensionID, &b.Number, &uid, &b.Enabled, &b.Language, &b.MaxMessageSecs, &b.MaxMessages, &b.RetentionDays, &b.EmailCopy, &b.EmailAttach, &b.EmailDelete, &b.MWIUnsolicited, &b.Operator, &b.CreatedAt, &b.UpdatedAt}, extra...)...)
	if uid.Valid {
		b.UserID = &uid.Int64
	}
	return b, mapErr(err)
}

// createVoicemailBox adds the box of a new extension (inside CreateExtension's transaction).
func (db *DB) createVoicemailBox(ctx context.Context, e Extension) error {
	var uid any
	if e.UserID != nil {
		uid = *e.UserID
	}
	_, err := db.Exec(ctx, `INSERT INTO voicemail_boxes (tenant_id, extension_id, user_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (extension_id) DO NOTHING`, e.TenantID, e.ID, uid, e.CreatedAt, e.CreatedAt)
	return err
}

// EnsureVoicemailBox returns the box of an extension, creating it when it has none (an
// erasure removed it with its user) and following the extension's user when it changed.
func (db *DB) EnsureVoicemailBox(ctx context.Context, tenantID, extensionID int64) (VoicemailBox, error) {
	// Most calls find the box as it should be: a read, no write transaction.
	var euid sql.NullInt64
	b, err := scanBox(db.QueryRow(ctx, `SELECT `+boxCols+`, e.user_id`+boxFrom+` WHERE b.tenant_id = ? AND b.extension_id = ?`, tenantID, extensionID), &euid)
	if err == nil && sameUser(b.UserID, nullInt(euid)) {
		return b, nil
	}
	var out VoicemailBox
	err = db.InTx(ctx, func(tx *DB) error {
		e, err := tx.Extension(ctx, tenantID, extensionID)
		if err != nil {
			return err
		}
		if err := tx.createVoicemailBox(ctx, Extension{ID: e.ID, TenantID: e.TenantID, UserID: e.UserID, CreatedAt: Now()}); err != nil {
			return err
		}
		b, err := scanBox(tx.QueryRow(ctx, `SELECT `+boxCols+boxFrom+` WHERE b.tenant_id = ? AND b.extension_id = ?`, tenantID, extensionID))
		if err != nil {
			return err
		}
		if !sameUser(b.UserID, e.UserID) {
			var uid any
			if e.UserID != nil {
				uid = *e.UserID
			}
			if _, err := tx.Exec(ctx, `UPDATE voicemail_boxes SET user_id = ?, updated_at = ? WHERE id = ?`, uid, Now(), b.ID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE voicemail_pins SET user_id = ? WHERE box_id = ?`, uid, b.ID); err != nil {
				return err
			}
			b.UserID = e.UserID
		}
		out = b
		return nil
	})
	return out, err
}

func nullInt(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	return &n.Int64
}

func sameUser(a, b *int64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// VoicemailBoxByNumber returns (creating if need be) the box of an extension number.
func (db *DB) VoicemailBoxByNumber(ctx context.Context, tenantID int64, number string) (VoicemailBox, error) {
	e, err := db.ExtensionByNumber(ctx, tenantID, number)
	if err != nil {
		return VoicemailBox{}, err
	}
	return db.EnsureVoicemailBox(ctx, tenantID, e.ID)
}

// VoicemailBox returns one box of a tenant.
func (db *DB) VoicemailBox(ctx context.Context, tenantID, id int64) (VoicemailBox, error) {
	return scanBox(db.QueryRow(ctx, `SELECT `+boxCols+boxFrom+` WHERE b.tenant_id = ? AND b.id = ?`, tenantID, id))
}

// VoicemailBoxesOfUser lists the boxes of a user's extensions.
func (db *DB) VoicemailBoxesOfUser(ctx context.Context, tenantID, userID int64) ([]VoicemailBox, error) {
	return db.queryBoxes(ctx, `SELECT `+boxCols+boxFrom+` WHERE b.tenant_id = ? AND e.user_id = ? ORDER BY b.id`, tenantID, userID)
}

// VoicemailBoxes lists a tenant's boxes by id.
func (db *DB) VoicemailBoxes(ctx context.Context, tenantID int64, p Page) ([]VoicemailBox, error) {
	return db.queryBoxes(ctx, `SELECT `+boxCols+boxFrom+` WHERE b.tenant_id = ? AND b.id > ? ORDER BY b.id LIMIT ?`, tenantID, p.After, p.limit())
}

func (db *DB) queryBoxes(ctx context.Context, q string, args ...any) ([]VoicemailBox, error) {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []VoicemailBox
	for rows.Next() {
		b, err := scanBox(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

const dayMS = 24 * 3600 * 1000

// UpdateVoicemailBox stores a box's settings; a changed retention moves the expiry of the
// box's messages in the same transaction.
func (db *DB) UpdateVoicemailBox(ctx context.Context, b VoicemailBox) error {
	return db.InTx(ctx, func(tx *DB) error {
		res, err := tx.Exec(ctx, `UPDATE voicemail_boxes SET enabled = ?, language = ?, max_message_secs = ?, max_messages = ?, retention_days = ?,
			email_copy = ?, email_attach = ?, email_delete = ?, mwi_unsolicited = ?, operator = ?, updated_at = ?
			WHERE tenant_id = ? AND id = ?`, b.Enabled, b.Language, b.MaxMessageSecs, b.MaxMessages, b.RetentionDays,
			b.EmailCopy, b.EmailAttach, b.EmailDelete, b.MWIUnsolicited, b.Operator, Now(), b.TenantID, b.ID)
		if err := affected(res, err); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE voicemail_messages SET expires_at = created_at + ? WHERE tenant_id = ? AND box_id = ?`,
			int64(b.RetentionDays)*dayMS, b.TenantID, b.ID)
		return err
	})
}

// VoicemailPIN is a box's PIN state.
type VoicemailPIN struct {
	BoxID       int64
	Hash        string // "" when no PIN is set
	Failures    int
	LockedUntil int64
}

// VoicemailPIN returns a box's PIN state (empty when none was ever set).
func (db *DB) VoicemailPIN(ctx context.Context, tenantID, boxID int64) (VoicemailPIN, error) {
	p := VoicemailPIN{BoxID: boxID}
	err := mapErr(db.QueryRow(ctx, `SELECT pin_hash, failures, locked_until FROM voicemail_pins WHERE tenant_id = ? AND box_id = ?`, tenantID, boxID).
		Scan(&p.Hash, &p.Failures, &p.LockedUntil))
	if err == ErrNotFound {
		return p, nil
	}
	return p, err
}

// SetVoicemailPIN stores a PIN hash ("" clears the PIN) and unlocks the box.
func (db *DB) SetVoicemailPIN(ctx context.Context, b VoicemailBox, hash string) error {
	var uid any
	if b.UserID != nil {
		uid = *b.UserID
	}
	_, err := db.Exec(ctx, `INSERT INTO voicemail_pins (box_id, tenant_id, user_id, pin_hash, failures, locked_until, updated_at) VALUES (?, ?, ?, ?, 0, 0, ?)
		ON CONFLICT (box_id) DO UPDATE SET pin_hash = excluded.pin_hash, failures = 0, locked_until = 0, updated_at = excluded.updated_at, user_id = excluded.user_id`,
		b.ID, b.TenantID, uid, hash, Now())
	return err
}

// VoicemailPINFailed counts a wrong PIN and returns the failures so far; lockUntil, when the
// count reaches limit, locks the box until then.
func (db *DB) VoicemailPINFailed(ctx context.Context, b VoicemailBox, limit int, lockUntil int64) (int, error) {
	var n int
	err := db.InTx(ctx, func(tx *DB) error {
		if _, err := tx.Exec(ctx, `UPDATE voicemail_pins SET failures = failures + 1, updated_at = ? WHERE tenant_id = ? AND box_id = ?`, Now(), b.TenantID, b.ID); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT failures FROM voicemail_pins WHERE tenant_id = ? AND box_id = ?`, b.TenantID, b.ID).Scan(&n); err != nil {
			return mapErr(err)
		}
		if n >= limit {
			_, err := tx.Exec(ctx, `UPDATE voicemail_pins SET locked_until = ?, failures = 0 WHERE tenant_id = ? AND box_id = ?`, lockUntil, b.TenantID, b.ID)
			return err
		}
		return nil
	})
	return n, err
}

// VoicemailPINPassed clears the failure count after a right PIN.
func (db *DB) VoicemailPINPassed(ctx context.Context, b VoicemailBox) error {
	_, err := db.Exec(ctx, `UPDATE voicemail_pins SET failures = 0, locked_until = 0 WHERE tenant_id = ? AND box_id = ?`, b.TenantID, b.ID)
	return err
}

// VoicemailGreeting is one recorded greeting of a box.
type VoicemailGreeting struct {
	BoxID      int64  `json:"box_id"`
	Slot       string `json:"slot"`
	TenantID   int64  `json:"tenant_id"`
	UserID     *int64 `json:"user_id,omitempty"`
	FileID     int64  `json:"file_id"`
	DurationMS int64  `json:"duration_ms"`
	UpdatedAt  int64  `json:"updated_at"`
}

const greetingCols = `box_id, slot, tenant_id, user_id, file_id, duration_ms, updated_at`

func scanGreeting(s interface{ Scan(...any) error }) (VoicemailGreeting, error) {
	var g VoicemailGreeting
	var uid sql.NullInt64
	err := s.Scan(&g.BoxID, &g.Slot, &g.TenantID, &uid, &g.FileID, &g.DurationMS, &g.UpdatedAt)
	if uid.Valid {
		g.UserID = &uid.Int64
	}
	return g, mapErr(err)
}

// VoicemailGreeting returns a box's greeting in a slot (ErrNotFound when none is recorded).
func (db *DB) VoicemailGreeting(ctx context.Context, tenantID, boxID int64, slot string) (VoicemailGreeting, error) {
	return scanGreeting(db.QueryRow(ctx, `SELECT `+greetingCols+` FROM voicemail_greetings WHERE tenant_id = ? AND box_id = ? AND slot = ?`, tenantID, boxID, slot))
}

// VoicemailGreetings lists a box's greetings.
func (db *DB) VoicemailGreetings(ctx context.Context, tenantID, boxID int64) ([]VoicemailGreeting, error) {
	rows, err := db.Query(ctx, `SELECT `+greetingCols+` FROM voicemail_greetings WHERE tenant_id = ? AND box_id = ? ORDER BY slot`, tenantID, boxID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []VoicemailGreeting
	for rows.Next() {
		g, err := scanGreeting(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// PutVoicemailGreeting records g, replacing the slot's earlier greeting, and returns the
// earlier greeting's file id (0: none) for the caller to delete.
func (db *DB) PutVoicemailGreeting(ctx context.Context, g VoicemailGreeting) (int64, error) {
	var old int64
	err := db.QueryRow(ctx, `SELECT file_id FROM voicemail_greetings WHERE tenant_id = ? AND box_id = ? AND slot = ?`, g.TenantID, g.BoxID, g.Slot).Scan(&old)
	if err := mapErr(err); err != nil && err != ErrNotFound {
		return 0, err
	}
	var uid any
	if g.UserID != nil {
		uid = *g.UserID
	}
	_, err = db.Exec(ctx, `INSERT INTO voicemail_greetings (`+greetingCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (box_id, slot) DO UPDATE SET file_id = excluded.file_id, duration_ms = excluded.duration_ms, updated_at = excluded.updated_at, user_id = excluded.user_id`,
		g.BoxID, g.Slot, g.TenantID, uid, g.FileID, g.DurationMS, g.UpdatedAt)
	return old, err
}

// VoicemailMessage is the index row of one voice message.
type VoicemailMessage struct {
	ID           int64  `json:"id"`
	TenantID     int64  `json:"tenant_id"`
	BoxID        int64  `json:"box_id"`
	UserID       *int64 `json:"user_id,omitempty"`
	FileID       int64  `json:"file_id"`
	CallerNumber string `json:"caller_number"`
	CallerName   string `json:"caller_name"`
	CreatedAt    int64  `json:"created_at"`
	DurationMS   int64  `json:"duration_ms"`
	Urgent       bool   `json:"urgent"`
	ReadAt       int64  `json:"read_at"`
	ExpiresAt    int64  `json:"expires_at"`
}

const msgCols = `id, tenant_id, box_id, user_id, file_id, caller_number, caller_name, created_at, duration_ms, urgent, read_at, expires_at`

func scanMessage(s interface{ Scan(...any) error }) (VoicemailMessage, error) {
	var m VoicemailMessage
	var uid sql.NullInt64
	err := s.Scan(&m.ID, &m.TenantID, &m.BoxID, &uid, &m.FileID, &m.CallerNumber, &m.CallerName, &m.CreatedAt, &m.DurationMS, &m.Urgent, &m.ReadAt, &m.ExpiresAt)
	if uid.Valid {
		m.UserID = &uid.Int64
	}
	return m, mapErr(err)
}

// InsertVoicemailMessage adds a message's row; run it in filestore.Put's link so that the
// row appears exactly when its file is complete.
func (db *DB) InsertVoicemailMessage(ctx context.Context, m VoicemailMessage) (VoicemailMessage, error) {
	var uid any
	if m.UserID != nil {
		uid = *m.UserID
	}
	id, err := db.insertID(ctx, `INSERT INTO voicemail_messages (tenant_id, box_id, user_id, file_id, caller_number, caller_name, created_at, duration_ms, urgent, read_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, m.TenantID, m.BoxID, uid, m.FileID, m.CallerNumber, m.CallerName, m.CreatedAt, m.DurationMS, m.Urgent, m.ReadAt, m.ExpiresAt)
	m.ID = id
	return m, err
}

// VoicemailMessage returns one message of a tenant.
func (db *DB) VoicemailMessage(ctx context.Context, tenantID, id int64) (VoicemailMessage, error) {
	return scanMessage(db.QueryRow(ctx, `SELECT `+msgCols+` FROM voicemail_messages WHERE tenant_id = ? AND id = ?`, tenantID, id))
}

// VoicemailMessages lists a box's messages, oldest first.
func (db *DB) VoicemailMessages(ctx context.Context, tenantID, boxID int64, p Page) ([]VoicemailMessage, error) {
	rows, err := db.Query(ctx, `SELECT `+msgCols+` FROM voicemail_messages WHERE tenant_id = ? AND box_id = ? AND id > ? ORDER BY id LIMIT ?`, tenantID, boxID, p.After, p.limit())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []VoicemailMessage
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// CountVoicemailMessages returns how many messages a box holds and how many are unread.
func (db *DB) CountVoicemailMessages(ctx context.Context, tenantID, boxID int64) (total, unread int, err error) {
	err = db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN read_at = 0 THEN 1 ELSE 0 END), 0) FROM voicemail_messages WHERE tenant_id = ? AND box_id = ?`,
		tenantID, boxID).Scan(&total, &unread)
	return total, unread, mapErr(err)
}

// SetVoicemailRead marks a message read (at > 0) or unread (at 0).
func (db *DB) SetVoicemailRead(ctx context.Context, tenantID, id, at int64) error {
	res, err := db.Exec(ctx, `UPDATE voicemail_messages SET read_at = ? WHERE tenant_id = ? AND id = ?`, at, tenantID, id)
	return affected(res, err)
}

// dropVoicemailFiles marks the files of an extension's box deleting (inside the deletion of
// the extension, whose box and rows go by foreign key): filestore.Recover, at the next start
// or privox fsck --repair, removes them, so no message outlives its box unreferenced.
func (db *DB) dropVoicemailFiles(ctx context.Context, tenantID, extensionID int64) error {
	_, err := db.Exec(ctx, `UPDATE content_files SET state = ? WHERE tenant_id = ? AND state = ? AND id IN (
		SELECT m.file_id FROM voicemail_messages m JOIN voicemail_boxes b ON b.id = m.box_id WHERE b.extension_id = ?
		UNION SELECT g.file_id FROM voicemail_greetings g JOIN voicemail_boxes b ON b.id = g.box_id WHERE b.extension_id = ?)`,
		FileDeleting, tenantID, FileReady, extensionID, extensionID)
	return err
}
