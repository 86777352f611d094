package sip_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/privox/privox/internal/credential"
	"github.com/privox/privox/internal/filestore"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
)

// TestDataAtRest: with a permissive umask, every file Privox makes in the data directory and
// the key vault is 0600 and every directory 0700 (the database's WAL and shared-memory files
// too); a copy of the data directory holds neither HA1 value of a SIP account, in any file;
// rows a release before sealing wrote in clear are sealed at the next start, once; and the
// account registers before and after.
func TestDataAtRest(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	const pw = "at-rest-secret-1001"
	ha1s := []string{credential.HA1MD5("1001", "default", pw), credential.HA1SHA256("1001", "default", pw)}

	p := privoxtest.Start(t, privoxtest.Options{DataDir: dir})
	e := &env{t: t, p: p}
	e.ext("1001", pw)
	e.register("1001", pw, e.newPeer("udp"))
	tn, _ := p.App.DB.TenantByName(ctx, "default")
	uid := int64(1)
	if _, err := p.App.Files.Put(ctx, tn.ID, &uid, filestore.KindFax, []byte("content"), 0, nil); err != nil {
		t.Fatal(err)
	}
	ext, sec, err := p.App.DB.ExtensionByUsername(ctx, tn.ID, "1001")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := p.App.Vault.OpenSecret(tn.ID, store.SIPSecretBinding(ext.ID, "ha1_md5"), sec.HA1MD5); err != nil || got != ha1s[0] {
		t.Fatalf("stored HA1 does not open to the account's: %v", err)
	}
	for _, f := range []string{"privox.db", "privox.db-wal", "privox.db-shm"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("%s while running: %v", f, err)
		}
	}
	checkModes(t, dir)
	checkModes(t, keys.DefaultDir(dir))
	p.Stop()
	noSecretIn(t, copyDir(t, dir), ha1s)

	// A database from before sealing: clear HA1 values, sealed at the next start.
	db := p.OpenStore()
	if _, err := db.Exec(ctx, `UPDATE sip_secrets SET ha1_md5 = ?, ha1_sha256 = ? WHERE extension_id = ?`, ha1s[0], ha1s[1], ext.ID); err != nil {
		t.Fatal(err)
	}
	db.Close()
	p2 := privoxtest.Start(t, privoxtest.Options{DataDir: dir})
	e2 := &env{t: t, p: p2}
	_, sec2, err := p2.App.DB.ExtensionByUsername(ctx, tn.ID, "1001")
	if err != nil || !keys.IsSealed(sec2.HA1MD5) || !keys.IsSealed(sec2.HA1SHA256) {
		t.Fatalf("clear secrets not sealed at start: %v", err)
	}
	e2.register("1001", pw, e2.newPeer("udp"))
	p2.Stop()
	noSecretIn(t, copyDir(t, dir), ha1s)

	p3 := privoxtest.Start(t, privoxtest.Options{DataDir: dir})
	_, sec3, err := p3.App.DB.ExtensionByUsername(ctx, tn.ID, "1001")
	if err != nil || sec3 != sec2 {
		t.Fatalf("sealed secrets changed by another start: %v", err)
	}
}

// checkModes fails for any file under root not 0600 or directory not 0700.
func checkModes(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		fi, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %o, want %o", path, fi.Mode().Perm(), want)
		}
		return nil
	})
}

// copyDir copies a directory tree, as a backup or a snapshot would.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// noSecretIn fails when any file under root holds one of the secrets (as hex text, upper or
// lower case, or as raw bytes).
func noSecretIn(t *testing.T, root string, secrets []string) {
	t.Helper()
	n := 0
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		n++
		for _, s := range secrets {
			raw := make([]byte, len(s)/2)
			for i := range raw {
				raw[i] = unhex(s[2*i])<<4 | unhex(s[2*i+1])
			}
			if bytes.Contains(b, []byte(s)) || bytes.Contains(b, []byte(strings.ToUpper(s))) || bytes.Contains(b, raw) {
				t.Errorf("%s holds an HA1 value", path)
			}
		}
		return nil
	})
	if n == 0 {
		t.Fatal("no files in the copy")
	}
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - '0'
	}
}
