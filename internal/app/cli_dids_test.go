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

// TestTimeRulesDefaultAndGroupCLI: the tenant's default destination and a group's
// fall-through take a time rule on the command line, checked as a DID's; lists show it,
// route explain shows the calendar deciding, and a calendar they name cannot be deleted.
func TestTimeRulesDefaultAndGroupCLI(t *testing.T) {
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
		mustRun("ext", "add", "--tenant", "acme", "--number", n, "--sip-password", "s3cret-sip-pw"+n)
	}
	mustRun("dial", "settings", "--tenant", "acme", "--country", "DE")
	mustRun("trunk", "set", "--tenant", "acme", "--name", "carrier", "--kind", "ip", "--server", "192.0.2.20:5060", "--sources", "192.0.2.20")
	cal := filepath.Join(t.TempDir(), "never.json")
	if err := os.WriteFile(cal, []byte(`{"time_zone":"Europe/Berlin","hours":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun("calendar", "set", "--tenant", "acme", "--name", "never", cal)

	if _, er, code := run(env, "did", "default", "--tenant", "acme", "--dest", "extension:1001", "--calendar", "office", "--closed-dest", "mailbox:*1001"); code == 0 ||
		!strings.Contains(er, `invalid calendar: no calendar "office" in the tenant`) {
		t.Errorf("did default with an unknown calendar: %d %s", code, er)
	}
	if _, er, code := run(env, "did", "default", "--tenant", "acme", "--dest", "extension:1001", "--calendar", "never"); code == 0 || !strings.Contains(er, "invalid closed_destination") {
		t.Errorf("did default without a closed destination: %d %s", code, er)
	}
	if out := mustRun("did", "default", "--tenant", "acme", "--dest", "extension:1001", "--calendar", "never", "--closed-dest", "mailbox:*1001"); !strings.Contains(out,
		"calls to numbers no DID covers go to extension 1001, while calendar never is closed to mailbox *1001") {
		t.Errorf("did default: %s", out)
	}
	if out := mustRun("did", "list", "--tenant", "acme"); !strings.Contains(out, "mailbox *1001 (calendar never closed)") {
		t.Errorf("did list: %s", out)
	}
	out := mustRun("route", "explain", "--tenant", "acme", "--trunk", "carrier", "--to", "+49305559999")
	if !strings.Contains(out, "the tenant's default destination: calendar never is closed (") || !strings.Contains(out, "Europe/Berlin): out of hours to mailbox *1001") ||
		!strings.Contains(out, "=> mailbox") {
		t.Errorf("explain the default: %s", out)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--calendar", "never", "--closed-dest", "group:600"}, "invalid closed_destination: kind \"group\""},
		{[]string{"--calendar", "never", "--closed-dest", "extension:1001"}, "invalid closed_destination: 1001 is a member already"},
		{[]string{"--calendar", "never", "--closed-dest", "mailbox:*4711"}, "invalid closed_destination: no such destination"},
		{[]string{"--fallthrough", "outbound:0301234567"}, "invalid fallthrough_kind"},
	} {
		_, er, code := run(env, append([]string{"group", "set", "--tenant", "acme", "--number", "600", "--members", "1001", "--fallthrough", "1002"}, c.args...)...)
		if code == 0 || !strings.Contains(er, c.want) {
			t.Errorf("group set %v: %d %s, want %q", c.args, code, er, c.want)
		}
	}
	if out := mustRun("group", "set", "--tenant", "acme", "--number", "600", "--members", "1001", "--fallthrough", "1002", "--calendar", "never", "--closed-dest", "mailbox:*1003"); !strings.Contains(out,
		"while calendar never is closed to mailbox *1003") {
		t.Errorf("group set: %s", out)
	}
	if out := mustRun("group", "list", "--tenant", "acme"); !strings.Contains(out, "extension 1002") || !strings.Contains(out, "mailbox *1003 (calendar never closed)") {
		t.Errorf("group list: %s", out)
	}
	// Nobody is registered, so out of hours the mailbox takes the call at once.
	out = mustRun("route", "explain", "--tenant", "acme", "--from", "1002", "--to", "600")
	if !strings.Contains(out, "then mailbox *1003 (calendar never is closed (") || !strings.Contains(out, "=> mailbox") {
		t.Errorf("explain the group: %s", out)
	}
	_, er, code := run(env, "calendar", "delete", "--tenant", "acme", "--name", "never")
	if code == 0 || !strings.Contains(er, "calendar never is named by the default destination for numbers no DID covers, group 600") {
		t.Errorf("calendar delete in use: %d %s", code, er)
	}
	mustRun("group", "set", "--tenant", "acme", "--number", "600", "--members", "1001", "--fallthrough", "mailbox:*1002")
	mustRun("did", "default", "--tenant", "acme", "--dest", "none")
	mustRun("calendar", "delete", "--tenant", "acme", "--name", "never")
}
