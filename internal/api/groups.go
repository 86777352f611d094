package api

import (
	"github.com/privox/privox/internal/store"
)

// Ring and hunt groups of a tenant (admins), addressed by their number.

func init() { registerRoutes(groupRoutes) }

func groupRoutes(s *Server) []Route {
	return []Route{
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/groups", Summary: "List the tenant's ring and hunt groups with their members",
			Auth: Admin, Result: List[store.RingGroup]{}, Handler: s.listGroups},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/groups/{group}", Summary: "Get a ring or hunt group by its number",
			Auth: Admin, Result: store.RingGroup{}, Handler: s.getGroup},
		{Method: "PUT", Path: "/api/v1/tenants/{tenant}/groups/{group}", Summary: "Create or replace the group with this number: strategy simultaneous (all members for ring_time_s), or one member after the other, each for its ring_time_s or the group's: sequential (in order), round-robin (each call starts at the member after the one the previous call started with) or least-recent (the member who last answered a call from the group longest ago first; the order of both is kept by the running server and starts afresh after a restart); members are extensions in order; members without a registered contact or on do-not-disturb are skipped, and for the one-after-the-other strategies members on a call; fall-through when nobody answers: fallthrough_kind extension (rung last), mailbox or application (takes the call once the members rang, or at once when none can be rung), or empty for none; an optional time rule for the fall-through (calendar: a calendar of the tenant; closed_kind and closed_number: the fall-through while it is closed, one of the same kinds)",
			Auth: Admin, Body: groupBody{}, Result: store.RingGroup{}, Handler: s.putGroup},
		{Method: "DELETE", Path: "/api/v1/tenants/{tenant}/groups/{group}", Summary: "Delete a ring or hunt group",
			Auth: Admin, Handler: s.deleteGroup},
	}
}

type groupBody struct {
	Name              string                  `json:"name"`
	Strategy          string                  `json:"strategy"`
	RingTimeS         int                     `json:"ring_time_s"`
	Members           []store.RingGroupMember `json:"members"`
	FallthroughKind   string                  `json:"fallthrough_kind"`
	FallthroughNumber string                  `json:"fallthrough_number"`
	Calendar          string                  `json:"calendar"`
	ClosedKind        string                  `json:"closed_kind"`
	ClosedNumber      string                  `json:"closed_number"`
}

func (s *Server) listGroups(r *Request) (any, error) {
	gs, err := s.DB.ListRingGroups(r.Context(), r.TenantID)
	if err != nil {
		return nil, err
	}
	return List[store.RingGroup]{Items: gs}, nil
}

func (s *Server) getGroup(r *Request) (any, error) {
	return s.DB.RingGroup(r.Context(), r.TenantID, r.PathValue("group"))
}

func (s *Server) putGroup(r *Request) (any, error) {
	if err := s.dialplanOn(); err != nil {
		return nil, err
	}
	var in groupBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	g, err := s.Dialplan.SaveGroup(r.Context(), store.RingGroup{TenantID: r.TenantID, Number: r.PathValue("group"), Name: in.Name, Strategy: in.Strategy,
		RingTimeS: in.RingTimeS, Members: in.Members, FallthroughKind: in.FallthroughKind, FallthroughNumber: in.FallthroughNumber,
		Calendar: in.Calendar, ClosedKind: in.ClosedKind, ClosedNumber: in.ClosedNumber})
	if err != nil {
		return nil, dialplanErr(err)
	}
	r.Audit("group.put", "ring_group", g.ID, g.Number+outOfHours(g.Calendar, g.ClosedKind, g.ClosedNumber))
	return g, nil
}

func (s *Server) deleteGroup(r *Request) (any, error) {
	if err := s.dialplanOn(); err != nil {
		return nil, err
	}
	if err := s.Dialplan.DeleteGroup(r.Context(), r.TenantID, r.PathValue("group")); err != nil {
		return nil, err
	}
	r.Audit("group.delete", "ring_group", r.PathValue("group"), "")
	return nil, nil
}
