package app

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/privox/privox/internal/dialplan"
	"github.com/privox/privox/internal/store"
)

// Ring and hunt groups from the command line.

func init() {
	addCommand(command{"group set", "group set --tenant T --number 600 --members 1001,1002[:RINGTIME]... [--name N] [--strategy simultaneous|sequential|round-robin|least-recent] [--ring-time SECONDS] [--fallthrough EXT|KIND:NUMBER] [--calendar CAL --closed-dest KIND:NUMBER]", runGroupSet})
	addCommand(command{"group list", "group list --tenant T", runGroupList})
	addCommand(command{"group delete", "group delete --tenant T --number 600", runGroupDelete})
}

func runGroupSet(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	ring, err := c.intFlag("ring-time")
	if err != nil {
		return err
	}
	var members []store.RingGroupMember
	for _, m := range strings.Split(c.str("members"), ",") {
		if m = strings.TrimSpace(m); m == "" {
			continue
		}
		ext, rt, hasRT := strings.Cut(m, ":")
		mm := store.RingGroupMember{Extension: ext}
		if hasRT {
			if mm.RingTimeS, err = strconv.Atoi(rt); err != nil {
				return usageErr("--members: %q: EXT or EXT:RINGTIME", m)
			}
		}
		members = append(members, mm)
	}
	g := store.RingGroup{TenantID: t.ID, Number: c.str("number"), Name: c.str("name"), Strategy: c.str("strategy"), RingTimeS: ring, Members: members}
	// The fall-through: an extension's number, or a destination (mailbox:1001, application:800).
	if ft := c.str("fallthrough"); strings.Contains(ft, ":") {
		if g.FallthroughKind, g.FallthroughNumber, err = c.kindNumber("fallthrough"); err != nil {
			return err
		}
	} else if ft != "" {
		g.FallthroughKind, g.FallthroughNumber = string(dialplan.KindExtension), ft
	}
	if g.Calendar, g.ClosedKind, g.ClosedNumber, err = c.timeRuleFlags(); err != nil {
		return err
	}
	g, err = c.didTables().SaveGroup(c.ctx, g)
	if err != nil {
		return dialplanCLIErr(err)
	}
	c.audit(t.ID, "group.put", "ring_group", g.ID, g.Number)
	return c.out(g, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "saved group %s (%s, %d members)%s\n", g.Number, g.Strategy, len(g.Members), outOfHours(g.Calendar, g.ClosedKind, g.ClosedNumber))
	})
}

func runGroupList(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	gs, err := c.db.ListRingGroups(c.ctx, t.ID)
	if err != nil {
		return err
	}
	return c.out(gs, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "NUMBER\tNAME\tSTRATEGY\tRING TIME\tMEMBERS\tFALL-THROUGH\tOUT OF HOURS")
		for _, g := range gs {
			var ms []string
			for _, m := range g.Members {
				if m.RingTimeS != 0 {
					ms = append(ms, fmt.Sprintf("%s:%d", m.Extension, m.RingTimeS))
				} else {
					ms = append(ms, m.Extension)
				}
			}
			fall, closed := "", ""
			if g.FallthroughKind != "" {
				fall = g.FallthroughKind + " " + g.FallthroughNumber
			}
			if g.Calendar != "" {
				closed = fmt.Sprintf("%s %s (calendar %s closed)", g.ClosedKind, g.ClosedNumber, g.Calendar)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%ds\t%s\t%s\t%s\n", g.Number, g.Name, g.Strategy, g.RingTimeS, strings.Join(ms, ","), fall, closed)
		}
	})
}

func runGroupDelete(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	if err := dialplan.NewStoreTables(c.db, 0).DeleteGroup(c.ctx, t.ID, c.str("number")); err != nil {
		return fmt.Errorf("group %q: %w", c.str("number"), notFound(err, "group"))
	}
	c.audit(t.ID, "group.delete", "ring_group", c.str("number"), "")
	return c.out(map[string]string{"deleted": c.str("number")}, func(w *tabwriter.Writer) { fmt.Fprintf(w, "deleted group %s\n", c.str("number")) })
}
