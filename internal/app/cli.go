package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/privox/privox/internal/api"
	"github.com/privox/privox/internal/config"
	"github.com/privox/privox/internal/privacy"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/tenancy"
)

// Env is what a command runs with.
type Env struct {
	Args    []string
	Environ []string
	Stdout  io.Writer
	Stderr  io.Writer
	// Stdin answers confirmation prompts (nil: none; irreversible commands then need --yes).
	Stdin io.Reader
	// Signals delivers shutdown signals to serve (nil: SIGINT and SIGTERM of the process).
	Signals <-chan os.Signal
}

// command is one CLI subcommand.
type command struct {
	name  string // e.g. "tenant add"
	usage string
	run   func(c *cmdCtx) error
}

// commands lists every CLI subcommand; files add theirs from init with addCommand.
var commands []command

func addCommand(c command) { commands = append(commands, c) }

func init() {
	addCommand(command{"serve", "serve [--config FILE] [--data DIR] [--http-addr A] [--sip-addr A] [--sip-tls-addr A] [--ldap-addr A] [--rtp-ports LO-HI]", runServe})
	addCommand(command{"config check", "config check FILE", runConfigCheck})
	addCommand(command{"tenant add", "tenant add NAME [--sip-domain D] [--preset default|eu|de]", runTenantAdd})
	addCommand(command{"tenant list", "tenant list", runTenantList})
	addCommand(command{"user add", "user add --tenant T --name N --email E [--role admin] [--password P] [--language en|de|fr|es|it|nl]", runUserAdd})
	addCommand(command{"user list", "user list --tenant T", runUserList})
	addCommand(command{"user deactivate", "user deactivate --tenant T ID [--yes]   (erases the user; irreversible)", runUserDeactivate})
	addCommand(command{"ext add", "ext add --tenant T [--user ID] --number 1001 --sip-password P [--sip-username U] [--display-name N]", runExtAdd})
	addCommand(command{"ext list", "ext list --tenant T", runExtList})
	addCommand(command{"token add", "token add --tenant T --user ID --name N", runTokenAdd})
}

// listenerFlags are the flags that set configuration options, by option key.
var listenerFlags = map[string]string{"http-addr": "http.addr", "sip-addr": "sip.addr", "sip-tls-addr": "sip.tls_addr", "ldap-addr": "ldap.addr", "rtp-ports": "rtp.ports"}

// cmdCtx is a command being run: its flags, config and (opened on demand) store.
type cmdCtx struct {
	env     Env
	fs      *flag.FlagSet
	args    []string
	cfgPath string
	data    string
	json    bool
	flags   map[string]*string
	cfg     config.Config
	db      *store.DB
	ctx     context.Context
}

func (c *cmdCtx) str(name string) string { return *c.flags[name] }

// Main runs the privox command line and returns the exit code.
func Main(env Env) int {
	restrictUmask() // lock.go
	args := env.Args
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(env.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var cmd *command
	n := 0
	for i := range commands {
		parts := strings.Fields(commands[i].name)
		if len(args) >= len(parts) && strings.Join(args[:len(parts)], " ") == commands[i].name && len(parts) > n {
			cmd, n = &commands[i], len(parts)
		}
	}
	if cmd == nil {
		fmt.Fprintf(env.Stderr, "privox: unknown command %q\n\n", strings.Join(args, " "))
		usage(env.Stderr)
		return 2
	}
	c := &cmdCtx{env: env, fs: flag.NewFlagSet(cmd.name, flag.ContinueOnError), flags: map[string]*string{}, ctx: context.Background()}
	c.fs.SetOutput(env.Stderr)
	c.fs.StringVar(&c.cfgPath, "config", "", "configuration file (YAML)")
	c.fs.StringVar(&c.data, "data", "", "data directory")
	c.fs.BoolVar(&c.json, "json", false, "print JSON")
	for _, f := range []string{"tenant", "name", "email", "role", "password", "user", "number", "sip-password", "sip-username", "display-name", "sip-domain", "preset",
		"http-addr", "sip-addr", "sip-tls-addr", "ldap-addr", "rtp-ports", "language", "out", "lang", "category", "mode", "days", "reason", "expires",
		// privacy engine (cli_privacy.go)
		"kind", "on-deactivation", "table", "record",
		// prompts (cli_prompts.go), phonebooks (cli_contacts.go)
		"format", "phonebook", "map", "on-error", "vcard-version",
		// dial plan (cli_dialplan.go)
		"from", "to", "pattern", "strip", "prepend", "trunks", "position", "e164", "country", "main-number", "international", "premium",
		"max-concurrent", "minutes-per-day", "burst-calls", "burst-window", "outside-calendar",
		"server", "failover", "transport", "username", "sources", "did-from", "trusted",
		// directory sources (cli_directory.go)
		"url", "bind-dn", "base-dn", "filter", "ca-cert", "priority", "interval",
		// voicemail (cli_voicemail.go)
		"enabled", "max-message-secs", "max-messages", "retention-days", "email-copy", "email-attach", "email-delete", "mwi-unsolicited", "operator", "state",
		// inbound numbers and caller-ID (cli_dids.go)
		"trunk", "last", "dest", "id", "clir", "calendar", "closed-dest",
		// ring and hunt groups (cli_groups.go)
		"members", "strategy", "ring-time", "fallthrough",
		// forwarding and do-not-disturb (cli_forward.go)
		"always", "busy", "no-answer", "unreachable", "dnd", "codes", "max-hops",
		// status of the running server (cli_status.go)
		"token-file"} {
		c.flags[f] = c.fs.String(f, "", f)
	}
	c.flags["dry-run"] = new(string)
	dry := c.fs.Bool("dry-run", false, "report without changing anything")
	c.flags["repair"] = new(string)
	repair := c.fs.Bool("repair", false, "repair what is found")
	c.flags["yes"] = new(string)
	yes := c.fs.Bool("yes", false, "confirm an irreversible command")
	if err := c.fs.Parse(interleave(args[n:])); err != nil {
		return 2
	}
	if *dry {
		*c.flags["dry-run"] = "1"
	}
	if *repair {
		*c.flags["repair"] = "1"
	}
	if *yes {
		*c.flags["yes"] = "1"
	}
	c.args = c.fs.Args()
	if cmd.name != "config check" {
		for _, w := range config.UnknownEnv(env.Environ, "PRIVOX_ADMIN_PASSWORD") {
			fmt.Fprintf(env.Stderr, "privox: warning: %s\n", w)
		}
		cfg, err := config.Load(c.cfgPath, env.Environ)
		if err != nil {
			fmt.Fprintf(env.Stderr, "privox: configuration:\n%v\n", err)
			return 1
		}
		given := map[string]string{} // option key → the flag that set it
		for flagName, key := range listenerFlags {
			if v := c.str(flagName); v != "" {
				if err := config.Set(&cfg, key, v); err != nil {
					fmt.Fprintf(env.Stderr, "privox: --%s: %v\n", flagName, err)
					return 2
				}
				given[key] = "--" + flagName
			}
		}
		if c.data != "" {
			cfg.DataDir = c.data
			given["data_dir"] = "--data"
		}
		if ps := config.Validate(cfg); len(ps) > 0 {
			for i := range ps {
				if f, ok := given[ps[i].Key]; ok {
					ps[i].Key = f
				}
			}
			fmt.Fprintf(env.Stderr, "privox: configuration:\n%v\n", ps)
			return 1
		}
		c.cfg = cfg
	}
	held, err := lockCommand(c, cmd.name) // lock.go
	if err != nil {
		fmt.Fprintf(env.Stderr, "privox: %v\n", err)
		return 1
	}
	defer held.release()
	err = cmd.run(c)
	if c.db != nil {
		c.db.Close()
	}
	if err != nil {
		var fe *tenancy.FieldError
		switch {
		case errors.As(err, &fe):
			fmt.Fprintf(env.Stderr, "privox: invalid %s: %s\n", cmd.fieldName(fe.Field), fe.Msg)
		case errors.Is(err, privacy.ErrInvalid):
			msg := strings.TrimPrefix(err.Error(), privacy.ErrInvalid.Error()+": ")
			if f, rest, ok := strings.Cut(msg, ": "); ok && !strings.Contains(f, " ") {
				msg = "invalid " + cmd.fieldName(f) + ": " + rest
			}
			msg = snakeField.ReplaceAllStringFunc(msg, func(f string) string {
				if n := cmd.fieldName(f); strings.HasPrefix(n, "--") {
					return n
				}
				return f // a value such as while_active
			})
			fmt.Fprintf(env.Stderr, "privox: %s\n", msg)
		case errors.Is(err, errUsage):
			fmt.Fprintf(env.Stderr, "privox: %v\nusage: privox %s\n", err, cmd.usage)
			return 2
		default:
			fmt.Fprintf(env.Stderr, "privox: %v\n", err)
		}
		return 1
	}
	return 0
}

// flagOfField names the flag that sets a field of the API (and of the tenancy and privacy
// errors), where the two differ.
var flagOfField = map[string]string{"user_id": "user", "retention_preset": "preset", "expires_at": "expires", "record_id": "record",
	"on_deactivation": "on-deactivation"}

// fieldName says which part of the command line a field error is about: the command's flag
// (--user for user_id), or the field itself where the command takes it as an argument
// ("tenant add NAME").
func (cmd *command) fieldName(field string) string {
	f, ok := flagOfField[field]
	if !ok {
		f = strings.ReplaceAll(field, "_", "-")
	}
	for _, m := range usageFlag.FindAllStringSubmatch(cmd.usage, -1) {
		if m[1] == f {
			return "--" + f
		}
	}
	return strings.ReplaceAll(field, "_", " ")
}

var (
	usageFlag  = regexp.MustCompile(`--([a-z][a-z-]*)`)
	snakeField = regexp.MustCompile(`\b[a-z]+(_[a-z]+)+\b`) // record_id, on_deactivation
)

var errUsage = errors.New("usage")

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// interleave moves flags after positional arguments to the front, so "user deactivate
// --tenant t 5" and "user deactivate 5 --tenant t" both work.
func interleave(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && !boolFlag(name) && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

func boolFlag(name string) bool {
	return name == "json" || name == "dry-run" || name == "repair" || name == "yes"
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Privox, a business phone system.\n\nUsage:")
	for _, c := range commands {
		fmt.Fprintf(w, "  privox %s\n", c.usage)
	}
	fmt.Fprintln(w, "\nEvery command takes --config FILE, --data DIR and --json; environment variables PRIVOX_* override the file.")
}

// store opens the configured store.
func (c *cmdCtx) store() (*store.DB, error) {
	if c.db != nil {
		return c.db, nil
	}
	db, err := OpenStore(c.ctx, c.cfg)
	if err != nil {
		return nil, err
	}
	if err := attachSealer(db, c.cfg); err != nil { // secrets.go
		db.Close()
		return nil, err
	}
	c.db = db
	return db, nil
}

// tenant resolves --tenant (a name or a numeric id).
func (c *cmdCtx) tenant() (store.Tenant, error) {
	name := c.str("tenant")
	if name == "" {
		return store.Tenant{}, usageErr("--tenant is required")
	}
	db, err := c.store()
	if err != nil {
		return store.Tenant{}, err
	}
	t, err := db.TenantByName(c.ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		if id, perr := strconv.ParseInt(name, 10, 64); perr == nil {
			t, err = db.Tenant(c.ctx, id)
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return t, fmt.Errorf("no tenant %q", name)
	}
	return t, err
}

func (c *cmdCtx) out(v any, table func(w *tabwriter.Writer)) error {
	if c.json {
		enc := json.NewEncoder(c.env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	w := tabwriter.NewWriter(c.env.Stdout, 0, 4, 2, ' ', 0)
	table(w)
	return w.Flush()
}

// cliAudit records an admin change made on the command line.
func (c *cmdCtx) audit(tenantID int64, action, targetType string, targetID any, detail string) {
	tid := tenantID
	if _, err := c.db.AppendAudit(c.ctx, store.AuditEntry{TenantID: &tid, Actor: "cli", Action: action, TargetType: targetType, TargetID: fmt.Sprint(targetID), Detail: detail}); err != nil {
		fmt.Fprintf(c.env.Stderr, "privox: warning: audit: %v\n", err)
	}
}

func runServe(c *cmdCtx) error {
	logger := NewLogger(c.env.Stderr, c.cfg.Log.Level)
	ctx := c.ctx
	a, err := New(ctx, c.cfg, logger)
	if err != nil {
		return err
	}
	var adminPW string
	for _, kv := range c.env.Environ {
		if v, ok := strings.CutPrefix(kv, "PRIVOX_ADMIN_PASSWORD="); ok {
			adminPW = v
		}
	}
	if adminPW != "" {
		if err := tenancy.ValidatePassword(adminPW); err != nil {
			a.abandon()
			return fmt.Errorf("PRIVOX_ADMIN_PASSWORD: %v", err)
		}
	}
	if err := a.Bootstrap(ctx, adminPW, terminal(c.env.Stderr)); err != nil {
		a.abandon()
		return err
	}
	if err := a.Start(ctx); err != nil {
		a.abandon()
		return err
	}
	fmt.Fprintf(c.env.Stdout, "Privox is running: http://%s  (Ctrl-C to stop)\n", a.HTTPAddr)
	sig := c.env.Signals
	if sig == nil {
		ch := make(chan os.Signal, 2)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(ch)
		sig = ch
	}
	<-sig
	grace := c.cfg.Shutdown
	fmt.Fprintf(c.env.Stdout, "Draining: new calls and registrations are refused; running calls have up to %s (shutdown_grace) to end. Press Ctrl-C again to stop now.\n", grace)
	abort, stopNow := context.WithCancel(context.Background())
	defer stopNow()
	drained := make(chan struct{})
	go func() {
		select {
		case <-sig:
			fmt.Fprintln(c.env.Stdout, "Stopping now: running calls are hung up.")
			stopNow()
		case <-drained:
		}
	}()
	err = a.ShutdownContext(abort, grace)
	close(drained)
	fmt.Fprintln(c.env.Stdout, "Privox stopped.")
	return err
}

func runConfigCheck(c *cmdCtx) error {
	if len(c.args) != 1 {
		return usageErr("config check takes one file")
	}
	cfg, err := config.Load(c.args[0], nil)
	if err != nil {
		return fmt.Errorf("configuration has errors:\n%v", err)
	}
	if err := checkPostgresTransport(cfg); err != nil { // cli_db.go
		return fmt.Errorf("configuration has errors:\ndatabase.dsn: %v", err)
	}
	fmt.Fprintf(c.env.Stdout, "%s: ok\n", c.args[0])
	return nil
}

func runTenantAdd(c *cmdCtx) error {
	if len(c.args) != 1 {
		return usageErr("tenant add takes one name")
	}
	db, err := c.store()
	if err != nil {
		return err
	}
	preset := c.str("preset")
	if preset == "" {
		preset = c.cfg.Privacy.Preset
	}
	t, err := tenancy.CreateTenant(c.ctx, db, store.Tenant{Name: c.args[0], SIPDomain: c.str("sip-domain"), RetentionPreset: preset})
	if err != nil {
		return err
	}
	c.audit(t.ID, "tenant.create", "tenant", t.ID, t.Name)
	return c.out(t, func(w *tabwriter.Writer) { fmt.Fprintf(w, "created tenant %d %s\n", t.ID, t.Name) })
}

func runTenantList(c *cmdCtx) error {
	db, err := c.store()
	if err != nil {
		return err
	}
	var all []store.Tenant
	for p := (store.Page{Limit: 500}); ; {
		ts, err := db.ListTenants(c.ctx, p)
		if err != nil {
			return err
		}
		all = append(all, ts...)
		if len(ts) < p.Limit {
			break
		}
		p.After = ts[len(ts)-1].ID
	}
	return c.out(nonNil(all), func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ID\tNAME\tSIP DOMAIN\tPRESET")
		for _, t := range all {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", t.ID, t.Name, t.SIPDomain, t.RetentionPreset)
		}
	})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func runUserAdd(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	u, err := tenancy.CreateUser(c.ctx, c.db, store.User{TenantID: t.ID, Name: c.str("name"), Email: c.str("email"), Role: c.str("role"), Language: c.str("language")}, c.str("password"))
	if err != nil {
		return err
	}
	c.audit(t.ID, "user.create", "user", u.ID, "")
	return c.out(u, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "created user %d %s <%s> in tenant %s\n", u.ID, u.Name, u.Email, t.Name)
	})
}

func runUserList(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	var all []store.User
	for p := (store.Page{Limit: 500}); ; {
		us, err := c.db.ListUsers(c.ctx, t.ID, p)
		if err != nil {
			return err
		}
		all = append(all, us...)
		if len(us) < p.Limit {
			break
		}
		p.After = us[len(us)-1].ID
	}
	return c.out(nonNil(all), func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ID\tNAME\tEMAIL\tROLE\tACTIVE")
		for _, u := range all {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%v\n", u.ID, u.Name, u.Email, u.Role, u.Active)
		}
	})
}

// onDeactivate is set by the privacy engine's wiring to erase per category.
var onDeactivate []func(c *cmdCtx, tenantID, userID int64) error

func runUserDeactivate(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	if len(c.args) != 1 {
		return usageErr("user deactivate takes one user id")
	}
	id, err := strconv.ParseInt(c.args[0], 10, 64)
	if err != nil {
		return usageErr("user id must be a number")
	}
	if err := confirmErasure(c, t, id); err != nil {
		return err
	}
	if err := tenancy.DeactivateUser(c.ctx, c.db, t.ID, id, c.auditEntry(t.ID, "user.deactivate", "user", id, "")); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no user %d in tenant %s", id, t.Name)
		}
		return err
	}
	for _, f := range onDeactivate {
		if err := f(c, t.ID, id); err != nil {
			return err
		}
	}
	u, err := c.db.User(c.ctx, t.ID, id)
	if err != nil {
		return err
	}
	return c.out(u, func(w *tabwriter.Writer) { fmt.Fprintf(w, "deactivated user %d %s\n", u.ID, u.Name) })
}

func runExtAdd(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	e := store.Extension{TenantID: t.ID, Number: c.str("number"), SIPUsername: c.str("sip-username"), DisplayName: c.str("display-name")}
	if v := c.str("user"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return usageErr("--user must be a user id")
		}
		e.UserID = &id
	}
	e, err = tenancy.CreateExtension(c.ctx, c.db, api.DefaultRealm(t), e, c.str("sip-password"))
	if err != nil {
		return err
	}
	c.audit(t.ID, "extension.create", "extension", e.ID, e.Number)
	return c.out(e, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "created extension %s (SIP user %s, realm %s) in tenant %s\n", e.Number, e.SIPUsername, api.DefaultRealm(t), t.Name)
	})
}

func runExtList(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	var all []store.Extension
	for p := (store.Page{Limit: 500}); ; {
		es, err := c.db.ListExtensions(c.ctx, t.ID, p)
		if err != nil {
			return err
		}
		all = append(all, es...)
		if len(es) < p.Limit {
			break
		}
		p.After = es[len(es)-1].ID
	}
	names := map[int64]string{}
	for p := (store.Page{Limit: 500}); ; {
		us, err := c.db.ListUsers(c.ctx, t.ID, p)
		if err != nil {
			return err
		}
		for _, u := range us {
			names[u.ID] = u.Name
		}
		if len(us) < p.Limit {
			break
		}
		p.After = us[len(us)-1].ID
	}
	rows := make([]extRow, len(all))
	for i, e := range all {
		rows[i].Extension = e
		if e.UserID != nil {
			rows[i].UserName = names[*e.UserID]
		}
	}
	return c.out(rows, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ID\tNUMBER\tSIP USER\tUSER\tUSER NAME\tDISPLAY NAME")
		for _, e := range rows {
			uid, uname := "-", "-"
			if e.UserID != nil {
				uid, uname = strconv.FormatInt(*e.UserID, 10), e.UserName
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Number, e.SIPUsername, uid, uname, orDash(e.DisplayName))
		}
	})
}

// extRow is an extension as ext list shows it: with the name of the user it belongs to.
type extRow struct {
	store.Extension
	UserName string `json:"user_name,omitempty"`
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runTokenAdd(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	uid, err := strconv.ParseInt(c.str("user"), 10, 64)
	if err != nil {
		return usageErr("--user must be a user id")
	}
	var exp *int64
	if v := c.str("expires"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return usageErr("--expires takes a duration such as 720h")
		}
		e := time.Now().Add(d).UnixMilli()
		exp = &e
	}
	tok, at, err := tenancy.CreateToken(c.ctx, c.db, t.ID, uid, c.str("name"), exp)
	if err != nil {
		return err
	}
	c.audit(t.ID, "token.create", "token", at.ID, at.Name)
	return c.out(map[string]any{"token": tok, "id": at.ID}, func(w *tabwriter.Writer) { fmt.Fprintf(w, "%s\n", tok) })
}
