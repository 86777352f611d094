package app

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/privox/privox/internal/attendant"
	"github.com/privox/privox/internal/dialplan"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/voicemail"
)

// Inbound numbers from the command line: DIDs and ranges with their destinations, the
// tenant's default destination, and a user's caller-ID preference (CLIR).

func init() {
	addCommand(command{"did add", "did add --tenant T --number N [--last N] --dest extension:1001|group:600|application:NUMBER|mailbox:NUMBER|outbound:NUMBER [--calendar CAL --closed-dest KIND:NUMBER]", runDIDAdd})
	addCommand(command{"did list", "did list --tenant T", runDIDList})
	addCommand(command{"did delete", "did delete --tenant T --id ID", runDIDDelete})
	addCommand(command{"did default", "did default --tenant T --dest KIND:NUMBER|none [--calendar CAL --closed-dest KIND:NUMBER]", runDIDDefault})
	addCommand(command{"caller-id set", "caller-id set --tenant T --user ID --clir on|off", runCallerIDSet})
}

// didTables are the dial plan's tables as the command line checks destinations with (and
// explains calls over).
func (c *cmdCtx) didTables() *dialplan.StoreTables {
	t := dialplan.NewStoreTables(c.db, 0)
	att := attendant.New(c.db, nil, nil)
	t.Apps, t.Calendars = att, att
	t.Boxes = voicemail.New(c.db, nil, nil, nil, voicemail.Options{}) // boxes and access codes only: no call runs here
	return t
}

// destFlag reads --dest KIND:NUMBER.
func (c *cmdCtx) destFlag() (kind, number string, err error) { return c.kindNumber("dest") }

// kindNumber reads a destination flag: KIND:NUMBER, or none.
func (c *cmdCtx) kindNumber(flag string) (kind, number string, err error) {
	v := c.str(flag)
	if v == "none" {
		return "", "", nil
	}
	kind, number, ok := strings.Cut(v, ":")
	if !ok || kind == "" || number == "" {
		return "", "", usageErr("--%s: KIND:NUMBER (extension:1001, group:600, application:800, mailbox:1001, outbound:0301234567)", flag)
	}
	return kind, number, nil
}

func runDIDAdd(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	kind, number, err := c.destFlag()
	if err != nil {
		return err
	}
	if kind == "" {
		return usageErr("--dest: a DID needs a destination")
	}
	d := store.DID{TenantID: t.ID, Number: c.str("number"), Last: c.str("last"), DestKind: kind, DestNumber: number}
	if d.Calendar, d.ClosedKind, d.ClosedNumber, err = c.timeRuleFlags(); err != nil {
		return err
	}
	if d, err = c.didTables().SaveDID(c.ctx, d); err != nil {
		return dialplanCLIErr(err)
	}
	c.audit(t.ID, "did.put", "did", d.ID, didDetail(d))
	return c.out(d, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "saved DID %d: %s to %s %s%s\n", d.ID, didSpan(d), d.DestKind, d.DestNumber, outOfHours(d.Calendar, d.ClosedKind, d.ClosedNumber))
	})
}

// timeRuleFlags reads a time rule: --calendar CAL --closed-dest KIND:NUMBER (neither: none).
func (c *cmdCtx) timeRuleFlags() (calendar, closedKind, closedNumber string, err error) {
	calendar = c.str("calendar")
	if c.str("closed-dest") != "" {
		if closedKind, closedNumber, err = c.kindNumber("closed-dest"); err != nil {
			return "", "", "", err
		}
	}
	return calendar, closedKind, closedNumber, nil
}

// outOfHours describes a time rule (", while calendar office is closed to mailbox 1001"; ""
// without one).
func outOfHours(calendar, closedKind, closedNumber string) string {
	if calendar == "" {
		return ""
	}
	return fmt.Sprintf(", while calendar %s is closed to %s %s", calendar, closedKind, closedNumber)
}

// didDetail is a DID's audit detail: its numbers, destination and time rule.
func didDetail(d store.DID) string {
	return d.Number + "-" + d.Last + " " + d.DestKind + " " + d.DestNumber + outOfHours(d.Calendar, d.ClosedKind, d.ClosedNumber)
}

func didSpan(d store.DID) string {
	if d.Last == "" || d.Last == d.Number {
		return d.Number
	}
	return d.Number + "-" + d.Last
}

func runDIDList(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	ds, err := c.db.ListDIDs(c.ctx, t.ID)
	if err != nil {
		return err
	}
	def, err := c.db.DIDDefault(c.ctx, t.ID)
	if err != nil {
		return err
	}
	return c.out(map[string]any{"items": ds, "default": def}, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ID\tDID\tDESTINATION\tOUT OF HOURS")
		for _, d := range ds {
			closed := ""
			if d.Calendar != "" {
				closed = fmt.Sprintf("%s %s (calendar %s closed)", d.ClosedKind, d.ClosedNumber, d.Calendar)
			}
			fmt.Fprintf(w, "%d\t%s\t%s %s\t%s\n", d.ID, didSpan(d), d.DestKind, d.DestNumber, closed)
		}
		if def.DestKind != "" {
			closed := ""
			if def.Calendar != "" {
				closed = fmt.Sprintf("%s %s (calendar %s closed)", def.ClosedKind, def.ClosedNumber, def.Calendar)
			}
			fmt.Fprintf(w, "\tany other\t%s %s\t%s\n", def.DestKind, def.DestNumber, closed)
		}
	})
}

func runDIDDelete(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(c.str("id"), 10, 64)
	if err != nil || id <= 0 {
		return usageErr("--id: the DID's id (did list shows it)")
	}
	if err := c.didTables().DeleteDID(c.ctx, t.ID, id); err != nil {
		return fmt.Errorf("DID %d: %w", id, err)
	}
	c.audit(t.ID, "did.delete", "did", id, "")
	return c.out(map[string]int64{"deleted": id}, func(w *tabwriter.Writer) { fmt.Fprintf(w, "deleted DID %d\n", id) })
}

func runDIDDefault(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	kind, number, err := c.destFlag()
	if err != nil {
		return err
	}
	d := store.DIDDefault{TenantID: t.ID, DestKind: kind, DestNumber: number}
	if d.Calendar, d.ClosedKind, d.ClosedNumber, err = c.timeRuleFlags(); err != nil {
		return err
	}
	if d, err = c.didTables().SaveDIDDefault(c.ctx, d); err != nil {
		return dialplanCLIErr(err)
	}
	c.audit(t.ID, "did_default.put", "tenant", t.ID, d.DestKind+" "+d.DestNumber+outOfHours(d.Calendar, d.ClosedKind, d.ClosedNumber))
	return c.out(d, func(w *tabwriter.Writer) {
		if d.DestKind == "" {
			fmt.Fprintln(w, "calls to numbers no DID covers are refused")
			return
		}
		fmt.Fprintf(w, "calls to numbers no DID covers go to %s %s%s\n", d.DestKind, d.DestNumber, outOfHours(d.Calendar, d.ClosedKind, d.ClosedNumber))
	})
}

func runCallerIDSet(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	uid, err := c.userFlag()
	if err != nil {
		return err
	}
	if _, err := c.db.User(c.ctx, t.ID, uid); err != nil {
		return fmt.Errorf("user %d: %w", uid, err)
	}
	if c.str("clir") == "" {
		return usageErr("--clir on|off is required")
	}
	on, err := c.onOff("clir", false)
	if err != nil {
		return err
	}
	if err := c.db.PutCLIR(c.ctx, t.ID, uid, on); err != nil {
		return err
	}
	c.audit(t.ID, "caller_id.put", "user", uid, "")
	return c.out(map[string]bool{"clir": on}, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "user %d: number withheld on outside calls: %v\n", uid, on)
	})
}
