package app

import (
	"fmt"
	"text/tabwriter"

	"github.com/privox/privox/internal/dialplan"
	"github.com/privox/privox/internal/store"
)

// Call forwarding and do-not-disturb of extensions, and the tenant's feature codes, from the
// command line. Changes are audited as the command line's.

func init() {
	addCommand(command{"forward set", "forward set --tenant T --number EXT [--always N] [--busy N] [--no-answer N [--ring-time SECONDS]] [--unreachable N] [--dnd on|off]   (N: a number, or none to clear; options left out stay)", runForwardSet})
	addCommand(command{"forward show", "forward show --tenant T --number EXT", runForwardShow})
	addCommand(command{"forward list", "forward list --tenant T", runForwardList})
	addCommand(command{"forward codes", "forward codes --tenant T [--codes always=*21,busy=*67,no_answer=*61,unreachable=*62,dnd_on=*78,dnd_off=*79] [--max-hops N]", runForwardCodes})
}

func (c *cmdCtx) forwarding() (store.Tenant, store.Forwarding, error) {
	t, err := c.tenant()
	if err != nil {
		return t, store.Forwarding{}, err
	}
	if c.str("number") == "" {
		return t, store.Forwarding{}, usageErr("--number is required")
	}
	e, err := c.db.ExtensionByNumber(c.ctx, t.ID, c.str("number"))
	if err != nil {
		return t, store.Forwarding{}, fmt.Errorf("extension %s: %w", c.str("number"), err)
	}
	f, err := c.db.Forwarding(c.ctx, t.ID, e.ID)
	return t, f, err
}

func runForwardSet(c *cmdCtx) error {
	_, f, err := c.forwarding()
	if err != nil {
		return err
	}
	for _, o := range []struct {
		flag string
		p    *string
	}{{"always", &f.Always}, {"busy", &f.Busy}, {"no-answer", &f.NoAnswer}, {"unreachable", &f.Unreachable}} {
		switch v := c.str(o.flag); v {
		case "":
		case "none":
			*o.p = ""
		default:
			*o.p = v
		}
	}
	if c.str("ring-time") != "" {
		if f.NoAnswerRingS, err = c.intFlag("ring-time"); err != nil {
			return err
		}
	}
	switch c.str("dnd") {
	case "":
	case "on":
		f.DND = true
	case "off":
		f.DND = false
	default:
		return usageErr("--dnd: on or off")
	}
	f, err = dialplan.NewStoreForwards(c.db, 0).Save(c.ctx, f, dialplan.Actor{Name: "cli"})
	if err != nil {
		return dialplanCLIErr(err)
	}
	return c.out(f, func(w *tabwriter.Writer) { printForwarding(w, f) })
}

func printForwarding(w *tabwriter.Writer, f store.Forwarding) {
	or := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	ring := "-"
	if f.NoAnswer != "" {
		ring = "default"
		if f.NoAnswerRingS > 0 {
			ring = fmt.Sprintf("%ds", f.NoAnswerRingS)
		}
	}
	dnd := "off"
	if f.DND {
		dnd = "on"
	}
	fmt.Fprintf(w, "%s\talways %s\tbusy %s\tno answer %s (%s)\tunreachable %s\tdnd %s\n", f.Number, or(f.Always), or(f.Busy), or(f.NoAnswer), ring, or(f.Unreachable), dnd)
}

func runForwardShow(c *cmdCtx) error {
	_, f, err := c.forwarding()
	if err != nil {
		return err
	}
	return c.out(f, func(w *tabwriter.Writer) { printForwarding(w, f) })
}

func runForwardList(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	fs, err := c.db.ListForwarding(c.ctx, t.ID)
	if err != nil {
		return err
	}
	return c.out(fs, func(w *tabwriter.Writer) {
		for _, f := range fs {
			printForwarding(w, f)
		}
	})
}

func runForwardCodes(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	fs, err := c.db.ForwardSettings(c.ctx, t.ID)
	if err != nil {
		return err
	}
	if c.str("codes") != "" || c.str("max-hops") != "" {
		if c.str("codes") != "" {
			fs.Codes = c.str("codes")
		}
		if c.str("max-hops") != "" {
			if fs.MaxHops, err = c.intFlag("max-hops"); err != nil {
				return err
			}
		}
		if fs, err = dialplan.NewStoreForwards(c.db, 0).SaveConfig(c.ctx, fs); err != nil {
			return dialplanCLIErr(err)
		}
		c.audit(t.ID, "forward_settings.update", "tenant", t.ID, fmt.Sprintf("max_hops=%d codes=%s", fs.MaxHops, fs.Codes))
	}
	codes, _ := dialplan.ParseCodes(fs.Codes)
	hops := fs.MaxHops
	if hops == 0 {
		hops = dialplan.DefaultMaxHops
	}
	return c.out(fs, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "unconditional\t%s<number>\t#%s clears\n", codes.Always, codes.Always[1:])
		fmt.Fprintf(w, "on busy\t%s<number>\t#%s clears\n", codes.Busy, codes.Busy[1:])
		fmt.Fprintf(w, "on no answer\t%s<number>[*<seconds>]\t#%s clears\n", codes.NoAnswer, codes.NoAnswer[1:])
		fmt.Fprintf(w, "when unreachable\t%s<number>\t#%s clears\n", codes.Unreachable, codes.Unreachable[1:])
		fmt.Fprintf(w, "do-not-disturb\t%s on\t%s off\n", codes.DNDOn, codes.DNDOff)
		fmt.Fprintf(w, "hop limit\t%d\n", hops)
	})
}
