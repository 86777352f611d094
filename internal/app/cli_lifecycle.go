package app

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/tenancy"
)

// A user's lifecycle on the command line: suspend and resume (reversible), and the
// confirmation that deactivation and erasure (irreversible) ask for.

func init() {
	addCommand(command{"user suspend", "user suspend --tenant T ID   (no sign-in, phones or calls; data kept; undo with user resume)", runUserSuspend})
	addCommand(command{"user resume", "user resume --tenant T ID", runUserResume})
}

func runUserSuspend(c *cmdCtx) error { return setSuspended(c, true) }
func runUserResume(c *cmdCtx) error  { return setSuspended(c, false) }

func setSuspended(c *cmdCtx, on bool) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	name := "user resume"
	if on {
		name = "user suspend"
	}
	if len(c.args) != 1 {
		return usageErr("%s takes one user id", name)
	}
	id, err := strconv.ParseInt(c.args[0], 10, 64)
	if err != nil {
		return usageErr("user id must be a number")
	}
	action := strings.ReplaceAll(name, " ", ".")
	if err := tenancy.SuspendUser(c.ctx, c.db, t.ID, id, on, c.auditEntry(t.ID, action, "user", id, "")); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no user %d in tenant %s", id, t.Name)
		}
		var fe *tenancy.FieldError
		if errors.As(err, &fe) {
			return errors.New(fe.Msg)
		}
		return err
	}
	u, err := c.db.User(c.ctx, t.ID, id)
	if err != nil {
		return err
	}
	return c.out(u, func(w *tabwriter.Writer) {
		if on {
			fmt.Fprintf(w, "suspended user %d %s: no sign-in, registration or calls until user resume (a running server drops the phones' bindings within seconds)\n", u.ID, u.Name)
		} else {
			fmt.Fprintf(w, "resumed user %d %s\n", u.ID, u.Name)
		}
	})
}

// confirmErasure says what erasing a person will take away and asks for confirmation: --yes,
// or "yes" typed at the prompt when the command runs on a terminal. Without either nothing
// changes.
func confirmErasure(c *cmdCtx, t store.Tenant, userID int64) error {
	u, err := c.db.User(c.ctx, t.ID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no user %d in tenant %s", userID, t.Name)
	} else if err != nil {
		return err
	}
	eng, err := c.privacy()
	if err != nil {
		return err
	}
	p, err := eng.PreviewErasure(c.ctx, t.ID, userID)
	if err != nil {
		return err
	}
	w := c.env.Stderr
	fmt.Fprintf(w, "Erasing user %d (%s) cannot be undone. It will go:\n", u.ID, u.Name)
	for _, it := range p.Items {
		fmt.Fprintf(w, "  %-12s %-16s %6d %s\n", it.Category, it.Table, it.Rows, it.Action)
	}
	if p.KeyDestroyed {
		fmt.Fprintln(w, "  the user's content key (copies of their content in backups become unreadable)")
	}
	if p.Pending != "" {
		fmt.Fprintf(w, "  kept for now: %s\n", p.Pending)
	}
	if c.str("yes") == "1" {
		return nil
	}
	if c.env.Stdin == nil {
		return errors.New("not confirmed, nothing changed: add --yes to erase the user, or use user suspend (reversible)")
	}
	fmt.Fprintf(w, "Type yes to erase user %d: ", u.ID)
	line, _ := bufio.NewReader(c.env.Stdin).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return errors.New("not confirmed, nothing changed")
	}
	return nil
}

// auditEntry is the audit entry of a change made on the command line, for appending in the
// change's own transaction.
func (c *cmdCtx) auditEntry(tenantID int64, action, targetType string, targetID any, detail string) store.AuditEntry {
	tid := tenantID
	return store.AuditEntry{TenantID: &tid, Actor: "cli", Action: action, TargetType: targetType, TargetID: fmt.Sprint(targetID), Detail: detail}
}
