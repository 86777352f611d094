package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/privox/privox/internal/directory"
	"github.com/privox/privox/internal/store"
)

// Phonebook import and export on the command line, against the same store a running
// Privox uses (a running server notices the changes within a minute, see wire_directory.go).

func init() {
	addCommand(command{"contacts import", "contacts import --tenant T --phonebook ID [--format csv|vcard] [--map 'Header=field,...'] [--on-error skip] FILE", runContactsImport})
	addCommand(command{"contacts export", "contacts export --tenant T --phonebook ID [--format vcard|csv] [--vcard-version 3.0|4.0] [--out FILE]", runContactsExport})
}

// phonebook resolves --tenant and --phonebook.
func (c *cmdCtx) phonebook() (store.Phonebook, *directory.Service, error) {
	t, err := c.tenant()
	if err != nil {
		return store.Phonebook{}, nil, err
	}
	id, err := strconv.ParseInt(c.str("phonebook"), 10, 64)
	if err != nil || id <= 0 {
		return store.Phonebook{}, nil, usageErr("--phonebook ID is required")
	}
	b, err := c.db.Phonebook(c.ctx, t.ID, id)
	if err != nil {
		return b, nil, notFound(err, "phonebook in this tenant")
	}
	dir := directory.New(c.db, nil, nil)
	dir.StoreOnly = true
	return b, dir, nil
}

func runContactsImport(c *cmdCtx) error {
	if len(c.args) != 1 {
		return usageErr("contacts import needs one FILE")
	}
	book, dir, err := c.phonebook()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(c.args[0])
	if err != nil {
		return err
	}
	format := c.str("format")
	if format == "" {
		switch strings.ToLower(filepath.Ext(c.args[0])) {
		case ".vcf", ".vcard":
			format = "vcard"
		default:
			format = "csv"
		}
	}
	mapping := map[string]string{}
	if m := c.str("map"); m != "" {
		for _, kv := range strings.Split(m, ",") {
			h, f, ok := strings.Cut(kv, "=")
			if !ok {
				return usageErr("--map takes Header=field pairs separated by commas")
			}
			mapping[strings.ToLower(strings.TrimSpace(h))] = strings.TrimSpace(f)
		}
	}
	opt := directory.ImportOptions{Mapping: mapping}
	switch c.str("on-error") {
	case "", "abort":
	case "skip":
		opt.SkipErrors = true
	default:
		return usageErr("--on-error is abort or skip")
	}
	start := time.Now()
	var (
		cs    []store.Contact
		lines []int
		rep   directory.ImportReport
	)
	switch format {
	case "csv":
		cs, lines, rep, err = directory.ParseCSV(data, mapping)
	case "vcard":
		cs, lines, rep, err = directory.ParseVCards(data)
	default:
		return usageErr("--format is csv or vcard")
	}
	if err != nil {
		return err
	}
	rep, err = dir.Import(c.ctx, book, cs, lines, rep, opt)
	if err != nil {
		return err
	}
	if rep.Written {
		c.audit(book.TenantID, "contacts.import", "phonebook", book.ID, fmt.Sprintf("created=%d updated=%d skipped=%d", rep.Created, rep.Updated, rep.Skipped))
	}
	if c.json {
		return c.out(rep, nil)
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(c.env.Stderr, "%s:%d: %s\n", c.args[0], e.Line, e.Reason)
	}
	if !rep.Written {
		return fmt.Errorf("%d bad rows, nothing imported (--on-error skip imports the good ones)", len(rep.Errors))
	}
	fmt.Fprintf(c.env.Stdout, "imported %d rows (%s) into phonebook %d in %s: %d created, %d updated, %d skipped\n",
		rep.Rows, rep.Encoding, book.ID, time.Since(start).Round(time.Millisecond), rep.Created, rep.Updated, rep.Skipped)
	return nil
}

func runContactsExport(c *cmdCtx) error {
	book, dir, err := c.phonebook()
	if err != nil {
		return err
	}
	w := c.env.Stdout
	var tmp *os.File
	if out := c.str("out"); out != "" {
		// Contacts are personal data: written privately, renamed when complete.
		if tmp, err = os.CreateTemp(filepath.Dir(out), ".privox-contacts-*"); err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		w = tmp
	}
	switch c.str("format") {
	case "", "vcard":
		v := c.str("vcard-version")
		if v == "" {
			v = "4.0"
		}
		err = dir.ExportVCards(c.ctx, book, v, w)
	case "csv":
		err = dir.ExportCSV(c.ctx, book, w)
	default:
		return usageErr("--format is vcard or csv")
	}
	if tmp != nil {
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), c.str("out"))
		}
	}
	if err == nil {
		c.audit(book.TenantID, "contacts.export", "phonebook", book.ID, c.str("format"))
	}
	return err
}
