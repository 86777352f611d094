package app_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCLIErrorsNameTheFlags runs commands with bad input and requires every error to name the
// flag the user typed (--user, not --user-id or user_id), and no flag the command lacks.
func TestCLIErrorsNameTheFlags(t *testing.T) {
	env := []string{"PRIVOX_DATA_DIR=" + filepath.Join(t.TempDir(), "d")}
	for _, args := range [][]string{
		{"tenant", "add", "acme"},
		{"user", "add", "--tenant", "acme", "--name", "Alice Example", "--email", "alice@acme.test"},
	} {
		if _, er, code := run(env, args...); code != 0 {
			t.Fatalf("%v: %s", args, er)
		}
	}
	help, _, _ := run(nil, "help")
	usageOf := func(args []string) string {
		best, bestN := "", 0
		for _, l := range strings.Split(help, "\n") {
			u, ok := strings.CutPrefix(strings.TrimSpace(l), "privox ")
			if !ok {
				continue
			}
			words := strings.Fields(u)
			n := 0
			for n < len(words) && regexp.MustCompile(`^[a-z][a-z-]*$`).MatchString(words[n]) {
				n++
			}
			if n > bestN && n <= len(args) && strings.Join(words[:n], " ") == strings.Join(args[:n], " ") {
				best, bestN = u, n
			}
		}
		return best
	}
	flagRe := regexp.MustCompile(`--[a-z][a-z-]*|\b[a-z]+_[a-z_]+\b`)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"tenant", "add", "Not_A_Name"}, "invalid name"},
		{[]string{"tenant", "add", "acme2", "--preset", "mars"}, "invalid --preset"},
		{[]string{"tenant", "add", "acme3", "--sip-domain", "not a domain"}, "invalid --sip-domain"},
		{[]string{"user", "add", "--tenant", "acme", "--name", "Bob", "--email", "nope"}, "invalid --email"},
		{[]string{"user", "add", "--tenant", "acme", "--name", "Bob", "--email", "bob@acme.test", "--role", "king"}, "invalid --role"},
		{[]string{"ext", "add", "--tenant", "acme", "--user", "999", "--number", "1001", "--sip-password", "long-enough-pw-1"}, "invalid --user"},
		{[]string{"ext", "add", "--tenant", "acme", "--number", "1", "--sip-password", "long-enough-pw-1"}, "invalid --number"},
		{[]string{"ext", "add", "--tenant", "acme", "--number", "1001", "--sip-password", "x"}, "invalid --sip-password"},
		{[]string{"token", "add", "--tenant", "acme", "--user", "999", "--name", "cli"}, "invalid --user"},
		{[]string{"token", "add", "--tenant", "acme", "--user", "2", "--name", ""}, "invalid --name"},
		{[]string{"hold", "add", "--tenant", "acme", "--user", "2", "--reason", "dispute", "--expires", "2001-01-01"}, "invalid --expires"},
		{[]string{"hold", "add", "--tenant", "acme", "--user", "999", "--reason", "dispute", "--expires", "30d"}, "invalid --user"},
		{[]string{"hold", "add", "--tenant", "acme", "--user", "2", "--reason", "", "--expires", "30d"}, "invalid --reason"},
		{[]string{"hold", "add", "--tenant", "acme", "--table", "nope", "--record", "1", "--reason", "dispute", "--expires", "30d"}, "invalid --table"},
		{[]string{"hold", "add", "--tenant", "acme", "--table", "cdrs", "--record", "424242", "--reason", "dispute", "--expires", "30d"}, "invalid --record"},
		{[]string{"hold", "add", "--tenant", "acme", "--reason", "dispute", "--expires", "30d"}, "--record"},
		{[]string{"retention", "set", "--tenant", "acme", "--category", "traffic", "--mode", "delete", "--days", "5", "--on-deactivation", "maybe"}, "--on-deactivation"},
		{[]string{"user", "add", "--tenant", "acme", "--name", "Bob", "--email", "bob@acme.test", "--language", "xx"}, "invalid --language"},
		{[]string{"retention", "set", "--tenant", "acme", "--category", "personal", "--mode", "delete", "--days", "5"}, "only while_active or until_deleted"},
		{[]string{"restrict", "set", "--tenant", "acme", "--user", "2", "--reason", ""}, "invalid --reason"},
		{[]string{"docs", "privacy-notice", "--tenant", "acme", "--lang", "xx"}, "invalid --lang"},
		{[]string{"export", "--tenant", "acme", "--user", "x", "--out", filepath.Join(t.TempDir(), "e.zip")}, "--user"},
		{[]string{"serve", "--sip-addr", "nonsense"}, "--sip-addr"},
		{[]string{"serve", "--http-addr", "nonsense"}, "--http-addr"},
	} {
		_, er, code := run(env, c.args...)
		if code == 0 || !strings.Contains(er, c.want) {
			t.Errorf("privox %s: exit %d, %q; want %q", strings.Join(c.args, " "), code, er, c.want)
			continue
		}
		usage := usageOf(c.args)
		if usage == "" {
			t.Fatalf("no usage for %v", c.args)
		}
		for _, f := range flagRe.FindAllString(strings.SplitN(er, "\nusage:", 2)[0], -1) {
			if strings.HasPrefix(f, "--") && !strings.Contains(usage+" --config --data --json", f) {
				t.Errorf("privox %s: error names %s, which %q does not take: %q", strings.Join(c.args, " "), f, usage, er)
			}
			if !strings.HasPrefix(f, "--") && !strings.Contains(usage, f) {
				t.Errorf("privox %s: error names the field %s instead of a flag: %q", strings.Join(c.args, " "), f, er)
			}
		}
	}
}
