package dialplan

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/privox/privox/internal/store"
)

type groupTable map[string]store.RingGroup

func (g groupTable) GroupTable(context.Context, int64) (map[string]store.RingGroup, error) {
	return g, nil
}

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
	d, err := p.Route(ctx, &Request{TenantID: 1, From: "1009", To: "600"})
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
		{store.RingGroup{Number: "600", RingTimeS: 2, Members: m}, "ring_time_s"},
		{store.RingGroup{Number: "600"}, "members"},
		{store.RingGroup{Number: "600", Members: []store.RingGroupMember{{Extension: "1001"}, {Extension: "1001"}}}, "members"},
		{store.RingGroup{Number: "600", Members: []store.RingGroupMember{{Extension: "1001", RingTimeS: 9999}}}, "members"},
		{store.RingGroup{Number: "600", Members: m, FallthroughKind: "mailbox", FallthroughNumber: "1001"}, "fallthrough_kind"},
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
