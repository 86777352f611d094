package dialplan

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/privox/privox/internal/call"
	"github.com/privox/privox/internal/store"
)

// Ring and hunt groups. A group's number rings its member extensions: all at once
// (simultaneous) for the group's ring time, or one after the other, each for its own ring
// time (the hunt strategies): in configured order (sequential); starting one member further
// along the list with every call (round-robin, a queue's round-robin with memory: the
// member after the one the previous call started with, whether or not that one answered);
// or longest idle first, by the time each member last answered a call from this group
// (least-recent; members who never answered come first, in configured order). Members
// with no registered contact or on do-not-disturb are skipped; so are members busy on a
// call for the hunt strategies, where the extension resolver can tell (Extension.Busy).
// When no member answers, the fall-through takes the call: an extension rings last, a
// mailbox or an application (a menu) answers it; without one the caller hears 480. The
// fall-through may have a time rule: while its calendar is closed the group falls through to
// the rule's destination instead (a mailbox after hours).

// Group strategies.
const (
	StrategySimultaneous = "simultaneous"
	StrategySequential   = "sequential"
	StrategyRoundRobin   = "round-robin"
	StrategyLeastRecent  = "least-recent"
)

// Strategies lists the group strategies in the order forms offer them.
var Strategies = []string{StrategySimultaneous, StrategySequential, StrategyRoundRobin, StrategyLeastRecent}

// hunts tells whether a strategy rings one member after the other.
func hunts(strategy string) bool {
	return strategy == StrategySequential || strategy == StrategyRoundRobin || strategy == StrategyLeastRecent
}

// Bounds of a group's configuration.
const (
	MaxGroupMembers = 64
	MinRingTime     = 5
	MaxRingTime     = 600
	DefaultRingTime = 20
)

// Group is a group destination as the SIP core rings it: the steps in order, each ringing
// its members' contacts together for the step's ring time; then, when nobody answered, Then.
type Group struct {
	Strategy string      `json:"strategy"`
	Steps    []GroupStep `json:"steps"`
	// Then is a fall-through that is not rung but run (a mailbox or an application: App and
	// Arg say which), once the steps are over (nil: none, or an extension's step).
	Then *Destination `json:"then,omitempty"`
}

// GroupStep is one round of ringing.
type GroupStep struct {
	Members  []string      `json:"members"`
	RingTime time.Duration `json:"ring_time_ns"`
	// Fallthrough marks the step of the fall-through destination.
	Fallthrough bool `json:"fallthrough,omitempty"`
	// Refs are the resolver's handles on the members (Extension.Ref), in order.
	Refs []any `json:"-"`
}

// Groups gives the ring groups of a tenant.
type Groups interface {
	GroupTable(ctx context.Context, tenantID int64) (*GroupTable, error)
}

// GroupTable is a tenant's groups by number, with the calendars their fall-throughs' time
// rules name.
type GroupTable struct {
	byNumber map[string]*store.RingGroup
	hours    map[string]Hours
}

// NewGroupTable compiles stored groups and the tenant's calendars (nil: every calendar
// counts as open).
func NewGroupTable(gs []store.RingGroup, hours map[string]Hours) *GroupTable {
	t := &GroupTable{byNumber: make(map[string]*store.RingGroup, len(gs)), hours: hours}
	for i := range gs {
		t.byNumber[gs[i].Number] = &gs[i]
	}
	return t
}

// Group returns the group with the number (nil: none). The group is the table's: read only.
func (t *GroupTable) Group(number string) *store.RingGroup { return t.byNumber[number] }

// fallthroughKinds are the destinations a group falls through to: an extension rings as a
// last step, a mailbox or an application takes the call when the steps are over.
var fallthroughKinds = []Kind{KindExtension, KindMailbox, KindApplication}

// GroupStage routes a group's number to its reachable members.
type GroupStage struct {
	Groups Groups
	Ext    Extensions
	// Fwd tells which members are on do-not-disturb (nil: none is).
	Fwd Forwarding
	// State orders round-robin and least-recent groups (nil: configured order).
	State *GroupState
	// Apps and Boxes resolve fall-throughs to applications and mailboxes (nil: a group
	// falling through to one falls through to nothing).
	Apps  Applications
	Boxes Mailboxes
	// Now is the clock the fall-throughs' time rules are judged by (nil: time.Now).
	Now func() time.Time
}

var _ Stage = GroupStage{}

// Name implements Stage.
func (GroupStage) Name() string { return "group" }

// fallthrough returns where a group falls through to now (Kind "": nowhere) and, for
// people, why: its time rule's judgement.
func (s GroupStage) fallthroughOf(t *GroupTable, g *store.RingGroup, explain bool) (Target, string) {
	tg := Target{Kind: Kind(g.FallthroughKind), Number: g.FallthroughNumber}
	if g.Calendar == "" {
		return tg, ""
	}
	r := TimeRule{Calendar: g.Calendar, Closed: Target{Kind: Kind(g.ClosedKind), Number: g.ClosedNumber}}
	open, why := r.judge(t.hours, clock(s.Now), explain)
	if open {
		return tg, why
	}
	if explain {
		why += ": out of hours"
	}
	return r.Closed, why
}

// resolveThen resolves a fall-through that is run rather than rung (ok false: none there).
func (s GroupStage) resolveThen(ctx context.Context, tenantID int64, tg Target) (*Destination, bool, error) {
	var rt call.Route
	var ok bool
	var err error
	switch {
	case tg.Kind == KindMailbox && s.Boxes != nil:
		rt, ok, err = s.Boxes.Mailbox(ctx, tenantID, tg.Number)
	case tg.Kind == KindApplication && s.Apps != nil:
		rt, ok, err = s.Apps.RouteApp(ctx, tenantID, tg.Number)
	}
	if err != nil || !ok {
		return nil, false, err
	}
	n := tg.Number
	if tg.Kind == KindMailbox {
		n = rt.Arg // as the mailbox stage names a box
	}
	return &Destination{Kind: tg.Kind, Number: n, App: rt.App, Arg: rt.Arg}, true, nil
}

// Route implements Stage.
func (s GroupStage) Route(ctx context.Context, req *Request) (Outcome, error) {
	if req.To == "" {
		return quiet(req, "no number dialled"), nil
	}
	t, err := s.Groups.GroupTable(ctx, req.TenantID)
	if err != nil {
		return Outcome{}, err
	}
	g := t.Group(req.To)
	if g == nil {
		if !req.explain {
			return Passed, nil
		}
		return Pass("%s is no group", req.To), nil
	}
	ring := func(sec int) time.Duration {
		if sec == 0 {
			sec = g.RingTimeS
		}
		return time.Duration(sec) * time.Second
	}
	var unreg, dnd, busy []string
	reach := func(number string, member bool) (any, bool, error) {
		e, ok, err := s.Ext.Extension(ctx, req.TenantID, number)
		if err != nil || !ok || !e.Reachable {
			if err == nil && req.explain { // who was skipped is for people
				unreg = append(unreg, number)
			}
			return nil, false, err
		}
		if member && s.Fwd != nil {
			f, err := s.Fwd.Forward(ctx, req.TenantID, number)
			if err != nil {
				return nil, false, err
			}
			if f.DND {
				if req.explain {
					dnd = append(dnd, number)
				}
				return nil, false, nil
			}
		}
		if member && e.Busy && hunts(g.Strategy) {
			if req.explain {
				busy = append(busy, number)
			}
			return nil, false, nil
		}
		return e.Ref, true, nil
	}
	// The group and room for its first steps (all members, the fall-through) in one
	// allocation.
	room := &struct {
		g     Group
		steps [2]GroupStep
	}{}
	out := &room.g
	out.Strategy, out.Steps = g.Strategy, room.steps[:0]
	all := GroupStep{RingTime: ring(0)}
	if !hunts(g.Strategy) {
		all.Members, all.Refs = make([]string, 0, len(g.Members)), make([]any, 0, len(g.Members))
	}
	for _, m := range s.State.order(req.TenantID, g) {
		ref, ok, err := reach(m.Extension, true)
		if err != nil {
			return Outcome{}, err
		}
		if !ok {
			continue
		}
		if hunts(g.Strategy) {
			out.Steps = append(out.Steps, GroupStep{Members: []string{m.Extension}, Refs: []any{ref}, RingTime: ring(m.RingTimeS)})
			continue
		}
		all.Members, all.Refs = append(all.Members, m.Extension), append(all.Refs, ref)
	}
	if len(all.Members) > 0 {
		out.Steps = append(out.Steps, all)
	}
	if len(out.Steps) > 0 && !req.explain {
		s.State.started(req.TenantID, g, out.Steps[0].Members[0])
	}
	fall, rule := s.fallthroughOf(t, g, req.explain)
	fallWhy := "" // what the fall-through is, for people
	switch fall.Kind {
	case KindExtension:
		ref, ok, err := reach(fall.Number, false)
		if err != nil {
			return Outcome{}, err
		}
		if ok {
			out.Steps = append(out.Steps, GroupStep{Members: []string{fall.Number}, Refs: []any{ref}, RingTime: ring(0), Fallthrough: true})
			if req.explain {
				fallWhy = "falls through to " + fall.String()
			}
		} else if req.explain {
			fallWhy = "falls through to " + fall.String() + ", which cannot be rung"
		}
	case KindMailbox, KindApplication:
		d, ok, err := s.resolveThen(ctx, req.TenantID, fall)
		if err != nil {
			return Outcome{}, err
		}
		if ok {
			out.Then = d
			if req.explain {
				fallWhy = "then " + fall.String()
			}
		} else if req.explain {
			fallWhy = "falls through to " + fall.String() + ", which does not exist"
		}
	}
	if req.explain {
		if fall.Kind == "" && rule != "" {
			fallWhy = "falls through to nothing"
		}
		if rule != "" {
			fallWhy += " (" + rule + ")"
		}
		if fallWhy != "" {
			fallWhy = "; " + fallWhy
		}
	}
	why := ""
	for _, sk := range []struct {
		what string
		list []string
	}{{"not registered", unreg}, {"on do-not-disturb", dnd}, {"busy", busy}} {
		if len(sk.list) > 0 {
			why += " (" + sk.what + ", skipped: " + strings.Join(sk.list, ",") + ")"
		}
	}
	if len(out.Steps) == 0 {
		if out.Then != nil { // nobody to ring: the fall-through takes the call at once
			return To(*out.Then, "group %s %q: no member can be rung%s%s", g.Number, g.Name, why, fallWhy), nil
		}
		return Reject(480, "Temporarily Unavailable", "group %s %q: no member can be rung%s%s", g.Number, g.Name, why, fallWhy), nil
	}
	if !req.explain {
		// The plan below is for people (route explain); a call does not need it spelt out.
		return ToWhy(Destination{Kind: KindGroup, Number: g.Number, Group: out}, ""), nil
	}
	var plan []string
	for _, st := range out.Steps {
		p := strings.Join(st.Members, "+") + " " + st.RingTime.String()
		if st.Fallthrough {
			p = "then " + p
		}
		plan = append(plan, p)
	}
	return To(Destination{Kind: KindGroup, Number: g.Number, Group: out}, "group %s %q rings %s: %s%s%s", g.Number, g.Name, g.Strategy, strings.Join(plan, ", "), why, fallWhy), nil
}

// ValidateGroup checks a group and fills in defaults; the members' existence is checked by
// SaveGroup.
func ValidateGroup(g store.RingGroup) (store.RingGroup, error) {
	if g.Number == "" || len(g.Number) > maxTargetNumber {
		return g, fieldErr("number", "1 to %d characters", maxTargetNumber)
	}
	for i := 0; i < len(g.Number); i++ {
		if c := g.Number[i]; !(c >= '0' && c <= '9' || c == '*' || c == '#') {
			return g, fieldErr("number", "%q: digits, * or #", g.Number)
		}
	}
	if len(g.Name) > 64 {
		return g, fieldErr("name", "longer than 64 characters")
	}
	if g.Strategy == "" {
		g.Strategy = StrategySimultaneous
	}
	if !slices.Contains(Strategies, g.Strategy) {
		return g, fieldErr("strategy", "%q: one of %s", g.Strategy, strings.Join(Strategies, ", "))
	}
	if g.RingTimeS == 0 {
		g.RingTimeS = DefaultRingTime
	}
	if g.RingTimeS < MinRingTime || g.RingTimeS > MaxRingTime {
		return g, fieldErr("ring_time_s", "%d: %d to %d seconds", g.RingTimeS, MinRingTime, MaxRingTime)
	}
	if len(g.Members) == 0 || len(g.Members) > MaxGroupMembers {
		return g, fieldErr("members", "1 to %d extensions", MaxGroupMembers)
	}
	seen := map[string]bool{}
	for _, m := range g.Members {
		if seen[m.Extension] {
			return g, fieldErr("members", "%q listed twice", m.Extension)
		}
		seen[m.Extension] = true
		if m.RingTimeS != 0 && (m.RingTimeS < MinRingTime || m.RingTimeS > MaxRingTime) {
			return g, fieldErr("members", "%s: ring time %d: %d to %d seconds", m.Extension, m.RingTimeS, MinRingTime, MaxRingTime)
		}
	}
	switch {
	case g.FallthroughKind == "":
		g.FallthroughNumber = ""
	case !slices.Contains(fallthroughKinds, Kind(g.FallthroughKind)):
		return g, fieldErr("fallthrough_kind", "%q: %s, or empty for none", g.FallthroughKind, kindList(fallthroughKinds))
	case g.FallthroughKind == string(KindExtension) && seen[g.FallthroughNumber]:
		return g, fieldErr("fallthrough_number", "%s is a member already", g.FallthroughNumber)
	}
	if g.Calendar != "" && g.ClosedKind == string(KindExtension) && seen[strings.TrimSpace(g.ClosedNumber)] {
		return g, fieldErr("closed_destination", "%s is a member already", g.ClosedNumber)
	}
	return g, nil
}

// SaveGroup validates and stores a group: its members are extensions of the tenant, its
// fall-through and the fall-through's time rule name destinations that exist, its number is
// no extension.
func (s *StoreTables) SaveGroup(ctx context.Context, g store.RingGroup) (store.RingGroup, error) {
	g, err := ValidateGroup(g)
	if err != nil {
		return g, err
	}
	if _, err := s.db.ExtensionByNumber(ctx, g.TenantID, g.Number); err == nil {
		return g, fieldErr("number", "%s is an extension", g.Number)
	} else if !errors.Is(err, store.ErrNotFound) {
		return g, err
	}
	for _, m := range g.Members {
		if _, err := s.db.ExtensionByNumber(ctx, g.TenantID, m.Extension); errors.Is(err, store.ErrNotFound) {
			return g, &FieldError{Field: "members", Err: fmt.Errorf("%w: extension %s", ErrNoTarget, m.Extension)}
		} else if err != nil {
			return g, err
		}
	}
	if g.FallthroughKind != "" {
		if err := s.CheckTarget(ctx, g.TenantID, "fallthrough_number", Target{Kind: Kind(g.FallthroughKind), Number: g.FallthroughNumber}); err != nil {
			return g, err
		}
	}
	if g.Calendar, g.ClosedNumber, err = s.checkRule(ctx, g.TenantID, g.Calendar, g.ClosedKind, g.ClosedNumber, fallthroughKinds); err != nil {
		return g, err
	}
	out, err := s.db.PutRingGroup(ctx, g)
	s.Invalidate(g.TenantID)
	return out, err
}

// DeleteGroup removes a group.
func (s *StoreTables) DeleteGroup(ctx context.Context, tenantID int64, number string) error {
	err := s.db.DeleteRingGroup(ctx, tenantID, number)
	s.Invalidate(tenantID)
	return err
}

type groupEntry struct {
	t       *GroupTable
	fetched time.Time
}

// GroupTable implements Groups, cached like the route tables.
func (s *StoreTables) GroupTable(ctx context.Context, tenantID int64) (*GroupTable, error) {
	now := s.now()
	s.mu.Lock()
	e, ok := s.groups[tenantID]
	s.mu.Unlock()
	if ok && now.Sub(e.fetched) < s.ttl {
		return e.t, nil
	}
	gs, err := s.db.ListRingGroups(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var hours map[string]Hours
	if slices.ContainsFunc(gs, func(g store.RingGroup) bool { return g.Calendar != "" }) {
		if hours, err = s.readCalendars(ctx, tenantID); err != nil {
			return nil, err
		}
	}
	t := NewGroupTable(gs, hours)
	s.mu.Lock()
	s.groups[tenantID] = groupEntry{t: t, fetched: now}
	s.mu.Unlock()
	return t, nil
}
