package app_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privox/privox/internal/app"
)

// TestVoicemailCLI: an extension's box is shown, configured (bad values name their flag),
// its PIN set from standard input and reset, and its messages listed; a deletion of a message
// that is not there says so.
func TestVoicemailCLI(t *testing.T) {
	env := []string{"PRIVOX_DATA_DIR=" + filepath.Join(t.TempDir(), "d")}
	mustRun := func(args ...string) string {
		t.Helper()
		o, er, code := run(env, args...)
		if code != 0 {
			t.Fatalf("privox %s: exit %d: %s", strings.Join(args, " "), code, er)
		}
		return o
	}
	mustRun("tenant", "add", "acme")
	mustRun("ext", "add", "--tenant", "acme", "--number", "1001", "--sip-password", "secret-1001")
	var box struct {
		ID            int64 `json:"id"`
		Enabled       bool  `json:"enabled"`
		RetentionDays int   `json:"retention_days"`
		PINSet        bool  `json:"pin_set"`
	}
	json.Unmarshal([]byte(mustRun("voicemail", "show", "--tenant", "acme", "--number", "1001", "--json")), &box)
	if box.ID == 0 || box.Enabled || box.RetentionDays != 90 || box.PINSet {
		t.Fatalf("new box %+v", box)
	}
	json.Unmarshal([]byte(mustRun("voicemail", "set", "--tenant", "acme", "--number", "1001", "--enabled", "true", "--retention-days", "7", "--json")), &box)
	if !box.Enabled || box.RetentionDays != 7 {
		t.Fatalf("box after set %+v", box)
	}
	var mailBox struct {
		EmailCopy   bool `json:"email_copy"`
		EmailAttach bool `json:"email_attach"`
		EmailDelete bool `json:"email_delete"`
	}
	json.Unmarshal([]byte(mustRun("voicemail", "set", "--tenant", "acme", "--number", "1001", "--email-copy", "true", "--email-attach", "false", "--email-delete", "true", "--json")), &mailBox)
	if !mailBox.EmailCopy || mailBox.EmailAttach || !mailBox.EmailDelete {
		t.Fatalf("e-mail settings after set %+v", mailBox)
	}
	if _, er, code := run(env, "voicemail", "set", "--tenant", "acme", "--number", "1001", "--email-copy", "false"); code == 0 || !strings.Contains(er, "--email-delete") {
		t.Fatalf("delete after delivery without e-mail copies: exit %d %q", code, er)
	}
	if o := mustRun("voicemail", "deliveries", "--tenant", "acme", "--json"); strings.TrimSpace(o) != "[]" {
		t.Fatalf("deliveries of a tenant that sent nothing: %q", o)
	}
	if _, er, code := run(env, "voicemail", "deliveries", "--tenant", "acme", "--state", "lost"); code == 0 || !strings.Contains(er, "--state") {
		t.Fatalf("bad state: exit %d %q", code, er)
	}
	if _, er, code := run(env, "voicemail", "set", "--tenant", "acme", "--number", "1001", "--retention-days", "0"); code == 0 || !strings.Contains(er, "--retention-days") {
		t.Fatalf("retention 0: exit %d %q", code, er)
	}
	if _, er, code := run(env, "voicemail", "show", "--tenant", "acme", "--number", "1999"); code == 0 || !strings.Contains(er, "no extension 1999") {
		t.Fatalf("no such box: exit %d %q", code, er)
	}
	var o, e bytes.Buffer
	if code := app.Main(app.Env{Args: []string{"voicemail", "pin-reset", "--tenant", "acme", "--number", "1001", "-"}, Environ: env, Stdout: &o, Stderr: &e, Stdin: strings.NewReader("48151\n")}); code != 0 {
		t.Fatalf("pin-reset -: %d %s", code, e.String())
	}
	json.Unmarshal([]byte(mustRun("voicemail", "show", "--tenant", "acme", "--number", "1001", "--json")), &box)
	if !box.PINSet {
		t.Fatal("PIN not set")
	}
	if _, er, code := run(env, "voicemail", "pin-reset", "--tenant", "acme", "--number", "1001", "4815"); code == 0 || !strings.Contains(er, "process list") {
		t.Fatalf("PIN on the command line: exit %d %q", code, er)
	}
	mustRun("voicemail", "pin-reset", "--tenant", "acme", "--number", "1001")
	json.Unmarshal([]byte(mustRun("voicemail", "show", "--tenant", "acme", "--number", "1001", "--json")), &box)
	if box.PINSet {
		t.Fatal("PIN still set after reset")
	}
	if out := mustRun("voicemail", "messages", "--tenant", "acme", "--number", "1001", "--json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("messages of a new box: %s", out)
	}
	if _, er, code := run(env, "voicemail", "delete", "--tenant", "acme", "--number", "1001", "99"); code == 0 || !strings.Contains(er, "no message 99") {
		t.Fatalf("delete of no message: exit %d %q", code, er)
	}
	audit := mustRun("audit", "list", "--tenant", "acme")
	if !strings.Contains(audit, "voicemail.configure") || !strings.Contains(audit, "voicemail.pin_reset") || strings.Contains(audit, "48151") {
		t.Fatalf("audit:\n%s", audit)
	}
}
