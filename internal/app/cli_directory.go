package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/privox/privox/internal/directory"
	"github.com/privox/privox/internal/flows"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/privacy"
	"github.com/privox/privox/internal/store"
)

// Phonebooks and directory sources from the command line: the same checks as the API's
// routes, the same audit entries.

func init() {
	addCommand(command{"phonebook list", "phonebook list --tenant T", runPhonebookList})
	addCommand(command{"phonebook add", "phonebook add --tenant T --name N [--kind company|group|personal] [--user OWNER]", runPhonebookAdd})
	addCommand(command{"phonebook delete", "phonebook delete --tenant T --phonebook ID", runPhonebookDelete})
	addCommand(command{"source list", "source list --tenant T", runSourceList})
	addCommand(command{"source set", "source set --tenant T [--id ID] --phonebook ID --name N --url ldaps://host:636|https://host/file.vcf [--bind-dn DN --password P] [--base-dn DN] [--filter F] [--ca-cert FILE] [--priority N] [--interval SECONDS] [--enabled on|off]", runSourceSet})
	addCommand(command{"source delete", "source delete --tenant T --id ID", runSourceDelete})
	addCommand(command{"source sync", "source sync --tenant T --id ID", runSourceSync})
}

func (c *cmdCtx) dirService() *directory.Service {
	d := directory.New(c.db, nil, nil)
	d.StoreOnly = true
	return d
}

func runPhonebookList(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	bs, err := c.db.ListPhonebooks(c.ctx, t.ID)
	if err != nil {
		return err
	}
	return c.out(bs, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ID\tKIND\tNAME\tOWNER")
		for _, b := range bs {
			owner := ""
			if b.OwnerUserID != nil {
				owner = strconv.FormatInt(*b.OwnerUserID, 10)
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", b.ID, b.Kind, b.Name, owner)
		}
	})
}

func runPhonebookAdd(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	b := store.Phonebook{TenantID: t.ID, Kind: c.str("kind"), Name: c.str("name")}
	if b.Kind == "" {
		b.Kind = store.BookCompany
	}
	if u := c.str("user"); u != "" {
		id, err := strconv.ParseInt(u, 10, 64)
		if err != nil {
			return usageErr("--user takes a user id")
		}
		if _, err := c.db.User(c.ctx, t.ID, id); err != nil {
			return notFound(err, "user in this tenant")
		}
		b.OwnerUserID = &id
	}
	if b.Kind == store.BookCompany && b.OwnerUserID != nil {
		return usageErr("a company phonebook has no owner (--user)")
	}
	b, err = c.dirService().CreatePhonebook(c.ctx, b)
	if err != nil {
		return err
	}
	c.audit(t.ID, "phonebook.create", "phonebook", b.ID, b.Kind)
	return c.out(b, func(w *tabwriter.Writer) { fmt.Fprintf(w, "created %s phonebook %d %q\n", b.Kind, b.ID, b.Name) })
}

func runPhonebookDelete(c *cmdCtx) error {
	b, dir, err := c.phonebook()
	if err != nil {
		return err
	}
	if err := dir.DeletePhonebook(c.ctx, b.TenantID, b.ID); err != nil {
		return err
	}
	c.audit(b.TenantID, "phonebook.delete", "phonebook", b.ID, "")
	return c.out(map[string]int64{"deleted": b.ID}, func(w *tabwriter.Writer) { fmt.Fprintf(w, "deleted phonebook %d with its contacts\n", b.ID) })
}

func runSourceList(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	ss, err := c.db.ListDirectorySources(c.ctx, t.ID)
	if err != nil {
		return err
	}
	return c.out(ss, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ID\tNAME\tURL\tPHONEBOOK\tEVERY\tENABLED\tLAST RUN\tENTRIES\tLAST ERROR")
		for _, s := range ss {
			last := "never"
			if s.LastRunAt != nil {
				last = time.UnixMilli(*s.LastRunAt).UTC().Format(time.DateTime)
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%ds\t%t\t%s\t%d\t%s\n", s.ID, s.Name, s.URL, s.PhonebookID, s.IntervalS, s.Enabled, last, s.LastCount, s.LastError)
		}
	})
}

// sourceArg resolves --tenant and --id.
func (c *cmdCtx) sourceArg() (store.DirectorySource, error) {
	t, err := c.tenant()
	if err != nil {
		return store.DirectorySource{}, err
	}
	id, err := strconv.ParseInt(c.str("id"), 10, 64)
	if err != nil || id <= 0 {
		return store.DirectorySource{}, usageErr("--id SOURCE is required")
	}
	s, err := c.db.DirectorySource(c.ctx, t.ID, id)
	if err != nil {
		return s, notFound(err, "directory source in this tenant")
	}
	return s, nil
}

func runSourceSet(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	src := store.DirectorySource{TenantID: t.ID, Enabled: true, Settings: "{}"}
	update := c.str("id") != ""
	if update {
		if src, err = c.sourceArg(); err != nil {
			return err
		}
	}
	var settings directory.SourceSettings
	if err := json.Unmarshal([]byte(src.Settings), &settings); err != nil {
		return fmt.Errorf("the stored settings of source %d: %w", src.ID, err)
	}
	if f := c.str("ca-cert"); f != "" {
		settings.CACert = f
	}
	in := directory.SourceInput{Name: pick(c.str("name"), src.Name), URL: pick(c.str("url"), src.URL), BindDN: pick(c.str("bind-dn"), src.BindDN),
		BaseDN: pick(c.str("base-dn"), src.BaseDN), Filter: pick(c.str("filter"), src.Filter), Settings: &settings, Priority: src.Priority, IntervalS: src.IntervalS}
	if c.str("priority") != "" {
		if in.Priority, err = c.intFlag("priority"); err != nil {
			return err
		}
	}
	if c.str("interval") != "" {
		n, err := c.intFlag("interval")
		if err != nil {
			return err
		}
		in.IntervalS = int64(n)
	}
	if c.str("enabled") != "" {
		on, err := c.onOff("enabled", true)
		if err != nil {
			return err
		}
		in.Enabled = &on
	}
	if !update {
		id, err := strconv.ParseInt(c.str("phonebook"), 10, 64)
		if err != nil || id <= 0 {
			return usageErr("--phonebook ID is required for a new source")
		}
		b, err := c.db.Phonebook(c.ctx, t.ID, id)
		if err != nil {
			return notFound(err, "phonebook in this tenant")
		}
		if err := directory.SourcePhonebook(b); err != nil {
			return cliSourceErr(err)
		}
		src.PhonebookID = b.ID
	} else if p := c.str("phonebook"); p != "" && p != strconv.FormatInt(src.PhonebookID, 10) {
		return cliSourceErr(directory.ErrSourceBook)
	}
	if err := directory.ApplySource(&in, &src); err != nil {
		return cliSourceErr(err)
	}
	var vault *keys.Vault
	if pw := c.str("password"); pw != "" {
		if vault, err = keys.Open(keys.DefaultDir(c.cfg.DataDir)); err != nil {
			return err
		}
	}
	action := "directory_source.update"
	if update {
		err = c.db.UpdateDirectorySource(c.ctx, src)
	} else {
		action = "directory_source.create"
		src, err = c.db.CreateDirectorySource(c.ctx, src)
	}
	if err != nil {
		return err
	}
	if vault != nil {
		sealed, err := directory.SealSecret(vault, t.ID, src.ID, c.str("password"))
		if err != nil {
			return err
		}
		if err := c.db.SetDirectorySourceSecret(c.ctx, t.ID, src.ID, sealed); err != nil {
			return err
		}
	}
	c.audit(t.ID, action, "directory_source", src.ID, src.URL)
	if src, err = c.db.DirectorySource(c.ctx, t.ID, src.ID); err != nil {
		return err
	}
	return c.out(src, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "saved directory source %d %q (%s) into phonebook %d\n", src.ID, src.Name, src.URL, src.PhonebookID)
	})
}

func pick(flag, stored string) string {
	if flag != "" {
		return flag
	}
	return stored
}

func cliSourceErr(err error) error {
	var fe *directory.SourceFieldError
	if errors.As(err, &fe) {
		return fmt.Errorf("invalid %s", fe.Error())
	}
	return err
}

func runSourceDelete(c *cmdCtx) error {
	src, err := c.sourceArg()
	if err != nil {
		return err
	}
	if err := c.db.DeleteDirectorySource(c.ctx, src.TenantID, src.ID); err != nil {
		return err
	}
	c.audit(src.TenantID, "directory_source.delete", "directory_source", src.ID, "")
	return c.out(map[string]int64{"deleted": src.ID}, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "deleted directory source %d (its phonebook stays)\n", src.ID)
	})
}

// runSourceSync runs one source now, through the flow switch the server obeys.
func runSourceSync(c *cmdCtx) error {
	src, err := c.sourceArg()
	if err != nil {
		return err
	}
	vault, err := keys.Open(keys.DefaultDir(c.cfg.DataDir))
	if err != nil {
		return err
	}
	reg := flows.NewRegistry()
	eng := privacy.New(privacy.Deps{DB: c.db, Vault: vault, Flows: reg, Logger: NewLogger(c.env.Stderr, c.cfg.Log.Level)}, privacy.Options{Preset: c.cfg.Privacy.Preset})
	if err := eng.LoadFlowSwitches(c.ctx); err != nil {
		return err
	}
	y := &directory.Syncer{Dir: c.dirService(), DB: c.db, Vault: vault, Flows: reg}
	n, runErr := y.Run(c.ctx, src)
	if runErr != nil {
		return fmt.Errorf("source %d failed (its phonebook keeps the last good copy): %w", src.ID, runErr)
	}
	c.audit(src.TenantID, "directory_source.sync", "directory_source", src.ID, "")
	return c.out(map[string]int{"entries": n}, func(w *tabwriter.Writer) { fmt.Fprintf(w, "synced %d entries\n", n) })
}
