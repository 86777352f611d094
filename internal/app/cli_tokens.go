package app

import (
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/privox/privox/internal/store"
)

// The console's API-token page has these beside `token add`: list and revoke.

func init() {
	addCommand(command{"token list", "token list --tenant T [--user ID]", runTokenList})
	addCommand(command{"token revoke", "token revoke --tenant T ID", runTokenRevoke})
	readOnlyCommands["token list"] = true
}

func runTokenList(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	var uid int64
	if v := c.str("user"); v != "" {
		if uid, err = strconv.ParseInt(v, 10, 64); err != nil || uid <= 0 {
			return usageErr("--user must be a user id")
		}
	}
	ts, err := c.db.ListAPITokens(c.ctx, t.ID, uid, store.Page{Limit: 1000})
	if err != nil {
		return err
	}
	day := func(p *int64) string {
		if p == nil {
			return "-"
		}
		return time.UnixMilli(*p).UTC().Format("2006-01-02")
	}
	return c.out(nonNil(ts), func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ID\tUSER\tNAME\tCREATED\tEXPIRES\tLAST USED")
		for _, tk := range ts {
			fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%s\t%s\n", tk.ID, tk.UserID, tk.Name, day(&tk.CreatedAt), day(tk.ExpiresAt), day(tk.LastUsedAt))
		}
	})
}

func runTokenRevoke(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	if len(c.args) != 1 {
		return usageErr("token revoke takes one token id")
	}
	id, err := strconv.ParseInt(c.args[0], 10, 64)
	if err != nil || id <= 0 {
		return usageErr("token id must be a number")
	}
	if err := c.db.DeleteAPIToken(c.ctx, t.ID, id); err != nil {
		return notFound(err, "token")
	}
	c.audit(t.ID, "token.delete", "token", id, "")
	fmt.Fprintf(c.env.Stdout, "token %d revoked\n", id)
	return nil
}
