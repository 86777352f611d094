package attendant

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // calendars name IANA zones; the binary must not depend on the host's zoneinfo
)

// Destination is where a menu sends a caller: its type and target. extension, group and
// number (an outside number, through the tenant's outbound routes and toll-fraud guard) are
// rung through the dial plan; mailbox leaves a message in an extension's box; menu opens
// another menu; hangup says goodbye.
type Destination struct {
	Type   string `json:"type"`
	Target string `json:"target,omitempty"`
}

// Menu is one auto-attendant menu.
type Menu struct {
	// Language of the prompts: "de" or "en"; empty takes the tenant's (de preset: German).
	Language string `json:"language,omitempty"`
	// Greeting is the prompt played (and repeated) while the caller chooses.
	Greeting string `json:"greeting,omitempty"`
	// Options map one key (0-9, *, #) to a destination.
	Options map[string]Destination `json:"options,omitempty"`
	// DialByExtension lets the caller key an extension number directly (ended by # or a pause).
	DialByExtension bool `json:"dial_by_extension,omitempty"`
	// TimeoutMS is how long to wait for a choice after the greeting (default 5000).
	TimeoutMS int `json:"timeout_ms,omitempty"`
	// Retries is how often the greeting is repeated after no input or an invalid choice
	// before the caller goes to Fallback (default 2).
	Retries int `json:"retries,omitempty"`
	// Fallback is where a caller goes who chose nothing valid (default: goodbye, hang up).
	Fallback *Destination `json:"fallback,omitempty"`
	// Calendar names the tenant calendar of the menu's business hours; out of hours the
	// caller hears ClosedGreeting and goes to Closed (default: hang up).
	Calendar       string       `json:"calendar,omitempty"`
	ClosedGreeting string       `json:"closed_greeting,omitempty"`
	Closed         *Destination `json:"closed,omitempty"`
}

// Calendar is a tenant's business hours: opening spans per weekday in an IANA time zone,
// and holidays (whole days closed).
type Calendar struct {
	TimeZone string `json:"time_zone"`
	// Hours maps mon, tue, wed, thu, fri, sat, sun to opening spans "08:00-12:30".
	Hours    map[string][]string `json:"hours"`
	Holidays []string            `json:"holidays,omitempty"` // YYYY-MM-DD in the calendar's zone
}

// Limits of a menu definition.
const (
	MaxRetries    = 9
	MaxTimeout    = 60 * time.Second
	MaxExtLen     = 16
	maxPromptName = 64
)

// destTypes are the destination types.
var destTypes = map[string]bool{"extension": true, "group": true, "mailbox": true, "number": true, "menu": true, "hangup": true}

var (
	keyRe    = regexp.MustCompile(`^[0-9*#]$`)
	numberRe = regexp.MustCompile(`^[0-9*#+]{1,32}$`)
	nameRe   = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$`)
	spanRe   = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])$`)
)

// FieldError names what is wrong with a definition.
type FieldError struct {
	Field, Msg string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// ValidName checks a menu or calendar name.
func ValidName(name string) error {
	if !nameRe.MatchString(name) {
		return fieldErr("name", "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	return nil
}

// ValidNumber checks an attendant number (empty: none).
func ValidNumber(n string) error {
	if n != "" && !numberRe.MatchString(n) {
		return fieldErr("number", "digits, *, # or + (at most 32)")
	}
	return nil
}

// ParseMenu decodes and checks a menu definition; unknown fields are refused.
func ParseMenu(raw []byte) (Menu, error) {
	var m Menu
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fieldErr("spec", "not a menu definition: %v", err)
	}
	return m, m.Validate()
}

// Validate checks the definition on its own (references to other menus are checked by
// CheckLoops).
func (m *Menu) Validate() error {
	if m.Language != "" && m.Language != "de" && m.Language != "en" {
		return fieldErr("language", "de or en")
	}
	for _, p := range []struct{ field, v string }{{"greeting", m.Greeting}, {"closed_greeting", m.ClosedGreeting}} {
		if len(p.v) > maxPromptName || strings.ContainsAny(p.v, "/\\") {
			return fieldErr(p.field, "a prompt name of at most %d characters", maxPromptName)
		}
	}
	if m.TimeoutMS < 0 || time.Duration(m.TimeoutMS)*time.Millisecond > MaxTimeout {
		return fieldErr("timeout_ms", "0 to %d", MaxTimeout.Milliseconds())
	}
	if m.Retries < 0 || m.Retries > MaxRetries {
		return fieldErr("retries", "0 to %d", MaxRetries)
	}
	if len(m.Options) == 0 && !m.DialByExtension {
		return fieldErr("options", "a menu needs at least one option or dial_by_extension")
	}
	keys := make([]string, 0, len(m.Options))
	for k := range m.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !keyRe.MatchString(k) {
			return fieldErr("options", "key %q is not one of 0-9, * and #", k)
		}
		if m.DialByExtension && k == "#" {
			return fieldErr("options", "# ends a dialled extension when dial_by_extension is on")
		}
		if err := checkDest("options."+k, m.Options[k]); err != nil {
			return err
		}
	}
	if m.Fallback != nil {
		if err := checkDest("fallback", *m.Fallback); err != nil {
			return err
		}
	}
	if m.Closed != nil {
		if err := checkDest("closed", *m.Closed); err != nil {
			return err
		}
	}
	if m.Calendar != "" {
		if err := ValidName(m.Calendar); err != nil {
			return fieldErr("calendar", "not a calendar name")
		}
	}
	return nil
}

func checkDest(field string, d Destination) error {
	switch {
	case !destTypes[d.Type]:
		return fieldErr(field, "unknown destination type %q (extension, group, mailbox, number, menu, hangup)", d.Type)
	case (d.Type == "extension" || d.Type == "mailbox") && !numberRe.MatchString(d.Target):
		return fieldErr(field, "an extension number")
	case d.Type == "group" && !numberRe.MatchString(d.Target):
		return fieldErr(field, "a group number")
	case d.Type == "number" && !numberRe.MatchString(d.Target):
		return fieldErr(field, "a phone number (digits, + at most 32)")
	case d.Type == "menu" && ValidName(d.Target) != nil:
		return fieldErr(field, "a menu name")
	case d.Type == "hangup" && d.Target != "":
		return fieldErr(field, "hangup takes no target")
	}
	return nil
}

// ErrLoop: menus would pass a caller around without the caller choosing anything.
var ErrLoop = errors.New("attendant: menu loop")

// CheckLoops checks a set of menus (by name) for loops a caller cannot leave by choosing:
// a chain of fallback and closed destinations that leads back to a menu already on it. Such a
// chain would replay greetings forever to a caller who presses nothing. Options that lead back
// to a menu ("0: main menu") are choices and allowed; the attendant bounds them at run time.
func CheckLoops(menus map[string]Menu) error {
	names := make([]string, 0, len(menus))
	for n := range menus {
		names = append(names, n)
	}
	sort.Strings(names)
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case onPath:
			return fmt.Errorf("%w: %s", ErrLoop, strings.Join(append(path, name), " → "))
		case done:
			return nil
		}
		m, ok := menus[name]
		if !ok {
			return nil
		}
		state[name] = onPath
		for _, d := range []*Destination{m.Fallback, m.Closed} {
			if d != nil && d.Type == "menu" {
				if err := visit(d.Target, append(path, name)); err != nil {
					return err
				}
			}
		}
		state[name] = done
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return err
		}
	}
	return nil
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// ParseCalendar decodes and checks a calendar definition.
func ParseCalendar(raw []byte) (Calendar, error) {
	var c Calendar
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fieldErr("spec", "not a calendar definition: %v", err)
	}
	return c, c.Validate()
}

// Validate checks a calendar.
func (c *Calendar) Validate() error {
	if c.TimeZone == "" {
		return fieldErr("time_zone", "an IANA time zone such as Europe/Berlin")
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "Local" {
		return fieldErr("time_zone", "unknown IANA time zone %q", c.TimeZone)
	}
	for day, spans := range c.Hours {
		if _, ok := weekdays[day]; !ok {
			return fieldErr("hours", "%q is not one of mon, tue, wed, thu, fri, sat, sun", day)
		}
		if len(spans) > 8 {
			return fieldErr("hours", "at most 8 spans a day")
		}
		for _, s := range spans {
			from, to, ok := parseSpan(s)
			if !ok || from >= to {
				return fieldErr("hours", "%q is not a span like 08:00-17:30", s)
			}
		}
	}
	if len(c.Holidays) > 400 {
		return fieldErr("holidays", "at most 400")
	}
	for _, h := range c.Holidays {
		if _, err := time.Parse("2006-01-02", h); err != nil {
			return fieldErr("holidays", "%q is not a date like 2026-12-24", h)
		}
	}
	return nil
}

// parseSpan returns a span's minutes since midnight.
func parseSpan(s string) (from, to int, ok bool) {
	m := spanRe.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, false
	}
	n := func(a, b string) int { return (int(a[0]-'0')*10+int(a[1]-'0'))*60 + int(b[0]-'0')*10 + int(b[1]-'0') }
	from, to = n(m[1], m[2]), n(m[3], m[4])
	return from, to, to <= 24*60
}

// Open reports whether the calendar is open at t (a holiday is closed all day).
func (c *Calendar) Open(t time.Time) bool {
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return true // validated on save; a zone that vanished must not close the company
	}
	return c.openAt(t.In(loc))
}

// openAt reports whether the calendar is open at a time in its zone.
func (c *Calendar) openAt(local time.Time) bool {
	day := local.Format("2006-01-02")
	for _, h := range c.Holidays {
		if h == day {
			return false
		}
	}
	mins := local.Hour()*60 + local.Minute()
	for name, wd := range weekdays {
		if wd != local.Weekday() {
			continue
		}
		for _, s := range c.Hours[name] {
			if from, to, ok := parseSpan(s); ok && mins >= from && mins < to {
				return true
			}
		}
	}
	return false
}
