package privacy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/privox/privox/internal/datacat"
	"github.com/privox/privox/internal/store"
)

// SweepOptions select what a sweep does.
type SweepOptions struct {
	// DryRun counts what would go without changing anything.
	DryRun bool
	// TenantID limits the sweep to one tenant's tables (0: everything, including the
	// installation's tables and the audit chain).
	TenantID int64
	// Fast sweeps without pausing between batches (Options.Pause), for a catch-up in a quiet
	// hour: on SQLite it keeps other writers waiting.
	Fast bool
	// Progress, when set, is told before each table (done of total tables, the next one's
	// name) and once more at the end (total of total).
	Progress func(done, total int, table string)
}

// TableReport says what a sweep did to one table with one action.
type TableReport struct {
	Table    string `json:"table"`
	Category string `json:"category"`
	// Action is "delete" (period over), "anonymise" (period over: counted into the hourly
	// aggregates, then deleted), "expire" (the record's own expiry passed) or "chain" (oldest
	// entries of a hash chain removed behind a checkpoint).
	Action string `json:"action"`
	// Expired counts the rows found past their time, Removed those deleted (or, in a dry run,
	// those that would be), Held those kept by a legal hold or restriction.
	Expired int64 `json:"expired"`
	Removed int64 `json:"removed"`
	Held    int64 `json:"held"`
	Files   int64 `json:"files"`
}

// SweepReport says what a sweep did.
type SweepReport struct {
	DryRun            bool          `json:"dry_run"`
	StartedAt         int64         `json:"started_at"`
	FinishedAt        int64         `json:"finished_at"`
	Tables            []TableReport `json:"tables"`
	HoldsExpired      int           `json:"holds_expired"`
	ErasuresCompleted int           `json:"erasures_completed"`
	ErasuresPending   int           `json:"erasures_pending"`
}

// Removed is the number of rows removed in all tables.
func (r SweepReport) Removed() (rows, files int64) {
	for _, t := range r.Tables {
		rows += t.Removed
		files += t.Files
	}
	return rows, files
}

type reports map[string]*TableReport

func (rs reports) get(t datacat.Table, action string) *TableReport {
	k := t.Name + "\x00" + action
	if r, ok := rs[k]; ok {
		return r
	}
	r := &TableReport{Table: t.Name, Category: string(t.Category), Action: action}
	rs[k] = r
	return r
}

func (rs reports) list() []TableReport {
	out := make([]TableReport, 0, len(rs))
	for _, r := range rs {
		if r.Expired > 0 || r.Removed > 0 || r.Held > 0 {
			out = append(out, *r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Table != out[j].Table {
			return out[i].Table < out[j].Table
		}
		return out[i].Action < out[j].Action
	})
	return out
}

const day = 24 * 3600 * 1000

// Sweep applies the retention rules once: it closes expired holds, removes every row (and
// file) past its category's period in short batches, reduces records whose rule says
// anonymise to hourly aggregates before they go, removes sessions, tokens and registrations
// past their own expiry, trims the audit chain behind a checkpoint, and completes erasures
// that waited for a hold to end. A crash at any point leaves rows and files consistent once
// filestore.Recover has run (Privox runs it at start; privox fsck --repair runs it on demand).
func (e *Engine) Sweep(ctx context.Context, o SweepOptions) (rep SweepReport, err error) {
	rep, err = e.sweepOnce(ctx, o)
	if o.TenantID == 0 && !o.DryRun && !errors.Is(err, ErrBusy) {
		e.noteSweep(rep, err)
	}
	return rep, err
}

func (e *Engine) sweepOnce(ctx context.Context, o SweepOptions) (SweepReport, error) {
	e.sweep.Lock()
	defer e.sweep.Unlock()
	unlock, err := e.clusterLock(ctx)
	if err != nil {
		return SweepReport{}, err
	}
	defer unlock()
	now := e.opt.Now()
	rep := SweepReport{DryRun: o.DryRun, StartedAt: now}
	if o.TenantID == 0 {
		if rep.HoldsExpired, err = e.expireHolds(ctx, now, o.DryRun); err != nil {
			return rep, fmt.Errorf("privacy: expire holds: %w", err)
		}
	}
	holds, err := e.loadHolds(ctx, now)
	if err != nil {
		return rep, fmt.Errorf("privacy: load holds: %w", err)
	}
	book, err := e.loadRules(ctx)
	if err != nil {
		return rep, fmt.Errorf("privacy: load rules: %w", err)
	}
	var tenants []int64
	for id := range book.tenantPreset {
		if o.TenantID == 0 || o.TenantID == id {
			tenants = append(tenants, id)
		}
	}
	sort.Slice(tenants, func(i, j int) bool { return tenants[i] < tenants[j] })
	rs := reports{}
	tables := datacat.Tables()
	for i, t := range tables {
		if o.Progress != nil {
			o.Progress(i, len(tables), t.Name)
		}
		if err := checkTable(t); err != nil {
			return rep, err
		}
		if err := e.sweepTable(ctx, t, o, now, tenants, book, holds, rs); err != nil {
			rep.Tables = rs.list()
			return rep, fmt.Errorf("privacy: sweep %s: %w", t.Name, err)
		}
	}
	rep.Tables = rs.list()
	if o.Progress != nil {
		o.Progress(len(tables), len(tables), "")
	}
	if !o.DryRun {
		done, pending, err := e.completeErasures(ctx, o.TenantID)
		rep.ErasuresCompleted, rep.ErasuresPending = done, pending
		if err != nil {
			return rep, err
		}
	}
	if rows, _ := rep.Removed(); !o.DryRun && rows > 0 {
		// What the sweep deleted must not stay readable in the database files either.
		var names []string
		for _, t := range rep.Tables {
			if t.Removed > 0 {
				names = append(names, t.Table)
			}
		}
		if err := e.db.Scrub(context.WithoutCancel(ctx), names...); err != nil {
			return rep, fmt.Errorf("privacy: sweep done, but scrubbing the database files failed: %w", err)
		}
	}
	rep.FinishedAt = e.opt.Now()
	if rows, files := rep.Removed(); !o.DryRun && (rows > 0 || rep.HoldsExpired > 0 || rep.ErasuresCompleted > 0) {
		var parts []string
		for _, t := range rep.Tables {
			if t.Removed > 0 {
				parts = append(parts, fmt.Sprintf("%s:%s=%d", t.Table, t.Action, t.Removed))
			}
		}
		if err := e.audit(ctx, e.db, System, o.TenantID, "retention.sweep", "retention", "sweep",
			fmt.Sprintf("rows=%d files=%d %s", rows, files, strings.Join(parts, " "))); err != nil {
			return rep, err
		}
	}
	if rows, _ := rep.Removed(); !o.DryRun && rows > 0 {
		for _, f := range e.onSweep {
			f(rep)
		}
	}
	return rep, nil
}

func (e *Engine) sweepTable(ctx context.Context, t datacat.Table, o SweepOptions, now int64, tenants []int64, book *ruleBook, holds *holdSet, rs reports) error {
	if t.ExpiresColumn != "" && (o.TenantID == 0 || t.TenantColumn != "") {
		p := pass{t: t, where: t.ExpiresColumn + " < ?", args: []any{now - e.opt.ExpiryGrace.Milliseconds()}, keyCol: t.ExpiresColumn, fast: o.Fast}
		if o.TenantID != 0 {
			p.where += " AND " + t.TenantColumn + " = ?"
			p.args = append(p.args, o.TenantID)
		}
		if err := e.runPass(ctx, p, holds, o.DryRun, rs.get(t, "expire")); err != nil {
			return err
		}
	}
	if !sweepableByAge(t) {
		return nil
	}
	if t.HashColumn != "" {
		if o.TenantID != 0 {
			return nil
		}
		return e.sweepChain(ctx, t, book.rule(store.InstallationTenant, t.Category, ""), now, holds, o, rs.get(t, "chain"))
	}
	scopes := tenants
	if t.TenantColumn == "" || installationScoped(t.Category) {
		if o.TenantID != 0 {
			return nil
		}
		scopes = []int64{store.InstallationTenant}
	}
	for _, tid := range scopes {
		for _, kp := range kindPasses(t) {
			r := book.rule(tid, t.Category, kp.kind)
			if !r.Timed() {
				continue
			}
			p := pass{t: t, where: t.TimeColumn + " < ?", args: []any{now - int64(r.Days)*day}, keyCol: t.TimeColumn, fast: o.Fast}
			if tid != store.InstallationTenant {
				p.where += " AND " + t.TenantColumn + " = ?"
				p.args = append(p.args, tid)
			}
			if kp.where != "" {
				p.where += " AND " + kp.where
				p.args = append(p.args, kp.args...)
			}
			action := "delete"
			if r.Mode == datacat.Anonymise {
				action, p.aggregate = "anonymise", true
			}
			if err := e.runPass(ctx, p, holds, o.DryRun, rs.get(t, action)); err != nil {
				return err
			}
		}
	}
	return nil
}

// kindPass is the part of a table holding one kind of content (or every kind without a rule
// of its own).
type kindPass struct {
	kind  string
	where string
	args  []any
}

func kindPasses(t datacat.Table) []kindPass {
	if t.KindColumn == "" {
		return []kindPass{{}}
	}
	var out []kindPass
	var declared []any
	for _, k := range datacat.FileKinds() {
		if k.Table == t.Name {
			out = append(out, kindPass{kind: k.Kind, where: t.KindColumn + " = ?", args: []any{k.Kind}})
			declared = append(declared, k.Kind)
		}
	}
	rest := kindPass{}
	if len(declared) > 0 {
		rest.where = t.KindColumn + " NOT IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(declared)), ", ") + ")"
		rest.args = declared
	}
	return append(out, rest)
}

// pass removes the rows of one table that match a condition, in batches.
type pass struct {
	t         datacat.Table
	where     string
	args      []any
	aggregate bool
	// keyCol, when set, is the time column the batches walk in order: each batch starts at
	// the newest time the previous one reached, so that no batch scans the index entries of
	// rows already removed (PostgreSQL keeps them until vacuum).
	keyCol string
	// fast skips the pauses between batches.
	fast bool
}

// fileRef is a content file about to be removed.
type fileRef struct{ id, tenant int64 }

// runPass removes the matching, unheld rows of a table in short transactions. For a table
// whose rows own content files the order is what makes a crash harmless: (1) in one
// transaction the rows go and their file rows are marked deleting, (2) the files are removed,
// (3) the file rows are removed. A crash after (1) leaves file rows marked deleting, which
// filestore.Recover finishes; no row ever points at a missing file and no file is left
// without a row.
func (e *Engine) runPass(ctx context.Context, p pass, holds *holdSet, dry bool, tr *TableReport) error {
	t := p.t
	hasID, err := e.hasID(ctx, t.Name)
	if err != nil {
		return err
	}
	fileIndex := t.FileColumn == "id"
	if fileIndex {
		// Only complete files: pending ones are being written; deleting ones Recover owns.
		p.where += " AND state = '" + store.FileReady + "'"
	}
	excl := holds.exclude(t, hasID)
	if dry || !holds.empty(t) {
		var all, free int64
		if err := e.db.QueryRow(ctx, `SELECT COUNT(*) FROM `+t.Name+` WHERE `+p.where, p.args...).Scan(&all); err != nil {
			return err
		}
		free = all
		if excl != "" {
			if err := e.db.QueryRow(ctx, `SELECT COUNT(*) FROM `+t.Name+` WHERE `+p.where+excl, p.args...).Scan(&free); err != nil {
				return err
			}
		}
		tr.Held += all - free
		if dry {
			tr.Expired += all
			tr.Removed += free
			return nil
		}
		tr.Expired += all - free
	}
	if !hasID {
		return e.db.InTx(ctx, func(tx *store.DB) error {
			if p.aggregate {
				if _, err := tx.Exec(ctx, aggregateSQL(tx, t, p.where+excl), p.args...); err != nil {
					return fmt.Errorf("aggregate: %w", err)
				}
			}
			res, err := tx.Exec(ctx, `DELETE FROM `+t.Name+` WHERE `+p.where+excl, p.args...)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			tr.Removed += n
			tr.Expired += n
			return nil
		})
	}
	batch := e.opt.BatchSize
	hasFiles := t.FileColumn != ""
	if hasFiles {
		batch = e.opt.FileBatchSize
	}
	cols := "id"
	switch {
	case fileIndex:
		cols = "id, " + t.TenantColumn
	case hasFiles:
		cols = "id, " + t.FileColumn
	}
	nbase := strings.Count(cols, ",") + 1
	if p.keyCol != "" {
		cols += ", " + p.keyCol
	}
	if p.aggregate {
		cols += ", " + aggregateColumns(t)
	}
	sel := `SELECT ` + cols + ` FROM ` + t.Name + ` WHERE ` + p.where + excl
	args := append([]any(nil), p.args...)
	var from int64 = -1 << 62
	if p.keyCol != "" {
		sel += ` AND ` + p.keyCol + ` >= ? ORDER BY ` + p.keyCol
		args = append(args, from)
	}
	sel += ` LIMIT ?`
	args = append(args, batch)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var ids []int64
		var files []fileRef
		began := time.Now()
		err := e.db.InTx(ctx, func(tx *store.DB) error {
			ids, files = ids[:0], files[:0]
			var fileIDs []int64
			agg := aggregates{}
			rows, err := tx.Query(ctx, sel, args...)
			if err != nil {
				return err
			}
			var id, key int64
			var second sql.NullInt64
			dest := []any{&id}
			if nbase == 2 {
				dest = append(dest, &second)
			}
			if p.keyCol != "" {
				dest = append(dest, &key)
			}
			var aggVals []any
			if p.aggregate {
				aggVals = make([]any, 3+len(t.StatsDimensions))
				for i := range aggVals {
					dest = append(dest, &aggVals[i])
				}
			}
			for rows.Next() {
				second = sql.NullInt64{}
				if err := rows.Scan(dest...); err != nil {
					rows.Close()
					return err
				}
				if p.aggregate {
					agg.add(t, aggVals)
				}
				from = max(from, key)
				ids = append(ids, id)
				switch {
				case fileIndex:
					files = append(files, fileRef{id: id, tenant: second.Int64})
				case hasFiles && second.Valid:
					fileIDs = append(fileIDs, second.Int64)
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if len(ids) == 0 {
				return nil
			}
			arg := idsArg(tx, ids)
			if err := agg.store(ctx, tx, t.Name); err != nil {
				return fmt.Errorf("aggregate: %w", err)
			}
			if hasFiles && !fileIndex && len(fileIDs) > 0 {
				if files, err = fileTenants(ctx, tx, fileIDs); err != nil {
					return err
				}
			}
			if len(files) > 0 {
				fids := make([]int64, len(files))
				for i, f := range files {
					fids[i] = f.id
				}
				if _, err := tx.Exec(ctx, `UPDATE content_files SET state = '`+store.FileDeleting+`' WHERE `+inIDs(tx, "id")+` AND state = '`+store.FileReady+`'`,
					idsArg(tx, fids)); err != nil {
					return fmt.Errorf("mark files deleting: %w", err)
				}
			}
			if !fileIndex {
				if _, err := tx.Exec(ctx, `DELETE FROM `+t.Name+` WHERE `+inIDs(tx, "id"), arg); err != nil {
					return err
				}
			} else if err := deleteReferences(ctx, tx, arg); err != nil {
				return err
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		held := time.Since(began)
		e.hook("batch-committed")
		if len(files) > 0 {
			if err := e.removeFiles(ctx, files); err != nil {
				return err
			}
			tr.Files += int64(len(files))
		}
		tr.Removed += int64(len(ids))
		tr.Expired += int64(len(ids))
		if len(ids) < batch {
			return nil
		}
		if p.keyCol != "" {
			args[len(args)-2] = from
		}
		if !p.fast {
			e.pause(ctx, held)
		}
	}
}

// pause lets other writers take the lock between two batches; held is how long the batch
// just committed held it.
func (e *Engine) pause(ctx context.Context, held time.Duration) {
	d := e.opt.Pause
	switch {
	case d < 0:
		return
	case d == 0 && e.db.Engine() == store.SQLite:
		d = max(held, time.Millisecond)
	case d == 0:
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// deleteReferences removes, with the file rows being marked deleting, the rows of every
// table that refers to those files (a voicemail's index row), so that no row is ever seen
// pointing at a file on its way out, whether or not a foreign key would cascade.
func deleteReferences(ctx context.Context, tx *store.DB, fileIDs string) error {
	for _, r := range referringTables() {
		if _, err := tx.Exec(ctx, `DELETE FROM `+r.Name+` WHERE `+inIDs(tx, r.FileColumn), fileIDs); err != nil {
			return fmt.Errorf("remove rows of %s referring to removed files: %w", r.Name, err)
		}
	}
	return nil
}

// fileTenants returns the ready content files among ids with their tenants.
func fileTenants(ctx context.Context, tx *store.DB, ids []int64) ([]fileRef, error) {
	rows, err := tx.Query(ctx, `SELECT id, tenant_id FROM content_files WHERE `+inIDs(tx, "id")+` AND state = '`+store.FileReady+`'`, idsArg(tx, ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []fileRef
	for rows.Next() {
		var f fileRef
		if err := rows.Scan(&f.id, &f.tenant); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// removeFiles removes files whose rows are marked deleting, syncs their directories, then
// removes the rows.
func (e *Engine) removeFiles(ctx context.Context, files []fileRef) error {
	dirs := map[string]bool{}
	ids := make([]int64, len(files))
	for i, f := range files {
		p := e.files.Path(store.ContentFile{ID: f.id, TenantID: f.tenant})
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove content file %d: %w", f.id, err)
		}
		dirs[filepath.Dir(p)] = true
		ids[i] = f.id
		e.hook("file-removed")
	}
	for d := range dirs {
		if err := syncDir(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	e.hook("files-removed")
	if _, err := e.db.Exec(ctx, `DELETE FROM content_files WHERE `+inIDs(e.db, "id")+` AND state = '`+store.FileDeleting+`'`, idsArg(e.db, ids)); err != nil {
		return fmt.Errorf("remove content file rows: %w", err)
	}
	e.hook("file-rows-removed")
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// aggregateSQL adds the rows matching cond to the hourly aggregates: per tenant, hour of the
// time column and the table's declared dimensions, the number of rows and the sum of its
// declared numeric column.
func aggregateSQL(db *store.DB, t datacat.Table, cond string) string {
	tenant := "0"
	var group []string
	if t.TenantColumn != "" {
		tenant = t.TenantColumn
		group = append(group, tenant)
	}
	hour := "(" + t.TimeColumn + " / 3600000) * 3600000"
	group = append(group, hour)
	dims := "''"
	if len(t.StatsDimensions) > 0 {
		parts := make([]string, len(t.StatsDimensions))
		for i, d := range t.StatsDimensions {
			parts[i] = "'" + d + "=' || COALESCE(CAST(" + d + " AS TEXT), '')"
		}
		dims = strings.Join(parts, " || ';' || ")
		group = append(group, dims)
	}
	sum := "0"
	if t.StatsSum != "" {
		sum = "COALESCE(SUM(" + t.StatsSum + "), 0)"
	}
	return `INSERT INTO stats_hourly (tenant_id, source, hour, dims, records, total) SELECT ` + tenant + `, '` + t.Name + `', ` + hour + `, ` + dims +
		`, COUNT(*), ` + sum + ` FROM ` + t.Name + ` WHERE ` + cond + ` GROUP BY ` + strings.Join(group, ", ") +
		` ON CONFLICT (tenant_id, source, hour, dims) DO UPDATE SET records = stats_hourly.records + excluded.records, total = stats_hourly.total + excluded.total`
}

// aggregateColumns are the columns a batch reads to build aggregates: tenant, time, sum and
// the dimensions, in the order aggregates.add expects them.
func aggregateColumns(t datacat.Table) string {
	tenant, sum := "0", "0"
	if t.TenantColumn != "" {
		tenant = t.TenantColumn
	}
	if t.StatsSum != "" {
		sum = t.StatsSum
	}
	cols := []string{tenant, t.TimeColumn, sum}
	return strings.Join(append(cols, t.StatsDimensions...), ", ")
}

type aggKey struct {
	tenant int64
	hour   int64
	dims   string
}

type aggValue struct{ records, total int64 }

// aggregates are the hourly sums of one batch, written in the batch's transaction so that a
// crash neither loses nor doubles a record's contribution.
type aggregates map[aggKey]*aggValue

func (a aggregates) add(t datacat.Table, vals []any) {
	k := aggKey{tenant: toInt(vals[0]), hour: toInt(vals[1]) / 3600000 * 3600000}
	if len(t.StatsDimensions) > 0 {
		parts := make([]string, len(t.StatsDimensions))
		for i, d := range t.StatsDimensions {
			parts[i] = d + "=" + toText(vals[3+i])
		}
		k.dims = strings.Join(parts, ";")
	}
	v := a[k]
	if v == nil {
		v = &aggValue{}
		a[k] = v
	}
	v.records++
	v.total += toInt(vals[2])
}

func (a aggregates) store(ctx context.Context, tx *store.DB, source string) error {
	for k, v := range a {
		if _, err := tx.Exec(ctx, `INSERT INTO stats_hourly (tenant_id, source, hour, dims, records, total) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, source, hour, dims) DO UPDATE SET records = stats_hourly.records + excluded.records, total = stats_hourly.total + excluded.total`,
			k.tenant, source, k.hour, k.dims, v.records, v.total); err != nil {
			return err
		}
	}
	return nil
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case float64:
		return int64(x)
	case []byte:
		n, _ := strconv.ParseInt(string(x), 10, 64)
		return n
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}

func toText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

// sweepChain removes the oldest entries of a hash-chained table (the audit log) that are past
// the installation's period. Only a prefix goes, and the transaction that removes it records
// the id and hash of the last removed entry as the chain's checkpoint, so that verification
// starts from there and still notices any other removal. The newest entry always stays: it
// carries the chain's head. A held entry stops the trimming there.
func (e *Engine) sweepChain(ctx context.Context, t datacat.Table, r EffectiveRule, now int64, holds *holdSet, o SweepOptions, tr *TableReport) error {
	dry := o.DryRun
	if !r.Timed() {
		return nil
	}
	cutoff := now - int64(r.Days)*day
	var heldMin int64
	if ids := holds.records[t.Name]; len(ids) > 0 {
		heldMin = ids[0]
	}
	// A hold on a person holds the entries that name them (as actor or as target) too.
	if m, err := e.firstNaming(ctx, t, holds.users); err != nil {
		return err
	} else if m > 0 && (heldMin == 0 || m < heldMin) {
		heldMin = m
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var removed int64
		var done bool
		began := time.Now()
		err := e.db.InTx(ctx, func(tx *store.DB) error {
			if tx.Engine() == store.Postgres {
				// The lock AppendAudit takes: appends and trimming do not interleave.
				if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7364111)`); err != nil {
					return err
				}
			}
			var first, last sql.NullInt64
			if err := tx.QueryRow(ctx, `SELECT MIN(id), MAX(id) FROM `+t.Name).Scan(&first, &last); err != nil {
				return err
			}
			if !first.Valid {
				done = true
				return nil
			}
			stop := last.Int64
			var keep int64
			err := tx.QueryRow(ctx, `SELECT id FROM `+t.Name+` WHERE `+t.TimeColumn+` >= ? ORDER BY id LIMIT 1`, cutoff).Scan(&keep)
			if err == nil && keep < stop {
				stop = keep
			} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if heldMin > 0 && heldMin < stop {
				stop = heldMin
			}
			end := min(stop-1, first.Int64+int64(e.opt.BatchSize)-1)
			if end < first.Int64 {
				done = true
				return nil
			}
			if dry {
				var n int64
				if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM `+t.Name+` WHERE id < ?`, stop).Scan(&n); err != nil {
					return err
				}
				removed, done = n, true
				return nil
			}
			var cp store.ChainCheckpoint
			if err := tx.QueryRow(ctx, `SELECT id, `+t.HashColumn+` FROM `+t.Name+` WHERE id <= ? ORDER BY id DESC LIMIT 1`, end).Scan(&cp.LastID, &cp.LastHash); err != nil {
				return err
			}
			res, err := tx.Exec(ctx, `DELETE FROM `+t.Name+` WHERE id <= ?`, end)
			if err != nil {
				return err
			}
			removed, _ = res.RowsAffected()
			cp.Table, cp.Removed = t.Name, removed
			return tx.SetChainCheckpoint(ctx, cp)
		})
		if err != nil {
			return err
		}
		tr.Expired += removed
		tr.Removed += removed
		if done || removed == 0 {
			return nil
		}
		e.hook("chain-trimmed")
		if !o.Fast {
			e.pause(ctx, time.Since(began))
		}
	}
}

// firstNaming returns the lowest id of a row of t that names one of the users (0: none).
func (e *Engine) firstNaming(ctx context.Context, t datacat.Table, users []int64) (int64, error) {
	if len(users) == 0 {
		return 0, nil
	}
	list := intList(users)
	var conds []string
	for _, c := range personColumns(t) {
		conds = append(conds, c+" IN ("+list+")")
	}
	var args []any
	if tp := t.TargetPerson; tp != nil {
		if err := checkIdent(tp.TypeColumn, tp.IDColumn); err != nil {
			return 0, err
		}
		texts := make([]string, len(users))
		for i, u := range users {
			texts[i] = "'" + strconv.FormatInt(u, 10) + "'"
		}
		conds = append(conds, "("+tp.TypeColumn+" = ? AND "+tp.IDColumn+" IN ("+strings.Join(texts, ",")+"))")
		args = append(args, tp.Type)
	}
	if len(conds) == 0 {
		return 0, nil
	}
	var m sql.NullInt64
	if err := e.db.QueryRow(ctx, `SELECT MIN(id) FROM `+t.Name+` WHERE `+strings.Join(conds, " OR "), args...).Scan(&m); err != nil {
		return 0, err
	}
	return m.Int64, nil
}

// clusterLock makes sure only one node of a PostgreSQL installation sweeps at a time.
func (e *Engine) clusterLock(ctx context.Context) (func(), error) {
	if e.db.Engine() != store.Postgres {
		return func() {}, nil
	}
	conn, err := e.db.SQL().Conn(ctx)
	if err != nil {
		return nil, err
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(7364112)`).Scan(&ok); err != nil {
		conn.Close()
		return nil, err
	}
	if !ok {
		conn.Close()
		return nil, ErrBusy
	}
	return func() {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn.ExecContext(c, `SELECT pg_advisory_unlock(7364112)`)
		conn.Close()
	}, nil
}
