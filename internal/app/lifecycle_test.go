package app_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privox/privox/internal/app"
)

// TestCLIDeactivationAsks: privox user deactivate says what will go and goes ahead only when
// yes is typed (or --yes given); suspend and resume need no confirmation and keep the data.
func TestCLIDeactivationAsks(t *testing.T) {
	env := []string{"PRIVOX_DATA_DIR=" + filepath.Join(t.TempDir(), "d")}
	withStdin := func(stdin string, args ...string) (string, string, int) {
		var o, e bytes.Buffer
		code := app.Main(app.Env{Args: args, Environ: env, Stdout: &o, Stderr: &e, Stdin: strings.NewReader(stdin)})
		return o.String(), e.String(), code
	}
	if _, er, code := run(env, "tenant", "add", "acme"); code != 0 {
		t.Fatal(er)
	}
	o, er, code := run(env, "user", "add", "--tenant", "acme", "--name", "Dora Example", "--email", "dora@acme.test", "--json")
	if code != 0 {
		t.Fatal(er)
	}
	id := strings.TrimSpace(strings.SplitN(strings.SplitN(o, `"id": `, 2)[1], ",", 2)[0])
	if _, er, code := run(env, "ext", "add", "--tenant", "acme", "--user", id, "--number", "1001", "--sip-password", "s3cret-sip-pw"); code != 0 {
		t.Fatal(er)
	}
	if o, er, code := run(env, "user", "suspend", "--tenant", "acme", id); code != 0 || !strings.Contains(o, "suspended user") {
		t.Fatalf("suspend: %d %s %s", code, o, er)
	}
	if o, er, code := run(env, "user", "resume", "--tenant", "acme", id); code != 0 || !strings.Contains(o, "resumed user") {
		t.Fatalf("resume: %d %s %s", code, o, er)
	}
	o, er, code = withStdin("no\n", "user", "deactivate", "--tenant", "acme", id)
	if code != 1 || !strings.Contains(er, "cannot be undone") || !strings.Contains(er, "extensions") || !strings.Contains(er, "not confirmed") {
		t.Fatalf("deactivate answered no: %d %s %s", code, o, er)
	}
	if o, _, _ := run(env, "user", "list", "--tenant", "acme"); !strings.Contains(o, "Dora Example") {
		t.Fatalf("user changed without confirmation: %s", o)
	}
	o, er, code = withStdin("yes\n", "user", "deactivate", "--tenant", "acme", id)
	if code != 0 || !strings.Contains(o, "Erased user") {
		t.Fatalf("deactivate answered yes: %d %s %s", code, o, er)
	}
	if _, er, code := run(env, "user", "resume", "--tenant", "acme", id); code != 1 || !strings.Contains(er, "cannot be undone") {
		t.Fatalf("resuming a deactivated user: %d %s", code, er)
	}
	if _, er, code := run(env, "ext", "add", "--tenant", "acme", "--user", id, "--number", "1002", "--sip-password", "s3cret-sip-pw"); code != 1 || !strings.Contains(er, "deactivated") {
		t.Fatalf("extension for a deactivated user: %d %s", code, er)
	}
}
