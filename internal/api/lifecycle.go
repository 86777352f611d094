package api

import (
	"errors"
	"net/http"

	"github.com/privox/privox/internal/privacy"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/tenancy"
)

// A user's lifecycle: suspension (reversible; blocks sign-in, phones and calls, keeps every
// record) and deactivation, which erases the person per SPEC §2 and cannot be undone, so it
// asks for confirmation and says first what will go.

func init() { registerRoutes(lifecycleRoutes) }

type deactivateBody struct {
	// Confirm must be true: deactivation erases the person and cannot be undone.
	Confirm bool `json:"confirm"`
}

func lifecycleRoutes(s *Server) []Route {
	return []Route{
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/users/{user}/erasure", Summary: "What deactivating (erasing) the user would delete or anonymise, per category and table", Auth: Admin, Result: privacy.ErasurePreview{}, Handler: s.previewErasure},
		{Method: "POST", Path: "/api/v1/tenants/{tenant}/users/{user}/deactivate", Summary: "Deactivate a user and erase their data per category; irreversible, needs {\"confirm\": true}", Auth: Admin, Body: deactivateBody{}, Result: store.User{}, Handler: s.deactivateUser},
		{Method: "POST", Path: "/api/v1/tenants/{tenant}/users/{user}/suspend", Summary: "Suspend a user: no sign-in, no phones, no calls; data kept (reversible)", Auth: Admin, Result: store.User{}, Handler: s.suspendUser},
		{Method: "POST", Path: "/api/v1/tenants/{tenant}/users/{user}/resume", Summary: "End a user's suspension", Auth: Admin, Result: store.User{}, Handler: s.resumeUser},
	}
}

func (s *Server) previewErasure(r *Request) (any, error) {
	if s.Privacy == nil {
		return nil, errNoPrivacy
	}
	u, err := s.pathUser(r)
	if err != nil {
		return nil, err
	}
	return s.Privacy.PreviewErasure(r.Context(), r.TenantID, u.ID)
}

func (s *Server) deactivateUser(r *Request) (any, error) {
	id, err := r.ID("user")
	if err != nil {
		return nil, err
	}
	if id == r.Principal.UserID {
		return nil, &Error{Status: 409, Code: "self_deactivation", Message: "an admin cannot deactivate their own account"}
	}
	u, err := s.DB.User(r.Context(), r.TenantID, id)
	if err != nil {
		return nil, err
	}
	var in deactivateBody
	if err := r.Decode(&in); err != nil {
		var ae *Error
		if !errors.As(err, &ae) || ae.Code != "invalid_body" {
			return nil, err
		}
	}
	if !in.Confirm && u.Active {
		what := "the user's sessions and tokens"
		if s.Privacy != nil {
			p, err := s.Privacy.PreviewErasure(r.Context(), r.TenantID, id)
			if err != nil {
				return nil, err
			}
			what = p.Summary()
		}
		return nil, &Error{Status: http.StatusConflict, Code: "confirmation_required", Field: "confirm",
			Message: "deactivation erases the person and cannot be undone; it will go: " + what +
				`. Send {"confirm": true} to go ahead, or suspend the user instead (reversible)`}
	}
	if u.Active {
		if err := tenancy.DeactivateUser(r.Context(), s.DB, r.TenantID, id, r.AuditEntry("user.deactivate", "user", id, "")); err != nil {
			return nil, err
		}
	}
	if s.Forget != nil {
		s.Forget(r.Context(), r.TenantID, id)
	}
	if s.OnDeactivate != nil {
		if err := s.OnDeactivate(r.Context(), r.TenantID, id); err != nil {
			return nil, err
		}
	}
	return s.DB.User(r.Context(), r.TenantID, id)
}

func (s *Server) suspendUser(r *Request) (any, error) { return s.setSuspended(r, true) }
func (s *Server) resumeUser(r *Request) (any, error)  { return s.setSuspended(r, false) }

func (s *Server) setSuspended(r *Request, on bool) (any, error) {
	u, err := s.pathUser(r)
	if err != nil {
		return nil, err
	}
	if on && u.ID == r.Principal.UserID {
		return nil, &Error{Status: 409, Code: "self_suspension", Message: "an admin cannot suspend their own account"}
	}
	action := "user.resume"
	if on {
		action = "user.suspend"
	}
	if err := tenancy.SuspendUser(r.Context(), s.DB, r.TenantID, u.ID, on, r.AuditEntry(action, "user", u.ID, "")); err != nil {
		var fe *tenancy.FieldError
		if errors.As(err, &fe) {
			return nil, &Error{Status: http.StatusConflict, Code: "deactivated", Message: fe.Msg}
		}
		return nil, err
	}
	if s.Forget != nil {
		s.Forget(r.Context(), r.TenantID, u.ID) // on resume: the cached refusals go
	}
	return s.DB.User(r.Context(), r.TenantID, u.ID)
}
