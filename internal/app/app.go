// Package app wires Privox together: it loads the configuration, opens the store, the key
// vault and the file store, bootstraps the first tenant, starts the HTTP listener (web, REST,
// WebSocket, metrics, health) and every subsystem, and drains them on shutdown. It also holds
// the command-line interface, which works on the same data directory or database.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/privox/privox/internal/dialplan"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/privox/privox/internal/api"
	"github.com/privox/privox/internal/config"
	"github.com/privox/privox/internal/credential"
	"github.com/privox/privox/internal/directory"
	"github.com/privox/privox/internal/filestore"
	"github.com/privox/privox/internal/flows"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/privacy"
	"github.com/privox/privox/internal/prompts"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/tenancy"
	"github.com/privox/privox/internal/voicemail"
	"github.com/privox/privox/internal/web"
)

// Subsystem is a part of Privox with a lifecycle. The app starts subsystems in registration
// order after the store is open, and on shutdown first drains all of them (stop taking new
// calls, registrations or requests; let running work finish until the grace period ends),
// then stops them in reverse order.
type Subsystem interface {
	Name() string
	// Start begins serving; it returns once listeners are bound.
	Start(ctx context.Context) error
	// Drain stops taking new work and waits for running work until ctx is done.
	Drain(ctx context.Context) error
	// Stop releases everything; it is called once, after Drain.
	Stop() error
}

// healthChecker is a subsystem that can tell, while running, that it stopped serving (a
// listener died); readiness turns false then.
type healthChecker interface {
	Healthy() error
}

// factories build subsystems; each wire_*.go file registers one from init.
var factories []func(a *App) (Subsystem, error)

// registerSubsystem adds a subsystem factory (call from init, in start order).
func registerSubsystem(f func(a *App) (Subsystem, error)) { factories = append(factories, f) }

// App is one running Privox.
type App struct {
	Cfg     config.Config
	Logger  *slog.Logger
	DB      *store.DB
	Vault   *keys.Vault
	Files   *filestore.Store
	Flows   *flows.Registry
	Privacy *privacy.Engine // wire_privacy.go; subsystems ask it CheckProcessing
	Metrics *prometheus.Registry
	API     *api.Server
	// Mux is the HTTP handler tree; subsystems add their paths (SIP over WebSocket, web UI).
	Mux *http.ServeMux
	// Ready is false until everything started, and again once draining begins.
	Ready atomic.Bool

	// HTTPAddr is the bound HTTP address once started (useful with port 0).
	HTTPAddr string
	// Addrs holds bound addresses reported by subsystems ("sip-udp", "ldap", …).
	addrMu sync.Mutex
	addrs  map[string]string

	subsystems []Subsystem
	locks      locks // lock.go: one server per data directory and key vault
	httpSrv    *http.Server
	httpLn     net.Listener
	pprofSrv   *http.Server
	metricsSrv *http.Server
	// apiDeps lets wire files add API dependencies before the API is built.
	apiDeps []func(*api.Deps)
	// forgetters hold personal data in memory (see forgetUser).
	forgetters []userForgetter

	// Prompts serves system prompts and tenants' replacements (wire_prompts.go).
	Prompts *prompts.Library

	// Directory is the phonebooks and their search index (wire_directory.go).
	Directory *directory.Service

	// Dialplan holds the tenants' outbound routes and dialling settings (wire_dialplan.go).
	Dialplan *dialplan.StoreTables
	// Forwards holds the extensions' forwarding and do-not-disturb settings.
	Forwards  *dialplan.StoreForwards
	blocked   *prometheus.CounterVec
	dialGuard *dialplan.Guard

	// Voicemail is the voicemail engine (wire_voicemail.go; made on first use).
	Voicemail *voicemail.Service
}

// SetAddr records a bound listener address of a subsystem.
func (a *App) SetAddr(name, addr string) {
	a.addrMu.Lock()
	defer a.addrMu.Unlock()
	a.addrs[name] = addr
}

// Addr returns a bound listener address recorded with SetAddr.
func (a *App) Addr(name string) string {
	a.addrMu.Lock()
	defer a.addrMu.Unlock()
	return a.addrs[name]
}

// NewLogger returns the JSON logger for a level.
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// OpenStore opens the configured database, creating the data directory.
func OpenStore(ctx context.Context, cfg config.Config) (*store.DB, error) {
	return openStore(ctx, cfg, false)
}

// openStore opens the database; with encryptClear, an embedded database still clear from a
// release before encryption is encrypted in place first. Only privox serve, which holds the
// data directory's exclusive lock, does that: a command run beside a server opens the file as
// it finds it, so that it never rewrites a database another process has open.
func openStore(ctx context.Context, cfg config.Config, encryptClear bool) (*store.DB, error) {
	if err := ensureDir(cfg.DataDir); err != nil {
		return nil, err
	}
	var (
		db  *store.DB
		err error
	)
	switch cfg.Database.Driver {
	case "postgres":
		// Names, numbers and call records cross the network to PostgreSQL: verified TLS, or
		// a local server (docs/database-encryption.md).
		if err := checkPostgresTransport(cfg); err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
		db, err = store.Open(ctx, store.Postgres, cfg.Database.DSN)
	default:
		var key []byte
		st, serr := store.SQLiteFileState(cfg.SQLitePath())
		if serr != nil {
			return nil, fmt.Errorf("open database: %w", serr)
		}
		if cfg.Database.Encrypt && (st != store.FileClear || encryptClear) {
			if key, err = databaseKey(ctx, cfg); err != nil {
				return nil, fmt.Errorf("open database: %w", err)
			}
		}
		db, err = store.OpenSQLite(ctx, cfg.SQLitePath(), key)
	}
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}

// databaseKey returns the embedded database's key from the key vault beside the data
// directory, making it on first start. A database file that is already encrypted needs the
// key that encrypted it: a vault without one is an error naming the problem, never a new key
// (which would present the data as a damaged or empty database). A key rotation that a kill
// interrupted is completed or dropped here (settleRekey, cli_db.go).
func databaseKey(ctx context.Context, cfg config.Config) ([]byte, error) {
	vault, err := keys.Open(keys.DefaultDir(cfg.DataDir))
	if err != nil {
		return nil, err
	}
	st, err := store.SQLiteFileState(cfg.SQLitePath())
	if err != nil {
		return nil, err
	}
	if key, err := settleRekey(ctx, vault, cfg.SQLitePath(), st); key != nil || err != nil {
		return key, err
	}
	key, err := vault.DatabaseKey(st != store.FileOther)
	if errors.Is(err, keys.ErrNoKey) {
		return nil, fmt.Errorf("the database %s is encrypted but the key vault %s holds no database key (restore the vault that belongs to this data directory)", cfg.SQLitePath(), vault.Dir())
	}
	if err != nil {
		return nil, fmt.Errorf("database key from the key vault %s: %w (is this the vault of this installation?)", vault.Dir(), err)
	}
	return key, nil
}

// ensureDir creates the data directory and proves it is writable.
func ensureDir(dir string) error {
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return fmt.Errorf("data directory %s is not a directory", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	probe := filepath.Join(dir, ".write-test")
	if err := os.WriteFile(probe, []byte("ok"), 0o600); err != nil {
		return fmt.Errorf("data directory %s is not writable: %w", dir, err)
	}
	return os.Remove(probe)
}

// New opens everything a running Privox needs, but starts nothing.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger) (_ *App, err error) {
	a := &App{Cfg: cfg, Logger: logger, Flows: flows.NewRegistry(), Metrics: prometheus.NewRegistry(), Mux: http.NewServeMux(), addrs: map[string]string{}}
	a.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := ensureDir(cfg.DataDir); err != nil {
		return nil, err
	}
	if a.locks, err = lockServe(cfg); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			a.locks.release()
		}
	}()
	db, err := openStore(ctx, cfg, true) // under the lock taken above
	if err != nil {
		return nil, err
	}
	a.DB = db
	if a.Vault, err = keys.Open(keys.DefaultDir(cfg.DataDir)); err != nil {
		db.Close()
		return nil, err
	}
	if err := sealSecrets(ctx, db, a.Vault, logger); err != nil { // secrets.go
		db.Close()
		return nil, err
	}
	if a.Files, err = filestore.New(filepath.Join(cfg.DataDir, "files"), db, a.Vault); err != nil {
		db.Close()
		return nil, err
	}
	for _, f := range factories {
		s, err := f(a)
		if err != nil {
			db.Close()
			return nil, err
		}
		if s != nil {
			a.subsystems = append(a.subsystems, s)
		}
	}
	deps := api.Deps{DB: db, Files: a.Files, Vault: a.Vault, Flows: a.Flows, Logger: logger.With("component", "api"), Metrics: a.Metrics,
		SecureCookies: cfg.HTTP.TLSCert != "", Readiness: a.readiness, Gatherer: a.Metrics}
	for _, f := range a.apiDeps {
		f(&deps)
	}
	a.API = api.New(deps)
	a.Mux.Handle("/api/", a.API)
	// The web console and user portal: pages over the same API handlers (internal/web).
	a.Mux.Handle("/", web.New(a.API, logger.With("component", "web"), cfg.HTTP.TLSCert != ""))
	a.Mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	a.Mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		for _, c := range a.readiness(r.Context()) {
			if !c.OK {
				http.Error(w, c.Detail+"\n", http.StatusServiceUnavailable)
				return
			}
		}
		w.Write([]byte("ready\n"))
	})
	if cfg.Metrics.Token != "" {
		a.Mux.Handle("GET /metrics", a.tokenMetrics())
	}
	return a, nil
}

// readiness runs the checks of /readyz in order: started and not draining, the database,
// then every subsystem that reports its health. /readyz answers the first that fails; the
// API's status summary shows them all.
func (a *App) readiness(ctx context.Context) []api.ReadyCheck {
	checks := []api.ReadyCheck{{Name: "server", OK: a.Ready.Load()}}
	if !checks[0].OK {
		checks[0].Detail = "not ready"
	}
	db := api.ReadyCheck{Name: "database", OK: true}
	if err := a.DB.Healthy(ctx); errors.Is(err, store.ErrCorrupt) {
		db.OK, db.Detail = false, "database reports corruption: run privox fsck"
	} else if err != nil {
		db.OK, db.Detail = false, "database unavailable"
	}
	checks = append(checks, db)
	for _, sub := range a.subsystems {
		if h, ok := sub.(healthChecker); ok {
			c := api.ReadyCheck{Name: sub.Name(), OK: true}
			if err := h.Healthy(); err != nil {
				c.OK, c.Detail = false, err.Error()
			}
			checks = append(checks, c)
		}
	}
	return checks
}

// AdminPasswordFile is the file in the data directory that holds a generated first admin
// password when no terminal is there to show it.
const AdminPasswordFile = "initial-admin-password"

// Bootstrap creates the default tenant and admin on first start. A password it generates
// never goes to the log: it is printed once to term, plain text, when term is a terminal (not
// nil), and otherwise written to AdminPasswordFile (mode 0600) in the data directory, whose
// path the log names.
func (a *App) Bootstrap(ctx context.Context, password string, term io.Writer) error {
	ts, err := a.DB.ListTenants(ctx, store.Page{Limit: 1})
	if err != nil {
		return err
	}
	if len(ts) > 0 {
		a.removeStalePasswordFile(ctx, ts[0].ID)
		return nil
	}
	var generated, file string
	if password == "" {
		if generated, err = credential.GeneratePassword(20); err != nil {
			return err
		}
		password = generated
		if term == nil {
			// Written before the account exists, so that a failed write loses no password.
			file = filepath.Join(a.Cfg.DataDir, AdminPasswordFile)
			if err := writeSecretFile(file, "tenant: default\nemail: admin@localhost\npassword: "+generated+"\n"); err != nil {
				return fmt.Errorf("bootstrap: %w", err)
			}
		}
	}
	created, _, err := tenancy.Bootstrap(ctx, a.DB, a.Cfg.Privacy.Preset, password)
	if err != nil || !created {
		if file != "" {
			os.Remove(file)
		}
		return err
	}
	a.Logger.Info("created tenant default with its administrator", "email", "admin@localhost")
	switch {
	case file != "":
		a.Logger.Info("the generated administrator password is in a file readable only by this user; delete it once you have logged in", "file", file)
	case generated != "":
		fmt.Fprintf(term, "\nPrivox first start: log in to tenant \"default\" as admin@localhost with password %s\nThis password is shown only once.\n\n", generated)
	}
	return nil
}

// removeStalePasswordFile deletes AdminPasswordFile once the password in it no longer opens
// the first admin's account (it was changed, or the account is gone), so that a forgotten
// file does not keep a working password in the data directory.
func (a *App) removeStalePasswordFile(ctx context.Context, tenantID int64) {
	file := filepath.Join(a.Cfg.DataDir, AdminPasswordFile)
	b, err := os.ReadFile(file)
	if err != nil {
		return
	}
	_, pw, _ := strings.Cut(string(b), "password: ")
	pw = strings.TrimSpace(pw)
	var hash string
	u, err := a.DB.UserByEmail(ctx, tenantID, "admin@localhost")
	if err == nil && u.Active {
		hash, err = a.DB.PasswordHash(ctx, tenantID, u.ID)
	}
	switch {
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return // the store cannot tell now; look again at the next start
	case err == nil && u.Active && credential.VerifyPasswordContext(ctx, hash, pw) == nil:
		return // still the password
	}
	if err := os.Remove(file); err == nil {
		a.Logger.Info("removed the generated administrator password file: the password was changed", "file", file)
	}
}

// terminal returns w when it is a terminal, else nil (a pipe, a file, a journal).
func terminal(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		return w
	}
	return nil
}

// writeSecretFile writes content to a new file only its owner can read.
func writeSecretFile(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil { // an older file may have had other permissions
		f.Close()
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Start binds the HTTP listener and starts every subsystem.
func (a *App) Start(ctx context.Context) error {
	if rep, err := a.Files.Recover(ctx, true); err != nil {
		return fmt.Errorf("recover content files: %w", err)
	} else if !rep.Clean() {
		a.Logger.Warn("content files recovered after an unclean stop", "pending_removed", rep.PendingRemoved, "deletes_finished", rep.DeletesFinished,
			"missing_files", rep.MissingFiles, "orphan_files", rep.OrphanFiles)
	}
	ln, err := net.Listen("tcp", a.Cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	a.httpLn = ln
	a.HTTPAddr = ln.Addr().String()
	a.httpSrv, ln = a.newHTTPServer(ln)
	if a.Cfg.HTTP.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(a.Cfg.HTTP.TLSCert, a.Cfg.HTTP.TLSKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("http tls: %w", err)
		}
		a.httpSrv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, a.httpSrv.TLSConfig)
	}
	go func() {
		if err := a.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Logger.Error("http server stopped", "err", err)
		}
	}()
	if err := a.startPprof(); err != nil {
		a.httpSrv.Close()
		return err
	}
	if err := a.startMetrics(); err != nil {
		a.httpSrv.Close()
		if a.pprofSrv != nil {
			a.pprofSrv.Close()
		}
		return err
	}
	for i, s := range a.subsystems {
		if err := s.Start(ctx); err != nil {
			for j := i - 1; j >= 0; j-- {
				a.subsystems[j].Stop()
			}
			a.httpSrv.Close()
			if a.pprofSrv != nil {
				a.pprofSrv.Close()
			}
			if a.metricsSrv != nil {
				a.metricsSrv.Close()
			}
			return fmt.Errorf("start %s: %w", s.Name(), err)
		}
	}
	a.Ready.Store(true)
	a.Logger.Info("privox ready", "http", a.HTTPAddr, "data_dir", a.Cfg.DataDir, "database", a.Cfg.Database.Driver)
	return nil
}

// Shutdown drains every subsystem within the grace period, then stops everything.
func (a *App) Shutdown(grace time.Duration) error {
	return a.ShutdownContext(context.Background(), grace)
}

// ShutdownContext is Shutdown that stops waiting as soon as abort is done (a second Ctrl-C):
// draining ends, running calls are hung up and everything stops at once.
func (a *App) ShutdownContext(abort context.Context, grace time.Duration) error {
	a.Ready.Store(false)
	a.Logger.Info("draining", "grace", grace.String())
	ctx, cancel := context.WithTimeout(abort, grace)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range a.subsystems {
		wg.Add(1)
		go func(s Subsystem) {
			defer wg.Done()
			if err := s.Drain(ctx); err != nil {
				a.Logger.Warn("drain incomplete", "subsystem", s.Name(), "err", err)
			}
		}(s)
	}
	wg.Wait()
	var errs []error
	if a.httpSrv != nil {
		hctx, hcancel := context.WithTimeout(abort, 5*time.Second)
		if err := a.httpSrv.Shutdown(hctx); err != nil {
			a.httpSrv.Close()
		}
		hcancel()
	}
	if a.pprofSrv != nil {
		a.pprofSrv.Close()
	}
	if a.metricsSrv != nil {
		a.metricsSrv.Close()
	}
	for i := len(a.subsystems) - 1; i >= 0; i-- {
		if err := a.subsystems[i].Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", a.subsystems[i].Name(), err))
		}
	}
	errs = append(errs, a.DB.Close())
	a.locks.release()
	a.Logger.Info("stopped")
	return errors.Join(errs...)
}
