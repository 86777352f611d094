package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/privox/privox/internal/dialplan"
	"github.com/privox/privox/internal/store"
)

// Call forwarding and do-not-disturb of an extension (profile data): its user sets their own,
// an admin any extension's of the tenant. Admins also set the tenant's feature codes and
// forwarding hop limit. Every change is audited.

func init() { registerRoutes(forwardingRoutes) }

type forwardingBody struct {
	Always        string `json:"always"`
	Busy          string `json:"busy"`
	NoAnswer      string `json:"no_answer"`
	NoAnswerRingS int    `json:"no_answer_ring_s"`
	Unreachable   string `json:"unreachable"`
	DND           bool   `json:"dnd"`
}

type forwardSettingsBody struct {
	MaxHops int    `json:"max_hops"`
	Codes   string `json:"codes"`
}

func forwardingRoutes(s *Server) []Route {
	const ext = "/api/v1/tenants/{tenant}/extensions/{extension}/forwarding"
	return []Route{
		{Method: "GET", Path: ext, Summary: "An extension's call forwarding and do-not-disturb (the extension's user or an admin)",
			Auth: Member, Result: store.Forwarding{}, Handler: s.getForwarding},
		{Method: "PUT", Path: ext, Summary: fmt.Sprintf("Replace an extension's call forwarding (targets: numbers the dial plan routes, empty for none; no_answer_ring_s 0-%d, 0: the server's ring time-out) and do-not-disturb; audited",
			int(dialplan.MaxForwardRing.Seconds())), Auth: Member, Body: forwardingBody{}, Result: store.Forwarding{}, Handler: s.putForwarding},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/users/{user}/forwarding", Summary: "The call forwarding and do-not-disturb of every extension of a user (self or admin)",
			Auth: Member, Result: List[store.Forwarding]{}, Handler: s.listUserForwarding},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/forwarding", Summary: "Every extension of the tenant that forwards or is on do-not-disturb",
			Auth: Admin, Result: List[store.Forwarding]{}, Handler: s.listForwarding},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/forward-settings", Summary: "The tenant's feature codes and forwarding hop limit (0: the default, " + strconv.Itoa(dialplan.DefaultMaxHops) + ")",
			Auth: Admin, Result: store.ForwardSettings{}, Handler: s.getForwardSettings},
		{Method: "PUT", Path: "/api/v1/tenants/{tenant}/forward-settings", Summary: "Replace the tenant's feature codes (always=*21,busy=*67,no_answer=*61,unreachable=*62,dnd_on=*78,dnd_off=*79; names left out keep their default; # with the same digits clears) and hop limit (0-" + strconv.Itoa(dialplan.MaxHopsLimit) + ")",
			Auth: Admin, Body: forwardSettingsBody{}, Result: store.ForwardSettings{}, Handler: s.putForwardSettings},
	}
}

func (s *Server) forwardsOn() error {
	if s.Forwards == nil {
		return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the dial plan is not running"}
	}
	return nil
}

// fwdExtension returns the path's extension of the tenant for its user or an admin.
func (s *Server) fwdExtension(r *Request) (store.Extension, error) {
	if err := s.forwardsOn(); err != nil {
		return store.Extension{}, err
	}
	id, err := r.ID("extension")
	if err != nil {
		return store.Extension{}, err
	}
	e, err := s.DB.Extension(r.Context(), r.TenantID, id)
	if err != nil {
		return e, err
	}
	if !r.Principal.IsAdmin() && (e.UserID == nil || *e.UserID != r.Principal.UserID) {
		return e, errForbidden
	}
	return e, nil
}

func (s *Server) getForwarding(r *Request) (any, error) {
	e, err := s.fwdExtension(r)
	if err != nil {
		return nil, err
	}
	return s.DB.Forwarding(r.Context(), r.TenantID, e.ID)
}

// fwdActor names the request's principal for the audit log.
func (r *Request) fwdActor() dialplan.Actor {
	a := dialplan.Actor{Name: "anonymous", IP: clientIP(r.Request)}
	if r.Principal != nil {
		uid := r.Principal.UserID
		a.UserID, a.Name = &uid, "user:"+strconv.FormatInt(uid, 10)
	}
	return a
}

func (s *Server) putForwarding(r *Request) (any, error) {
	e, err := s.fwdExtension(r)
	if err != nil {
		return nil, err
	}
	var in forwardingBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	f, err := s.Forwards.Save(r.Context(), store.Forwarding{TenantID: r.TenantID, ExtensionID: e.ID, Always: in.Always, Busy: in.Busy,
		NoAnswer: in.NoAnswer, NoAnswerRingS: in.NoAnswerRingS, Unreachable: in.Unreachable, DND: in.DND}, r.fwdActor())
	if err != nil {
		return nil, dialplanErr(err)
	}
	return f, nil
}

func (s *Server) listUserForwarding(r *Request) (any, error) {
	if err := s.forwardsOn(); err != nil {
		return nil, err
	}
	u, err := s.pathUser(r)
	if err != nil {
		return nil, err
	}
	fs, err := s.DB.ForwardingOfUser(r.Context(), r.TenantID, u.ID)
	if err != nil {
		return nil, err
	}
	return List[store.Forwarding]{Items: fs}, nil
}

func (s *Server) listForwarding(r *Request) (any, error) {
	if err := s.forwardsOn(); err != nil {
		return nil, err
	}
	fs, err := s.DB.ListForwarding(r.Context(), r.TenantID)
	if err != nil {
		return nil, err
	}
	return List[store.Forwarding]{Items: fs}, nil
}

func (s *Server) getForwardSettings(r *Request) (any, error) {
	if err := s.forwardsOn(); err != nil {
		return nil, err
	}
	fs, err := s.DB.ForwardSettings(r.Context(), r.TenantID)
	if err != nil {
		return nil, err
	}
	if fs.Codes == "" {
		fs.Codes = dialplan.DefaultCodes.String()
	}
	return fs, nil
}

func (s *Server) putForwardSettings(r *Request) (any, error) {
	if err := s.forwardsOn(); err != nil {
		return nil, err
	}
	var in forwardSettingsBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	fs, err := s.Forwards.SaveConfig(r.Context(), store.ForwardSettings{TenantID: r.TenantID, MaxHops: in.MaxHops, Codes: in.Codes})
	if err != nil {
		return nil, dialplanErr(err)
	}
	tid := r.TenantID
	a := r.fwdActor()
	if _, err := s.DB.AppendAudit(r.Context(), store.AuditEntry{TenantID: &tid, ActorUserID: a.UserID, Actor: a.Name, Action: "forward_settings.update",
		TargetType: "tenant", TargetID: strconv.FormatInt(tid, 10), SourceIP: a.IP, Detail: fmt.Sprintf("max_hops=%d codes=%s", fs.MaxHops, fs.Codes)}); err != nil {
		return nil, err
	}
	return fs, nil
}
