package app

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/privox/privox/internal/attendant"
	"github.com/privox/privox/internal/dialplan"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/store"
)

// The dial plan from the command line: outbound routes, dialling settings, and the
// explanation of a call's routing. A running server reads changes within routeTableTTL.

func init() {
	addCommand(command{"route explain", "route explain --tenant T [--from EXT | --trunk NAME] --to NUMBER", runRouteExplain})
	addCommand(command{"route set", "route set --tenant T --name R --pattern _0[1-9]X. --trunks A[,B...] [--strip N] [--prepend P] [--position N] [--e164 on|off]", runRouteSet})
	addCommand(command{"route list", "route list --tenant T", runRouteList})
	addCommand(command{"route delete", "route delete --tenant T --name R", runRouteDelete})
	addCommand(command{"dial settings", "dial settings --tenant T [--country DE] [--main-number N] [--international on|off] [--premium on|off] [--max-concurrent N] [--minutes-per-day N] [--burst-calls N] [--burst-window SECONDS] [--outside-calendar CAL|none]", runDialSettings})
	addCommand(command{"outside suspend", "outside suspend --tenant T --number EXT", runOutsideSuspend})
	addCommand(command{"outside resume", "outside resume --tenant T --number EXT", runOutsideResume})
	addCommand(command{"outside list", "outside list --tenant T", runOutsideList})
}

func (c *cmdCtx) intFlag(name string) (int, error) {
	v := c.str(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, usageErr("--%s: %q is not a number", name, v)
	}
	return n, nil
}

// onOff reads an on|off flag; def when it is not given.
func (c *cmdCtx) onOff(name string, def bool) (bool, error) {
	switch c.str(name) {
	case "":
		return def, nil
	case "on", "yes", "true", "1":
		return true, nil
	case "off", "no", "false", "0":
		return false, nil
	}
	return false, usageErr("--%s: on or off", name)
}

func dialplanCLIErr(err error) error {
	if fe, ok := err.(*dialplan.FieldError); ok {
		return fmt.Errorf("invalid %s", fe.Error())
	}
	return err
}

func runRouteExplain(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	if c.str("to") == "" {
		return usageErr("--to is required")
	}
	from := c.str("from")
	if tr := c.str("trunk"); tr != "" {
		if from != "" {
			return usageErr("--trunk: a call from a trunk has no --from")
		}
		from = dialplan.TrunkCaller + tr
	}
	explain := dialplan.StoreExplainer(c.db, attendant.New(c.db, nil, nil), c.didTables(),
		dialplan.NewGuard(dialplan.StoreSuspensions{DB: c.db}), dialplan.NewStoreForwards(c.db, 0))
	d, err := explain(c.ctx, t.ID, from, c.str("to"))
	if err != nil {
		return dialplanCLIErr(err)
	}
	return c.out(d, func(w *tabwriter.Writer) { fmt.Fprint(w, d.Explain()) })
}

func runRouteSet(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	strip, err := c.intFlag("strip")
	if err != nil {
		return err
	}
	pos, err := c.intFlag("position")
	if err != nil {
		return err
	}
	e164, err := c.onOff("e164", true)
	if err != nil {
		return err
	}
	var trunks []string
	if v := c.str("trunks"); v != "" {
		trunks = strings.Split(v, ",")
	}
	r, err := dialplan.NewStoreTables(c.db, 0).SaveRoute(c.ctx, store.OutboundRoute{TenantID: t.ID, Name: c.str("name"), Position: pos,
		Pattern: c.str("pattern"), Strip: strip, Prepend: c.str("prepend"), E164: e164, Trunks: trunks})
	if err != nil {
		return dialplanCLIErr(err)
	}
	c.audit(t.ID, "route.put", "outbound_route", r.ID, r.Name+" "+r.Pattern)
	return c.out(r, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "saved route %s (%s via %s) in tenant %s\n", r.Name, r.Pattern, strings.Join(r.Trunks, ","), t.Name)
	})
}

func runRouteList(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	rs, err := c.db.ListOutboundRoutes(c.ctx, t.ID)
	if err != nil {
		return err
	}
	return c.out(rs, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "POSITION\tNAME\tPATTERN\tSTRIP\tPREPEND\tE164\tTRUNKS")
		for _, r := range rs {
			fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%s\t%v\t%s\n", r.Position, r.Name, r.Pattern, r.Strip, r.Prepend, r.E164, strings.Join(r.Trunks, ","))
		}
	})
}

func runRouteDelete(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	if err := c.db.DeleteOutboundRoute(c.ctx, t.ID, c.str("name")); err != nil {
		return fmt.Errorf("route %q: %w", c.str("name"), err)
	}
	c.audit(t.ID, "route.delete", "outbound_route", c.str("name"), "")
	return c.out(map[string]string{"deleted": c.str("name")}, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "deleted route %s\n", c.str("name"))
	})
}

func runDialSettings(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	d, err := c.db.DialSettings(c.ctx, t.ID)
	if err != nil {
		return err
	}
	changed := false
	if v := c.str("country"); v != "" {
		d.Country, changed = v, true
	}
	if v := c.str("main-number"); v != "" {
		d.MainNumber, changed = v, true
	}
	for _, f := range []struct {
		name string
		to   *bool
	}{{"international", &d.AllowInternational}, {"premium", &d.AllowPremium}} {
		if c.str(f.name) != "" {
			if *f.to, err = c.onOff(f.name, false); err != nil {
				return err
			}
			changed = true
		}
	}
	for _, f := range []struct {
		name string
		to   *int
	}{{"max-concurrent", &d.MaxConcurrent}, {"minutes-per-day", &d.MinutesPerDay}, {"burst-calls", &d.BurstCalls}, {"burst-window", &d.BurstWindowS}} {
		if c.str(f.name) != "" {
			if *f.to, err = c.intFlag(f.name); err != nil {
				return err
			}
			changed = true
		}
	}
	switch v := c.str("outside-calendar"); v {
	case "":
	case "none":
		d.OutsideCalendar, changed = "", true
	default:
		d.OutsideCalendar, changed = v, true
	}
	if changed {
		if d, err = dialplan.NewStoreTables(c.db, 0).SaveSettings(c.ctx, d); err != nil {
			return dialplanCLIErr(err)
		}
		c.audit(t.ID, "dial_settings.put", "tenant", t.ID, "")
	}
	return c.out(d, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "COUNTRY\tMAIN NUMBER\tINTERNATIONAL\tPREMIUM\tMAX CONCURRENT\tMINUTES/DAY\tBURST\tOUTSIDE CALLS")
		hours := "any time"
		if d.OutsideCalendar != "" {
			hours = "while " + d.OutsideCalendar + " is open"
		}
		fmt.Fprintf(w, "%s\t%s\t%v\t%v\t%d\t%d\t%d in %ds\t%s\n", d.Country, d.MainNumber, d.AllowInternational, d.AllowPremium, d.MaxConcurrent, d.MinutesPerDay, d.BurstCalls, d.BurstWindowS, hours)
	})
}

// extension resolves --number to an extension of the tenant.
func (c *cmdCtx) extensionFlag(t store.Tenant) (store.Extension, error) {
	if c.str("number") == "" {
		return store.Extension{}, usageErr("--number is required")
	}
	e, err := c.db.ExtensionByNumber(c.ctx, t.ID, c.str("number"))
	if errors.Is(err, store.ErrNotFound) {
		return e, fmt.Errorf("no extension %s in tenant %s", c.str("number"), t.Name)
	}
	return e, err
}

func runOutsideSuspend(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	e, err := c.extensionFlag(t)
	if err != nil {
		return err
	}
	s, err := c.db.SuspendOutside(c.ctx, t.ID, e.ID, "admin")
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("outside calls of %s are already suspended", e.Number)
	}
	if err != nil {
		return err
	}
	c.audit(t.ID, "outside.suspend", "extension", e.ID, "")
	return c.out(s, func(w *tabwriter.Writer) { fmt.Fprintf(w, "suspended outside calls of %s\n", e.Number) })
}

func runOutsideResume(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	e, err := c.extensionFlag(t)
	if err != nil {
		return err
	}
	if err := c.db.ResumeOutside(c.ctx, t.ID, e.ID); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("outside calls of %s are not suspended", e.Number)
	} else if err != nil {
		return err
	}
	c.audit(t.ID, "outside.resume", "extension", e.ID, "")
	return c.out(map[string]string{"resumed": e.Number}, func(w *tabwriter.Writer) { fmt.Fprintf(w, "resumed outside calls of %s\n", e.Number) })
}

func runOutsideList(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	ss, err := c.db.ListOutsideSuspensions(c.ctx, t.ID)
	if err != nil {
		return err
	}
	return c.out(ss, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "EXTENSION ID\tREASON\tSINCE")
		for _, s := range ss {
			fmt.Fprintf(w, "%d\t%s\t%s\n", s.ExtensionID, s.Reason, time.UnixMilli(s.CreatedAt).UTC().Format(time.RFC3339))
		}
	})
}

func init() {
	addCommand(command{"trunk set", "trunk set --tenant T --name N --kind register|ip --server HOST:PORT [--failover HOST:PORT] [--transport udp|tcp|tls] [--username U --password P|-] [--expires S] [--sources A,B] [--did-from ruri|to] [--trusted on|off]", runTrunkSet})
	addCommand(command{"trunk list", "trunk list --tenant T", runTrunkList})
	addCommand(command{"trunk delete", "trunk delete --tenant T --name N", runTrunkDelete})
}

func runTrunkSet(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	expires, err := c.intFlag("expires")
	if err != nil {
		return err
	}
	trusted, err := c.onOff("trusted", false)
	if err != nil {
		return err
	}
	pw := c.str("password")
	if pw == "-" { // from standard input, so that it is not in the process list
		if c.env.Stdin == nil {
			return usageErr("--password -: nothing on standard input")
		}
		b, err := io.ReadAll(io.LimitReader(c.env.Stdin, dialplan.MaxPassword+2))
		if err != nil {
			return err
		}
		pw = strings.TrimRight(string(b), "\r\n")
	}
	var sources []string
	if v := c.str("sources"); v != "" {
		sources = strings.Split(v, ",")
	}
	vault, err := keys.Open(keys.DefaultDir(c.cfg.DataDir))
	if err != nil {
		return err
	}
	tr, err := dialplan.NewStoreTables(c.db, 0).SaveTrunk(c.ctx, store.Trunk{TenantID: t.ID, Name: c.str("name"), Kind: c.str("kind"),
		Transport: c.str("transport"), Server: c.str("server"), Failover: c.str("failover"), RegisterExpires: expires, AllowedSources: sources,
		DIDFrom: c.str("did-from"), Trusted: trusted, Username: c.str("username")}, pw, dialplan.SealTrunkSecret(vault))
	if err != nil {
		return dialplanCLIErr(err)
	}
	c.audit(t.ID, "trunk.put", "trunk", tr.ID, tr.Name)
	return c.out(tr, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "saved trunk %s (%s, %s %s)\n", tr.Name, tr.Kind, tr.Transport, tr.Server)
	})
}

func runTrunkList(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	ts, err := c.db.ListTrunks(c.ctx, t.ID)
	if err != nil {
		return err
	}
	return c.out(ts, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "NAME\tKIND\tTRANSPORT\tSERVER\tFAILOVER\tUSERNAME\tSOURCES\tDID FROM\tTRUSTED")
		for _, tr := range ts {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%v\n", tr.Name, tr.Kind, tr.Transport, tr.Server, tr.Failover, tr.Username,
				strings.Join(tr.AllowedSources, ","), tr.DIDFrom, tr.Trusted)
		}
	})
}

func runTrunkDelete(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	if err := dialplan.NewStoreTables(c.db, 0).DeleteTrunk(c.ctx, t.ID, c.str("name")); err != nil {
		return fmt.Errorf("trunk %q: %w", c.str("name"), dialplanCLIErr(err))
	}
	c.audit(t.ID, "trunk.delete", "trunk", c.str("name"), "")
	return c.out(map[string]string{"deleted": c.str("name")}, func(w *tabwriter.Writer) { fmt.Fprintf(w, "deleted trunk %s\n", c.str("name")) })
}
