package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/privox/privox/internal/app"
	"github.com/privox/privox/internal/config"
	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/store/storetest"
	"github.com/privox/privox/internal/tenancy"
)

func run(env []string, args ...string) (string, string, int) {
	var o, e bytes.Buffer
	code := app.Main(app.Env{Args: args, Environ: env, Stdout: &o, Stderr: &e})
	return o.String(), e.String(), code
}

// TestCLIAdminFlow creates a tenant, a user and an extension with the CLI on both engines and
// reads them back, as people and as JSON.
func TestCLIAdminFlow(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(string(e.Name), func(t *testing.T) {
			env := []string{"PRIVOX_DATA_DIR=" + filepath.Join(t.TempDir(), "d")}
			if e.Name == store.Postgres {
				env = append(env, "PRIVOX_DATABASE_DRIVER=postgres", "PRIVOX_DATABASE_DSN="+e.DSN(t), "PRIVOX_DATABASE_ALLOW_PLAINTEXT_LOOPBACK=true")
			}
			mustRun := func(args ...string) string {
				t.Helper()
				o, er, code := run(env, args...)
				if code != 0 {
					t.Fatalf("privox %s: exit %d: %s", strings.Join(args, " "), code, er)
				}
				return o
			}
			mustRun("tenant", "add", "acme", "--preset", "de")
			out := mustRun("tenant", "list")
			if !strings.Contains(out, "acme") || !strings.Contains(out, "de") {
				t.Fatalf("tenant list: %s", out)
			}
			var u store.User
			js := mustRun("user", "add", "--tenant", "acme", "--name", "Alice Example", "--email", "alice@acme.test", "--role", "admin", "--json")
			if err := json.Unmarshal([]byte(js), &u); err != nil || u.ID == 0 || u.Role != "admin" {
				t.Fatalf("user add --json: %v %s", err, js)
			}
			mustRun("ext", "add", "--tenant", "acme", "--user", fmt.Sprint(u.ID), "--number", "1001", "--sip-password", "s3cret-sip-pw")
			var exts []store.Extension
			if err := json.Unmarshal([]byte(mustRun("ext", "list", "--tenant", "acme", "--json")), &exts); err != nil || len(exts) != 1 || exts[0].Number != "1001" {
				t.Fatalf("ext list: %v %+v", err, exts)
			}
			// The SIP password is stored only as HA1.
			db, err := app.OpenStore(t.Context(), mustConfig(t, env))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			_, sec, err := db.ExtensionByUsername(t.Context(), exts[0].TenantID, "1001")
			if err != nil || sec.HA1MD5 == "" || strings.Contains(sec.HA1MD5+sec.HA1SHA256, "s3cret") {
				t.Fatalf("secret: %+v %v", sec, err)
			}
			if o := mustRun("user", "deactivate", fmt.Sprint(u.ID), "--tenant", "acme", "--yes"); !strings.Contains(o, "deactivated") {
				t.Fatalf("deactivate: %s", o)
			}
			if o := mustRun("user", "list", "--tenant", "acme"); !strings.Contains(o, "false") {
				t.Fatalf("user list after deactivate: %s", o)
			}
			// Bad input: a clear error, exit 1, nothing changed.
			_, er, code := run(env, "ext", "add", "--tenant", "acme", "--number", "1001", "--sip-password", "another-pw-1")
			if code != 1 || !strings.Contains(er, "--number") {
				t.Fatalf("duplicate number: %d %s", code, er)
			}
			_, er, code = run(env, "user", "add", "--tenant", "nope", "--name", "x", "--email", "x@y.z")
			if code != 1 || !strings.Contains(er, `no tenant "nope"`) {
				t.Fatalf("unknown tenant: %d %s", code, er)
			}
			_, er, code = run(env, "user", "add", "--tenant", "acme", "--name", "", "--email", "x@y.z")
			if code != 1 || !strings.Contains(er, "--name") {
				t.Fatalf("empty name: %d %s", code, er)
			}
			if err := json.Unmarshal([]byte(mustRun("ext", "list", "--tenant", "acme", "--json")), &exts); err != nil || len(exts) != 1 {
				t.Fatalf("extensions changed: %+v", exts)
			}
		})
	}
}

func mustConfig(t *testing.T, env []string) (c appConfig) {
	t.Helper()
	cfg, err := loadConfig(env)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestUnknownCommandAndUsage(t *testing.T) {
	_, er, code := run(nil, "frobnicate")
	if code != 2 || !strings.Contains(er, "unknown command") {
		t.Fatalf("%d %s", code, er)
	}
	o, _, code := run(nil, "help")
	if code != 0 || !strings.Contains(o, "privox serve") || !strings.Contains(o, "privox ext add") {
		t.Fatalf("help: %d %s", code, o)
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("http:\n  addr: 127.0.0.1:8080\n"), 0o600)
	if o, er, code := run(nil, "config", "check", good); code != 0 || !strings.Contains(o, "ok") {
		t.Fatalf("good config: %d %s %s", code, o, er)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("http:\n  addr: 127.0.0.1:8080\nlog:\n  level: loud\ncolour: blue\n"), 0o600)
	_, er, code := run(nil, "config", "check", bad)
	if code != 1 || !strings.Contains(er, bad+":4: log.level") || !strings.Contains(er, bad+":5: colour: unknown option") {
		t.Fatalf("bad config: %d %s", code, er)
	}
}

// TestStartupErrors: a corrupt or unusable data directory is a clear error, not a panic.
func TestStartupErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	os.WriteFile(file, []byte("x"), 0o600)
	corrupt := filepath.Join(dir, "corrupt")
	os.MkdirAll(corrupt, 0o700)
	os.WriteFile(filepath.Join(corrupt, "privox.db"), bytes.Repeat([]byte("garbage!"), 1024), 0o600)
	for _, c := range []struct{ data, want string }{
		{file, "is not a directory"},
		{filepath.Join(file, "sub"), "data directory"},
		{corrupt, "open database"},
	} {
		_, er, code := run([]string{"PRIVOX_DATA_DIR=" + c.data}, "serve", "--http-addr", "127.0.0.1:0", "--sip-addr", "")
		if code != 1 || !strings.Contains(er, c.want) || strings.Contains(er, "panic") {
			t.Errorf("data %s: exit %d, stderr %q, want %q", c.data, code, er, c.want)
		}
	}
	_, er, code := run([]string{"PRIVOX_SHUTDOWN_GRACE=soon"}, "tenant", "list")
	if code != 1 || !strings.Contains(er, "PRIVOX_SHUTDOWN_GRACE") {
		t.Errorf("bad env: %d %s", code, er)
	}
}

// TestServeDrainsOnSIGTERM starts serve with zero configuration but a data directory, checks
// health, metrics on their own listener, the generated admin password (in a file only the
// owner reads, never in the logs or on stdout), and a clean stop on SIGTERM.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	data := filepath.Join(t.TempDir(), "privox-data")
	sig := make(chan os.Signal, 1)
	var o, e syncBuf
	done := make(chan int)
	go func() {
		done <- app.Main(app.Env{Args: []string{"serve", "--data", data, "--http-addr", "127.0.0.1:0", "--sip-addr", "127.0.0.1:0"},
			Environ: []string{"PRIVOX_SIP_TLS_ADDR=127.0.0.1:0", "PRIVOX_METRICS_ADDR=127.0.0.1:0", "PRIVOX_LDAP_ADDR=127.0.0.1:0", "PRIVOX_LDAP_LDAPS_ADDR=127.0.0.1:0", "PRIVOX_RTP_PORTS=" + privoxtest.RTPRange(100), "PRIVOX_PROMPTS_DIR=" + privoxtest.PromptDir()},
			Stdout:  &o, Stderr: &e, Signals: sig})
	}()
	var url string
	for i := 0; i < 200 && url == ""; i++ {
		if _, rest, ok := strings.Cut(o.String(), "Privox is running: "); ok {
			url, _, _ = strings.Cut(rest, " ")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if url == "" {
		t.Fatalf("serve did not start: %s %s", o.String(), e.String())
	}
	pwFile := filepath.Join(data, app.AdminPasswordFile)
	fi, err := os.Stat(pwFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated password file: %v %v", fi, err)
	}
	content, _ := os.ReadFile(pwFile)
	_, pw, _ := strings.Cut(string(content), "password: ")
	pw = strings.TrimSpace(pw)
	if len(pw) != 20 {
		t.Fatalf("password file: %q", content)
	}
	login, err := http.Post(url+"/api/v1/login", "application/json", strings.NewReader(`{"tenant":"default","email":"admin@localhost","password":"`+pw+`"}`))
	if err != nil || login.StatusCode != 200 {
		t.Fatalf("login with the generated password: %v %v", err, login)
	}
	login.Body.Close()
	for _, path := range []string{"/healthz", "/readyz"} {
		r, err := http.Get(url + path)
		if err != nil || r.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, err, r)
		}
		r.Body.Close()
	}
	// Metrics are on their own loopback listener, not on the public one.
	if r, err := http.Get(url + "/metrics"); err != nil || r.StatusCode != 404 {
		t.Fatalf("/metrics on the HTTP listener: %v %v", err, r)
	} else {
		r.Body.Close()
	}
	_, rest, ok := strings.Cut(e.String(), `"msg":"serving metrics","addr":"`)
	metricsAddr, _, _ := strings.Cut(rest, `"`)
	if !ok || !strings.HasPrefix(metricsAddr, "127.0.0.1:") {
		t.Fatalf("no metrics listener in the log: %s", e.String())
	}
	if r, err := http.Get("http://" + metricsAddr + "/metrics"); err != nil || r.StatusCode != 200 {
		t.Fatalf("/metrics on %s: %v %v", metricsAddr, err, r)
	} else {
		r.Body.Close()
	}
	sig <- syscall.SIGTERM
	if code := <-done; code != 0 {
		t.Fatalf("serve exit %d: %s", code, e.String())
	}
	if !strings.Contains(e.String(), `"msg":"draining"`) || !strings.Contains(e.String(), `"msg":"stopped"`) {
		t.Fatalf("no drain in logs: %s", e.String())
	}
	// Neither the log stream nor stdout carries the password; the log names the file.
	if strings.Contains(e.String(), pw) || strings.Contains(o.String(), pw) {
		t.Fatal("admin password in the output")
	}
	if !strings.Contains(e.String(), pwFile) {
		t.Fatalf("the log does not say where the password is: %s", e.String())
	}
	// Second start: no new password.
	if _, _, code := run([]string{"PRIVOX_DATA_DIR=" + data}, "tenant", "list"); code != 0 {
		t.Fatal("tenant list after serve")
	}
}

// TestBootstrapTerminal: with a terminal to show it on, the generated password goes there in
// plain text, once, and neither into the log nor into a file.
func TestBootstrapTerminal(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	var logs, term bytes.Buffer
	a, err := app.New(t.Context(), cfg, app.NewLogger(&logs, "debug"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.DB.Close()
	if err := a.Bootstrap(t.Context(), "", &term); err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(term.String(), "with password ")
	pw, _, _ := strings.Cut(rest, "\n")
	if !ok || len(pw) != 20 {
		t.Fatalf("terminal: %q", term.String())
	}
	if strings.Contains(logs.String(), pw) {
		t.Fatal("password in the log")
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, app.AdminPasswordFile)); !os.IsNotExist(err) {
		t.Fatalf("password file written although a terminal showed it: %v", err)
	}
	term.Reset()
	if err := a.Bootstrap(t.Context(), "", &term); err != nil || term.Len() != 0 {
		t.Fatalf("second bootstrap: %v %q", err, term.String())
	}
}

// TestPasswordFileRemovedOnceChanged: the file with a generated password stays while the
// password opens the admin's account, and goes at the first start after it was changed.
func TestPasswordFileRemovedOnceChanged(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	var logs bytes.Buffer
	a, err := app.New(t.Context(), cfg, app.NewLogger(&logs, "debug"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.DB.Close()
	if err := a.Bootstrap(t.Context(), "", nil); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(cfg.DataDir, app.AdminPasswordFile)
	if err := a.Bootstrap(t.Context(), "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("password file gone while the password still works: %v", err)
	}
	tn, _ := a.DB.TenantByName(t.Context(), "default")
	u, _ := a.DB.UserByEmail(t.Context(), tn.ID, "admin@localhost")
	if err := tenancy.SetPassword(t.Context(), a.DB, tn.ID, u.ID, "a-new-admin-password"); err != nil {
		t.Fatal(err)
	}
	if err := a.Bootstrap(t.Context(), "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("password file kept after the password was changed: %v", err)
	}
}

// TestAPIAndCLIShareTheStore: what the API creates the CLI lists and the other way round.
func TestAPIAndCLIShareTheStore(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	p.MustDo(201, "POST", "/api/v1/tenants", p.AdminToken, map[string]any{"name": "viaapi"}, nil)
	if o, er, code := p.CLI("tenant", "add", "viacli"); code != 0 {
		t.Fatalf("%s %s", o, er)
	}
	var l struct{ Items []store.Tenant }
	p.MustDo(200, "GET", "/api/v1/tenants", p.AdminToken, nil, &l)
	names := ""
	for _, t := range l.Items {
		names += t.Name + " "
	}
	if !strings.Contains(names, "viaapi") || !strings.Contains(names, "viacli") {
		t.Fatalf("tenants: %s", names)
	}
	o, _, _ := p.CLI("tenant", "list")
	if !strings.Contains(o, "viaapi") {
		t.Fatalf("cli list: %s", o)
	}
}

// TestPprofListener: profiles are served on their own loopback listener when configured, and
// never on the API listener.
func TestPprofListener(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{Configure: func(c *config.Config) { c.Debug.PprofAddr = "127.0.0.1:0" }})
	addr := p.App.Addr("pprof")
	if addr == "" {
		t.Fatal("no pprof address recorded")
	}
	res, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Contains(body, []byte("goroutine profile")) {
		t.Fatalf("pprof: %d %.200s", res.StatusCode, body)
	}
	res, err = http.Get(p.URL + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == 200 {
		t.Fatal("profiles served on the API listener")
	}
}
