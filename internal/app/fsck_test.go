package app_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
)

// TestCorruptionSeenByFsckAndReadiness damages one table page in the middle of a copy of a
// database file: privox fsck reports the damage and exits 1, and a Privox serving the copy
// turns unready once a request reads the damaged page.
func TestCorruptionSeenByFsckAndReadiness(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	ctx := t.Context()
	tn, err := p.App.DB.TenantByName(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	err = p.App.DB.InTx(ctx, func(tx *store.DB) error {
		for i := 0; i < 1500; i++ {
			u, err := tx.CreateUser(ctx, store.User{TenantID: tn.ID, Name: fmt.Sprintf("Person %04d %s", i, strings.Repeat("x", 300)), Email: fmt.Sprintf("p%d@example.test", i)})
			if err != nil {
				return err
			}
			ids = append(ids, u.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if code := getStatus(t, p.URL+"/readyz"); code != 200 {
		t.Fatalf("readyz before: %d", code)
	}
	if _, _, code := p.CLI("fsck"); code != 0 {
		t.Fatal("fsck of an intact database failed")
	}
	p.Stop()

	dataCopy := filepath.Join(t.TempDir(), "data")
	copyTree(t, p.DataDir, dataCopy)
	copyTree(t, keys.DefaultDir(p.DataDir), keys.DefaultDir(dataCopy))
	corruptMiddleTablePage(t, filepath.Join(dataCopy, "privox.db"))

	so, _, code := run([]string{"PRIVOX_DATA_DIR=" + dataCopy}, "fsck")
	if code != 1 || !strings.Contains(so, "integrity_check found") || !strings.Contains(so, "damaged database") {
		t.Fatalf("fsck of a damaged database: exit %d\n%s", code, so)
	}

	c := privoxtest.Start(t, privoxtest.Options{DataDir: dataCopy})
	failed := false
	for _, id := range ids {
		if st, _ := c.Do("GET", fmt.Sprintf("/api/v1/tenants/%d/users/%d", tn.ID, id), c.AdminToken, nil); st == 500 {
			failed = true
			break
		}
	}
	if !failed {
		t.Fatal("no request read the damaged page")
	}
	st, body := c.Do("GET", "/readyz", "", nil)
	if st != 503 || !strings.Contains(string(body), "corruption") {
		t.Fatalf("readyz after a corruption error: %d %s", st, body)
	}
}

func getStatus(t *testing.T, url string) int {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	return r.StatusCode
}

// corruptMiddleTablePage damages table pages in the second half of a database file. In a
// clear file it overwrites the header and cell pointers of the first table leaf page at or
// after the middle (its type byte stays, its cell count becomes impossible). In an encrypted
// file the page types cannot be read; there it changes bytes in every page of the second half,
// each of which then decrypts as a whole to noise (Adiantum enciphers a page as one block).
func corruptMiddleTablePage(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("SQLite format 3\x00")) {
		const ps = 4096 // the page size the store leaves at SQLite's default
		n := len(b) / ps
		if n < 4 {
			t.Fatalf("encrypted database of %d pages", n)
		}
		// The last quarter: pages of the test's last users, past the index pages on the way to
		// the bootstrap admin, whose lookup the restarted server needs.
		for pg := n - n/4; pg < n; pg++ {
			for i := pg*ps + 100; i < pg*ps+164; i++ {
				b[i] ^= 0xa5
			}
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	ps := int(binary.BigEndian.Uint16(b[16:18]))
	if ps == 1 {
		ps = 65536
	}
	n := len(b) / ps
	for pg := n / 2; pg < n; pg++ {
		off := pg * ps
		if b[off] != 0x0d { // table b-tree leaf
			continue
		}
		for i := off + 1; i < off+64; i++ {
			b[i] = 0xff
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("no table leaf page in the second half of %d pages", n)
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		if strings.HasSuffix(path, ".lock") {
			return nil
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
}
