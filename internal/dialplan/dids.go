package dialplan

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
	"github.com/privox/privox/internal/store"
)

// Inbound calls: a call from a trunk carries the number it was dialled at (the DID). The
// DID stage finds the tenant's DID covering it (a single number or a range, in E.164) and
// routes the call to the DID's destination (or, while the calendar of the DID's time rule is
// closed, to its out-of-hours destination: timerules.go), or to the tenant's default
// destination when no DID covers the number. It decides on every call from a trunk: a
// provider's call never reaches an extension by an internal number.

// Target is a stored destination: a kind of the dial plan and the number it is reached at.
type Target struct {
	Kind   Kind   `json:"kind"`
	Number string `json:"number"`
}

func (t Target) String() string { return string(t.Kind) + " " + t.Number }

// MaxDIDRange bounds the numbers one DID range covers.
const MaxDIDRange = 100000

type didRange struct {
	first, last string // E.164 of equal length: they compare as strings
	d           didDest
}

// didDest is where a DID goes: its destination and its time rule (nil: none).
type didDest struct {
	tg   Target
	rule *TimeRule
}

// DIDTable is a tenant's inbound numbers, compiled for lookup.
type DIDTable struct {
	Country string
	exact   map[string]didDest
	ranges  map[int][]didRange // by the numbers' length, sorted by first, not overlapping
	// byExt is an extension's own DID (the first single number routed to it), which its
	// outside calls present.
	byExt map[string]string
	// def is the tenant's default destination and its time rule (nil: none).
	def *didDest
	// clir holds the users whose number is withheld on outside calls.
	clir map[int64]bool
	// hours are the tenant's calendars, for the DIDs' time rules (a name missing here
	// counts as open).
	hours map[string]Hours
	// cc and ndd are the country's calling code and national prefix ("49", "0"), for
	// reading DIDs without phonenumbers on the common path (see fast).
	cc, ndd string
}

// NewDIDTable compiles stored DIDs and a default destination (DestKind "": none).
func NewDIDTable(country string, dids []store.DID, def store.DIDDefault) *DIDTable {
	t := &DIDTable{Country: strings.ToUpper(country), exact: map[string]didDest{}, ranges: map[int][]didRange{}, byExt: map[string]string{}}
	if t.Country != "" {
		if cc := phonenumbers.GetCountryCodeForRegion(t.Country); cc != 0 {
			t.cc, t.ndd = strconv.Itoa(cc), phonenumbers.GetNddPrefixForRegion(t.Country, true)
		}
	}
	for _, d := range dids {
		tg := Target{Kind: Kind(d.DestKind), Number: d.DestNumber}
		dd := didDest{tg: tg, rule: timeRule(d.Calendar, d.ClosedKind, d.ClosedNumber)}
		if d.Last == "" || d.Last == d.Number {
			t.exact[d.Number] = dd
			if tg.Kind == KindExtension {
				if old, ok := t.byExt[tg.Number]; !ok || d.Number < old {
					t.byExt[tg.Number] = d.Number
				}
			}
			continue
		}
		n := len(d.Number)
		t.ranges[n] = append(t.ranges[n], didRange{first: d.Number, last: d.Last, d: dd})
	}
	for _, rs := range t.ranges {
		sort.Slice(rs, func(i, j int) bool { return rs[i].first < rs[j].first })
	}
	if def.DestKind != "" {
		t.def = &didDest{tg: Target{Kind: Kind(def.DestKind), Number: def.DestNumber}, rule: timeRule(def.Calendar, def.ClosedKind, def.ClosedNumber)}
	}
	return t
}

// timeRule compiles a stored time rule (nil without a calendar).
func timeRule(calendar, closedKind, closedNumber string) *TimeRule {
	if calendar == "" {
		return nil
	}
	return &TimeRule{Calendar: calendar, Closed: Target{Kind: Kind(closedKind), Number: closedNumber}}
}

// Lookup finds the DID covering an E.164 number: its destination and what covers it.
func (t *DIDTable) Lookup(e164 string) (Target, string, bool) {
	h, ok := t.lookup(e164)
	return h.d.tg, h.what(e164), ok
}

// Rule returns the time rule of the DID covering an E.164 number.
func (t *DIDTable) Rule(e164 string) (TimeRule, bool) {
	h, ok := t.lookup(e164)
	if !ok || h.d.rule == nil {
		return TimeRule{}, false
	}
	return *h.d.rule, true
}

// didHit is the DID that covers a number: a single number (rng nil) or a range.
type didHit struct {
	d   didDest
	rng *didRange
}

// what names the DID covering e164 for people: "DID +4930…" or "DID range +4930…-+4930…".
func (h didHit) what(e164 string) string {
	switch {
	case h.rng != nil:
		return "DID range " + h.rng.first + "-" + h.rng.last
	case e164 != "":
		return "DID " + e164
	}
	return ""
}

// lookup finds the DID covering an E.164 number. It keeps nothing of e164, so that a
// caller may pass a number it built in a buffer of its own.
func (t *DIDTable) lookup(e164 string) (didHit, bool) {
	if d, ok := t.exact[e164]; ok {
		return didHit{d: d}, true
	}
	rs := t.ranges[len(e164)]
	// The last range starting at or before the number is the only one that can cover it.
	lo, hi := 0, len(rs)
	for lo < hi {
		if m := int(uint(lo+hi) >> 1); rs[m].first > e164 {
			hi = m
		} else {
			lo = m + 1
		}
	}
	if i := lo - 1; i >= 0 && e164 <= rs[i].last {
		return didHit{d: rs[i].d, rng: &rs[i]}, true
	}
	return didHit{}, false
}

// maxFastDigits bounds the digits fast reads; with the plus and a calling code the reading
// fits fastBuf.
const (
	maxFastDigits = 20
	fastBuf       = 32
)

// fastKey reads a DID the way providers send it, digits only, as E.164 without phonenumbers,
// appending it to b: "+4930…" as it is, "004930…" and "4930…" (the country's code without
// the plus) with a plus, "030…" (the national prefix) with the country's code; nil when the
// number is not of that form. Such a candidate is only looked up: one that no DID covers is
// read again by NormaliseNumber.
func (t *DIDTable) fastKey(b []byte, n string) []byte {
	digits := strings.TrimPrefix(n, "+")
	if digits == "" || len(digits) > maxFastDigits {
		return nil
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return nil
		}
	}
	switch {
	case len(digits) != len(n):
		return append(b, n...)
	case strings.HasPrefix(digits, "00"):
		return append(append(b, '+'), digits[2:]...)
	case t.ndd != "" && strings.HasPrefix(digits, t.ndd):
		return append(append(append(b, '+'), t.cc...), digits[len(t.ndd):]...)
	case t.cc != "" && strings.HasPrefix(digits, t.cc):
		return append(append(b, '+'), digits...)
	}
	return nil
}

// fast is fastKey as a string ("" when the number is not of that form).
func (t *DIDTable) fast(n string) string {
	var buf [fastBuf]byte
	if k := t.fastKey(buf[:0], n); k != nil {
		return string(k)
	}
	return ""
}

// find looks a DID up as a provider sent it: by its fast reading, else by its full one. The
// fast reading is built on the stack: a call to a covered DID allocates nothing here; e164
// gives the number read when someone needs it.
func (t *DIDTable) find(n string) (didHit, bool) {
	var buf [fastBuf]byte
	if k := t.fastKey(buf[:0], n); k != nil {
		if h, ok := t.lookup(string(k)); ok {
			return h, true
		}
	}
	return t.lookup(NormaliseNumber(n, t.Country))
}

// e164 is the number find looked a DID up by.
func (t *DIDTable) e164(n string) string {
	if f := t.fast(n); f != "" {
		if _, ok := t.lookup(f); ok {
			return f
		}
	}
	return NormaliseNumber(n, t.Country)
}

// ExtensionDID returns an extension's own DID ("" when none maps to it alone).
func (t *DIDTable) ExtensionDID(ext string) string { return t.byExt[ext] }

// Withheld reports whether a user's number is withheld on outside calls (CLIR).
func (t *DIDTable) Withheld(userID int64) bool { return userID != 0 && t.clir[userID] }

// Default returns the tenant's default destination.
func (t *DIDTable) Default() (Target, bool) {
	if t.def == nil {
		return Target{}, false
	}
	return t.def.tg, true
}

// NormaliseNumber reads a number a provider sent (a DID or a caller's number) as E.164 for
// the tenant's country: "+4930…", "004930…", "030…" and, as providers often send it,
// "4930…" without the plus. A number it cannot read is returned as it came.
func NormaliseNumber(n, country string) string {
	n = strings.TrimSpace(n)
	if n == "" || len(n) > MaxDialled {
		return n
	}
	if num, err := phonenumbers.Parse(n, country); err == nil && phonenumbers.IsValidNumber(num) {
		return phonenumbers.Format(num, phonenumbers.E164)
	}
	if !strings.HasPrefix(n, "+") && n[0] != '0' {
		if num, err := phonenumbers.Parse("+"+n, ""); err == nil && phonenumbers.IsValidNumber(num) {
			return phonenumbers.Format(num, phonenumbers.E164)
		}
	}
	return n
}

// DIDs gives the DID table of a tenant.
type DIDs interface {
	DIDTable(ctx context.Context, tenantID int64) (*DIDTable, error)
}

// DIDStage routes calls from trunks by the number they were dialled at. It resolves the
// destination through the stages of its kind, so a DID to an extension is routed exactly
// as an internal call to it.
type DIDStage struct {
	DIDs DIDs
	// The stages destinations of each kind are resolved by (nil: not served here).
	Ext, Apps, Boxes, Groups, Outbound Stage
	// Fwd hands DIDs of forwarding extensions to the forward stage (nil: none).
	Fwd Forwarding
}

var _ Stage = DIDStage{}

// Name implements Stage.
func (DIDStage) Name() string { return "did" }

// Route implements Stage.
func (s DIDStage) Route(ctx context.Context, req *Request) (Outcome, error) {
	if req.Trunk == "" {
		return quiet(req, "not a call from a trunk"), nil
	}
	t, err := s.DIDs.DIDTable(ctx, req.TenantID)
	if err != nil {
		return Outcome{}, err
	}
	h, covered := t.find(req.To)
	tg := h.d.tg
	// what describes the DID for people (and the guard, for a call that goes out again); a
	// call to an extension or a group does not need it.
	what := func() string {
		if !covered {
			return "no DID covers " + t.e164(req.To) + ", the tenant's default"
		}
		return h.what(t.e164(req.To))
	}
	if !covered {
		var ok bool
		if tg, ok = t.Default(); !ok {
			return Reject(404, "Not Found", "trunk %s: no DID covers %s and the tenant has no default destination", req.Trunk, t.e164(req.To)), nil
		}
	}
	goes := "goes to"
	if req.OutOfHours != nil { // the time stage found the calendar closed
		tg, goes = *req.OutOfHours, "goes out of hours to"
	}
	var st Stage
	switch tg.Kind {
	case KindExtension:
		st = s.Ext
	case KindApplication:
		st = s.Apps
	case KindMailbox:
		st = s.Boxes
	case KindGroup:
		st = s.Groups
	case KindOutbound:
		st = s.Outbound
	}
	if st == nil {
		return Reject(404, "Not Found", "trunk %s: %s %s %s, which this system does not serve", req.Trunk, what(), goes, tg), nil
	}
	if tg.Kind == KindExtension && s.Fwd != nil {
		f, err := s.Fwd.Forward(ctx, req.TenantID, tg.Number)
		if err != nil {
			return Outcome{}, err
		}
		if f.Always != "" || f.DND || f.Unreachable != "" {
			// The forward stage follows the extension's forwarding (the call counts as the
			// extension's if it goes out again).
			req.To, req.Caller = tg.Number, "outside"
			if !req.explain {
				return Passed, nil
			}
			return Pass("trunk %s: %s %s extension %s, which forwards or is on do-not-disturb", req.Trunk, what(), goes, tg.Number), nil
		}
	}
	// The destination's stage routes the request as if its number had been dialled; the
	// request is the caller's again afterwards (changed in place rather than copied, which
	// would cost a copy on the heap on every call).
	whatNow := ""
	if req.explain || tg.Kind == KindOutbound {
		whatNow = what()
	}
	saved := *req
	req.To = tg.Number
	if tg.Kind == KindOutbound {
		// Forwarded out again: the outside-call guard counts it under the DID.
		req.From, req.FromUser, req.FromExt = "did:"+t.e164(saved.To), 0, 0
	}
	o, err := st.Route(ctx, req)
	*req = saved
	if err != nil {
		return Outcome{}, err
	}
	if o.Decision == nil {
		return Reject(404, "Not Found", "trunk %s: %s %s %s, which does not exist: %s", req.Trunk, cmpOr(whatNow, what()), goes, tg, o.Why), nil
	}
	if req.explain || o.Decision.Blocked != "" { // for people: route explain and the audit of a block
		o.Decision.Why = fmt.Sprintf("trunk %s: %s %s %s: %s", req.Trunk, cmpOr(whatNow, what()), goes, tg, o.Decision.Why)
	}
	return o, nil
}

// ValidateDID checks a DID: its numbers in E.164 (read for the tenant's country) and the
// range it spans. The destination is checked by the tables (CheckTarget).
func ValidateDID(d store.DID, country string) (store.DID, error) {
	first, err := didNumber(d.Number, country)
	if err != nil {
		return d, &FieldError{Field: "number", Err: err}
	}
	d.Number, d.Last = first, strings.TrimSpace(d.Last)
	if d.Last == "" {
		d.Last = first
		return d, nil
	}
	last, err := didNumber(d.Last, country)
	if err != nil {
		return d, &FieldError{Field: "last", Err: err}
	}
	if len(last) != len(first) {
		return d, fieldErr("last", "%s: a range's ends have the same number of digits (%s)", last, first)
	}
	if last < first {
		return d, fieldErr("last", "%s comes before %s", last, first)
	}
	// Same length, so the span is the difference of the ends' numeric values.
	var span int64
	for i := 1; i < len(first); i++ {
		span = span*10 + int64(last[i]) - int64(first[i])
		if span > MaxDIDRange {
			return d, fieldErr("last", "the range %s-%s covers more than %d numbers", first, last, MaxDIDRange)
		}
	}
	d.Last = last
	return d, nil
}

func didNumber(n, country string) (string, error) {
	n = strings.TrimSpace(n)
	if n == "" {
		return "", errors.New("required")
	}
	if len(n) > 32 {
		return "", errors.New("longer than 32 characters")
	}
	if country == "" && !strings.HasPrefix(n, "+") {
		return "", fmt.Errorf("%q: E.164 (+...) or set the tenant's country", n)
	}
	num, err := phonenumbers.Parse(n, country)
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return "", fmt.Errorf("%q is not a phone number", n)
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// maxTargetNumber bounds a destination's number.
const maxTargetNumber = 32

// ErrNoTarget: a destination that does not exist in the tenant.
var ErrNoTarget = errors.New("no such destination in the tenant")

// CheckTarget checks that a destination exists in the tenant: an extension, a number an
// application runs, a mailbox, a group, or an outside number an outbound route matches.
func (s *StoreTables) CheckTarget(ctx context.Context, tenantID int64, field string, tg Target) error {
	if tg.Number == "" || len(tg.Number) > maxTargetNumber {
		return fieldErr(field, "destination number: 1 to %d characters", maxTargetNumber)
	}
	for i := 0; i < len(tg.Number); i++ {
		if charBit(tg.Number[i]) == 0 {
			return fieldErr(field, "destination number %q: digits, * # or +", tg.Number)
		}
	}
	missing := func() error { return &FieldError{Field: field, Err: fmt.Errorf("%w: %s", ErrNoTarget, tg)} }
	switch tg.Kind {
	case KindExtension:
		if _, err := s.db.ExtensionByNumber(ctx, tenantID, tg.Number); errors.Is(err, store.ErrNotFound) {
			return missing()
		} else if err != nil {
			return err
		}
	case KindApplication:
		if s.Apps == nil {
			return fieldErr(field, "no applications run here")
		}
		if _, ok, err := s.Apps.RouteApp(ctx, tenantID, tg.Number); err != nil {
			return err
		} else if !ok {
			return missing()
		}
	case KindMailbox:
		if s.Boxes == nil {
			return fieldErr(field, "no voicemail runs here (SIP is off)")
		}
		if _, ok, err := s.Boxes.Mailbox(ctx, tenantID, tg.Number); err != nil {
			return err
		} else if !ok {
			return missing()
		}
	case KindGroup:
		gs, err := s.GroupTable(ctx, tenantID)
		if err != nil {
			return err
		}
		if gs.Group(tg.Number) == nil {
			return missing()
		}
	case KindOutbound:
		t, err := s.Table(ctx, tenantID)
		if err != nil {
			return err
		}
		if t.Match(tg.Number) == nil {
			return fieldErr(field, "no outbound route matches %s", tg.Number)
		}
	default:
		return fieldErr(field, "kind %q: extension, group, application, mailbox or outbound", tg.Kind)
	}
	return nil
}

// SaveDID validates and stores a DID: its numbers, that it overlaps no other DID of the
// tenant, that its destination exists, and for a time rule that its calendar and its
// out-of-hours destination exist.
func (s *StoreTables) SaveDID(ctx context.Context, d store.DID) (store.DID, error) {
	set, err := s.db.DialSettings(ctx, d.TenantID)
	if err != nil {
		return d, err
	}
	if d, err = ValidateDID(d, set.Country); err != nil {
		return d, err
	}
	if err := s.CheckTarget(ctx, d.TenantID, "destination", Target{Kind: Kind(d.DestKind), Number: d.DestNumber}); err != nil {
		return d, err
	}
	if d.Calendar, d.ClosedNumber, err = s.checkRule(ctx, d.TenantID, d.Calendar, d.ClosedKind, d.ClosedNumber, nil); err != nil {
		return d, err
	}
	all, err := s.db.ListDIDs(ctx, d.TenantID)
	if err != nil {
		return d, err
	}
	for _, o := range all {
		if o.Number == d.Number || len(o.Number) != len(d.Number) {
			continue
		}
		if o.Number <= d.Last && d.Number <= o.Last {
			return d, fieldErr("number", "%s-%s overlaps the DID %s-%s", d.Number, d.Last, o.Number, o.Last)
		}
	}
	out, err := s.db.PutDID(ctx, d)
	s.Invalidate(d.TenantID)
	return out, err
}

// DeleteDID removes a DID.
func (s *StoreTables) DeleteDID(ctx context.Context, tenantID, id int64) error {
	err := s.db.DeleteDID(ctx, tenantID, id)
	s.Invalidate(tenantID)
	return err
}

// SaveDIDDefault validates and stores the tenant's default destination (kind "": none) and
// its time rule, checked as a DID's.
func (s *StoreTables) SaveDIDDefault(ctx context.Context, d store.DIDDefault) (store.DIDDefault, error) {
	if d.DestKind == "" {
		d.DestNumber, d.Calendar, d.ClosedKind, d.ClosedNumber = "", "", "", "" // no default: calls are refused at any hour
	} else if err := s.CheckTarget(ctx, d.TenantID, "destination", Target{Kind: Kind(d.DestKind), Number: d.DestNumber}); err != nil {
		return d, err
	}
	var err error
	if d.Calendar, d.ClosedNumber, err = s.checkRule(ctx, d.TenantID, d.Calendar, d.ClosedKind, d.ClosedNumber, nil); err != nil {
		return d, err
	}
	out, err := s.db.PutDIDDefault(ctx, d)
	s.Invalidate(d.TenantID)
	return out, err
}

// DIDTable implements DIDs, cached like the route tables.
func (s *StoreTables) DIDTable(ctx context.Context, tenantID int64) (*DIDTable, error) {
	now := s.now()
	s.mu.Lock()
	e, ok := s.dids[tenantID]
	s.mu.Unlock()
	if ok && now.Sub(e.fetched) < s.ttl {
		return e.t, nil
	}
	set, err := s.db.DialSettings(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.ListDIDs(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	def, err := s.db.DIDDefault(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	t := NewDIDTable(set.Country, rows, def)
	if t.clir, err = s.db.CLIRUsers(ctx, tenantID); err != nil {
		return nil, err
	}
	timed := def.Calendar != ""
	for _, d := range rows {
		timed = timed || d.Calendar != ""
	}
	if timed {
		if t.hours, err = s.readCalendars(ctx, tenantID); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	s.dids[tenantID] = didEntry{t: t, fetched: now}
	s.mu.Unlock()
	return t, nil
}

type didEntry struct {
	t       *DIDTable
	fetched time.Time
}
