package api

import (
	"github.com/privox/privox/internal/store"
)

// Call detail records (traffic category, admins of the tenant) and each user's call journal
// (usage category, the user themself or an admin). Handlers query only r.TenantID, which the
// router has already checked against the caller: another tenant's records do not exist here.

func init() { registerRoutes(callRoutes) }

func callRoutes(s *Server) []Route {
	return []Route{
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/cdrs", Summary: "List the tenant's call detail records (oldest first; ?user= narrows to one user)",
			Auth: Admin, Result: List[store.CDR]{}, Handler: s.listCDRs, Sorts: store.SortNames(store.CDRSorts), Search: "caller or callee number"},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/users/{user}/journal", Summary: "List a user's call journal (self or admin)",
			Auth: Member, Result: List[store.JournalEntry]{}, Handler: s.listJournal, Sorts: store.SortNames(store.JournalSorts), Search: "the other party's number or name"},
	}
}

func (s *Server) listCDRs(r *Request) (any, error) {
	p, err := r.Page()
	if err != nil {
		return nil, err
	}
	var userID int64
	if v := r.URL.Query().Get("user"); v != "" {
		r.Request.SetPathValue("user", v)
		if userID, err = r.ID("user"); err != nil {
			return nil, &Error{Status: 400, Code: "invalid_query", Field: "user", Message: "user must be a user id"}
		}
	}
	cdrs, err := s.DB.ListCDRs(r.Context(), r.TenantID, userID, p)
	if err != nil {
		return nil, err
	}
	return page(cdrs, p, func(c store.CDR) int64 { return c.ID }), nil
}

func (s *Server) listJournal(r *Request) (any, error) {
	id, err := r.ID("user")
	if err != nil {
		return nil, err
	}
	if err := r.SelfOrAdmin(id); err != nil {
		return nil, err
	}
	if _, err := s.DB.User(r.Context(), r.TenantID, id); err != nil {
		return nil, err
	}
	p, err := r.Page()
	if err != nil {
		return nil, err
	}
	entries, err := s.DB.ListJournal(r.Context(), r.TenantID, id, p)
	if err != nil {
		return nil, err
	}
	return page(entries, p, func(j store.JournalEntry) int64 { return j.ID }), nil
}
