package app_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDIDCLI: DIDs added, listed, explained and deleted on the command line; a bad number
// or destination is refused with the field named; CLIR set for a user.
func TestDIDCLI(t *testing.T) {
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
	mustRun("dial", "settings", "--tenant", "acme", "--country", "DE")
	mustRun("trunk", "set", "--tenant", "acme", "--name", "carrier", "--kind", "ip", "--server", "192.0.2.20:5060", "--sources", "192.0.2.20")
	if out := mustRun("did", "add", "--tenant", "acme", "--number", "030 5550100", "--dest", "extension:1001"); !strings.Contains(out, "+49305550100 to extension 1001") {
		t.Errorf("did add: %s", out)
	}
	// The voicemail main number and a box are destinations the command line checks too.
	if out := mustRun("did", "add", "--tenant", "acme", "--number", "030 5550197", "--dest", "mailbox:*98"); !strings.Contains(out, "+49305550197") {
		t.Errorf("did add to the voicemail main number: %s", out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--number", "0305550201", "--dest", "mailbox:*4711"}, "no such destination"},
		{[]string{"--number", "0305550200", "--dest", "extension:4711"}, "invalid destination: no such destination in the tenant: extension 4711"},
		{[]string{"--number", "abc", "--dest", "extension:1001"}, "invalid number"},
		{[]string{"--number", "0305550200", "--dest", "1001"}, "--dest: KIND:NUMBER"},
	} {
		_, er, code := run(env, append([]string{"did", "add", "--tenant", "acme"}, c.args...)...)
		if code == 0 || !strings.Contains(er, c.want) {
			t.Errorf("did add %v: %d %s, want %q", c.args, code, er, c.want)
		}
	}
	mustRun("did", "default", "--tenant", "acme", "--dest", "extension:1001")
	out := mustRun("did", "list", "--tenant", "acme")
	if !strings.Contains(out, "+49305550100") || !strings.Contains(out, "any other") {
		t.Errorf("did list: %s", out)
	}
	if out := mustRun("route", "explain", "--tenant", "acme", "--trunk", "carrier", "--to", "+49305550100"); !strings.Contains(out, "DID +49305550100 goes to extension 1001") {
		t.Errorf("explain: %s", out)
	}
	mustRun("did", "delete", "--tenant", "acme", "--id", "1")
	if out := mustRun("did", "list", "--tenant", "acme"); strings.Contains(out, "+49305550100") {
		t.Errorf("after delete: %s", out)
	}
	var u struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal([]byte(mustRun("user", "add", "--tenant", "acme", "--name", "Ann", "--email", "ann@acme.test", "--json")), &u); err != nil || u.ID == 0 {
		t.Fatalf("user add: %v", err)
	}
	uid := strconv.FormatInt(u.ID, 10)
	if _, er, code := run(env, "caller-id", "set", "--tenant", "acme", "--user", uid, "--clir", "maybe"); code == 0 || !strings.Contains(er, "on or off") {
		t.Errorf("caller-id set --clir maybe: %d %s", code, er)
	}
	if out := mustRun("caller-id", "set", "--tenant", "acme", "--user", uid, "--clir", "on"); !strings.Contains(out, "withheld on outside calls: true") {
		t.Errorf("caller-id set: %s", out)
	}
}

// TestTimeRulesCLI: a DID with a calendar and an out-of-hours destination on the command line,
// refused for a calendar that does not exist; listed and explained with the calendar; the
// dialling settings' calendar for outside calls set and cleared; a calendar in use not deleted.
func TestTimeRulesCLI(t *testing.T) {
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
	mustRun("ext", "add", "--tenant", "acme", "--number", "1002", "--sip-password", "s3cret-sip-pw2")
	mustRun("dial", "settings", "--tenant", "acme", "--country", "DE")
	mustRun("trunk", "set", "--tenant", "acme", "--name", "carrier", "--kind", "ip", "--server", "192.0.2.20:5060", "--sources", "192.0.2.20")
	cal := filepath.Join(t.TempDir(), "never.json")
	if err := os.WriteFile(cal, []byte(`{"time_zone":"Europe/Berlin","hours":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun("calendar", "set", "--tenant", "acme", "--name", "never", cal)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--calendar", "office", "--closed-dest", "extension:1002"}, `invalid calendar: no calendar "office" in the tenant`},
		{[]string{"--calendar", "never"}, "invalid closed_destination"},
		{[]string{"--calendar", "never", "--closed-dest", "extension:4711"}, "invalid closed_destination: no such destination in the tenant: extension 4711"},
		{[]string{"--calendar", "never", "--closed-dest", "1002"}, "--closed-dest: KIND:NUMBER"},
	} {
		_, er, code := run(env, append([]string{"did", "add", "--tenant", "acme", "--number", "030 5550100", "--dest", "extension:1001"}, c.args...)...)
		if code == 0 || !strings.Contains(er, c.want) {
			t.Errorf("did add %v: %d %s, want %q", c.args, code, er, c.want)
		}
	}
	out := mustRun("did", "add", "--tenant", "acme", "--number", "030 5550100", "--dest", "extension:1001", "--calendar", "never", "--closed-dest", "extension:1002")
	if !strings.Contains(out, "+49305550100 to extension 1001, while calendar never is closed to extension 1002") {
		t.Errorf("did add: %s", out)
	}
	if out := mustRun("did", "list", "--tenant", "acme"); !strings.Contains(out, "extension 1002 (calendar never closed)") {
		t.Errorf("did list: %s", out)
	}
	out = mustRun("route", "explain", "--tenant", "acme", "--trunk", "carrier", "--to", "+49305550100")
	if !strings.Contains(out, "calendar never is closed (") || !strings.Contains(out, "Europe/Berlin): out of hours to extension 1002") || !strings.Contains(out, "goes out of hours to extension 1002") {
		t.Errorf("explain: %s", out)
	}
	if _, er, code := run(env, "dial", "settings", "--tenant", "acme", "--outside-calendar", "office"); code == 0 || !strings.Contains(er, "invalid outside_calendar") {
		t.Errorf("dial settings with an unknown calendar: %d %s", code, er)
	}
	if out := mustRun("dial", "settings", "--tenant", "acme", "--outside-calendar", "never"); !strings.Contains(out, "while never is open") {
		t.Errorf("dial settings: %s", out)
	}
	_, er, code := run(env, "calendar", "delete", "--tenant", "acme", "--name", "never")
	if code == 0 || !strings.Contains(er, "calendar never is named by DID +49305550100, the dialling settings") {
		t.Errorf("calendar delete in use: %d %s", code, er)
	}
	mustRun("did", "delete", "--tenant", "acme", "--id", "1")
	if out := mustRun("dial", "settings", "--tenant", "acme", "--outside-calendar", "none"); !strings.Contains(out, "any time") {
		t.Errorf("dial settings: %s", out)
	}
	mustRun("calendar", "delete", "--tenant", "acme", "--name", "never")
}
