package app

import (
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/privox/privox/internal/datacat"
)

// runRetentionPreset switches a tenant to a retention preset: retention set --tenant T
// --preset de. The preset's rules then apply to every category; the tenant's own rules go
// (and are printed, to set again if they were wanted).
func runRetentionPreset(c *cmdCtx) error {
	if c.str("category") != "" || c.str("kind") != "" || c.str("mode") != "" || c.str("days") != "" || c.str("on-deactivation") != "" {
		return usageErr("--preset switches the whole tenant; set one category with --category and --mode instead")
	}
	if c.str("tenant") == "" {
		return usageErr("--preset needs --tenant: presets are chosen per tenant")
	}
	t, err := c.tenant()
	if err != nil {
		return err
	}
	eng, err := c.privacy()
	if err != nil {
		return err
	}
	ch, err := eng.SetPreset(c.ctx, t.ID, c.str("preset"), cliActor)
	if err != nil {
		return err
	}
	return c.out(ch, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "tenant %s: retention preset %s (was %s)\n", t.Name, ch.Preset, ch.Previous)
		for _, r := range ch.Removed {
			days := ""
			if r.Days > 0 {
				days = " " + strconv.Itoa(r.Days) + " days"
			}
			fmt.Fprintf(w, "removed the tenant's own rule for %s: %s%s, on deactivation %s\n", ruleName(datacat.Category(r.Category), r.Kind), r.Mode, days, r.OnDeactivation)
		}
		fmt.Fprintln(w, "CATEGORY\tMODE\tDAYS\tON DEACTIVATION\tSOURCE")
		for _, r := range ch.Rules {
			days := "-"
			if r.Days > 0 {
				days = strconv.Itoa(r.Days)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", ruleLabel(r), r.Mode, days, r.OnDeactivation, r.Source)
		}
	})
}
