package dialplan

import (
	"context"
	"sync"
	"time"
)

// The outside-call guard: per extension, a limit on simultaneous outside calls and on
// outside minutes per day, and burst detection: more than BurstCalls outside calls within
// BurstWindow suspend the extension's outside calls until an admin resumes them. Counters
// live in memory on the node that routes the calls; suspensions are stored, so every node
// and a restart honour them. With a calendar for outside calls (OutsideCalendar), outside
// calls dialled at an extension while it is closed are refused (unusual hours); calls that
// forwarding or a DID sends out again are not, they follow configured routing. Emergency
// numbers pass regardless.

// Limits are a tenant's per-extension outside-call limits (zero: no limit).
type Limits struct {
	MaxConcurrent int
	MinutesPerDay int
	BurstCalls    int
	BurstWindow   time.Duration
	// OutsideCalendar names the calendar outside calls are allowed in ("": any time), and
	// OutsideHours is that calendar (nil when it does not exist: it counts as open).
	OutsideCalendar string
	OutsideHours    Hours
}

// Suspensions stores suspended extensions (store.DB implements it).
type Suspensions interface {
	OutsideSuspended(ctx context.Context, tenantID, extensionID int64) (bool, error)
	SuspendOutside(ctx context.Context, tenantID, extensionID int64, reason string) error
}

// Guard counts outside calls per extension.
type Guard struct {
	store Suspensions
	now   func() time.Time

	mu sync.Mutex
	st map[guardKey]*guardState
}

type guardKey struct {
	tenant int64
	from   string
}

type guardState struct {
	active int
	day    string
	used   time.Duration
	recent []time.Time
	// suspended: this guard suspended the extension; once an admin has resumed it, the
	// burst window starts afresh.
	suspended bool
}

// NewGuard returns a guard over stored suspensions.
func NewGuard(s Suspensions) *Guard {
	return &Guard{store: s, now: time.Now, st: map[guardKey]*guardState{}}
}

// Refusal reasons of the guard (the Blocked field of a decision).
const (
	BlockSuspended  = "suspended"
	BlockBurst      = "burst"
	BlockConcurrent = "concurrent-limit"
	BlockMinutes    = "daily-minutes"
	BlockUnusual    = "unusual-hours"
)

// unusual judges the tenant's calendar for outside calls at the guard's clock for a call: it
// applies to calls dialled at an extension, not to forwarded ones nor to calls from outside
// a DID sends out again. why is "" when no calendar applies.
func (g *Guard) unusual(req *Request, l Limits) (closed bool, why string) {
	if l.OutsideCalendar == "" || req.FromExt == 0 || len(req.Diverted) > 0 {
		return false, ""
	}
	now := g.now()
	open, why := judge(l.OutsideCalendar, l.OutsideHours, now, req.explain)
	if !open && why == "" { // a refusal is audited with its reason
		_, why = judge(l.OutsideCalendar, l.OutsideHours, now, true)
	}
	return !open, why
}

// admit decides whether an extension may place one more outside call. On success it returns
// the function the call's end reports its talk time to. explain checks without counting.
func (g *Guard) admit(ctx context.Context, req *Request, l Limits, explain bool) (done func(time.Duration), reason string, err error) {
	sus := false
	if req.FromExt != 0 {
		if sus, err = g.store.OutsideSuspended(ctx, req.TenantID, req.FromExt); err != nil {
			return nil, "", err
		}
		if sus {
			return nil, BlockSuspended, nil
		}
	}
	now := g.now()
	day := now.UTC().Format(time.DateOnly)
	k := guardKey{req.TenantID, req.From}
	g.mu.Lock()
	st := g.st[k]
	if st == nil {
		st = &guardState{day: day}
		if !explain {
			g.st[k] = st
		}
	}
	if st.suspended && !sus && !explain {
		st.suspended, st.recent = false, nil
	}
	if st.day != day {
		st.day, st.used = day, 0
	}
	if l.BurstCalls > 0 {
		keep := st.recent[:0]
		for _, at := range st.recent {
			if now.Sub(at) < l.BurstWindow {
				keep = append(keep, at)
			}
		}
		st.recent = keep
		if len(st.recent) >= l.BurstCalls {
			if !explain {
				st.suspended = true
			}
			g.mu.Unlock()
			if !explain && req.FromExt != 0 {
				if err := g.store.SuspendOutside(ctx, req.TenantID, req.FromExt, "burst"); err != nil {
					return nil, "", err
				}
			}
			return nil, BlockBurst, nil
		}
	}
	switch {
	case l.MaxConcurrent > 0 && st.active >= l.MaxConcurrent:
		reason = BlockConcurrent
	case l.MinutesPerDay > 0 && st.used >= time.Duration(l.MinutesPerDay)*time.Minute:
		reason = BlockMinutes
	}
	if reason != "" || explain {
		g.mu.Unlock()
		return nil, reason, nil
	}
	if l.BurstCalls > 0 {
		st.recent = append(st.recent, now)
	}
	st.active++
	g.mu.Unlock()
	var once sync.Once
	return func(talk time.Duration) {
		once.Do(func() {
			g.mu.Lock()
			st.active--
			if st.day == g.now().UTC().Format(time.DateOnly) {
				st.used += talk
			}
			g.mu.Unlock()
		})
	}, "", nil
}

// Active returns the outside calls an extension has in progress on this node.
func (g *Guard) Active(tenantID int64, from string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if st := g.st[guardKey{tenantID, from}]; st != nil {
		return st.active
	}
	return 0
}
