package filestore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privox/privox/internal/filestore"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/store/storetest"
)

func setup(t *testing.T, db *store.DB) (*filestore.Store, int64, int64) {
	ctx := context.Background()
	dir := t.TempDir()
	v, err := keys.Open(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := filestore.New(filepath.Join(dir, "files"), db, v)
	if err != nil {
		t.Fatal(err)
	}
	tn, _ := db.CreateTenant(ctx, store.Tenant{Name: "t"})
	u, _ := db.CreateUser(ctx, store.User{TenantID: tn.ID, Name: "U", Email: "u@x.test"})
	return fs, tn.ID, u.ID
}

func TestPutGetDelete(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		fs, tid, uid := setup(t, db)
		content := []byte("RIFF....WAVEfmt voicemail audio")
		f, err := fs.Put(ctx, tid, &uid, "voicemail", content, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(fs.Path(f))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte("voicemail audio")) {
			t.Fatal("content stored in plaintext")
		}
		got, _, err := fs.Get(ctx, tid, f.ID)
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("get: %v %q", err, got)
		}
		if _, _, err := fs.Get(ctx, tid+1, f.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other tenant read the file: %v", err)
		}
		if err := fs.Delete(ctx, tid, f.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(fs.Path(f)); !os.IsNotExist(err) {
			t.Fatal("file survived delete")
		}
		if _, _, err := fs.Get(ctx, tid, f.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("row survived delete: %v", err)
		}
	})
}

func TestLinkFailureLeavesNothing(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		fs, tid, uid := setup(t, db)
		boom := errors.New("caller row failed")
		_, err := fs.Put(ctx, tid, &uid, "fax", []byte("pdf"), 0, func(tx *store.DB, f store.ContentFile) error { return boom })
		if !errors.Is(err, boom) {
			t.Fatalf("want caller error, got %v", err)
		}
		rep, err := fs.Recover(ctx, false)
		if err != nil || !rep.Clean() {
			t.Fatalf("leftovers after failed put: %+v %v", rep, err)
		}
	})
}

// TestRecoverMendsInterruptedSteps fakes each crash point and checks Recover repairs it.
func TestRecoverMendsInterruptedSteps(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		fs, tid, uid := setup(t, db)
		keep, err := fs.Put(ctx, tid, &uid, "voicemail", []byte("keep"), 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Crash after the pending row, with the file written but not committed.
		pend, _ := db.CreateContentFile(ctx, store.ContentFile{TenantID: tid, UserID: &uid, Kind: "voicemail"})
		os.MkdirAll(filepath.Dir(fs.Path(pend)), 0o700)
		os.WriteFile(fs.Path(pend), []byte("half"), 0o600)
		// Crash in the middle of a deletion.
		del, _ := fs.Put(ctx, tid, &uid, "voicemail", []byte("del"), 0, nil)
		db.SetContentFileState(ctx, del.ID, store.FileDeleting, 0)
		// A ready row whose file vanished.
		miss, _ := fs.Put(ctx, tid, &uid, "voicemail", []byte("miss"), 0, nil)
		os.Remove(fs.Path(miss))
		// A file no row knows and a temp file.
		os.WriteFile(filepath.Join(filepath.Dir(fs.Path(keep)), "999999.enc"), []byte("orphan"), 0o600)
		os.WriteFile(filepath.Join(filepath.Dir(fs.Path(keep)), ".tmp-123"), []byte("tmp"), 0o600)

		rep, err := fs.Recover(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if rep.PendingRemoved != 1 || rep.DeletesFinished != 1 || rep.MissingFiles != 1 || rep.OrphanFiles != 1 || rep.TempFiles != 1 {
			t.Fatalf("report %+v", rep)
		}
		if _, err := fs.Recover(ctx, true); err != nil {
			t.Fatal(err)
		}
		rep, err = fs.Recover(ctx, false)
		if err != nil || !rep.Clean() {
			t.Fatalf("not clean after repair: %+v %v", rep, err)
		}
		if got, _, err := fs.Get(ctx, tid, keep.ID); err != nil || string(got) != "keep" {
			t.Fatalf("good file damaged: %v", err)
		}
		entries, _ := os.ReadDir(filepath.Dir(fs.Path(keep)))
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if len(names) != 1 || !strings.HasSuffix(names[0], ".enc") {
			t.Fatalf("files left: %v", names)
		}
	})
}

// TestCryptoErasure: after the user's key is destroyed, a copy of the file taken before can no
// longer be decrypted; another user's file still can.
func TestCryptoErasure(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		fs, tid, uid := setup(t, db)
		other, _ := db.CreateUser(ctx, store.User{TenantID: tid, Name: "O", Email: "o@x.test"})
		f1, _ := fs.Put(ctx, tid, &uid, "voicemail", []byte("secret words"), 0, nil)
		f2, _ := fs.Put(ctx, tid, &other.ID, "voicemail", []byte("other words"), 0, nil)
		backup := t.TempDir()
		copyFile := func(f store.ContentFile) string {
			b, _ := os.ReadFile(fs.Path(f))
			p := filepath.Join(backup, filepath.Base(fs.Path(f)))
			os.WriteFile(p, b, 0o600)
			return p
		}
		c1, c2 := copyFile(f1), copyFile(f2)
		vault, err := keys.Open(filepath.Join(filepath.Dir(fs.Root()), "keys"))
		if err != nil {
			t.Fatal(err)
		}
		if err := vault.DestroyUserKey(tid, uid); err != nil {
			t.Fatal(err)
		}
		fs2, _ := filestore.New(fs.Root(), db, vault)
		if _, _, err := fs2.Decrypt(f1, c1); err == nil {
			t.Fatal("erased user's backup copy still decrypts")
		}
		if got, _, err := fs2.Decrypt(f2, c2); err != nil || string(got) != "other words" {
			t.Fatalf("other user's copy: %v", err)
		}
	})
}

func TestUndeclaredKindRefused(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		fs, tid, uid := setup(t, db)
		if _, err := fs.Put(context.Background(), tid, &uid, "secret-stash", []byte("x"), 0, nil); err == nil || !strings.Contains(err.Error(), "not declared") {
			t.Fatalf("undeclared kind accepted: %v", err)
		}
	})
}
