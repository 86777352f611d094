package app_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/privox/privox/internal/config"
	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
)

// TestDataDirCopyRevealsNothing writes known personal data through the REST API (a user's
// name and e-mail address, an extension's display name) and through SIP (a REGISTER from sipp:
// its source IP, contact and User-Agent), copies the data directory of the running server —
// database, write-ahead log, shared memory and every other file — and greps every file of the
// copy. Encrypted (the default) it finds none of them; clear (database.encrypt: false) the same
// run finds them, so the grep and the writes work.
func TestDataDirCopyRevealsNothing(t *testing.T) {
	for _, encrypt := range []bool{false, true} {
		t.Run(map[bool]string{false: "clear", true: "encrypted"}[encrypt], func(t *testing.T) {
			p := privoxtest.Start(t, privoxtest.Options{Configure: func(c *config.Config) { c.Database.Encrypt = encrypt }})
			tn, err := p.App.DB.TenantByName(t.Context(), "default")
			if err != nil {
				t.Fatal(err)
			}
			var u store.User
			p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/users", tn.ID), p.AdminToken,
				map[string]any{"name": "Zebulon Quackenbush", "email": "zebulon.q@example.org"}, &u)
			p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/extensions", tn.ID), p.AdminToken,
				map[string]any{"number": "1001", "sip_password": "secret-1001", "user_id": u.ID, "display_name": "Quackenbush Desk"}, nil)
			contactPort := freeUDPTCPPort(t)
			startSipp(t, "register.xml", p.Addr("sip-udp"), "-t", "u1", "-s", "1001", "-au", "1001", "-ap", "secret-1001",
				"-key", "contact_port", strconv.Itoa(contactPort), "-key", "contact_transport", "udp",
				"-i", "127.0.0.1", "-p", strconv.Itoa(freeUDPTCPPort(t)), "-m", "1", "-timeout", "15").wait(t, "register")
			waitUntil(t, "the registration to be stored", func() bool {
				var n int
				p.App.DB.QueryRow(t.Context(), `SELECT COUNT(*) FROM registrations WHERE user_agent = 'privox-test'`).Scan(&n)
				return n == 1
			})
			known := []string{"Zebulon Quackenbush", "zebulon.q@example.org", "Quackenbush Desk", "privox-test",
				"127.0.0.1:" + strconv.Itoa(contactPort)}

			cp := t.TempDir()
			if out, err := exec.Command("cp", "-a", p.DataDir+"/.", cp).CombinedOutput(); err != nil {
				t.Fatalf("cp: %v %s", err, out)
			}
			found := map[string][]string{}
			files := 0
			filepath.WalkDir(cp, func(path string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				files++
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range known {
					if bytes.Contains(b, []byte(s)) {
						found[s] = append(found[s], filepath.Base(path))
					}
				}
				return nil
			})
			if _, err := os.Stat(filepath.Join(cp, "privox.db-wal")); err != nil {
				t.Fatalf("no write-ahead log in the copy: %v", err)
			}
			t.Logf("%d files copied; found: %v", files, found)
			if encrypt && len(found) > 0 {
				t.Fatalf("readable in a copy of the data directory: %v", found)
			}
			if !encrypt && len(found) != len(known) {
				t.Fatalf("the clear database shows only %v of %v: the grep or the writes do not work", found, known)
			}
		})
	}
}
