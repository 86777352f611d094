package dialplan

import (
	"slices"
	"sync"
	"time"

	"github.com/privox/privox/internal/store"
)

// GroupState is what round-robin and least-recent groups remember between calls: where the
// last call to a group started, and when each member last answered one of its calls.
//
// It is kept in memory, per process, as Asterisk keeps a queue's round-robin position and
// its members' last calls: after a restart a round-robin group starts again at its first
// member and every member of a least-recent group counts as idle alike. The order spreads
// calls fairly; it is no record worth a database write on every call. The work per call is
// bounded by the group's members (at most MaxGroupMembers); a deleted group's entry (two small
// map entries) stays until the next restart; members no longer in a group are dropped when
// it is next called.
type GroupState struct {
	mu       sync.Mutex
	next     map[groupKey]int
	answered map[groupKey]map[string]time.Time
}

type groupKey struct {
	tenantID int64
	number   string
}

// NewGroupState returns an empty state.
func NewGroupState() *GroupState {
	return &GroupState{next: map[groupKey]int{}, answered: map[groupKey]map[string]time.Time{}}
}

// Answered notes that member answered a call to the group at the time given. Nil-safe.
func (s *GroupState) Answered(tenantID int64, group, member string, at time.Time) {
	if s == nil {
		return
	}
	k := groupKey{tenantID, group}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.answered[k]
	if m == nil {
		m = map[string]time.Time{}
		s.answered[k] = m
	}
	m[member] = at
}

// started notes the member a round-robin group's call rang first, so that the next call
// starts at the one after it. Skipped members (unregistered, on do-not-disturb, busy) are
// passed over and do not take a turn.
func (s *GroupState) started(tenantID int64, g *store.RingGroup, member string) {
	if s == nil || g.Strategy != StrategyRoundRobin {
		return
	}
	i := slices.IndexFunc(g.Members, func(m store.RingGroupMember) bool { return m.Extension == member })
	if i < 0 {
		return
	}
	s.mu.Lock()
	s.next[groupKey{tenantID, g.Number}] = (i + 1) % len(g.Members)
	s.mu.Unlock()
}

// order returns the group's members in the order a call rings them: configured order for
// simultaneous and sequential groups; for round-robin rotated to start at the member after
// the one the previous call started with (see started); for
// least-recent by the time each last answered a call from this group, longest idle first
// (never: first of all), ties in configured order.
func (s *GroupState) order(tenantID int64, g *store.RingGroup) []store.RingGroupMember {
	ms := g.Members
	if s == nil || len(ms) == 0 {
		return ms
	}
	k := groupKey{tenantID, g.Number}
	switch g.Strategy {
	case StrategyRoundRobin:
		s.mu.Lock()
		start := s.next[k] % len(ms)
		s.mu.Unlock()
		return append(slices.Clone(ms[start:]), ms[:start]...)
	case StrategyLeastRecent:
		last := make([]time.Time, len(ms))
		s.mu.Lock()
		if m := s.answered[k]; m != nil {
			keep := make(map[string]time.Time, len(ms))
			for i, mb := range ms {
				if t, ok := m[mb.Extension]; ok {
					last[i], keep[mb.Extension] = t, t
				}
			}
			s.answered[k] = keep
		}
		s.mu.Unlock()
		idx := make([]int, len(ms))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return last[a].Compare(last[b]) })
		out := make([]store.RingGroupMember, len(ms))
		for i, j := range idx {
			out[i] = ms[j]
		}
		return out
	}
	return ms
}
