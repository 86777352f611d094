package dialplan

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/privox/privox/internal/store"
)

// groupTable is a tenant's groups by number, compiled on every call (groupTables: once).
type groupTable map[string]store.RingGroup

func (g groupTable) GroupTable(context.Context, int64) (*GroupTable, error) {
	gs := make([]store.RingGroup, 0, len(g))
	for _, v := range g {
		gs = append(gs, v)
	}
	return NewGroupTable(gs, nil), nil
}

type groupTables struct{ t *GroupTable }

func (g groupTables) GroupTable(context.Context, int64) (*GroupTable, error) { return g.t, nil }

// TestGroupStage: a simultaneous group rings its reachable members in one step, a
// sequential one each in turn with its ring time, then the fall-through; unregistered
// members are skipped; a group nobody can answer gets 480.
func TestGroupStage(t *testing.T) {
	gs := groupTable{
		"600": {Number: "600", Name: "sales", Strategy: StrategySimultaneous, RingTimeS: 20, Members: []store.RingGroupMember{{Extension: "1001"}, {Extension: "1002"}, {Extension: "1003"}}},
		"601": {Number: "601", Strategy: StrategySequential, RingTimeS: 15, Members: []store.RingGroupMember{{Extension: "1003", RingTimeS: 5}, {Extension: "1001", RingTimeS: 5}, {Extension: "1002"}},
			FallthroughKind: "extension", FallthroughNumber: "1004"},
		"602": {Number: "602", Strategy: StrategySequential, RingTimeS: 15, Members: []store.RingGroupMember{{Extension: "1003"}}},
	}
	p := New(Stages(Deps{Extensions: exts{"1001": true, "1002": true, "1003": false, "1004": true}, Groups: gs})...)
	ctx := context.Background()
	d, err := p.Route(Explaining(ctx), &Request{TenantID: 1, From: "1009", To: "600"}) // the reasons spelt out
	if err != nil || d.Dest == nil || d.Dest.Kind != KindGroup || len(d.Dest.Group.Steps) != 1 ||
		strings.Join(d.Dest.Group.Steps[0].Members, ",") != "1001,1002" || d.Dest.Group.Steps[0].RingTime != 20*time.Second {
		t.Fatalf("600: %+v %v", d, err)
	}
	if !strings.Contains(d.Why, "skipped: 1003") {
		t.Errorf("600 why: %s", d.Why)
	}
	d, _ = p.Route(ctx, &Request{TenantID: 1, From: "1009", To: "601"})
	var plan []string
	for _, st := range d.Dest.Group.Steps {
		plan = append(plan, strings.Join(st.Members, "+")+" "+st.RingTime.String())
	}
	if strings.Join(plan, ", ") != "1001 5s, 1002 15s, 1004 15s" || !d.Dest.Group.Steps[2].Fallthrough {
		t.Errorf("601 steps %v", plan)
	}
	if d, _ = p.Route(ctx, &Request{TenantID: 1, From: "1009", To: "602"}); d.Status != 480 {
		t.Errorf("602: %+v", d)
	}
}

func TestValidateGroup(t *testing.T) {
	m := []store.RingGroupMember{{Extension: "1001"}}
	for _, c := range []struct {
		g     store.RingGroup
		field string
	}{
		{store.RingGroup{Number: "", Members: m}, "number"},
		{store.RingGroup{Number: "6a0", Members: m}, "number"},
		{store.RingGroup{Number: "600", Strategy: "round", Members: m}, "strategy"},
		{store.RingGroup{Number: "600", Strategy: "roundrobin", Members: m}, "strategy"},
		{store.RingGroup{Number: "600", Strategy: "Least-Recent", Members: m}, "strategy"},
		{store.RingGroup{Number: "600", RingTimeS: 2, Members: m}, "ring_time_s"},
		{store.RingGroup{Number: "600"}, "members"},
		{store.RingGroup{Number: "600", Members: []store.RingGroupMember{{Extension: "1001"}, {Extension: "1001"}}}, "members"},
		{store.RingGroup{Number: "600", Members: []store.RingGroupMember{{Extension: "1001", RingTimeS: 9999}}}, "members"},
		{store.RingGroup{Number: "600", Members: m, FallthroughKind: "group", FallthroughNumber: "601"}, "fallthrough_kind"},
		{store.RingGroup{Number: "600", Members: m, Calendar: "office", ClosedKind: "extension", ClosedNumber: "1001"}, "closed_destination"},
		{store.RingGroup{Number: "600", Members: m, FallthroughKind: "extension", FallthroughNumber: "1001"}, "fallthrough_number"},
	} {
		_, err := ValidateGroup(c.g)
		if fe, ok := err.(*FieldError); !ok || fe.Field != c.field {
			t.Errorf("%+v: %v, want an error on %s", c.g, err, c.field)
		}
	}
	g, err := ValidateGroup(store.RingGroup{Number: "600", Members: m})
	if err != nil || g.Strategy != StrategySimultaneous || g.RingTimeS != DefaultRingTime {
		t.Errorf("defaults: %+v %v", g, err)
	}
}

// busyExts is exts with members busy on a call.
type busyExts struct {
	exts
	busy map[string]bool
}

func (e busyExts) Extension(ctx context.Context, t int64, n string) (Extension, bool, error) {
	x, ok, err := e.exts.Extension(ctx, t, n)
	x.Busy = e.busy[n]
	return x, ok, err
}

func firstMembers(t *testing.T, d *Decision) string {
	t.Helper()
	if d.Dest == nil || d.Dest.Group == nil {
		t.Fatalf("no group: %+v", d)
	}
	var m []string
	for _, st := range d.Dest.Group.Steps {
		m = append(m, strings.Join(st.Members, "+"))
	}
	return strings.Join(m, ",")
}

// TestGroupHuntOrder: a round-robin group starts one member further with every call (an
// explanation does not move it, an unregistered member is passed over); a
// least-recent group rings the longest idle member first; members on do-not-disturb are
// skipped by every strategy, busy members by the hunt strategies only.
func TestGroupHuntOrder(t *testing.T) {
	m := []store.RingGroupMember{{Extension: "1001"}, {Extension: "1002"}, {Extension: "1003"}, {Extension: "1004"}}
	gs := groupTable{
		"610": {Number: "610", Strategy: StrategyRoundRobin, RingTimeS: 10, Members: m},
		"611": {Number: "611", Strategy: StrategyLeastRecent, RingTimeS: 10, Members: m},
		"612": {Number: "612", Strategy: StrategySimultaneous, RingTimeS: 10, Members: m},
		"613": {Number: "613", Strategy: StrategySequential, RingTimeS: 10, Members: m},
	}
	state := NewGroupState()
	ext := busyExts{exts{"1001": true, "1002": true, "1003": false, "1004": true, "1005": true}, map[string]bool{}}
	f := fwds{m: map[string]Forward{}}
	p := New(Stages(Deps{Extensions: ext, Groups: gs, GroupState: state, Forwards: f})...)
	ctx := context.Background()
	route := func(ctx context.Context, to string) string {
		d, err := p.Route(ctx, &Request{TenantID: 1, From: "1005", To: to})
		if err != nil {
			t.Fatal(err)
		}
		return firstMembers(t, d)
	}
	for i, want := range []string{"1001,1002,1004", "1002,1004,1001", "1004,1001,1002", "1001,1002,1004"} {
		if got := route(ctx, "610"); got != want {
			t.Errorf("round-robin call %d: %s, want %s", i+1, got, want)
		}
	}
	if got, again := route(Explaining(ctx), "610"), route(Explaining(ctx), "610"); got != "1002,1004,1001" || again != got {
		t.Errorf("explained round-robin: %s then %s", got, again)
	}

	if got := route(ctx, "611"); got != "1001,1002,1004" {
		t.Errorf("least-recent, nobody answered yet: %s", got)
	}
	t0 := time.Unix(1_700_000_000, 0)
	state.Answered(1, "611", "1001", t0)
	state.Answered(1, "611", "1004", t0.Add(time.Minute))
	if got := route(ctx, "611"); got != "1002,1001,1004" {
		t.Errorf("least-recent after 1001 then 1004 answered: %s", got)
	}
	state.Answered(1, "611", "1002", t0.Add(2*time.Minute))
	if got := route(ctx, "611"); got != "1001,1004,1002" {
		t.Errorf("least-recent after 1002 answered: %s", got)
	}
	state.Answered(2, "611", "1001", t0.Add(time.Hour)) // another tenant's group
	if got := route(ctx, "611"); got != "1001,1004,1002" {
		t.Errorf("least-recent, other tenant: %s", got)
	}

	f.m["1002"] = Forward{DND: true}
	ext.busy["1004"] = true
	d, _ := p.Route(Explaining(ctx), &Request{TenantID: 1, From: "1005", To: "612"}) // the reasons spelt out
	if got := firstMembers(t, d); got != "1001+1004" || !strings.Contains(d.Why, "on do-not-disturb, skipped: 1002") {
		t.Errorf("simultaneous with 1002 on DND, 1004 busy: %s (%s)", got, d.Why)
	}
	d, _ = p.Route(Explaining(ctx), &Request{TenantID: 1, From: "1005", To: "613"})
	if got := firstMembers(t, d); got != "1001" || !strings.Contains(d.Why, "busy, skipped: 1004") {
		t.Errorf("sequential with 1002 on DND, 1004 busy: %s (%s)", got, d.Why)
	}
	f.m["1001"] = Forward{DND: true}
	if d, _ = p.Route(ctx, &Request{TenantID: 1, From: "1005", To: "613"}); d.Status != 480 {
		t.Errorf("sequential, nobody free: %+v", d)
	}
}

func TestValidateGroupStrategies(t *testing.T) {
	for _, s := range Strategies {
		if g, err := ValidateGroup(store.RingGroup{Number: "600", Strategy: s, Members: []store.RingGroupMember{{Extension: "1001"}}}); err != nil || g.Strategy != s {
			t.Errorf("%s: %+v %v", s, g, err)
		}
	}
	_, err := ValidateGroup(store.RingGroup{Number: "600", Strategy: "random", Members: []store.RingGroupMember{{Extension: "1001"}}})
	if err == nil || !strings.Contains(err.Error(), "round-robin") || !strings.Contains(err.Error(), "least-recent") {
		t.Errorf("random: %v", err)
	}
}
