package dialplan

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/privox/privox/internal/store"
)

// Time rules: a DID, the tenant's default destination for numbers no DID covers, and a ring
// group's fall-through may each name one of the tenant's business-hours calendars and an
// out-of-hours destination. While the calendar is open calls go to the own destination,
// while it is closed to the out-of-hours one: for DIDs and the default the time stage
// judges it (TimeStage, before the DID stage), for a group's fall-through the group stage
// when it plans the group's ringing, both through TimeRule.judge.
// The dialling settings may name a calendar too: while it is closed, the toll-fraud guard
// refuses outside calls dialled at extensions (BlockUnusualHours). Calendars are the
// attendant's; the dial plan reads them through Calendars, compiled into the DID and route
// tables and cached with them. A calendar that no longer exists counts as open, as it does
// for menus; one the dial plan names cannot be deleted (DeleteCalendar).

// Hours is a business-hours calendar as the dial plan judges it.
type Hours interface {
	// Open reports whether the calendar is open at t.
	Open(t time.Time) bool
	// Local returns t in the calendar's time zone.
	Local(t time.Time) time.Time
}

// Calendars gives a tenant's calendars by name (the attendant implements it).
type Calendars interface {
	Calendars(ctx context.Context, tenantID int64) (map[string]Hours, error)
}

// TimeRule sends a DID's calls to Closed while Calendar is closed.
type TimeRule struct {
	Calendar string `json:"calendar"`
	Closed   Target `json:"closed"`
}

// judge says whether the rule's calendar, one of hours, is open at now (see judge).
func (r *TimeRule) judge(hours map[string]Hours, now time.Time, explain bool) (open bool, why string) {
	return judge(r.Calendar, hours[r.Calendar], now, explain)
}

// judge says whether the named calendar is open at now; why, in the words of the trace
// ("calendar office is closed (Sat 10:14 Europe/Berlin)"), is only spelt out for people
// (explain). A missing calendar (h nil) counts as open.
func judge(name string, h Hours, now time.Time, explain bool) (open bool, why string) {
	if h == nil {
		if explain {
			why = fmt.Sprintf("calendar %s does not exist, so it counts as open", name)
		}
		return true, why
	}
	open = h.Open(now)
	if explain {
		local := h.Local(now)
		state := "closed"
		if open {
			state = "open"
		}
		why = fmt.Sprintf("calendar %s is %s (%s %s)", name, state, local.Format("Mon 15:04"), local.Location())
	}
	return open, why
}

// clock returns now, or time.Now when nil.
func clock(now func() time.Time) time.Time {
	if now != nil {
		return now()
	}
	return time.Now()
}

// TimeStage applies the time rule of the DID a call from a trunk was dialled at, or of the
// tenant's default destination when no DID covers the number: while the calendar is closed
// it sets Request.OutOfHours to the out-of-hours destination, which the DID stage then
// routes the call to. It decides nothing itself.
type TimeStage struct {
	DIDs DIDs
	// Now is the clock the calendars are judged by (nil: time.Now).
	Now func() time.Time
}

var _ Stage = TimeStage{}

// Name implements Stage.
func (TimeStage) Name() string { return "time" }

// Route implements Stage.
func (s TimeStage) Route(ctx context.Context, req *Request) (Outcome, error) {
	if req.Trunk == "" {
		return quiet(req, "not a call from a trunk"), nil
	}
	t, err := s.DIDs.DIDTable(ctx, req.TenantID)
	if err != nil {
		return Outcome{}, err
	}
	h, ok := t.find(req.To)
	d := h.d
	what := func() string { return h.what(t.e164(req.To)) }
	if !ok && t.def != nil {
		d, ok = *t.def, true
		what = func() string { return "the tenant's default destination" }
	}
	if !ok || d.rule == nil {
		if !req.explain {
			return Passed, nil
		}
		if !ok {
			return Pass("no time rule for %s", req.To), nil
		}
		return Pass("no time rule for %s", what()), nil
	}
	open, why := d.rule.judge(t.hours, clock(s.Now), req.explain)
	if open {
		if !req.explain {
			return Passed, nil
		}
		return Pass("%s: %s: its own destination %s", what(), why, d.tg), nil
	}
	req.OutOfHours = &d.rule.Closed // the table's, which no one changes
	if !req.explain {
		return Passed, nil
	}
	return Pass("%s: %s: out of hours to %s", what(), why, d.rule.Closed), nil
}

// checkRule checks a time rule as stored (calendar "" and no closed destination: none):
// the calendar exists, and so does the out-of-hours destination, of a kind kinds allows (nil:
// any CheckTarget knows). It returns the calendar and the number trimmed.
func (s *StoreTables) checkRule(ctx context.Context, tenantID int64, calendar, closedKind, closedNumber string, kinds []Kind) (string, string, error) {
	calendar, closedNumber = strings.TrimSpace(calendar), strings.TrimSpace(closedNumber)
	switch {
	case calendar == "" && (closedKind != "" || closedNumber != ""):
		return calendar, closedNumber, fieldErr("calendar", "an out-of-hours destination needs the calendar that says when")
	case calendar != "" && closedKind == "":
		return calendar, closedNumber, fieldErr("closed_destination", "calendar %s: where calls go while it is closed", calendar)
	case calendar == "":
		return "", "", nil
	}
	if kinds != nil && !slices.Contains(kinds, Kind(closedKind)) {
		return calendar, closedNumber, fieldErr("closed_destination", "kind %q: %s", closedKind, kindList(kinds))
	}
	if err := s.checkCalendar(ctx, tenantID, "calendar", calendar); err != nil {
		return calendar, closedNumber, err
	}
	return calendar, closedNumber, s.CheckTarget(ctx, tenantID, "closed_destination", Target{Kind: Kind(closedKind), Number: closedNumber})
}

func kindList(kinds []Kind) string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = string(k)
	}
	return strings.Join(out, ", ")
}

// checkCalendar checks that a calendar of the tenant has the name ("" passes).
func (s *StoreTables) checkCalendar(ctx context.Context, tenantID int64, field, name string) error {
	if name == "" {
		return nil
	}
	if !validName(name) {
		return fieldErr(field, "%q is not a calendar name", name)
	}
	if _, err := s.db.CalendarByName(ctx, tenantID, name); errors.Is(err, store.ErrNotFound) {
		return fieldErr(field, "no calendar %q in the tenant", name)
	} else if err != nil {
		return err
	}
	return nil
}

// calendars reads the tenant's calendars for a table that names some (nil without a source).
func (s *StoreTables) readCalendars(ctx context.Context, tenantID int64) (map[string]Hours, error) {
	if s.Calendars == nil {
		return nil, nil
	}
	return s.Calendars.Calendars(ctx, tenantID)
}

// ErrCalendarInUse: a calendar that DIDs, the default destination, groups or the dialling
// settings name cannot be deleted.
var ErrCalendarInUse = errors.New("calendar in use")

// maxUsersNamed bounds the users of a calendar an ErrCalendarInUse lists.
const maxUsersNamed = 5

// DeleteCalendar removes a calendar of the tenant that no time rule and no dialling setting
// names.
// Menus that name it count it as open from then on.
func (s *StoreTables) DeleteCalendar(ctx context.Context, tenantID int64, name string) error {
	dids, err := s.db.ListDIDs(ctx, tenantID)
	if err != nil {
		return err
	}
	var users []string
	n := 0
	for _, d := range dids {
		if d.Calendar == name {
			if n++; n <= maxUsersNamed {
				users = append(users, "DID "+didSpan(d))
			}
		}
	}
	if n > maxUsersNamed {
		users = append(users, fmt.Sprintf("%d more DIDs", n-maxUsersNamed))
	}
	def, err := s.db.DIDDefault(ctx, tenantID)
	if err != nil {
		return err
	}
	if def.Calendar == name {
		users = append(users, "the default destination for numbers no DID covers")
	}
	groups, err := s.db.ListRingGroups(ctx, tenantID)
	if err != nil {
		return err
	}
	for _, g := range groups {
		if g.Calendar == name {
			users = append(users, "group "+g.Number)
		}
	}
	set, err := s.db.DialSettings(ctx, tenantID)
	if err != nil {
		return err
	}
	if set.OutsideCalendar == name {
		users = append(users, "the dialling settings (the calendar for outside calls)")
	}
	if len(users) > 0 {
		return &FieldError{Field: "calendar", Err: fmt.Errorf("%w: calendar %s is named by %s", ErrCalendarInUse, name, strings.Join(users, ", "))}
	}
	err = s.db.DeleteCalendar(ctx, tenantID, name)
	s.Invalidate(tenantID)
	return err
}

func didSpan(d store.DID) string {
	if d.Last == "" || d.Last == d.Number {
		return d.Number
	}
	return d.Number + "-" + d.Last
}
