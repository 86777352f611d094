// Package privoxtest starts a whole Privox inside a test: a temporary data directory, free
// loopback ports, the embedded SQLite (or a fresh PostgreSQL database), an admin API token,
// and at the end a drain, a stop and a goroutine-leak check. Every integration test uses it.
package privoxtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/privox/privox/internal/app"
	"github.com/privox/privox/internal/config"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/store/storetest"
	"github.com/privox/privox/internal/tenancy"
)

// AdminPassword is the password of admin@localhost in tenant "default".
const AdminPassword = "privox-test-admin-pw"

// Options change the Privox a test starts.
type Options struct {
	// Engine selects the database (SQLite when empty).
	Engine store.Engine
	// Configure changes the configuration before start.
	Configure func(c *config.Config)
	// DataDir reuses a data directory (for restart tests); a temporary one when empty.
	DataDir string
	// DSN reuses a PostgreSQL database (for restart tests).
	DSN string
	// NoLeakCheck skips the goroutine-leak check (for tests that deliberately keep peers alive).
	NoLeakCheck bool
	// LogCopy, when set, receives a copy of every log line (for tests that check what is
	// logged); it must be safe for concurrent use.
	LogCopy io.Writer
}

// Privox is a running instance.
type Privox struct {
	App        *app.App
	Cfg        config.Config
	URL        string // http://127.0.0.1:port
	AdminToken string
	DataDir    string
	DSN        string
	t          testing.TB
	stopped    bool
}

// PromptDir is the system prompt directory every test Privox shares: espeak-ng synthesises the
// set once per machine (at the first Start), not once per test.
func PromptDir() string { return filepath.Join(os.TempDir(), "privox-test-prompts") }

// Start runs a Privox on free loopback ports and stops it when the test ends.
func Start(t testing.TB, opts Options) *Privox {
	t.Helper()
	leakOpts := []goleak.Option{goleak.IgnoreCurrent(),
		// database/sql and the sqlite driver keep a connection opener per DB until Close returns.
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		goleak.IgnoreAnyFunction("github.com/jackc/pgx/v5/pgconn.(*PgConn).asyncClose"),
		// Test clients built on sipgo (sip tests' newSIPClient) send from UDP sockets of their
		// own, whose readers sipgo sometimes leaves running after its UA is closed. Privox
		// itself sends UDP from its listener (call.go: udpLaddr), whose reader is
		// readListenerConnection, so a reader Privox leaked is still found.
		goleak.IgnoreAnyFunction("github.com/emiago/sipgo/sip.(*TransportUDP).readUDPConnection"),
	}
	cfg := config.Default()
	cfg.DataDir = opts.DataDir
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join(t.TempDir(), "data")
	}
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.SIP.Addr = "127.0.0.1:0"
	cfg.SIP.TLSAddr = "127.0.0.1:0"
	cfg.Metrics.Addr = "127.0.0.1:0"
	cfg.LDAP.Addr = "127.0.0.1:0"
	cfg.LDAP.LDAPSAddr = "127.0.0.1:0"
	cfg.RTP.Ports = RTPRange(400)
	cfg.Shutdown = 5 * time.Second
	cfg.Log.Level = "debug"
	cfg.Prompts.Dir = PromptDir()
	dsn := opts.DSN
	if opts.Engine == store.Postgres {
		if dsn == "" {
			dsn = storetest.PostgresDSN(t)
		}
		// The test cluster listens on loopback without TLS (scripts/pg-cluster.sh).
		cfg.Database = config.Database{Driver: "postgres", DSN: dsn, AllowPlaintextLoopback: true}
	}
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	if ps := config.Validate(cfg); len(ps) > 0 {
		t.Fatalf("privoxtest: invalid config: %v", ps)
	}
	logw := &testWriter{t: t, copy: opts.LogCopy}
	if _, fuzz := t.(*testing.F); fuzz {
		logw.over = true // a fuzz target may not call f.Log while it runs
	}
	ctx := context.Background()
	a, err := app.New(ctx, cfg, app.NewLogger(logw, cfg.Log.Level))
	if err != nil {
		t.Fatalf("privoxtest: %v", err)
	}
	if err := a.Bootstrap(ctx, AdminPassword, io.Discard); err != nil {
		t.Fatalf("privoxtest: bootstrap: %v", err)
	}
	if err := a.Start(ctx); err != nil {
		a.DB.Close()
		t.Fatalf("privoxtest: start: %v", err)
	}
	p := &Privox{App: a, Cfg: cfg, URL: "http://" + a.HTTPAddr, DataDir: cfg.DataDir, DSN: dsn, t: t}
	tn, err := a.DB.TenantByName(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := a.DB.UserByEmail(ctx, tn.ID, "admin@localhost")
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := tenancy.CreateToken(ctx, a.DB, tn.ID, admin.ID, "privoxtest", nil)
	if err != nil {
		t.Fatal(err)
	}
	p.AdminToken = tok
	t.Cleanup(func() {
		p.Stop()
		logw.done()
		if !opts.NoLeakCheck {
			if err := goleak.Find(leakOpts...); err != nil {
				t.Errorf("privoxtest: goroutines leaked after stop: %v", err)
			}
		}
	})
	return p
}

// Stop drains and stops the instance (idempotent; Start registers it as cleanup).
func (p *Privox) Stop() {
	if p.stopped {
		return
	}
	p.stopped = true
	if err := p.App.Shutdown(p.Cfg.Shutdown); err != nil {
		p.t.Errorf("privoxtest: shutdown: %v", err)
	}
}

// Addr returns a subsystem's bound address ("sip-udp", "sip-tcp", "sip-tls", "ldap", …).
func (p *Privox) Addr(name string) string { return p.App.Addr(name) }

// Do calls the API with a bearer token and returns the status and body. body may be nil, a
// string (sent as is) or a value (sent as JSON).
func (p *Privox) Do(method, path, token string, body any) (int, []byte) {
	p.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			p.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, p.URL+path, rd)
	if err != nil {
		p.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("privoxtest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// MustDo is Do that fails the test unless the status is want, decoding the body into out.
func (p *Privox) MustDo(want int, method, path, token string, body, out any) {
	p.t.Helper()
	st, b := p.Do(method, path, token, body)
	if st != want {
		p.t.Fatalf("%s %s: status %d, want %d: %s", method, path, st, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			p.t.Fatalf("%s %s: decode: %v: %s", method, path, err, b)
		}
	}
}

// CLI runs a privox subcommand against this instance's data directory or database.
func (p *Privox) CLI(args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	env := []string{"PRIVOX_DATA_DIR=" + p.DataDir, "PRIVOX_PROMPTS_DIR=" + p.Cfg.Prompts.Dir}
	if p.DSN != "" {
		env = append(env, "PRIVOX_DATABASE_DRIVER=postgres", "PRIVOX_DATABASE_DSN="+p.DSN, "PRIVOX_DATABASE_ALLOW_PLAINTEXT_LOOPBACK=true")
	}
	code = app.Main(app.Env{Args: args, Environ: env, Stdout: &o, Stderr: &e})
	if p.App.Dialplan != nil {
		// A running server reads a command's dial-plan changes within its cache time
		// (5 s); a test's next call sees them at once.
		p.App.Dialplan.InvalidateAll()
	}
	if p.App.Forwards != nil {
		p.App.Forwards.InvalidateAll()
	}
	return o.String(), e.String(), code
}

// RTPRange returns a random RTP port range of n ports so that parallel test binaries rarely
// collide (the relay skips ports that are taken anyway).
func RTPRange(n int) string {
	var b [2]byte
	rand.Read(b[:])
	// Stay below the kernel's ephemeral range (32768 and up), where sipp, baresip and every
	// client socket get their ports.
	lo := 10000 + int(binary.BigEndian.Uint16(b[:]))%(32768-10000-n)
	lo &^= 1
	return fmt.Sprintf("%d-%d", lo, lo+n-1)
}

// testWriter sends logs to t.Log until the test is done, then to stderr when verbose.
type testWriter struct {
	t    testing.TB
	mu   sync.Mutex
	over bool
	copy io.Writer
}

func (w *testWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.copy != nil {
		w.copy.Write(b)
	}
	if w.over {
		if testing.Verbose() {
			os.Stderr.Write(b)
		}
		return len(b), nil
	}
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

func (w *testWriter) done() { w.mu.Lock(); w.over = true; w.mu.Unlock() }

// OpenStore opens the database of a stopped instance the way privox serve does (the embedded
// database with the key from its vault); the caller closes it.
func (p *Privox) OpenStore() *store.DB {
	p.t.Helper()
	db, err := app.OpenStore(context.Background(), p.Cfg)
	if err != nil {
		p.t.Fatal(err)
	}
	return db
}
