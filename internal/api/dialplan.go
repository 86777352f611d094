package api

import (
	"errors"
	"net/http"

	"github.com/privox/privox/internal/dialplan"
	"github.com/privox/privox/internal/store"
)

// The dial plan of a tenant (configuration, admins of the tenant): outbound routes, the
// dialling settings the toll-fraud guard reads, and the explanation of any call's routing.

func init() { registerRoutes(dialplanRoutes) }

func dialplanRoutes(s *Server) []Route {
	return []Route{
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/route-explain", Summary: "Explain how the dial plan routes a call (query: from = the caller's extension, empty for a call from outside; trunk = the trunk a call from outside arrives on, to is then the DID; to = the dialled number): every stage passed and the one that decided, with the reason",
			Auth: Admin, Result: dialplan.Decision{}, Handler: s.explainRoute},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/outbound-routes", Summary: "List the tenant's outbound routes in the order they are tried",
			Auth: Admin, Result: List[store.OutboundRoute]{}, Handler: s.listOutboundRoutes},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/outbound-routes/{route}", Summary: "Get an outbound route by name",
			Auth: Admin, Result: store.OutboundRoute{}, Handler: s.getOutboundRoute},
		{Method: "PUT", Path: "/api/v1/tenants/{tenant}/outbound-routes/{route}", Summary: "Create or replace an outbound route (Asterisk-style pattern such as _0[1-9]X., digits to strip, prefix to add, E.164 or as dialled, trunks tried in order)",
			Auth: Admin, Body: outboundRouteBody{}, Result: store.OutboundRoute{}, Handler: s.putOutboundRoute},
		{Method: "DELETE", Path: "/api/v1/tenants/{tenant}/outbound-routes/{route}", Summary: "Delete an outbound route",
			Auth: Admin, Handler: s.deleteOutboundRoute},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/dial-settings", Summary: "Get the tenant's dialling settings (country, main number, destination classes the toll-fraud guard allows, per-extension limits, the calendar outside calls are allowed in)",
			Auth: Admin, Result: store.DialSettings{}, Handler: s.getDialSettings},
		{Method: "PUT", Path: "/api/v1/tenants/{tenant}/dial-settings", Summary: "Replace the tenant's dialling settings; outside_calendar names a calendar of the tenant while whose closed hours outside calls dialled at extensions are refused with 403 (unusual-hours), \"\" for none",
			Auth: Admin, Body: dialSettingsBody{}, Result: store.DialSettings{}, Handler: s.putDialSettings},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/trunks", Summary: "List the tenant's SIP trunks (passwords are never returned)",
			Auth: Admin, Result: List[store.Trunk]{}, Handler: s.listTrunks},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/trunks/{trunk}", Summary: "Get a SIP trunk by name",
			Auth: Admin, Result: store.Trunk{}, Handler: s.getTrunk},
		{Method: "PUT", Path: "/api/v1/tenants/{tenant}/trunks/{trunk}", Summary: "Create or replace a SIP trunk: registering (user name and password, sealed) or IP-authenticated (allowed source addresses), over udp, tcp or tls, with a failover server",
			Auth: Admin, Body: trunkBody{}, Result: store.Trunk{}, Handler: s.putTrunk},
		{Method: "DELETE", Path: "/api/v1/tenants/{tenant}/trunks/{trunk}", Summary: "Delete a SIP trunk no outbound route names",
			Auth: Admin, Handler: s.deleteTrunk},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/trunk-states", Summary: "Registration state of the tenant's registering trunks (registering, registered, failed; server, expiry, failures, last error)",
			Auth: Admin, Result: List[any]{}, Handler: s.trunkStates},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/outside-suspensions", Summary: "List the extensions whose outside calls are suspended (after a burst of outside calls, or by an admin)",
			Auth: Admin, Result: List[store.OutsideSuspension]{}, Handler: s.listSuspensions},
		{Method: "PUT", Path: "/api/v1/tenants/{tenant}/extensions/{extension}/outside-suspension", Summary: "Suspend an extension's outside calls",
			Auth: Admin, Result: store.OutsideSuspension{}, Handler: s.suspendOutside},
		{Method: "DELETE", Path: "/api/v1/tenants/{tenant}/extensions/{extension}/outside-suspension", Summary: "Resume an extension's outside calls",
			Auth: Admin, Handler: s.resumeOutside},
	}
}

type outboundRouteBody struct {
	Position int    `json:"position"`
	Pattern  string `json:"pattern"`
	Strip    int    `json:"strip"`
	Prepend  string `json:"prepend"`
	// E164 sends the trunk the number in E.164 (default true).
	E164   *bool    `json:"e164"`
	Trunks []string `json:"trunks"`
}

type dialSettingsBody struct {
	Country            string `json:"country"`
	MainNumber         string `json:"main_number"`
	AllowInternational bool   `json:"allow_international"`
	AllowPremium       bool   `json:"allow_premium"`
	// Per-extension limits; absent fields keep their stored values.
	MaxConcurrent *int `json:"max_concurrent"`
	MinutesPerDay *int `json:"minutes_per_day"`
	BurstCalls    *int `json:"burst_calls"`
	BurstWindowS  *int `json:"burst_window_s"`
	// OutsideCalendar names the calendar outside calls are allowed in ("": any time;
	// absent: unchanged).
	OutsideCalendar *string `json:"outside_calendar"`
}

func (s *Server) dialplanOn() error {
	if s.Dialplan == nil {
		return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the dial plan is not running"}
	}
	return nil
}

// dialplanErr maps validation errors to 400s naming the field.
func dialplanErr(err error) error {
	var fe *dialplan.FieldError
	if errors.As(err, &fe) {
		return &Error{Status: 400, Code: "invalid_field", Field: fe.Field, Message: fe.Error()}
	}
	return err
}

func (s *Server) explainRoute(r *Request) (any, error) {
	if s.Explain == nil {
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the dial plan is not running"}
	}
	q := r.URL.Query()
	to := q.Get("to")
	if to == "" {
		return nil, &Error{Status: 400, Code: "invalid_field", Field: "to", Message: "to: the dialled number is required"}
	}
	from := q.Get("from")
	if tr := q.Get("trunk"); tr != "" {
		if from != "" {
			return nil, &Error{Status: 400, Code: "invalid_field", Field: "trunk", Message: "trunk: a call from a trunk has no from"}
		}
		from = dialplan.TrunkCaller + tr
	}
	d, err := s.Explain(r.Context(), r.TenantID, from, to)
	if err != nil {
		return nil, dialplanErr(err)
	}
	return d, nil
}

func (s *Server) listOutboundRoutes(r *Request) (any, error) {
	if err := s.dialplanOn(); err != nil {
		return nil, err
	}
	rs, err := s.DB.ListOutboundRoutes(r.Context(), r.TenantID)
	if err != nil {
		return nil, err
	}
	return List[store.OutboundRoute]{Items: rs}, nil
}

func (s *Server) getOutboundRoute(r *Request) (any, error) {
	return s.DB.OutboundRoute(r.Context(), r.TenantID, r.PathValue("route"))
}

func (s *Server) putOutboundRoute(r *Request) (any, error) {
	if err := s.dialplanOn(); err != nil {
		return nil, err
	}
	var in outboundRouteBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	e164 := in.E164 == nil || *in.E164
	rt, err := s.Dialplan.SaveRoute(r.Context(), store.OutboundRoute{TenantID: r.TenantID, Name: r.PathValue("route"), Position: in.Position,
		Pattern: in.Pattern, Strip: in.Strip, Prepend: in.Prepend, E164: e164, Trunks: in.Trunks})
	if err != nil {
		return nil, dialplanErr(err)
	}
	r.Audit("route.put", "outbound_route", rt.ID, rt.Name+" "+rt.Pattern)
	return rt, nil
}

func (s *Server) deleteOutboundRoute(r *Request) (any, error) {
	if err := s.dialplanOn(); err != nil {
		return nil, err
	}
	if err := s.Dialplan.DeleteRoute(r.Context(), r.TenantID, r.PathValue("route")); err != nil {
		return nil, err
	}
	r.Audit("route.delete", "outbound_route", r.PathValue("route"), "")
	return nil, nil
}

func (s *Server) getDialSettings(r *Request) (any, error) {
	return s.DB.DialSettings(r.Context(), r.TenantID)
}

func (s *Server) putDialSettings(r *Request) (any, error) {
	if err := s.dialplanOn(); err != nil {
		return nil, err
	}
	var in dialSettingsBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	d, err := s.DB.DialSettings(r.Context(), r.TenantID)
	if err != nil {
		return nil, err
	}
	d.Country, d.MainNumber, d.AllowInternational, d.AllowPremium = in.Country, in.MainNumber, in.AllowInternational, in.AllowPremium
	for _, f := range []struct {
		in *int
		to *int
	}{{in.MaxConcurrent, &d.MaxConcurrent}, {in.MinutesPerDay, &d.MinutesPerDay}, {in.BurstCalls, &d.BurstCalls}, {in.BurstWindowS, &d.BurstWindowS}} {
		if f.in != nil {
			*f.to = *f.in
		}
	}
	if in.OutsideCalendar != nil {
		d.OutsideCalendar = *in.OutsideCalendar
	}
	d, err = s.Dialplan.SaveSettings(r.Context(), d)
	if err != nil {
		return nil, dialplanErr(err)
	}
	r.Audit("dial_settings.put", "tenant", r.TenantID, "")
	return d, nil
}

func (s *Server) listSuspensions(r *Request) (any, error) {
	ss, err := s.DB.ListOutsideSuspensions(r.Context(), r.TenantID)
	if err != nil {
		return nil, err
	}
	return List[store.OutsideSuspension]{Items: ss}, nil
}

func (s *Server) suspendOutside(r *Request) (any, error) {
	id, err := r.ID("extension")
	if err != nil {
		return nil, err
	}
	sus, err := s.DB.SuspendOutside(r.Context(), r.TenantID, id, "admin")
	if errors.Is(err, store.ErrConflict) {
		return nil, &Error{Status: http.StatusConflict, Code: "conflict", Message: "the extension's outside calls are already suspended"}
	}
	if err != nil {
		return nil, err
	}
	r.Audit("outside.suspend", "extension", id, "")
	return sus, nil
}

func (s *Server) resumeOutside(r *Request) (any, error) {
	id, err := r.ID("extension")
	if err != nil {
		return nil, err
	}
	if err := s.DB.ResumeOutside(r.Context(), r.TenantID, id); err != nil {
		return nil, err
	}
	r.Audit("outside.resume", "extension", id, "")
	return nil, nil
}

type trunkBody struct {
	Kind            string   `json:"kind"`
	Transport       string   `json:"transport"`
	Server          string   `json:"server"`
	Failover        string   `json:"failover"`
	RegisterExpires int      `json:"register_expires"`
	AllowedSources  []string `json:"allowed_sources"`
	DIDFrom         string   `json:"did_from"`
	Trusted         bool     `json:"trusted"`
	Username        string   `json:"username"`
	// Password replaces the stored one when given; it is sealed and never returned.
	Password string `json:"password"`
}

func (s *Server) listTrunks(r *Request) (any, error) {
	ts, err := s.DB.ListTrunks(r.Context(), r.TenantID)
	if err != nil {
		return nil, err
	}
	return List[store.Trunk]{Items: ts}, nil
}

func (s *Server) getTrunk(r *Request) (any, error) {
	return s.DB.Trunk(r.Context(), r.TenantID, r.PathValue("trunk"))
}

func (s *Server) putTrunk(r *Request) (any, error) {
	if err := s.dialplanOn(); err != nil {
		return nil, err
	}
	var in trunkBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	t, err := s.Dialplan.SaveTrunk(r.Context(), store.Trunk{TenantID: r.TenantID, Name: r.PathValue("trunk"), Kind: in.Kind, Transport: in.Transport,
		Server: in.Server, Failover: in.Failover, RegisterExpires: in.RegisterExpires, AllowedSources: in.AllowedSources, DIDFrom: in.DIDFrom,
		Trusted: in.Trusted, Username: in.Username}, in.Password, dialplan.SealTrunkSecret(s.Vault))
	if err != nil {
		return nil, dialplanErr(err)
	}
	r.Audit("trunk.put", "trunk", t.ID, t.Name) // never the password
	return t, nil
}

func (s *Server) deleteTrunk(r *Request) (any, error) {
	if err := s.dialplanOn(); err != nil {
		return nil, err
	}
	err := s.Dialplan.DeleteTrunk(r.Context(), r.TenantID, r.PathValue("trunk"))
	if errors.Is(err, dialplan.ErrTrunkInUse) {
		return nil, &Error{Status: http.StatusConflict, Code: "conflict", Field: "trunk", Message: err.Error()}
	}
	if err != nil {
		return nil, err
	}
	r.Audit("trunk.delete", "trunk", r.PathValue("trunk"), "")
	return nil, nil
}

func (s *Server) trunkStates(r *Request) (any, error) {
	if s.TrunkStates == nil {
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "SIP is not running"}
	}
	return map[string]any{"items": s.TrunkStates(r.TenantID)}, nil
}
