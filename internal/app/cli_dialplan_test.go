package app_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestRouteExplainCLI: routes and settings set on the command line decide what route
// explain prints; invalid patterns are refused with the fault named.
func TestRouteExplainCLI(t *testing.T) {
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
	mustRun("ext", "add", "--tenant", "acme", "--number", "1001", "--sip-password", "s3cret-sip-pw")
	mustRun("dial", "settings", "--tenant", "acme", "--country", "DE", "--main-number", "+49 30 1234567")
	_, er, code := run(env, "route", "set", "--tenant", "acme", "--name", "national", "--pattern", "_0[1-9]X.", "--trunks", "carrier")
	if code == 0 || !strings.Contains(er, `no trunk "carrier"`) {
		t.Errorf("route over a missing trunk: %d %s", code, er)
	}
	mustRun("trunk", "set", "--tenant", "acme", "--name", "carrier", "--kind", "register", "--server", "sip.carrier.test:5060", "--username", "acme-1",
		"--password", "carrier-pass-1", "--failover", "sip2.carrier.test:5060")
	mustRun("trunk", "set", "--tenant", "acme", "--name", "backup", "--kind", "ip", "--server", "192.0.2.20:5061", "--transport", "tls", "--sources", "192.0.2.20,198.51.100.0/24")
	if out := mustRun("trunk", "list", "--tenant", "acme"); !strings.Contains(out, "192.0.2.20/32,198.51.100.0/24") || strings.Contains(out, "carrier-pass-1") {
		t.Errorf("trunk list:\n%s", out)
	}
	mustRun("route", "set", "--tenant", "acme", "--name", "national", "--pattern", "_0[1-9]X.", "--trunks", "carrier,backup")
	mustRun("route", "set", "--tenant", "acme", "--name", "world", "--pattern", "_00X.", "--trunks", "carrier", "--position", "-1")
	if out := mustRun("route", "list", "--tenant", "acme"); !strings.Contains(strings.Split(out, "\n")[1], "world") {
		t.Errorf("route list:\n%s", out)
	}
	out := mustRun("route", "explain", "--tenant", "acme", "--from", "1001", "--to", "0049301234567")
	for _, want := range []string{"extension    pass", "0049301234567 is not an extension", "outbound     DECIDED", "route world (pattern _00X.)",
		"=> outbound +49301234567 via route world (e164 +49301234567, national, trunks carrier)"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q:\n%s", want, out)
		}
	}
	var d struct {
		Status  int    `json:"status"`
		Blocked string `json:"blocked"`
		Stage   string `json:"stage"`
	}
	json.Unmarshal([]byte(mustRun("route", "explain", "--tenant", "acme", "--from", "1001", "--to", "00442079460000", "--json")), &d)
	if d.Status != 403 || d.Blocked != "international" || d.Stage != "outbound" {
		t.Errorf("international: %+v", d)
	}
	mustRun("dial", "settings", "--tenant", "acme", "--international", "on")
	if out := mustRun("route", "explain", "--tenant", "acme", "--from", "1001", "--to", "00442079460000"); !strings.Contains(out, "international, trunks carrier") {
		t.Errorf("allowed international:\n%s", out)
	}
	if out := mustRun("route", "explain", "--tenant", "acme", "--from", "1001", "--to", "1001"); !strings.Contains(out, "=> reject 480") {
		t.Errorf("unregistered extension:\n%s", out)
	}
	_, er, code = run(env, "route", "set", "--tenant", "acme", "--name", "bad", "--pattern", "_0X.1", "--trunks", "carrier")
	if code == 0 || !strings.Contains(er, "invalid pattern") || !strings.Contains(er, "'.' may only end a pattern at position 4") {
		t.Errorf("invalid pattern: %d %s", code, er)
	}
	if _, er, code := run(env, "route", "explain", "--tenant", "acme", "--from", "4711", "--to", "0301234567"); code == 0 || !strings.Contains(er, "from") {
		t.Errorf("explain from a non-extension: %d %s", code, er)
	}
	if _, er, code := run(env, "trunk", "delete", "--tenant", "acme", "--name", "carrier"); code == 0 || !strings.Contains(er, "outbound routes use the trunk: route world names it") {
		t.Errorf("deleting a trunk in use: %d %s", code, er)
	}
	mustRun("route", "delete", "--tenant", "acme", "--name", "world")
	if out := mustRun("route", "explain", "--tenant", "acme", "--from", "1001", "--to", "0301234567"); !strings.Contains(out, "via route national") {
		t.Errorf("after delete:\n%s", out)
	}
}
