package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/privox/privox/internal/attendant"
	"github.com/privox/privox/internal/dialplan"
	"github.com/privox/privox/internal/store"
)

// Auto-attendant menus and business-hours calendars of a tenant (configuration, admins of the
// tenant). Each change is validated by the attendant, menus together with the tenant's other
// menus so that no chain of fallbacks loops.

func init() { registerRoutes(menuRoutes) }

func menuRoutes(s *Server) []Route {
	return []Route{
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/menus", Summary: "List the tenant's auto-attendant menus",
			Auth: Admin, Result: List[store.Menu]{}, Handler: s.listMenus},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/menus/{menu}", Summary: "Get an auto-attendant menu by name",
			Auth: Admin, Result: store.Menu{}, Handler: s.getMenu},
		{Method: "PUT", Path: "/api/v1/tenants/{tenant}/menus/{menu}", Summary: "Create or replace an auto-attendant menu (options per digit, time-out, retries, fallback, calendar, attendant number)",
			Auth: Admin, Body: menuBody{}, Result: store.Menu{}, Handler: s.putMenu},
		{Method: "DELETE", Path: "/api/v1/tenants/{tenant}/menus/{menu}", Summary: "Delete an auto-attendant menu",
			Auth: Admin, Handler: s.deleteMenu},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/calendars", Summary: "List the tenant's business-hours calendars",
			Auth: Admin, Result: List[store.Calendar]{}, Handler: s.listCalendars},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/calendars/{calendar}", Summary: "Get a business-hours calendar by name",
			Auth: Admin, Result: store.Calendar{}, Handler: s.getCalendar},
		{Method: "PUT", Path: "/api/v1/tenants/{tenant}/calendars/{calendar}", Summary: "Create or replace a business-hours calendar (IANA time zone, hours per weekday, holidays)",
			Auth: Admin, Body: calendarBody{}, Result: store.Calendar{}, Handler: s.putCalendar},
		{Method: "DELETE", Path: "/api/v1/tenants/{tenant}/calendars/{calendar}", Summary: "Delete a business-hours calendar; one that DIDs or the dialling settings name is refused with 409 naming them (menus that name it count it as open)",
			Auth: Admin, Handler: s.deleteCalendar},
	}
}

// menuBody documents the request (the handler reads the spec raw, so that the attendant
// refuses unknown fields in it).
type menuBody struct {
	// Number is the attendant number that reaches the menu ("" for a submenu).
	Number string         `json:"number"`
	Spec   attendant.Menu `json:"spec"`
}

type calendarBody struct {
	Spec attendant.Calendar `json:"spec"`
}

// attendantErr maps the attendant's validation errors to 400s naming the field.
func attendantErr(err error) error {
	var fe *attendant.FieldError
	if errors.As(err, &fe) {
		return &Error{Status: 400, Code: "invalid_field", Field: fe.Field, Message: fe.Error()}
	}
	if errors.Is(err, store.ErrConflict) {
		return &Error{Status: 409, Code: "conflict", Field: "number", Message: "another menu has this attendant number"}
	}
	return err
}

func (s *Server) listMenus(r *Request) (any, error) {
	ms, err := s.DB.ListMenus(r.Context(), r.TenantID)
	if err != nil {
		return nil, err
	}
	return List[store.Menu]{Items: nonNilMenus(ms)}, nil
}

func nonNilMenus(ms []store.Menu) []store.Menu {
	if ms == nil {
		return []store.Menu{}
	}
	return ms
}

func (s *Server) getMenu(r *Request) (any, error) {
	return s.DB.MenuByName(r.Context(), r.TenantID, r.PathValue("menu"))
}

func (s *Server) putMenu(r *Request) (any, error) {
	var in struct {
		Number string          `json:"number"`
		Spec   json.RawMessage `json:"spec"`
	}
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	m, err := attendant.SaveMenu(r.Context(), s.DB, r.TenantID, r.PathValue("menu"), in.Number, in.Spec)
	if err != nil {
		return nil, attendantErr(err)
	}
	r.Audit("menu.put", "menu", m.ID, m.Name)
	return m, nil
}

func (s *Server) deleteMenu(r *Request) (any, error) {
	if err := s.DB.DeleteMenu(r.Context(), r.TenantID, r.PathValue("menu")); err != nil {
		return nil, err
	}
	r.Audit("menu.delete", "menu", r.PathValue("menu"), "")
	return nil, nil
}

func (s *Server) listCalendars(r *Request) (any, error) {
	cs, err := s.DB.ListCalendars(r.Context(), r.TenantID)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		cs = []store.Calendar{}
	}
	return List[store.Calendar]{Items: cs}, nil
}

func (s *Server) getCalendar(r *Request) (any, error) {
	return s.DB.CalendarByName(r.Context(), r.TenantID, r.PathValue("calendar"))
}

func (s *Server) putCalendar(r *Request) (any, error) {
	var in struct {
		Spec json.RawMessage `json:"spec"`
	}
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	c, err := attendant.SaveCalendar(r.Context(), s.DB, r.TenantID, r.PathValue("calendar"), in.Spec)
	if err != nil {
		return nil, attendantErr(err)
	}
	if s.Dialplan != nil {
		s.Dialplan.Invalidate(r.TenantID) // the time rules judge the new hours at once
	}
	r.Audit("calendar.put", "calendar", c.ID, c.Name)
	return c, nil
}

func (s *Server) deleteCalendar(r *Request) (any, error) {
	if err := s.dialplanOn(); err != nil {
		return nil, err
	}
	err := s.Dialplan.DeleteCalendar(r.Context(), r.TenantID, r.PathValue("calendar"))
	if errors.Is(err, dialplan.ErrCalendarInUse) {
		return nil, &Error{Status: http.StatusConflict, Code: "conflict", Field: "calendar", Message: errors.Unwrap(err).Error()}
	}
	if err != nil {
		return nil, err
	}
	r.Audit("calendar.delete", "calendar", r.PathValue("calendar"), "")
	return nil, nil
}
