// Package filestore owns content files (voicemail, fax, recordings, greetings, messages): each
// is encrypted with its owner's data key (keys.Vault), written atomically (temp file, fsync,
// rename) under the data directory, and owned by one content_files row. Writes and deletions
// move the row through pending → ready → deleting so that Recover can finish or undo any step a
// crash interrupted: no orphan file and no row pointing at a missing file.
package filestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/store"
)

// Store keeps encrypted content files.
type Store struct {
	root  string
	db    *store.DB
	vault *keys.Vault
}

// New returns a store rooted at dir (normally <data>/files).
func New(dir string, db *store.DB, vault *keys.Vault) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("filestore: create %s: %w", dir, err)
	}
	return &Store{root: dir, db: db, vault: vault}, nil
}

// Root returns the directory files live under.
func (s *Store) Root() string { return s.root }

// Path returns where a file row's content lives.
func (s *Store) Path(f store.ContentFile) string {
	return filepath.Join(s.root, "t"+strconv.FormatInt(f.TenantID, 10), strconv.FormatInt(f.ID, 10)+".enc")
}

func (s *Store) key(f store.ContentFile, create bool) ([]byte, error) {
	if f.UserID == nil {
		return s.vault.TenantKey(f.TenantID)
	}
	return s.vault.UserKey(f.TenantID, *f.UserID, create)
}

func aad(f store.ContentFile) []byte {
	return []byte(fmt.Sprintf("privox-file:%d:%d:%s", f.TenantID, f.ID, f.Kind))
}

// Put stores content for a tenant (and user, when userID is not nil). link runs in the same
// transaction that marks the file ready, so the caller's row referencing the file appears
// exactly when the file is complete.
func (s *Store) Put(ctx context.Context, tenantID int64, userID *int64, kind string, data []byte, createdAt int64, link func(tx *store.DB, f store.ContentFile) error) (store.ContentFile, error) {
	if !knownKind(kind) {
		return store.ContentFile{}, fmt.Errorf("filestore: kind %q is not declared in the data-category registry", kind)
	}
	f, err := s.db.CreateContentFile(ctx, store.ContentFile{TenantID: tenantID, UserID: userID, Kind: kind, Size: int64(len(data)), CreatedAt: createdAt})
	if err != nil {
		return f, fmt.Errorf("filestore: create row: %w", err)
	}
	fail := func(err error) (store.ContentFile, error) {
		os.Remove(s.Path(f))
		s.db.DeleteContentFileRow(context.WithoutCancel(ctx), f.ID)
		return f, err
	}
	k, err := s.key(f, true)
	if err != nil {
		return fail(fmt.Errorf("filestore: key: %w", err))
	}
	sealed, err := keys.Seal(k, data, aad(f))
	if err != nil {
		return fail(err)
	}
	if err := writeAtomic(s.Path(f), sealed); err != nil {
		return fail(fmt.Errorf("filestore: write: %w", err))
	}
	err = s.db.InTx(ctx, func(tx *store.DB) error {
		if err := tx.SetContentFileState(ctx, f.ID, store.FileReady, int64(len(data))); err != nil {
			return err
		}
		if link != nil {
			return link(tx, f)
		}
		return nil
	})
	if err != nil {
		return fail(fmt.Errorf("filestore: commit: %w", err))
	}
	f.State = store.FileReady
	return f, nil
}

// Get returns a file's decrypted content.
func (s *Store) Get(ctx context.Context, tenantID, id int64) ([]byte, store.ContentFile, error) {
	f, err := s.db.ContentFile(ctx, tenantID, id)
	if err != nil {
		return nil, f, err
	}
	if f.State != store.FileReady {
		return nil, f, store.ErrNotFound
	}
	return s.Decrypt(f, s.Path(f))
}

// Decrypt reads and decrypts the file at path as the content of row f. It is also used to show
// that a copy of the data directory cannot be read once its owner was crypto-erased.
func (s *Store) Decrypt(f store.ContentFile, path string) ([]byte, store.ContentFile, error) {
	sealed, err := os.ReadFile(path)
	if err != nil {
		return nil, f, fmt.Errorf("filestore: read %d: %w", f.ID, err)
	}
	k, err := s.key(f, false)
	if err != nil {
		return nil, f, fmt.Errorf("filestore: key for %d: %w", f.ID, err)
	}
	data, err := keys.Unseal(k, sealed, aad(f))
	if err != nil {
		return nil, f, fmt.Errorf("filestore: decrypt %d: %w", f.ID, err)
	}
	return data, f, nil
}

// Delete removes a file and its row (and, through foreign keys, the rows that reference it).
func (s *Store) Delete(ctx context.Context, tenantID, id int64) error {
	f, err := s.db.ContentFile(ctx, tenantID, id)
	if err != nil {
		return err
	}
	return s.DeleteRow(ctx, f)
}

// DeleteRow removes the file of a row known to exist, then the row.
func (s *Store) DeleteRow(ctx context.Context, f store.ContentFile) error {
	if err := s.db.SetContentFileState(ctx, f.ID, store.FileDeleting, 0); err != nil {
		return fmt.Errorf("filestore: mark deleting: %w", err)
	}
	if err := os.Remove(s.Path(f)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("filestore: remove: %w", err)
	}
	if err := syncDir(filepath.Dir(s.Path(f))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return s.db.DeleteContentFileRow(ctx, f.ID)
}

// Report says what Recover found and mended.
type Report struct {
	PendingRemoved  int      `json:"pending_removed"`
	DeletesFinished int      `json:"deletes_finished"`
	MissingFiles    int      `json:"missing_files"`
	OrphanFiles     int      `json:"orphan_files"`
	TempFiles       int      `json:"temp_files"`
	Problems        []string `json:"problems,omitempty"`
}

// Clean reports whether nothing needed mending.
func (r Report) Clean() bool {
	return r.PendingRemoved+r.DeletesFinished+r.MissingFiles+r.OrphanFiles+r.TempFiles == 0
}

// Recover makes rows and files consistent: pending writes are undone, interrupted deletions
// finished, rows whose file is missing removed, files without a row and temp files removed.
// With repair false it only reports.
func (s *Store) Recover(ctx context.Context, repair bool) (Report, error) {
	var r Report
	known := map[string]bool{}
	after := int64(0)
	for {
		rows, err := s.db.AllContentFiles(ctx, store.Page{After: after, Limit: 1000})
		if err != nil {
			return r, err
		}
		if len(rows) == 0 {
			break
		}
		for _, f := range rows {
			after = f.ID
			p := s.Path(f)
			_, statErr := os.Stat(p)
			exists := statErr == nil
			if !repair {
				known[p] = true // accounted for by its row's state
			}
			switch f.State {
			case store.FilePending:
				r.PendingRemoved++
				if repair {
					os.Remove(p)
					if err := s.db.DeleteContentFileRow(ctx, f.ID); err != nil {
						return r, err
					}
				}
			case store.FileDeleting:
				r.DeletesFinished++
				if repair {
					if err := s.DeleteRow(ctx, f); err != nil {
						return r, err
					}
				}
			default:
				if !exists {
					r.MissingFiles++
					r.Problems = append(r.Problems, fmt.Sprintf("file %d (%s) missing", f.ID, f.Kind))
					if repair {
						if err := s.db.DeleteContentFileRow(ctx, f.ID); err != nil {
							return r, err
						}
					}
					continue
				}
				known[p] = true
			}
		}
	}
	err := filepath.WalkDir(s.root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasPrefix(d.Name(), ".tmp-") {
			r.TempFiles++
			if repair {
				os.Remove(p)
			}
			return nil
		}
		if !known[p] {
			r.OrphanFiles++
			r.Problems = append(r.Problems, "orphan file "+p)
			if repair {
				os.Remove(p)
			}
		}
		return nil
	})
	return r, err
}

func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
