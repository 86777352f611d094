package api

import (
	"github.com/privox/privox/internal/store"
)

// Inbound numbers of a tenant (admins): DIDs, single numbers or ranges, each routed to a
// destination, and the default destination of calls to numbers no DID covers; and the
// caller-ID preference of a user (CLIR), which the user may set too.

func init() { registerRoutes(didRoutes) }

func didRoutes(s *Server) []Route {
	return []Route{
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/dids", Summary: "List the tenant's inbound numbers (DIDs) and their destinations",
			Auth: Admin, Result: List[store.DID]{}, Handler: s.listDIDs},
		{Method: "POST", Path: "/api/v1/tenants/{tenant}/dids", Summary: "Add or replace an inbound number or range (number, last: E.164 or national for the tenant's country) routed to a destination (dest_kind extension, group, application, mailbox or outbound, and dest_number), with an optional time rule (calendar: a calendar of the tenant; closed_kind and closed_number: where calls go while it is closed); replaces the DID starting at the same number",
			Auth: Admin, Body: didBody{}, Result: store.DID{}, Handler: s.postDID},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/dids/{did}", Summary: "Get an inbound number by id",
			Auth: Admin, Result: store.DID{}, Handler: s.getDID},
		{Method: "DELETE", Path: "/api/v1/tenants/{tenant}/dids/{did}", Summary: "Delete an inbound number",
			Auth: Admin, Handler: s.deleteDID},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/did-default", Summary: "Get where calls to numbers no DID covers go (dest_kind empty: they are refused with 404)",
			Auth: Admin, Result: store.DIDDefault{}, Handler: s.getDIDDefault},
		{Method: "PUT", Path: "/api/v1/tenants/{tenant}/did-default", Summary: "Set where calls to numbers no DID covers go (dest_kind empty: refuse them), with an optional time rule as a DID's (calendar: a calendar of the tenant; closed_kind and closed_number: where those calls go while it is closed)",
			Auth: Admin, Body: didDefaultBody{}, Result: store.DIDDefault{}, Handler: s.putDIDDefault},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/users/{user}/caller-id", Summary: "Get a user's caller-ID preference: clir withholds the number on outside calls (self or admin)",
			Auth: Member, Result: callerIDBody{}, Handler: s.getCallerID},
		{Method: "PUT", Path: "/api/v1/tenants/{tenant}/users/{user}/caller-id", Summary: "Set a user's caller-ID preference (self or admin)",
			Auth: Member, Body: callerIDBody{}, Result: callerIDBody{}, Handler: s.putCallerID},
	}
}

type didBody struct {
	Number     string `json:"number"`
	Last       string `json:"last"`
	DestKind   string `json:"dest_kind"`
	DestNumber string `json:"dest_number"`
	// Calendar names a calendar of the tenant; while it is closed, calls go to ClosedKind
	// and ClosedNumber (any kind dest_kind takes). Empty: no time rule.
	Calendar     string `json:"calendar"`
	ClosedKind   string `json:"closed_kind"`
	ClosedNumber string `json:"closed_number"`
}

type didDefaultBody struct {
	DestKind   string `json:"dest_kind"`
	DestNumber string `json:"dest_number"`
	// Calendar, ClosedKind and ClosedNumber are the default's time rule, as a DID's.
	Calendar     string `json:"calendar"`
	ClosedKind   string `json:"closed_kind"`
	ClosedNumber string `json:"closed_number"`
}

type callerIDBody struct {
	CLIR bool `json:"clir"`
}

func (s *Server) listDIDs(r *Request) (any, error) {
	ds, err := s.DB.ListDIDs(r.Context(), r.TenantID)
	if err != nil {
		return nil, err
	}
	return List[store.DID]{Items: ds}, nil
}

func (s *Server) postDID(r *Request) (any, error) {
	if err := s.dialplanOn(); err != nil {
		return nil, err
	}
	var in didBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	d, err := s.Dialplan.SaveDID(r.Context(), store.DID{TenantID: r.TenantID, Number: in.Number, Last: in.Last, DestKind: in.DestKind, DestNumber: in.DestNumber,
		Calendar: in.Calendar, ClosedKind: in.ClosedKind, ClosedNumber: in.ClosedNumber})
	if err != nil {
		return nil, dialplanErr(err)
	}
	r.Audit("did.put", "did", d.ID, didDetail(d))
	return d, nil
}

// didDetail is a DID's audit detail: its numbers, destination and time rule.
func didDetail(d store.DID) string {
	return d.Number + "-" + d.Last + " " + d.DestKind + " " + d.DestNumber + outOfHours(d.Calendar, d.ClosedKind, d.ClosedNumber)
}

// outOfHours is a time rule in an audit detail ("" without one).
func outOfHours(calendar, closedKind, closedNumber string) string {
	if calendar == "" {
		return ""
	}
	return ", while calendar " + calendar + " is closed to " + closedKind + " " + closedNumber
}

func (s *Server) getDID(r *Request) (any, error) {
	id, err := r.ID("did")
	if err != nil {
		return nil, err
	}
	return s.DB.DIDByID(r.Context(), r.TenantID, id)
}

func (s *Server) deleteDID(r *Request) (any, error) {
	if err := s.dialplanOn(); err != nil {
		return nil, err
	}
	id, err := r.ID("did")
	if err != nil {
		return nil, err
	}
	if err := s.Dialplan.DeleteDID(r.Context(), r.TenantID, id); err != nil {
		return nil, err
	}
	r.Audit("did.delete", "did", id, "")
	return nil, nil
}

func (s *Server) getDIDDefault(r *Request) (any, error) {
	return s.DB.DIDDefault(r.Context(), r.TenantID)
}

func (s *Server) putDIDDefault(r *Request) (any, error) {
	if err := s.dialplanOn(); err != nil {
		return nil, err
	}
	var in didDefaultBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	d, err := s.Dialplan.SaveDIDDefault(r.Context(), store.DIDDefault{TenantID: r.TenantID, DestKind: in.DestKind, DestNumber: in.DestNumber,
		Calendar: in.Calendar, ClosedKind: in.ClosedKind, ClosedNumber: in.ClosedNumber})
	if err != nil {
		return nil, dialplanErr(err)
	}
	r.Audit("did_default.put", "tenant", r.TenantID, d.DestKind+" "+d.DestNumber+outOfHours(d.Calendar, d.ClosedKind, d.ClosedNumber))
	return d, nil
}

func (s *Server) getCallerID(r *Request) (any, error) {
	u, err := s.pathUser(r)
	if err != nil {
		return nil, err
	}
	on, err := s.DB.CLIR(r.Context(), r.TenantID, u.ID)
	if err != nil {
		return nil, err
	}
	return callerIDBody{CLIR: on}, nil
}

func (s *Server) putCallerID(r *Request) (any, error) {
	u, err := s.pathUser(r)
	if err != nil {
		return nil, err
	}
	var in callerIDBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	if err := s.DB.PutCLIR(r.Context(), r.TenantID, u.ID, in.CLIR); err != nil {
		return nil, err
	}
	if s.Dialplan != nil {
		s.Dialplan.Invalidate(r.TenantID)
	}
	r.Audit("caller_id.put", "user", u.ID, "")
	return in, nil
}
