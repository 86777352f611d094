package privacy

import (
	"context"
	"fmt"

	"github.com/privox/privox/internal/datacat"
	"github.com/privox/privox/internal/filestore"
	"github.com/privox/privox/internal/store"
)

// FsckReport says what a consistency check found and, with repair, mended.
type FsckReport struct {
	Repair bool `json:"repair"`
	// Database is the engine's own check of the database files (never repaired here).
	Database store.IntegrityReport `json:"database"`
	Files    filestore.Report      `json:"files"`
	// DanglingRefs counts rows of tables with content files that point at a file row that is
	// missing or not complete.
	DanglingRefs int               `json:"dangling_refs"`
	Problems     []string          `json:"problems,omitempty"`
	Audit        AuditVerification `json:"audit"`
}

// Clean reports whether nothing was wrong.
func (r FsckReport) Clean() bool {
	return r.Database.OK() && r.Files.Clean() && r.DanglingRefs == 0 && r.Audit.OK
}

// Fsck first runs the database engine's own integrity check (SQLite's integrity_check, or
// amcheck on PostgreSQL where it is installed); a damaged database is reported and nothing else
// is checked or repaired, since rows read from it cannot be trusted (restore it from a backup).
// Then it checks that rows and files agree (filestore.Recover: unfinished writes and deletions,
// rows without a file, files without a row, temp files), that no row of a table with content
// files points at a missing file row, and that the audit chain verifies. With repair it
// finishes or undoes what a crash left behind and removes dangling rows; the audit log is only
// reported, never changed. Repair while Privox is running may undo a file being written at
// that moment: stop Privox first (it runs the same recovery when it starts).
func (e *Engine) Fsck(ctx context.Context, repair bool) (FsckReport, error) {
	rep := FsckReport{Repair: repair}
	var err error
	if rep.Database, err = e.db.CheckIntegrity(ctx); err != nil {
		return rep, fmt.Errorf("privacy: fsck database: %w", err)
	}
	if !rep.Database.OK() {
		rep.Problems = append(rep.Problems, "the database is damaged: rows, files and the audit chain were not checked, nothing was repaired")
		return rep, nil
	}
	if rep.Files, err = e.files.Recover(ctx, repair); err != nil {
		return rep, fmt.Errorf("privacy: fsck files: %w", err)
	}
	for _, t := range datacat.Tables() {
		if t.FileColumn == "" || t.FileColumn == "id" {
			continue
		}
		if err := checkTable(t); err != nil {
			return rep, err
		}
		cond := t.FileColumn + ` IS NOT NULL AND NOT EXISTS (SELECT 1 FROM content_files f WHERE f.id = ` + t.Name + `.` + t.FileColumn +
			` AND f.state = '` + store.FileReady + `')`
		var n int
		if err := e.db.QueryRow(ctx, `SELECT COUNT(*) FROM `+t.Name+` WHERE `+cond).Scan(&n); err != nil {
			return rep, err
		}
		if n == 0 {
			continue
		}
		rep.DanglingRefs += n
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d row(s) of %s point at a missing file", n, t.Name))
		if repair {
			if _, err := e.db.Exec(ctx, `DELETE FROM `+t.Name+` WHERE `+cond); err != nil {
				return rep, err
			}
		}
	}
	if rep.Audit, err = e.VerifyAudit(ctx); err != nil {
		return rep, err
	}
	return rep, nil
}
