package app_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestGroupCLI: groups set, listed, explained and deleted on the command line.
func TestGroupCLI(t *testing.T) {
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
	for _, n := range []string{"1001", "1002", "1003"} {
		mustRun("ext", "add", "--tenant", "acme", "--number", n, "--sip-password", "s3cret-sip-pw")
	}
	mustRun("group", "set", "--tenant", "acme", "--number", "600", "--name", "sales", "--strategy", "sequential", "--members", "1001:10,1002", "--fallthrough", "1003")
	if _, er, code := run(env, "group", "set", "--tenant", "acme", "--number", "601", "--members", "1001:x"); code == 0 || !strings.Contains(er, "EXT:RINGTIME") {
		t.Errorf("bad member: %d %s", code, er)
	}
	if _, er, code := run(env, "group", "set", "--tenant", "acme", "--number", "601", "--members", "4711"); code == 0 || !strings.Contains(er, "invalid members") {
		t.Errorf("missing member: %d %s", code, er)
	}
	if out := mustRun("group", "list", "--tenant", "acme"); !strings.Contains(out, "1001:10,1002") || !strings.Contains(out, "sequential") {
		t.Errorf("group list: %s", out)
	}
	// Nobody is registered: the group has no member to ring.
	if out := mustRun("route", "explain", "--tenant", "acme", "--from", "1001", "--to", "600"); !strings.Contains(out, "no member can be rung") {
		t.Errorf("explain: %s", out)
	}
	mustRun("group", "delete", "--tenant", "acme", "--number", "600")
	if _, er, code := run(env, "group", "delete", "--tenant", "acme", "--number", "600"); code == 0 || !strings.Contains(er, "no such group") {
		t.Errorf("delete twice: %d %s", code, er)
	}
}
