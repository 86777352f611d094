package app

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/privox/privox/internal/datacat"
	"github.com/privox/privox/internal/filestore"
	"github.com/privox/privox/internal/flows"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/privacy"
	"github.com/privox/privox/internal/store"
)

func init() {
	addCommand(command{"retention show", "retention show [--tenant T]", runRetentionShow})
	addCommand(command{"retention set", "retention set --tenant T --preset default|eu|de, or: retention set [--tenant T] --category C [--kind K] --mode delete|anonymise|while_active|until_deleted|preset [--days N] [--on-deactivation delete|anonymise|n/a]", runRetentionSet})
	addCommand(command{"retention run", "retention run [--dry-run] [--tenant T] [--mode fast]   (fast: no pauses between batches)", runRetentionRun})
	addCommand(command{"fsck", "fsck [--repair]   (stop Privox before repairing)", runFsck})
	addCommand(command{"export", "export --tenant T --user ID --out FILE.zip", runExport})
	addCommand(command{"erase", "erase --tenant T --user ID [--yes]   (irreversible)", runErase})
	addCommand(command{"audit verify", "audit verify", runAuditVerify})
	addCommand(command{"audit list", "audit list [--tenant T] [--user ACTOR-ID]", runAuditList})
	addCommand(command{"docs records", "docs records [--tenant T] [--out FILE]", runDocsRecords})
	addCommand(command{"docs privacy-notice", "docs privacy-notice [--tenant T] --lang en|de [--out FILE]", runDocsNotice})
	addCommand(command{"hold add", "hold add --tenant T (--user ID | --table NAME --record ID) --reason R --expires 90d|2030-01-31", runHoldAdd})
	addCommand(command{"hold list", "hold list [--tenant T]", runHoldList})
	addCommand(command{"hold release", "hold release --tenant T ID", runHoldRelease})
	addCommand(command{"restrict set", "restrict set --tenant T --user ID --reason R", runRestrictSet})
	addCommand(command{"restrict lift", "restrict lift --tenant T --user ID", runRestrictLift})
	addCommand(command{"restrict list", "restrict list [--tenant T]", runRestrictList})
	addCommand(command{"flows list", "flows list", runFlowsList})
	addCommand(command{"flows set", "flows set NAME on|off", runFlowsSet})
}

var cliActor = privacy.Actor{Name: "cli"}

// privacy builds the privacy engine on the command's store, key vault and file store.
// person reads --tenant and --user and opens the privacy engine: what every command about one
// person's data needs.
func (c *cmdCtx) person() (store.Tenant, int64, *privacy.Engine, error) {
	t, err := c.tenant()
	if err != nil {
		return store.Tenant{}, 0, nil, err
	}
	uid, err := c.userFlag()
	if err != nil {
		return store.Tenant{}, 0, nil, err
	}
	eng, err := c.privacy()
	if err != nil {
		return store.Tenant{}, 0, nil, err
	}
	return t, uid, eng, nil
}

func (c *cmdCtx) privacy() (*privacy.Engine, error) {
	db, err := c.store()
	if err != nil {
		return nil, err
	}
	vault, err := keys.Open(keys.DefaultDir(c.cfg.DataDir))
	if err != nil {
		return nil, err
	}
	files, err := filestore.New(filepath.Join(c.cfg.DataDir, "files"), db, vault)
	if err != nil {
		return nil, err
	}
	reg := flows.NewRegistry()
	eng := privacy.New(privacy.Deps{DB: db, Files: files, Vault: vault, Flows: reg, Logger: NewLogger(c.env.Stderr, c.cfg.Log.Level)},
		privacy.Options{Preset: c.cfg.Privacy.Preset})
	if err := eng.LoadFlowSwitches(c.ctx); err != nil {
		return eng, err
	}
	// The documents describe the e-mail flow as the server runs it.
	setMailFlow(c.ctx, c.cfg.Mail, db, reg, NewLogger(c.env.Stderr, c.cfg.Log.Level))
	return eng, nil
}

// optTenant resolves --tenant when given; store.InstallationTenant otherwise.
func (c *cmdCtx) optTenant() (int64, string, error) {
	if c.str("tenant") == "" {
		if _, err := c.store(); err != nil {
			return 0, "", err
		}
		return store.InstallationTenant, "installation", nil
	}
	t, err := c.tenant()
	return t.ID, t.Name, err
}

// tenantOrFirst resolves --tenant, or the installation's first tenant.
func (c *cmdCtx) tenantOrFirst() (store.Tenant, error) {
	if c.str("tenant") != "" {
		return c.tenant()
	}
	db, err := c.store()
	if err != nil {
		return store.Tenant{}, err
	}
	ts, err := db.ListTenants(c.ctx, store.Page{Limit: 1})
	if err != nil {
		return store.Tenant{}, err
	}
	if len(ts) == 0 {
		return store.Tenant{}, errors.New("no tenant yet: start privox serve once or add one with privox tenant add")
	}
	return ts[0], nil
}

func (c *cmdCtx) userFlag() (int64, error) {
	id, err := strconv.ParseInt(c.str("user"), 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErr("--user must be a user id")
	}
	return id, nil
}

func notFound(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no such %s", what)
	}
	return err
}

func runRetentionShow(c *cmdCtx) error {
	eng, err := c.privacy()
	if err != nil {
		return err
	}
	type block struct {
		Tenant string                  `json:"tenant"`
		Rules  []privacy.EffectiveRule `json:"rules"`
	}
	var blocks []block
	if c.str("tenant") != "" {
		t, err := c.tenant()
		if err != nil {
			return err
		}
		rs, err := eng.Rules(c.ctx, t.ID)
		if err != nil {
			return err
		}
		blocks = append(blocks, block{t.Name, rs})
	} else {
		rs, err := eng.Rules(c.ctx, store.InstallationTenant)
		if err != nil {
			return err
		}
		blocks = append(blocks, block{"installation", rs})
		ts, err := c.db.ListTenants(c.ctx, store.Page{Limit: 1000})
		if err != nil {
			return err
		}
		for _, t := range ts {
			rs, err := eng.Rules(c.ctx, t.ID)
			if err != nil {
				return err
			}
			blocks = append(blocks, block{t.Name, rs})
		}
	}
	return c.out(blocks, func(w *tabwriter.Writer) {
		for i, b := range blocks {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "%s:\nCATEGORY\tMODE\tDAYS\tON DEACTIVATION\tSOURCE\tSCOPE\n", b.Tenant)
			for _, r := range b.Rules {
				days := "-"
				if r.Days > 0 {
					days = strconv.Itoa(r.Days)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", ruleLabel(r), r.Mode, days, r.OnDeactivation, r.Source, r.Scope)
			}
		}
	})
}

func ruleLabel(r privacy.EffectiveRule) string {
	if r.Kind != "" {
		return string(r.Category) + "/" + r.Kind
	}
	return string(r.Category)
}

func runRetentionSet(c *cmdCtx) error {
	if c.str("preset") != "" {
		return runRetentionPreset(c) // cli_retention.go
	}
	tid, tname, err := c.optTenant()
	if err != nil {
		return err
	}
	cat, kind := datacat.Category(c.str("category")), c.str("kind")
	if before, after, ok := strings.Cut(string(cat), "/"); ok && kind == "" {
		cat, kind = datacat.Category(before), after
	}
	if cat == "" || c.str("mode") == "" {
		return usageErr("--category and --mode are required")
	}
	eng, err := c.privacy()
	if err != nil {
		return err
	}
	var r privacy.EffectiveRule
	if c.str("mode") == "preset" {
		r, err = eng.ResetRule(c.ctx, tid, cat, kind, cliActor)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%s has no rule of its own for %s", tname, ruleName(cat, kind))
		}
	} else {
		days := 0
		if v := c.str("days"); v != "" {
			if days, err = strconv.Atoi(strings.TrimSuffix(v, "d")); err != nil {
				return usageErr("--days must be a number of days")
			}
		}
		r, err = eng.SetRule(c.ctx, tid, privacy.RuleChange{Category: cat, Kind: kind, Mode: datacat.Mode(c.str("mode")), Days: days,
			OnDeactivation: datacat.OnDeactivation(c.str("on-deactivation"))}, cliActor)
	}
	if err != nil {
		return err
	}
	return c.out(r, func(w *tabwriter.Writer) { fmt.Fprintf(w, "%s, %s: %s (%s)\n", tname, ruleLabel(r), r.Text, r.Source) })
}

func ruleName(c datacat.Category, kind string) string {
	if kind == "" {
		return string(c)
	}
	return string(c) + "/" + kind
}

func runRetentionRun(c *cmdCtx) error {
	tid := int64(0)
	if c.str("tenant") != "" {
		t, err := c.tenant()
		if err != nil {
			return err
		}
		tid = t.ID
	}
	eng, err := c.privacy()
	if err != nil {
		return err
	}
	switch c.str("mode") {
	case "", "paced", "fast":
	default:
		return usageErr("--mode of retention run is fast or paced")
	}
	rep, err := eng.Sweep(c.ctx, privacy.SweepOptions{DryRun: c.str("dry-run") != "", TenantID: tid, Fast: c.str("mode") == "fast"})
	if err != nil {
		return err
	}
	return c.out(rep, func(w *tabwriter.Writer) {
		verb := "removed"
		if rep.DryRun {
			verb = "would remove"
			fmt.Fprintln(w, "dry run: nothing was changed")
		}
		fmt.Fprintf(w, "TABLE\tACTION\tEXPIRED\t%s\tHELD\tFILES\n", strings.ToUpper(verb))
		for _, t := range rep.Tables {
			fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\n", t.Table, t.Action, t.Expired, t.Removed, t.Held, t.Files)
		}
		rows, files := rep.Removed()
		fmt.Fprintf(w, "%s %d rows and %d files; holds expired %d; erasures completed %d, pending %d\n", verb, rows, files,
			rep.HoldsExpired, rep.ErasuresCompleted, rep.ErasuresPending)
	})
}

func runFsck(c *cmdCtx) error {
	eng, err := c.privacy()
	if err != nil {
		return err
	}
	rep, err := eng.Fsck(c.ctx, c.str("repair") != "")
	if err != nil {
		return err
	}
	err = c.out(rep, func(w *tabwriter.Writer) {
		printIntegrity(w, rep.Database) // cli_fsck.go
		f := rep.Files
		fmt.Fprintf(w, "content files:\tpending writes %d, unfinished deletions %d, rows without file %d, files without row %d, temp files %d\n",
			f.PendingRemoved, f.DeletesFinished, f.MissingFiles, f.OrphanFiles, f.TempFiles)
		fmt.Fprintf(w, "file references:\t%d dangling\n", rep.DanglingRefs)
		for _, p := range append(f.Problems, rep.Problems...) {
			fmt.Fprintf(w, "  %s\n", p)
		}
		fmt.Fprintf(w, "audit chain:\t%s (%d entries)\n", okText(rep.Audit.OK), rep.Audit.Entries)
		switch {
		case rep.Clean():
			fmt.Fprintln(w, "consistent")
		case !rep.Database.OK():
			fmt.Fprintln(w, "damaged database: restore it from a backup (fsck does not repair database files)")
		case rep.Repair:
			fmt.Fprintln(w, "repaired (the audit log is reported, never changed)")
		default:
			fmt.Fprintln(w, "inconsistent: run privox fsck --repair with Privox stopped")
		}
	})
	if err == nil && !rep.Clean() && (!rep.Repair || !rep.Audit.OK || !rep.Database.OK()) {
		return errors.New("fsck found problems")
	}
	return err
}

func okText(ok bool) string {
	if ok {
		return "ok"
	}
	return "BROKEN"
}

func runExport(c *cmdCtx) error {
	out := c.str("out")
	if out == "" {
		return usageErr("--out FILE.zip is required")
	}
	t, uid, eng, err := c.person()
	if err != nil {
		return err
	}
	// The export holds personal data in clear: written privately, renamed when complete.
	tmp, err := os.CreateTemp(filepath.Dir(out), ".privox-export-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	m, err := eng.Export(c.ctx, t.ID, uid, tmp, cliActor)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return notFound(err, "user in this tenant")
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return err
	}
	var records int64
	for _, cat := range m.Categories {
		records += cat.Records
	}
	return c.out(m, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "wrote %s: %d records in %d categories, %d content files\n", out, records, len(m.Categories), len(m.Content))
	})
}

func runErase(c *cmdCtx) error {
	t, uid, eng, err := c.person()
	if err != nil {
		return err
	}
	if err := confirmErasure(c, t, uid); err != nil {
		return err
	}
	rep, err := eng.Erase(c.ctx, t.ID, uid, cliActor)
	if err != nil {
		return notFound(err, "user in this tenant")
	}
	return c.out(rep, func(w *tabwriter.Writer) {
		for _, tb := range sortedKeys(rep.Deleted) {
			fmt.Fprintf(w, "deleted\t%s\t%d\n", tb, rep.Deleted[tb])
		}
		for _, tb := range sortedKeys(rep.Anonymised) {
			fmt.Fprintf(w, "anonymised\t%s\t%d\n", tb, rep.Anonymised[tb])
		}
		fmt.Fprintf(w, "content files\t%d\nkey destroyed\t%v\n", rep.Files, rep.KeyDestroyed)
		if rep.Complete {
			fmt.Fprintf(w, "user %d erased\n", uid)
		} else {
			fmt.Fprintf(w, "user %d partly erased; the rest waits: %s\n", uid, rep.PendingReason)
		}
	})
}

func sortedKeys(m map[string]int64) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func runAuditVerify(c *cmdCtx) error {
	eng, err := c.privacy()
	if err != nil {
		return err
	}
	v, err := eng.VerifyAudit(c.ctx)
	if err != nil {
		return err
	}
	if err := c.out(v, func(w *tabwriter.Writer) {
		if v.Checkpoint != nil {
			fmt.Fprintf(w, "checkpoint: entries up to %d removed by retention\n", v.Checkpoint.LastID)
		}
		for _, p := range v.Problems {
			fmt.Fprintf(w, "entry %d: %s\n", p.ID, p.Problem)
		}
		if v.OK {
			fmt.Fprintf(w, "audit chain ok: %d entries (%d to %d), head %s\n", v.Entries, v.FirstID, v.LastID, v.HeadHash)
		} else {
			fmt.Fprintf(w, "audit chain BROKEN: %d problem(s) in %d entries\n", len(v.Problems), v.Entries)
		}
	}); err != nil {
		return err
	}
	if !v.OK {
		return errors.New("audit chain does not verify")
	}
	return nil
}

func runAuditList(c *cmdCtx) error {
	tid, _, err := c.optTenant()
	if err != nil {
		return err
	}
	q := store.AuditQuery{TenantID: tid, Page: store.Page{Limit: 1000}}
	if v := c.str("user"); v != "" {
		if q.ActorUserID, err = c.userFlag(); err != nil {
			return err
		}
	}
	eng, err := c.privacy()
	if err != nil {
		return err
	}
	var all []store.AuditEntry
	for {
		es, err := eng.Audit(c.ctx, q)
		if err != nil {
			return err
		}
		all = append(all, es...)
		if len(es) < q.Page.Limit {
			break
		}
		q.Page.After = es[len(es)-1].ID
	}
	return c.out(nonNil(all), func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ID\tTIME\tTENANT\tACTOR\tACTION\tTARGET\tDETAIL")
		for _, e := range all {
			tn := "-"
			if e.TenantID != nil {
				tn = strconv.FormatInt(*e.TenantID, 10)
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s:%s\t%s\n", e.ID, time.UnixMilli(e.At).UTC().Format(time.RFC3339), tn, e.Actor, e.Action, e.TargetType, e.TargetID, e.Detail)
		}
	})
}

// writeDoc writes a generated document to --out, or to standard output.
func (c *cmdCtx) writeDoc(doc string) error {
	if out := c.str("out"); out != "" {
		if err := os.WriteFile(out, []byte(doc), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(c.env.Stdout, "wrote %s\n", out)
		return nil
	}
	_, err := io.WriteString(c.env.Stdout, doc)
	return err
}

func runDocsRecords(c *cmdCtx) error {
	tid, _, err := c.optTenant()
	if err != nil {
		return err
	}
	eng, err := c.privacy()
	if err != nil {
		return err
	}
	doc, err := eng.RecordsOfProcessing(c.ctx, tid)
	if err != nil {
		return err
	}
	return c.writeDoc(doc)
}

func runDocsNotice(c *cmdCtx) error {
	t, err := c.tenantOrFirst()
	if err != nil {
		return err
	}
	lang := c.str("lang")
	if lang == "" {
		lang = "en"
	}
	eng, err := c.privacy()
	if err != nil {
		return err
	}
	doc, err := eng.PrivacyNotice(c.ctx, t.ID, lang)
	if err != nil {
		return err
	}
	return c.writeDoc(doc)
}

// parseExpiry reads --expires: a number of days ("90d"), a Go duration ("720h") or a date.
func parseExpiry(v string, now time.Time) (int64, error) {
	if d, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n > 0 {
			return now.Add(time.Duration(n) * 24 * time.Hour).UnixMilli(), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(d).UnixMilli(), nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t.UnixMilli(), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UnixMilli(), nil
	}
	return 0, usageErr("--expires takes days (90d), a duration (720h) or a date (2030-01-31)")
}

func runHoldAdd(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	exp, err := parseExpiry(c.str("expires"), time.Now())
	if err != nil {
		return err
	}
	req := privacy.HoldRequest{Table: c.str("table"), Reason: c.str("reason"), ExpiresAt: exp}
	if c.str("user") != "" {
		if req.UserID, err = c.userFlag(); err != nil {
			return err
		}
	}
	if v := c.str("record"); v != "" {
		if req.RecordID, err = strconv.ParseInt(v, 10, 64); err != nil {
			return usageErr("--record must be a record id")
		}
	}
	eng, err := c.privacy()
	if err != nil {
		return err
	}
	h, err := eng.PlaceHold(c.ctx, t.ID, req, cliActor)
	if err != nil {
		return err
	}
	return c.out(h, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "hold %d placed until %s\n", h.ID, time.UnixMilli(h.ExpiresAt).UTC().Format(time.RFC3339))
	})
}

func runHoldList(c *cmdCtx) error {
	tid, _, err := c.optTenant()
	if err != nil {
		return err
	}
	eng, err := c.privacy()
	if err != nil {
		return err
	}
	hs, err := eng.Holds(c.ctx, tid, false, store.Page{Limit: 1000})
	if err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	return c.out(nonNil(hs), func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ID\tTENANT\tTARGET\tEXPIRES\tSTATE\tBY\tREASON")
		for _, h := range hs {
			target := "user " + fmt.Sprint(derefOr(h.UserID))
			if h.UserID == nil {
				target = fmt.Sprintf("%s %d", h.Table, derefOr(h.RecordID))
			}
			state := "active"
			if !h.Active(now) {
				state = "ended"
			}
			fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%s\t%s\t%s\n", h.ID, h.TenantID, target, time.UnixMilli(h.ExpiresAt).UTC().Format("2006-01-02"), state, h.CreatedBy, h.Reason)
		}
	})
}

func derefOr(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func runHoldRelease(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	if len(c.args) != 1 {
		return usageErr("hold release takes one hold id")
	}
	id, err := strconv.ParseInt(c.args[0], 10, 64)
	if err != nil {
		return usageErr("hold id must be a number")
	}
	eng, err := c.privacy()
	if err != nil {
		return err
	}
	if err := eng.ReleaseHold(c.ctx, t.ID, id, cliActor); err != nil {
		return notFound(err, "open hold")
	}
	fmt.Fprintf(c.env.Stdout, "hold %d released\n", id)
	return nil
}

func runRestrictSet(c *cmdCtx) error {
	t, uid, eng, err := c.person()
	if err != nil {
		return err
	}
	r, err := eng.Restrict(c.ctx, t.ID, uid, c.str("reason"), cliActor)
	if err != nil {
		return notFound(err, "user in this tenant")
	}
	return c.out(r, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "user %d restricted: data kept, not processed\n", uid)
	})
}

func runRestrictLift(c *cmdCtx) error {
	t, uid, eng, err := c.person()
	if err != nil {
		return err
	}
	if err := eng.Unrestrict(c.ctx, t.ID, uid, cliActor); err != nil {
		return notFound(err, "restriction")
	}
	fmt.Fprintf(c.env.Stdout, "restriction of user %d lifted\n", uid)
	return nil
}

func runRestrictList(c *cmdCtx) error {
	tid, _, err := c.optTenant()
	if err != nil {
		return err
	}
	rs, err := c.db.ListRestrictions(c.ctx, tid)
	if err != nil {
		return err
	}
	return c.out(nonNil(rs), func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "TENANT\tUSER\tSINCE\tBY\tREASON")
		for _, r := range rs {
			fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%s\n", r.TenantID, r.UserID, time.UnixMilli(r.CreatedAt).UTC().Format("2006-01-02"), r.CreatedBy, r.Reason)
		}
	})
}

func runFlowsList(c *cmdCtx) error {
	eng, err := c.privacy()
	if err != nil {
		return err
	}
	fs := eng.Flows(c.ctx)
	return c.out(fs, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "FLOW\tSTATE\tSWITCH\tDESTINATION\tDEFAULT\tPURPOSE\tDATA SENT")
		for _, f := range fs {
			dest := "configured"
			if !f.Configured {
				dest = "none configured"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Name, onOff(f.Enabled), onOff(f.SwitchedOn), dest, onOff(f.DefaultOn), f.Purpose, f.DataSent)
		}
	})
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func runFlowsSet(c *cmdCtx) error {
	if len(c.args) != 2 || (c.args[1] != "on" && c.args[1] != "off") {
		return usageErr("flows set takes a flow name and on or off")
	}
	eng, err := c.privacy()
	if err != nil {
		return err
	}
	s, err := eng.SetFlow(c.ctx, c.args[0], c.args[1] == "on", cliActor)
	if err != nil {
		return err
	}
	return c.out(s, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "flow %s switched %s (a running server picks it up within %s)\n", s.Name, onOff(s.SwitchedOn), privacy.FlowRefresh)
		if s.SwitchedOn && !s.Configured {
			fmt.Fprintf(w, "it stays off while no destination is configured for it\n")
		}
	})
}
