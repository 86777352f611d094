package app

import (
	"fmt"
	"text/tabwriter"

	"github.com/privox/privox/internal/store"
)

// printIntegrity writes the database line of privox fsck: the engine's own check and what it
// found, or why it could not run.
func printIntegrity(w *tabwriter.Writer, r store.IntegrityReport) {
	switch {
	case r.Unavailable != "":
		fmt.Fprintf(w, "database (%s):\tcheck not available: %s\n", r.Engine, r.Unavailable)
	case r.OK() && r.Objects > 0:
		fmt.Fprintf(w, "database (%s):\t%s ok (%d indexes)\n", r.Engine, r.Check, r.Objects)
	case r.OK():
		fmt.Fprintf(w, "database (%s):\t%s ok\n", r.Engine, r.Check)
	default:
		fmt.Fprintf(w, "database (%s):\t%s found %d problem(s)\n", r.Engine, r.Check, len(r.Problems))
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
}
