package app_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestTokenListRevoke: token list shows a token made by token add (never its secret);
// token revoke removes it, and a second revoke says there is no such token.
func TestTokenListRevoke(t *testing.T) {
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
	var u struct{ ID int64 }
	json.Unmarshal([]byte(mustRun("user", "add", "--tenant", "acme", "--name", "Ann", "--email", "ann@acme.test", "--json")), &u)
	var tok struct {
		Token string `json:"token"`
		ID    int64  `json:"id"`
	}
	json.Unmarshal([]byte(mustRun("token", "add", "--tenant", "acme", "--user", itoa(u.ID), "--name", "nightly", "--json")), &tok)
	out := mustRun("token", "list", "--tenant", "acme")
	if !strings.Contains(out, "nightly") || strings.Contains(out, tok.Token) {
		t.Fatalf("token list:\n%s", out)
	}
	mustRun("token", "revoke", "--tenant", "acme", itoa(tok.ID))
	if out := mustRun("token", "list", "--tenant", "acme"); strings.Contains(out, "nightly") {
		t.Fatalf("token list after revoke:\n%s", out)
	}
	if _, er, code := run(env, "token", "revoke", "--tenant", "acme", itoa(tok.ID)); code == 0 || !strings.Contains(er, "no such token") {
		t.Fatalf("second revoke: exit %d, %q", code, er)
	}
}
