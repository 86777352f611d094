package api

import "net/http"

// The SIP server's live state: the contacts registered now and the calls running now. Read
// from the server's memory; 503 while SIP is not running.

func init() { registerRoutes(liveRoutes) }

func liveRoutes(s *Server) []Route {
	return []Route{
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/registrations", Summary: "List the contacts registered now for the tenant's extensions (extension, contact, source address, transport, user agent, expiry)",
			Auth: Admin, Result: List[any]{}, Handler: s.listRegistrations},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/users/{user}/registrations", Summary: "List the contacts registered now for a user's extensions: the user's devices (self or admin)",
			Auth: Member, Result: List[any]{}, Handler: s.listUserRegistrations},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/active-calls", Summary: "List the tenant's calls running now (caller, dialled number, state, trunk, start and answer time)",
			Auth: Admin, Result: List[any]{}, Handler: s.listActiveCalls},
	}
}

var errSIPDown = &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "SIP is not running"}

func (s *Server) listRegistrations(r *Request) (any, error) {
	if s.Registrations == nil {
		return nil, errSIPDown
	}
	return map[string]any{"items": s.Registrations(r.TenantID, 0)}, nil
}

func (s *Server) listUserRegistrations(r *Request) (any, error) {
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
	if s.Registrations == nil {
		return nil, errSIPDown
	}
	return map[string]any{"items": s.Registrations(r.TenantID, id)}, nil
}

func (s *Server) listActiveCalls(r *Request) (any, error) {
	if s.ActiveCalls == nil {
		return nil, errSIPDown
	}
	return map[string]any{"items": s.ActiveCalls(r.TenantID)}, nil
}
