package dialplan

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"
	"github.com/privox/privox/internal/store"
)

// FieldError is invalid configuration, naming the field.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// MaxStrip bounds the digits a route strips; MaxPrepend what it adds.
const (
	MaxStrip   = 20
	MaxPrepend = 16
	MaxTrunks  = 8
)

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// CompileRoute validates a stored route and compiles it.
func CompileRoute(r store.OutboundRoute) (*Route, error) {
	if !validName(r.Name) {
		return nil, fieldErr("name", "%q: 1 to 64 letters, digits, '-', '_' or '.'", r.Name)
	}
	p, err := ParsePattern(r.Pattern)
	if err != nil {
		return nil, &FieldError{Field: "pattern", Err: err}
	}
	if r.Strip < 0 || r.Strip > MaxStrip {
		return nil, fieldErr("strip", "%d: between 0 and %d digits", r.Strip, MaxStrip)
	}
	if len(r.Prepend) > MaxPrepend {
		return nil, fieldErr("prepend", "longer than %d characters", MaxPrepend)
	}
	for i := 0; i < len(r.Prepend); i++ {
		if charBit(r.Prepend[i]) == 0 {
			return nil, fieldErr("prepend", "%q is not a digit, * # or +", r.Prepend[i])
		}
	}
	if len(r.Trunks) == 0 || len(r.Trunks) > MaxTrunks {
		return nil, fieldErr("trunks", "1 to %d trunks, tried in order", MaxTrunks)
	}
	seen := map[string]bool{}
	for _, t := range r.Trunks {
		if !validName(t) {
			return nil, fieldErr("trunks", "%q is not a trunk name", t)
		}
		if seen[t] {
			return nil, fieldErr("trunks", "%q listed twice", t)
		}
		seen[t] = true
	}
	return &Route{Name: r.Name, Pattern: p, Strip: r.Strip, Prepend: r.Prepend, E164: r.E164, Trunks: r.Trunks}, nil
}

// ValidateSettings checks a tenant's dialling settings.
func ValidateSettings(d store.DialSettings) (store.DialSettings, error) {
	d.Country = strings.ToUpper(d.Country)
	if d.Country != "" && phonenumbers.GetCountryCodeForRegion(d.Country) == 0 {
		return d, fieldErr("country", "%q is not an ISO 3166 country code phonenumbers knows", d.Country)
	}
	if d.MainNumber != "" {
		if d.Country == "" && !strings.HasPrefix(d.MainNumber, "+") {
			return d, fieldErr("main_number", "needs a country, or E.164 (+...)")
		}
		n, err := phonenumbers.Parse(d.MainNumber, d.Country)
		if err != nil || !phonenumbers.IsValidNumber(n) {
			return d, fieldErr("main_number", "not a valid number")
		}
		d.MainNumber = phonenumbers.Format(n, phonenumbers.E164)
	}
	for _, f := range []struct {
		name string
		v    int
		max  int
	}{{"max_concurrent", d.MaxConcurrent, 1000}, {"minutes_per_day", d.MinutesPerDay, 24 * 60 * 1000}, {"burst_calls", d.BurstCalls, 10000}, {"burst_window_s", d.BurstWindowS, 86400}} {
		if f.v < 0 || f.v > f.max {
			return d, fieldErr(f.name, "%d: between 0 and %d", f.v, f.max)
		}
	}
	if d.BurstCalls > 0 && d.BurstWindowS == 0 {
		return d, fieldErr("burst_window_s", "needed when burst_calls is set")
	}
	if d.OutsideCalendar = strings.TrimSpace(d.OutsideCalendar); d.OutsideCalendar != "" && !validName(d.OutsideCalendar) {
		return d, fieldErr("outside_calendar", "%q is not a calendar name", d.OutsideCalendar)
	}
	return d, nil
}

// StoreTables reads route tables from the store and keeps each compiled for TTL, so that
// routing an outside call normally reaches no database; Invalidate drops a tenant's table
// after a change made on this node (other nodes see it within TTL).
type StoreTables struct {
	db  *store.DB
	ttl time.Duration
	now func() time.Time

	// Apps and Boxes, when set, let destinations of those kinds be checked on save.
	Apps  Applications
	Boxes Mailboxes
	// Calendars gives the calendars time rules name (nil: every calendar counts as open).
	Calendars Calendars

	mu     sync.Mutex
	m      map[int64]tableEntry
	dids   map[int64]didEntry
	groups map[int64]groupEntry
}

type tableEntry struct {
	t       *Table
	fetched time.Time
}

var _ Routes = (*StoreTables)(nil)

// NewStoreTables returns a cache over db.
func NewStoreTables(db *store.DB, ttl time.Duration) *StoreTables {
	return &StoreTables{db: db, ttl: ttl, now: time.Now, m: map[int64]tableEntry{}, dids: map[int64]didEntry{}, groups: map[int64]groupEntry{}}
}

// Table implements Routes.
func (s *StoreTables) Table(ctx context.Context, tenantID int64) (*Table, error) {
	now := s.now()
	s.mu.Lock()
	e, ok := s.m[tenantID]
	s.mu.Unlock()
	if ok && now.Sub(e.fetched) < s.ttl {
		return e.t, nil
	}
	set, err := s.db.DialSettings(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.ListOutboundRoutes(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	routes := make([]*Route, 0, len(rows))
	for _, r := range rows {
		cr, err := CompileRoute(r)
		if err != nil {
			return nil, fmt.Errorf("route %s: %w", r.Name, err) // stored rows were validated
		}
		routes = append(routes, cr)
	}
	t, err := NewTable(set.Country, Policy{International: set.AllowInternational, Premium: set.AllowPremium}, routes)
	if err != nil {
		return nil, err
	}
	t.MainNumber = set.MainNumber
	t.Limits = Limits{MaxConcurrent: set.MaxConcurrent, MinutesPerDay: set.MinutesPerDay, BurstCalls: set.BurstCalls,
		BurstWindow: time.Duration(set.BurstWindowS) * time.Second, OutsideCalendar: set.OutsideCalendar}
	if set.OutsideCalendar != "" {
		cals, err := s.readCalendars(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		t.Limits.OutsideHours = cals[set.OutsideCalendar]
	}
	s.mu.Lock()
	s.m[tenantID] = tableEntry{t: t, fetched: now}
	s.mu.Unlock()
	return t, nil
}

// InvalidateAll drops every tenant's cached tables, so that the next call reads the store.
func (s *StoreTables) InvalidateAll() {
	s.mu.Lock()
	clear(s.m)
	clear(s.dids)
	clear(s.groups)
	s.mu.Unlock()
}

// Invalidate drops a tenant's cached table.
func (s *StoreTables) Invalidate(tenantID int64) {
	s.mu.Lock()
	delete(s.m, tenantID)
	delete(s.dids, tenantID)
	delete(s.groups, tenantID)
	s.mu.Unlock()
}

// SaveRoute validates and stores a route.
func (s *StoreTables) SaveRoute(ctx context.Context, r store.OutboundRoute) (store.OutboundRoute, error) {
	if _, err := CompileRoute(r); err != nil {
		return r, err
	}
	for _, name := range r.Trunks {
		if _, err := s.db.Trunk(ctx, r.TenantID, name); errors.Is(err, store.ErrNotFound) {
			return r, fieldErr("trunks", "no trunk %q in the tenant", name)
		} else if err != nil {
			return r, err
		}
	}
	out, err := s.db.PutOutboundRoute(ctx, r)
	s.Invalidate(r.TenantID)
	return out, err
}

// DeleteRoute removes a route.
func (s *StoreTables) DeleteRoute(ctx context.Context, tenantID int64, name string) error {
	err := s.db.DeleteOutboundRoute(ctx, tenantID, name)
	s.Invalidate(tenantID)
	return err
}

// SaveSettings validates and stores a tenant's dialling settings (a calendar they name must
// exist).
func (s *StoreTables) SaveSettings(ctx context.Context, d store.DialSettings) (store.DialSettings, error) {
	d, err := ValidateSettings(d)
	if err != nil {
		return d, err
	}
	if err := s.checkCalendar(ctx, d.TenantID, "outside_calendar", d.OutsideCalendar); err != nil {
		return d, err
	}
	out, err := s.db.PutDialSettings(ctx, d)
	s.Invalidate(d.TenantID)
	return out, err
}

// StoreExtensions implements Extensions from the store: an extension is reachable when a
// stored registration of it has not expired. It serves explanations where no SIP server
// runs (the command line); calls use the SIP core's cache.
type StoreExtensions struct{ DB *store.DB }

var _ Extensions = StoreExtensions{}

// Extension implements Extensions.
func (s StoreExtensions) Extension(ctx context.Context, tenantID int64, number string) (Extension, bool, error) {
	e, err := s.DB.ExtensionByNumber(ctx, tenantID, number)
	if errors.Is(err, store.ErrNotFound) {
		return Extension{}, false, nil
	}
	if err != nil {
		return Extension{}, false, err
	}
	reg, err := s.DB.ExtensionRegistered(ctx, tenantID, e.ID, store.Now())
	return Extension{Number: e.Number, Reachable: reg, Ref: e}, true, err
}

// Explainer explains routing decisions for a tenant: the caller's number is checked to be
// an extension of the tenant ("" for a call from outside, TrunkCaller+name for a call from
// outside on a trunk).
type Explainer func(ctx context.Context, tenantID int64, from, to string) (*Decision, error)

// ErrNoSuchCaller: the explained call's from is not an extension of the tenant.
var ErrNoSuchCaller = errors.New("not an extension of the tenant")

// ErrNoSuchTrunk: the explained call's from names no trunk of the tenant.
var ErrNoSuchTrunk = errors.New("not a trunk of the tenant")

// TrunkCaller prefixes the trunk name in an explained call's from ("trunk:carrier"): a
// call from outside arriving on that trunk, to is then the DID.
const TrunkCaller = "trunk:"

// StoreExplainer explains over the store (extensions, registrations, the given applications
// and routes), for where no SIP server runs.
func StoreExplainer(db *store.DB, apps Applications, routes Routes, guard *Guard, fwd Forwarding) Explainer {
	d := Deps{Extensions: StoreExtensions{db}, Applications: apps, Routes: routes, Guard: guard, Forwards: fwd}
	if dids, ok := routes.(DIDs); ok {
		d.DIDs = dids
	}
	if groups, ok := routes.(Groups); ok {
		d.Groups = groups
	}
	if t, ok := routes.(*StoreTables); ok && t.Boxes != nil { // the mailboxes DIDs are checked against
		d.Mailboxes = t.Boxes
	}
	p := New(Stages(d)...)
	return func(ctx context.Context, tenantID int64, from, to string) (*Decision, error) {
		req := &Request{TenantID: tenantID, To: to}
		if name, ok := strings.CutPrefix(from, TrunkCaller); ok {
			if _, err := db.Trunk(ctx, tenantID, name); errors.Is(err, store.ErrNotFound) {
				return nil, &FieldError{Field: "from", Err: ErrNoSuchTrunk}
			} else if err != nil {
				return nil, err
			}
			req.Trunk = name
		} else if from != "" {
			e, err := db.ExtensionByNumber(ctx, tenantID, from)
			if errors.Is(err, store.ErrNotFound) {
				return nil, &FieldError{Field: "from", Err: ErrNoSuchCaller}
			}
			if err != nil {
				return nil, err
			}
			req.From, req.FromExt = e.Number, e.ID
			if e.UserID != nil {
				req.FromUser = *e.UserID
			}
		}
		return p.Route(Explaining(ctx), req)
	}
}

// StoreSuspensions implements Suspensions over the store.
type StoreSuspensions struct{ DB *store.DB }

var _ Suspensions = StoreSuspensions{}

// OutsideSuspended implements Suspensions.
func (s StoreSuspensions) OutsideSuspended(ctx context.Context, tenantID, extensionID int64) (bool, error) {
	return s.DB.OutsideSuspended(ctx, tenantID, extensionID)
}

// SuspendOutside implements Suspensions; an extension already suspended stays so.
func (s StoreSuspensions) SuspendOutside(ctx context.Context, tenantID, extensionID int64, reason string) error {
	_, err := s.DB.SuspendOutside(ctx, tenantID, extensionID, reason)
	if errors.Is(err, store.ErrConflict) {
		return nil
	}
	return err
}
