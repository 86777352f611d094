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

// Ring and hunt groups. A group's number rings its member extensions: all at once
// (simultaneous) for the group's ring time, or one after the other, each for its own ring
// time (the hunt strategies): in configured order (sequential); starting one member further
// along the list with every call (round-robin, a queue's round-robin with memory: the
// member after the one the previous call started with, whether or not that one answered);
// or longest idle first, by the time each member last answered a call from this group
// (least-recent; members who never answered come first, in configured order). Members
// with no registered contact or on do-not-disturb are skipped; so are members busy on a
// call for the hunt strategies, where the extension resolver can tell (Extension.Busy).
// When no member answers, the fall-through extension rings last; without one the caller
// hears 480.

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
// its members' contacts together for the step's ring time.
type Group struct {
	Strategy string      `json:"strategy"`
	Steps    []GroupStep `json:"steps"`
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

// Groups gives the ring groups of a tenant by number.
type Groups interface {
	GroupTable(ctx context.Context, tenantID int64) (map[string]store.RingGroup, error)
}

// GroupStage routes a group's number to its reachable members.
type GroupStage struct {
	Groups Groups
	Ext    Extensions
	// Fwd tells which members are on do-not-disturb (nil: none is).
	Fwd Forwarding
	// State orders round-robin and least-recent groups (nil: configured order).
	State *GroupState
}

var _ Stage = GroupStage{}

// Name implements Stage.
func (GroupStage) Name() string { return "group" }

// Route implements Stage.
func (s GroupStage) Route(ctx context.Context, req *Request) (Outcome, error) {
	if req.To == "" {
		return Pass("no number dialled"), nil
	}
	gs, err := s.Groups.GroupTable(ctx, req.TenantID)
	if err != nil {
		return Outcome{}, err
	}
	g, ok := gs[req.To]
	if !ok {
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
			if err == nil {
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
				dnd = append(dnd, number)
				return nil, false, nil
			}
		}
		if member && e.Busy && hunts(g.Strategy) {
			busy = append(busy, number)
			return nil, false, nil
		}
		return e.Ref, true, nil
	}
	out := &Group{Strategy: g.Strategy}
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
	if len(out.Steps) > 0 && !explaining(ctx) {
		s.State.started(req.TenantID, g, out.Steps[0].Members[0])
	}
	if g.FallthroughKind == string(KindExtension) {
		ref, ok, err := reach(g.FallthroughNumber, false)
		if err != nil {
			return Outcome{}, err
		}
		if ok {
			out.Steps = append(out.Steps, GroupStep{Members: []string{g.FallthroughNumber}, Refs: []any{ref}, RingTime: ring(0), Fallthrough: true})
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
		return Reject(480, "Temporarily Unavailable", "group %s %q: no member can be rung%s", g.Number, g.Name, why), nil
	}
	if !explaining(ctx) {
		// The plan below is for people (route explain); a call does not need it spelt out.
		return To(Destination{Kind: KindGroup, Number: g.Number, Group: out}, "group %s rings %s%s", g.Number, g.Strategy, why), nil
	}
	var plan []string
	for _, st := range out.Steps {
		p := strings.Join(st.Members, "+") + " " + st.RingTime.String()
		if st.Fallthrough {
			p = "then " + p
		}
		plan = append(plan, p)
	}
	return To(Destination{Kind: KindGroup, Number: g.Number, Group: out}, "group %s %q rings %s: %s%s", g.Number, g.Name, g.Strategy, strings.Join(plan, ", "), why), nil
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
	switch g.FallthroughKind {
	case "":
		g.FallthroughNumber = ""
	case string(KindExtension):
		if seen[g.FallthroughNumber] {
			return g, fieldErr("fallthrough_number", "%s is a member already", g.FallthroughNumber)
		}
	default:
		return g, fieldErr("fallthrough_kind", "%q: extension, or empty for none (other destinations are not served yet)", g.FallthroughKind)
	}
	return g, nil
}

// SaveGroup validates and stores a group: its members and fall-through are extensions of
// the tenant, its number is none.
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
	check := func(field, n string) error {
		if _, err := s.db.ExtensionByNumber(ctx, g.TenantID, n); errors.Is(err, store.ErrNotFound) {
			return &FieldError{Field: field, Err: fmt.Errorf("%w: extension %s", ErrNoTarget, n)}
		} else {
			return err
		}
	}
	for _, m := range g.Members {
		if err := check("members", m.Extension); err != nil {
			return g, err
		}
	}
	if g.FallthroughKind != "" {
		if err := check("fallthrough_number", g.FallthroughNumber); err != nil {
			return g, err
		}
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
	g       map[string]store.RingGroup
	fetched time.Time
}

// GroupTable implements Groups, cached like the route tables.
func (s *StoreTables) GroupTable(ctx context.Context, tenantID int64) (map[string]store.RingGroup, error) {
	now := s.now()
	s.mu.Lock()
	e, ok := s.groups[tenantID]
	s.mu.Unlock()
	if ok && now.Sub(e.fetched) < s.ttl {
		return e.g, nil
	}
	gs, err := s.db.ListRingGroups(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	m := make(map[string]store.RingGroup, len(gs))
	for _, g := range gs {
		m[g.Number] = g
	}
	s.mu.Lock()
	s.groups[tenantID] = groupEntry{g: m, fetched: now}
	s.mu.Unlock()
	return m, nil
}
