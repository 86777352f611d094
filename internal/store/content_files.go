package store

import (
	"context"
	"database/sql"

	"github.com/privox/privox/internal/datacat"
)

func init() {
	datacat.RegisterTable(datacat.Table{Name: "content_files", Category: datacat.UserContent, Owner: datacat.OwnerUser,
		TenantColumn: "tenant_id", UserColumn: "user_id", TimeColumn: "created_at", FileColumn: "id", KindColumn: "kind",
		Purpose: "Index of encrypted content files (voicemail, fax, recordings, greetings, messages)"})
}

// Content file states. A file is written while its row is pending, then the row is committed;
// deletion marks the row deleting, removes the file, then removes the row. Recovery after a
// crash finishes or undoes whatever a state says was in progress.
const (
	FilePending  = "pending"
	FileReady    = "ready"
	FileDeleting = "deleting"
)

// ContentFile is the row that owns one stored file.
type ContentFile struct {
	ID        int64  `json:"id"`
	TenantID  int64  `json:"tenant_id"`
	UserID    *int64 `json:"user_id,omitempty"`
	Kind      string `json:"kind"`
	State     string `json:"state"`
	Size      int64  `json:"size"`
	CreatedAt int64  `json:"created_at"`
}

const fileCols = `id, tenant_id, user_id, kind, state, size, created_at`

func scanFile(s interface{ Scan(...any) error }) (ContentFile, error) {
	var f ContentFile
	var uid sql.NullInt64
	err := s.Scan(&f.ID, &f.TenantID, &uid, &f.Kind, &f.State, &f.Size, &f.CreatedAt)
	if uid.Valid {
		f.UserID = &uid.Int64
	}
	return f, mapErr(err)
}

// CreateContentFile adds a pending row for a file about to be written.
func (db *DB) CreateContentFile(ctx context.Context, f ContentFile) (ContentFile, error) {
	f.State = FilePending
	if f.CreatedAt == 0 {
		f.CreatedAt = Now()
	}
	var uid any
	if f.UserID != nil {
		uid = *f.UserID
	}
	id, err := db.insertID(ctx, `INSERT INTO content_files (tenant_id, user_id, kind, state, size, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		f.TenantID, uid, f.Kind, f.State, f.Size, f.CreatedAt)
	f.ID = id
	return f, err
}

// SetContentFileState moves a file row to a state (and records its size when ready).
func (db *DB) SetContentFileState(ctx context.Context, id int64, state string, size int64) error {
	res, err := db.Exec(ctx, `UPDATE content_files SET state = ?, size = CASE WHEN ? > 0 THEN ? ELSE size END WHERE id = ?`, state, size, size, id)
	return affected(res, err)
}

// ContentFile returns one file row of a tenant.
func (db *DB) ContentFile(ctx context.Context, tenantID, id int64) (ContentFile, error) {
	return scanFile(db.QueryRow(ctx, `SELECT `+fileCols+` FROM content_files WHERE tenant_id = ? AND id = ?`, tenantID, id))
}

// DeleteContentFileRow removes a file row (after its file is gone).
func (db *DB) DeleteContentFileRow(ctx context.Context, id int64) error {
	_, err := db.Exec(ctx, `DELETE FROM content_files WHERE id = ?`, id)
	return err
}

// ContentFilesInState lists file rows in a state, for recovery and fsck.
func (db *DB) ContentFilesInState(ctx context.Context, state string, p Page) ([]ContentFile, error) {
	return db.queryFiles(ctx, `SELECT `+fileCols+` FROM content_files WHERE state = ? AND id > ? ORDER BY id LIMIT ?`, state, p.After, p.limit())
}

// ContentFilesOfUser lists a user's file rows.
func (db *DB) ContentFilesOfUser(ctx context.Context, tenantID, userID int64, p Page) ([]ContentFile, error) {
	return db.queryFiles(ctx, `SELECT `+fileCols+` FROM content_files WHERE tenant_id = ? AND user_id = ? AND id > ? ORDER BY id LIMIT ?`, tenantID, userID, p.After, p.limit())
}

// AllContentFiles lists every file row (fsck).
func (db *DB) AllContentFiles(ctx context.Context, p Page) ([]ContentFile, error) {
	return db.queryFiles(ctx, `SELECT `+fileCols+` FROM content_files WHERE id > ? ORDER BY id LIMIT ?`, p.After, p.limit())
}

func (db *DB) queryFiles(ctx context.Context, q string, args ...any) ([]ContentFile, error) {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ContentFile
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}
