package attendant

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/privox/privox/internal/dialplan"
)

// The tenant's calendars as the dial plan's time rules read them: each with its zone
// loaded once, so that judging one on a call costs no zone lookup.

var _ dialplan.Calendars = (*Attendant)(nil)

// hours is a calendar with its zone.
type hours struct {
	c   Calendar
	loc *time.Location
}

func (h hours) Open(t time.Time) bool       { return h.c.openAt(t.In(h.loc)) }
func (h hours) Local(t time.Time) time.Time { return t.In(h.loc) }

// Calendars implements dialplan.Calendars: the tenant's calendars by name. One whose stored
// definition no longer reads (its zone gone from the time zone database) is left out, so it
// counts as open, as it does for menus.
func (a *Attendant) Calendars(ctx context.Context, tenantID int64) (map[string]dialplan.Hours, error) {
	rows, err := a.db.ListCalendars(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("attendant: calendars: %w", err)
	}
	out := make(map[string]dialplan.Hours, len(rows))
	for _, row := range rows {
		var c Calendar
		if json.Unmarshal(row.Spec, &c) != nil || c.Validate() != nil {
			continue
		}
		loc, err := time.LoadLocation(c.TimeZone)
		if err != nil {
			continue
		}
		out[row.Name] = hours{c: c, loc: loc}
	}
	return out, nil
}
