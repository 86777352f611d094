// Package privacy is Privox's privacy engine. It reads the data-category registry in datacat
// and works through store, keys and filestore to keep personal data exactly as long as its
// category allows: retention rules per tenant and category (presets plus overrides), the
// sweeper that deletes expired rows and their files in short, crash-safe batches and reduces
// anonymised records to hourly aggregates, legal holds, restriction of processing, the
// subject-access export, erasure with crypto-erasure of content, verification of the audit
// hash chain, the outbound data-flow switches, and the generated records of processing and
// privacy notice. No table is special-cased: what a table declares in the registry is what
// the engine does with it.
package privacy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/privox/privox/internal/filestore"
	"github.com/privox/privox/internal/flows"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/store"
)

// Deps are the services the engine works through.
type Deps struct {
	DB    *store.DB
	Files *filestore.Store
	Vault *keys.Vault
	// Flows is the live outbound-flow registry whose switches the engine persists (optional).
	Flows  *flows.Registry
	Logger *slog.Logger
}

// Options tune the engine.
type Options struct {
	// Preset is the installation's retention preset: the rules of system tables and of the
	// audit chain, and the preset of tenants without one ("default" when empty).
	Preset string
	// BatchSize is how many rows one sweep transaction removes (when zero: 1000 on SQLite,
	// 5000 on PostgreSQL). Small batches keep transactions short so that the writes of calls
	// and registrations never wait long.
	BatchSize int
	// FileBatchSize is how many content files one batch removes (500 when zero).
	FileBatchSize int
	// Pause is how long the sweeper waits after each batch before it takes the write lock
	// again. SQLite has one writer at a time and waiting writers poll with growing sleeps, so
	// back-to-back batches would starve the CDR and registration writers; when Pause is zero,
	// the sweeper on SQLite pauses as long as the batch held the lock (half the time is left
	// to others), and on PostgreSQL, whose row locks do not block other writers, not at all.
	// Negative: never pause (fastest; for a catch-up sweep in a quiet hour).
	Pause time.Duration
	// ExpiryGrace is how long after its own expiry a session, token or registration row is
	// removed (one hour when zero), so that the sweeper never races the component using it.
	ExpiryGrace time.Duration
	// Now is the clock in unix milliseconds (store.Now when nil).
	Now func() int64
	// Hook, when set, is called at every step of a sweep or erasure batch with the step's
	// name. Crash tests use it to kill the process at chosen points.
	Hook func(step string)
}

// Engine is the privacy engine. Its methods are safe for concurrent use.
type Engine struct {
	db    *store.DB
	files *filestore.Store
	vault *keys.Vault
	flows *flows.Registry
	log   *slog.Logger
	opt   Options

	colMu sync.Mutex
	cols  map[string]map[string]bool // table → its columns
	sweep sync.Mutex                 // one sweep at a time in this process
	// onSweep are told of every sweep that changed something (OnSweep).
	onSweep []func(SweepReport)
	// last is the outcome of the latest sweep of every tenant in this process (LastSweep).
	lastMu sync.Mutex
	last   *LastSweep
}

// LastSweep is the outcome of the latest sweep of every tenant that this process ran (the
// scheduled one, or an operator's), without any record's content.
type LastSweep struct {
	StartedAt  int64 `json:"started_at"`
	FinishedAt int64 `json:"finished_at"`
	// OK is false when the sweep stopped with an error; Error says which (no record data).
	OK                bool   `json:"ok"`
	Error             string `json:"error,omitempty"`
	Rows              int64  `json:"rows_removed"`
	Files             int64  `json:"files_removed"`
	HoldsExpired      int    `json:"holds_expired"`
	ErasuresCompleted int    `json:"erasures_completed"`
	ErasuresPending   int    `json:"erasures_pending"`
}

// LastSweep returns the latest sweep of every tenant in this process (ok false: none yet).
// A sweep another node ran, or one skipped because another node was sweeping, is not here.
func (e *Engine) LastSweep() (LastSweep, bool) {
	e.lastMu.Lock()
	defer e.lastMu.Unlock()
	if e.last == nil {
		return LastSweep{}, false
	}
	return *e.last, true
}

// noteSweep records the outcome of a sweep of every tenant.
func (e *Engine) noteSweep(rep SweepReport, err error) {
	l := LastSweep{StartedAt: rep.StartedAt, FinishedAt: rep.FinishedAt, OK: err == nil, HoldsExpired: rep.HoldsExpired,
		ErasuresCompleted: rep.ErasuresCompleted, ErasuresPending: rep.ErasuresPending}
	l.Rows, l.Files = rep.Removed()
	if err != nil {
		l.Error = err.Error()
		if l.FinishedAt == 0 {
			l.FinishedAt = e.opt.Now()
		}
	}
	e.lastMu.Lock()
	e.last = &l
	e.lastMu.Unlock()
}

// OnSweep registers a function told of each sweep that removed rows, after it is done
// (message-waiting indication recounts the boxes then); call it at start-up.
func (e *Engine) OnSweep(f func(SweepReport)) { e.onSweep = append(e.onSweep, f) }

// New returns an engine.
func New(d Deps, o Options) *Engine {
	if o.Preset == "" {
		o.Preset = "default"
	}
	sqlite := d.DB != nil && d.DB.Engine() == store.SQLite
	if o.BatchSize <= 0 {
		o.BatchSize = 5000
		if sqlite {
			o.BatchSize = 1000
		}
	}
	if o.FileBatchSize <= 0 {
		o.FileBatchSize = 500
	}
	if o.ExpiryGrace <= 0 {
		o.ExpiryGrace = time.Hour
	}
	if o.Now == nil {
		o.Now = func() int64 { return store.Now() }
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return &Engine{db: d.DB, files: d.Files, vault: d.Vault, flows: d.Flows, log: d.Logger, opt: o, cols: map[string]map[string]bool{}}
}

// Actor is who asks the engine to do something, for the audit log.
type Actor struct {
	// Name is "user:12", "cli", "system" or "sweeper".
	Name   string
	UserID *int64
	IP     string
}

// System is the engine acting on its own (scheduled sweeps, expiring holds).
var System = Actor{Name: "system"}

// UserActor is a logged-in user acting through the API.
func UserActor(userID int64, ip string) Actor {
	return Actor{Name: "user:" + strconv.FormatInt(userID, 10), UserID: &userID, IP: ip}
}

// audit appends an entry to the audit log through db: the engine's handle, or the transaction
// of the action the entry records, so that both are stored or neither is. An action that
// cannot be recorded fails.
func (e *Engine) audit(ctx context.Context, db *store.DB, a Actor, tenantID int64, action, targetType string, targetID any, detail string) error {
	en := store.AuditEntry{Actor: a.Name, ActorUserID: a.UserID, SourceIP: a.IP, Action: action, TargetType: targetType,
		TargetID: fmt.Sprint(targetID), Detail: detail}
	if en.Actor == "" {
		en.Actor = "system"
	}
	if tenantID != 0 {
		tid := tenantID
		en.TenantID = &tid
	}
	if _, err := db.AppendAudit(context.WithoutCancel(ctx), en); err != nil {
		return fmt.Errorf("privacy: audit %s: %w", action, err)
	}
	return nil
}

func (e *Engine) hook(step string) {
	if e.opt.Hook != nil {
		e.opt.Hook(step)
	}
}

// Errors callers test with errors.Is.
var (
	// ErrRestricted: the person's data is restricted (GDPR Art. 18); see RestrictedError.
	ErrRestricted = errors.New("privacy: processing restricted")
	// ErrInvalid: a request the engine cannot carry out as asked (bad category, mode, …).
	ErrInvalid = errors.New("privacy: invalid request")
	// ErrBusy: another node is sweeping the same database.
	ErrBusy = errors.New("privacy: another sweep is running")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// columns returns the columns a table has in the database (cached; the schema only grows by
// migrations, which run before the engine is used).
func (e *Engine) columns(ctx context.Context, table string) (map[string]bool, error) {
	e.colMu.Lock()
	defer e.colMu.Unlock()
	if c, ok := e.cols[table]; ok {
		return c, nil
	}
	if err := checkIdent(table); err != nil {
		return nil, err
	}
	rows, err := e.db.Query(ctx, `SELECT * FROM `+table+` WHERE 1 = 0`)
	if err != nil {
		return nil, fmt.Errorf("privacy: columns of %s: %w", table, err)
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	c := map[string]bool{}
	for _, n := range names {
		c[n] = true
	}
	e.cols[table] = c
	return c, nil
}

func (e *Engine) hasID(ctx context.Context, table string) (bool, error) {
	c, err := e.columns(ctx, table)
	return c["id"], err
}

func fmtDay(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02") }
