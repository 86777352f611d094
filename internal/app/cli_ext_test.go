package app_test

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestExtListShowsUserName: ext list names the user an extension belongs to, in the table and
// in JSON, and marks extensions without a user.
func TestExtListShowsUserName(t *testing.T) {
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
	json.Unmarshal([]byte(mustRun("user", "add", "--tenant", "acme", "--name", "Alice Example", "--email", "alice@acme.test", "--json")), &u)
	mustRun("ext", "add", "--tenant", "acme", "--user", itoa(u.ID), "--number", "1001", "--sip-password", "s3cret-sip-pw")
	mustRun("ext", "add", "--tenant", "acme", "--number", "1002", "--sip-password", "s3cret-sip-pw", "--display-name", "Lobby")
	out := mustRun("ext", "list", "--tenant", "acme")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "USER NAME") || !strings.Contains(lines[1], "1001") || !strings.Contains(lines[1], "Alice Example") ||
		!strings.Contains(lines[2], "Lobby") || strings.Contains(lines[2], "Alice") {
		t.Fatalf("ext list:\n%s", out)
	}
	var rows []struct {
		Number   string `json:"number"`
		UserName string `json:"user_name"`
	}
	if err := json.Unmarshal([]byte(mustRun("ext", "list", "--tenant", "acme", "--json")), &rows); err != nil || len(rows) != 2 ||
		rows[0].UserName != "Alice Example" || rows[1].UserName != "" {
		t.Fatalf("ext list --json: %v %+v", err, rows)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestUnknownEnvWarning: a mistyped PRIVOX_ variable gets one warning line naming it and the
// variable meant, and the command still runs.
func TestUnknownEnvWarning(t *testing.T) {
	env := []string{"PRIVOX_DATA_DIR=" + filepath.Join(t.TempDir(), "d"), "PRIVOX_SIP_ADR=127.0.0.1:5070", "PRIVOX_NONSENSE=1", "PRIVOX_ADMIN_PASSWORD=not-a-setting-but-read"}
	_, er, code := run(env, "tenant", "list")
	if code != 0 {
		t.Fatalf("tenant list: %d %s", code, er)
	}
	lines := strings.Split(strings.TrimSpace(er), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "warning: PRIVOX_NONSENSE is not a Privox setting") ||
		!strings.Contains(lines[1], "warning: PRIVOX_SIP_ADR is not a Privox setting") || !strings.Contains(lines[1], "did you mean PRIVOX_SIP_ADDR?") {
		t.Fatalf("warnings: %q", er)
	}
}
