package app

import (
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/privox/privox/internal/attendant"
	"github.com/privox/privox/internal/dialplan"
)

// Auto-attendant menus and calendars from the command line. A definition is a JSON file (the
// "spec" of the API's PUT /menus/{menu} and /calendars/{calendar}); "-" reads standard input.

func init() {
	addCommand(command{"menu set", "menu set --tenant T --name MENU [--number N] FILE.json", runMenuSet})
	addCommand(command{"menu list", "menu list --tenant T", runMenuList})
	addCommand(command{"menu delete", "menu delete --tenant T --name MENU", runMenuDelete})
	addCommand(command{"calendar set", "calendar set --tenant T --name CAL FILE.json", runCalendarSet})
	addCommand(command{"calendar list", "calendar list --tenant T", runCalendarList})
	addCommand(command{"calendar delete", "calendar delete --tenant T --name CAL", runCalendarDelete})
}

// maxSpecFile bounds a definition file.
const maxSpecFile = 1 << 20

func (c *cmdCtx) specFile() ([]byte, error) {
	if len(c.args) != 1 {
		return nil, usageErr("one definition file is required")
	}
	var r io.Reader = os.Stdin
	if c.args[0] != "-" {
		f, err := os.Open(c.args[0])
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxSpecFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSpecFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", c.args[0], maxSpecFile)
	}
	return b, nil
}

func attendantCLIErr(err error) error {
	if fe, ok := err.(*attendant.FieldError); ok {
		return fmt.Errorf("invalid %s", fe.Error())
	}
	return err
}

func runMenuSet(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	spec, err := c.specFile()
	if err != nil {
		return err
	}
	m, err := attendant.SaveMenu(c.ctx, c.db, t.ID, c.str("name"), c.str("number"), spec)
	if err != nil {
		return attendantCLIErr(err)
	}
	c.audit(t.ID, "menu.put", "menu", m.ID, m.Name)
	return c.out(m, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "saved menu %s", m.Name)
		if m.Number != "" {
			fmt.Fprintf(w, " (attendant number %s)", m.Number)
		}
		fmt.Fprintf(w, " in tenant %s\n", t.Name)
	})
}

func runMenuList(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	ms, err := c.db.ListMenus(c.ctx, t.ID)
	if err != nil {
		return err
	}
	return c.out(nonNil(ms), func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "NAME\tNUMBER\tSPEC")
		for _, m := range ms {
			fmt.Fprintf(w, "%s\t%s\t%s\n", m.Name, m.Number, m.Spec)
		}
	})
}

func runMenuDelete(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	if err := c.db.DeleteMenu(c.ctx, t.ID, c.str("name")); err != nil {
		return fmt.Errorf("menu %q: %w", c.str("name"), err)
	}
	c.audit(t.ID, "menu.delete", "menu", c.str("name"), "")
	return c.out(map[string]string{"deleted": c.str("name")}, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "deleted menu %s\n", c.str("name"))
	})
}

func runCalendarSet(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	spec, err := c.specFile()
	if err != nil {
		return err
	}
	cal, err := attendant.SaveCalendar(c.ctx, c.db, t.ID, c.str("name"), spec)
	if err != nil {
		return attendantCLIErr(err)
	}
	c.audit(t.ID, "calendar.put", "calendar", cal.ID, cal.Name)
	return c.out(cal, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "saved calendar %s in tenant %s\n", cal.Name, t.Name)
	})
}

func runCalendarList(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	cs, err := c.db.ListCalendars(c.ctx, t.ID)
	if err != nil {
		return err
	}
	return c.out(nonNil(cs), func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "NAME\tSPEC")
		for _, cal := range cs {
			fmt.Fprintf(w, "%s\t%s\n", cal.Name, cal.Spec)
		}
	})
}

func runCalendarDelete(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	if err := c.didTables().DeleteCalendar(c.ctx, t.ID, c.str("name")); errors.Is(err, dialplan.ErrCalendarInUse) {
		return errors.Unwrap(err) // names the DIDs and settings that use it
	} else if err != nil {
		return fmt.Errorf("calendar %q: %w", c.str("name"), err)
	}
	c.audit(t.ID, "calendar.delete", "calendar", c.str("name"), "")
	return c.out(map[string]string{"deleted": c.str("name")}, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "deleted calendar %s\n", c.str("name"))
	})
}
