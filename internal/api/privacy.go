package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/privox/privox/internal/datacat"
	"github.com/privox/privox/internal/flows"
	"github.com/privox/privox/internal/privacy"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/tenancy"
)

func init() { registerRoutes(privacyRoutes) }

type retentionReset struct {
	Category datacat.Category `json:"category"`
	Kind     string           `json:"kind,omitempty"`
}

type presetBody struct {
	Preset string `json:"preset"`
}

type rulesResult struct {
	Preset string                  `json:"preset"`
	Rules  []privacy.EffectiveRule `json:"rules"`
}

type sweepBody struct {
	DryRun   bool  `json:"dry_run"`
	TenantID int64 `json:"tenant_id,omitempty"`
	// Fast sweeps without pauses between batches (a catch-up in a quiet hour).
	Fast bool `json:"fast,omitempty"`
}

type restrictionBody struct {
	Reason string `json:"reason"`
}

type flowSwitch struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
}

type statsResult struct {
	Items []store.HourlyStat `json:"items"`
}

func privacyRoutes(s *Server) []Route {
	return []Route{
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/retention", Summary: "Retention rules that apply in the tenant, per category and kind of content", Auth: Admin, Result: rulesResult{}, Handler: s.getRetention},
		{Method: "PUT", Path: "/api/v1/tenants/{tenant}/retention", Summary: "Set the tenant's rule for a category (or one kind of content)", Auth: Admin, Body: privacy.RuleChange{}, Result: privacy.EffectiveRule{}, Handler: s.putRetention},
		{Method: "POST", Path: "/api/v1/tenants/{tenant}/retention/reset", Summary: "Return a category (or kind) to the tenant's preset", Auth: Admin, Body: retentionReset{}, Result: privacy.EffectiveRule{}, Handler: s.resetRetention},
		{Method: "POST", Path: "/api/v1/tenants/{tenant}/retention/preset", Summary: "Switch the tenant to a retention preset (default, eu, de): its rules replace the tenant's own", Auth: Admin, Body: presetBody{}, Result: privacy.PresetChange{}, Handler: s.setPreset},
		{Method: "GET", Path: "/api/v1/retention", Summary: "Installation-wide retention rules (installation tables, the audit log)", Auth: Operator, Result: rulesResult{}, Handler: s.getRetention},
		{Method: "PUT", Path: "/api/v1/retention", Summary: "Set an installation-wide retention rule", Auth: Operator, Body: privacy.RuleChange{}, Result: privacy.EffectiveRule{}, Handler: s.putRetention},
		{Method: "POST", Path: "/api/v1/retention/sweep", Summary: "Run the retention sweeper now (or count what it would remove)", Auth: Operator, Body: sweepBody{}, Result: privacy.SweepReport{}, Handler: s.sweep},

		{Method: "GET", Path: "/api/v1/tenants/{tenant}/holds", Summary: "List legal holds (?open=1: only those not yet ended)", Auth: Admin, Result: List[store.LegalHold]{}, Handler: s.listHolds},
		{Method: "POST", Path: "/api/v1/tenants/{tenant}/holds", Summary: "Place a legal hold on a record or a person", Auth: Admin, Body: privacy.HoldRequest{}, Result: store.LegalHold{}, Status: 201, Handler: s.placeHold},
		{Method: "DELETE", Path: "/api/v1/tenants/{tenant}/holds/{hold}", Summary: "Release a legal hold", Auth: Admin, Handler: s.releaseHold},

		{Method: "GET", Path: "/api/v1/tenants/{tenant}/users/{user}/restriction", Summary: "A person's restriction of processing (self or admin)", Auth: Member, Result: store.Restriction{}, Handler: s.getRestriction},
		{Method: "PUT", Path: "/api/v1/tenants/{tenant}/users/{user}/restriction", Summary: "Restrict processing of a person's data: kept, not processed", Auth: Admin, Body: restrictionBody{}, Result: store.Restriction{}, Handler: s.putRestriction},
		{Method: "DELETE", Path: "/api/v1/tenants/{tenant}/users/{user}/restriction", Summary: "Lift a restriction", Auth: Admin, Handler: s.deleteRestriction},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/users/{user}/export", Summary: "Download everything stored about a person as one ZIP (self or admin; audited)", Auth: Member, Result: privacy.Manifest{}, Raw: true, Handler: s.export},
		{Method: "POST", Path: "/api/v1/tenants/{tenant}/users/{user}/erase", Summary: "Erase a person: delete or anonymise per category, destroy their content key; irreversible, needs {\"confirm\": true}", Auth: Admin, Body: deactivateBody{}, Result: privacy.ErasureReport{}, Handler: s.erase},

		{Method: "GET", Path: "/api/v1/tenants/{tenant}/audit", Summary: "The tenant's audit log (?action=, ?target_type=, ?target_id=, ?actor=, ?since=, ?until=)", Auth: Admin, Result: List[store.AuditEntry]{}, Handler: s.listAudit},
		{Method: "GET", Path: "/api/v1/audit", Summary: "The whole audit log", Auth: Operator, Result: List[store.AuditEntry]{}, Handler: s.listAudit},
		{Method: "GET", Path: "/api/v1/audit/verify", Summary: "Verify the audit log's hash chain", Auth: Operator, Result: privacy.AuditVerification{}, Handler: s.verifyAudit},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/statistics", Summary: "Anonymous hourly aggregates (?source=cdrs, ?from=, ?to= in unix ms)", Auth: Admin, Result: statsResult{}, Handler: s.statistics},

		{Method: "GET", Path: "/api/v1/tenants/{tenant}/docs/records", Summary: "Records of processing activities of the tenant (GDPR Art. 30), Markdown", Auth: Admin, Result: "", Raw: true, Handler: s.records},
		{Method: "GET", Path: "/api/v1/docs/records", Summary: "Records of processing activities of the installation, Markdown", Auth: Operator, Result: "", Raw: true, Handler: s.records},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/docs/privacy-notice", Summary: "The tenant's privacy notice (?lang=en|de), Markdown", Auth: Member, Result: "", Raw: true, Handler: s.privacyNotice},
		{Method: "GET", Path: "/api/v1/privacy-notice", Summary: "The privacy notice of the installation's first tenant (?lang=en|de), Markdown", Auth: Public, Result: "", Raw: true, Handler: s.privacyNotice},

		{Method: "GET", Path: "/api/v1/flows", Summary: "Declared outbound data flows and their switches", Auth: Admin, Result: []flows.State{}, Handler: s.listFlows},
		{Method: "PUT", Path: "/api/v1/flows", Summary: "Switch a declared outbound flow on or off", Auth: Operator, Body: flowSwitch{}, Result: flows.State{}, Handler: s.switchFlow},
	}
}

var errNoPrivacy = &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the privacy engine is not running"}

func (r *Request) actor() privacy.Actor {
	if r.Principal == nil {
		return privacy.Actor{Name: "anonymous", IP: clientIP(r.Request)}
	}
	return privacy.UserActor(r.Principal.UserID, clientIP(r.Request))
}

// privErr maps the engine's errors to API errors.
func privErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, privacy.ErrInvalid):
		msg := strings.TrimPrefix(err.Error(), privacy.ErrInvalid.Error()+": ")
		field := ""
		if f, _, ok := strings.Cut(msg, ":"); ok && !strings.Contains(f, " ") {
			field = f
		}
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: field, Message: msg}
	case errors.Is(err, privacy.ErrBusy):
		return &Error{Status: http.StatusConflict, Code: "busy", Message: "another node is sweeping; try again later"}
	case errors.Is(err, privacy.ErrRestricted):
		return &Error{Status: http.StatusConflict, Code: "restricted", Message: err.Error()}
	}
	return err
}

// scopeTenant is the tenant a retention route works on: the path's, or the installation.
func scopeTenant(r *Request) int64 {
	if strings.Contains(r.Pattern, "{tenant}") {
		return r.TenantID
	}
	return store.InstallationTenant
}

func (s *Server) getRetention(r *Request) (any, error) {
	if s.Privacy == nil {
		return nil, errNoPrivacy
	}
	tid := scopeTenant(r)
	rs, err := s.Privacy.Rules(r.Context(), tid)
	if err != nil {
		return nil, err
	}
	out := rulesResult{Rules: rs}
	if tid != store.InstallationTenant {
		t, err := s.DB.Tenant(r.Context(), tid)
		if err != nil {
			return nil, err
		}
		out.Preset = t.RetentionPreset
	}
	return out, nil
}

func (s *Server) putRetention(r *Request) (any, error) {
	if s.Privacy == nil {
		return nil, errNoPrivacy
	}
	var in privacy.RuleChange
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	out, err := s.Privacy.SetRule(r.Context(), scopeTenant(r), in, r.actor())
	return out, privErr(err)
}

func (s *Server) resetRetention(r *Request) (any, error) {
	if s.Privacy == nil {
		return nil, errNoPrivacy
	}
	var in retentionReset
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	out, err := s.Privacy.ResetRule(r.Context(), r.TenantID, in.Category, in.Kind, r.actor())
	return out, privErr(err)
}

func (s *Server) setPreset(r *Request) (any, error) {
	if s.Privacy == nil {
		return nil, errNoPrivacy
	}
	var in presetBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	out, err := s.Privacy.SetPreset(r.Context(), r.TenantID, in.Preset, r.actor())
	return out, privErr(err)
}

func (s *Server) sweep(r *Request) (any, error) {
	if s.Privacy == nil {
		return nil, errNoPrivacy
	}
	var in sweepBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	if in.TenantID != 0 {
		if _, err := s.DB.Tenant(r.Context(), in.TenantID); err != nil {
			return nil, FieldError("tenant_id", "no such tenant")
		}
	}
	rep, err := s.Privacy.Sweep(r.Context(), privacy.SweepOptions{DryRun: in.DryRun, TenantID: in.TenantID, Fast: in.Fast})
	if err != nil {
		return nil, privErr(err)
	}
	if !in.DryRun {
		rows, files := rep.Removed()
		r.Audit("retention.run", "retention", "sweep", fmt.Sprintf("rows=%d files=%d", rows, files))
	}
	return rep, nil
}

func (s *Server) listHolds(r *Request) (any, error) {
	if s.Privacy == nil {
		return nil, errNoPrivacy
	}
	p, err := r.Page()
	if err != nil {
		return nil, err
	}
	hs, err := s.Privacy.Holds(r.Context(), r.TenantID, r.URL.Query().Get("open") == "1", p)
	return page(hs, p, func(h store.LegalHold) int64 { return h.ID }), err
}

func (s *Server) placeHold(r *Request) (any, error) {
	if s.Privacy == nil {
		return nil, errNoPrivacy
	}
	var in privacy.HoldRequest
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	h, err := s.Privacy.PlaceHold(r.Context(), r.TenantID, in, r.actor())
	return h, privErr(err)
}

func (s *Server) releaseHold(r *Request) (any, error) {
	if s.Privacy == nil {
		return nil, errNoPrivacy
	}
	id, err := r.ID("hold")
	if err != nil {
		return nil, err
	}
	return nil, s.Privacy.ReleaseHold(r.Context(), r.TenantID, id, r.actor())
}

func (s *Server) getRestriction(r *Request) (any, error) {
	if s.Privacy == nil {
		return nil, errNoPrivacy
	}
	u, err := s.pathUser(r)
	if err != nil {
		return nil, err
	}
	return s.Privacy.Restriction(r.Context(), r.TenantID, u.ID)
}

func (s *Server) putRestriction(r *Request) (any, error) {
	if s.Privacy == nil {
		return nil, errNoPrivacy
	}
	u, err := s.pathUser(r)
	if err != nil {
		return nil, err
	}
	var in restrictionBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	out, err := s.Privacy.Restrict(r.Context(), r.TenantID, u.ID, in.Reason, r.actor())
	return out, privErr(err)
}

func (s *Server) deleteRestriction(r *Request) (any, error) {
	if s.Privacy == nil {
		return nil, errNoPrivacy
	}
	u, err := s.pathUser(r)
	if err != nil {
		return nil, err
	}
	return nil, s.Privacy.Unrestrict(r.Context(), r.TenantID, u.ID, r.actor())
}

func (s *Server) export(r *Request) (any, error) {
	if s.Privacy == nil {
		return nil, errNoPrivacy
	}
	u, err := s.pathUser(r)
	if err != nil {
		return nil, err
	}
	if err := s.Privacy.CheckExport(r.Context(), r.TenantID, u.ID, r.actor()); err != nil {
		return nil, privErr(err)
	}
	h := r.W.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="privox-export-%d-%d.zip"`, r.TenantID, u.ID))
	h.Set("Cache-Control", "no-store")
	if _, err := s.Privacy.Export(r.Context(), r.TenantID, u.ID, r.W, r.actor()); err != nil {
		// The ZIP is already on its way: cut the connection so that the client sees a failed
		// download rather than a truncated archive.
		s.Logger.Error("export failed", "tenant", r.TenantID, "user", u.ID, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil, nil
}

func (s *Server) erase(r *Request) (any, error) {
	if s.Privacy == nil {
		return nil, errNoPrivacy
	}
	id, err := r.ID("user")
	if err != nil {
		return nil, err
	}
	if id == r.Principal.UserID {
		return nil, &Error{Status: 409, Code: "self_erasure", Message: "an admin cannot erase their own account"}
	}
	var in deactivateBody
	if err := r.Decode(&in); err != nil {
		var ae *Error
		if !errors.As(err, &ae) || ae.Code != "invalid_body" {
			return nil, err
		}
	}
	if !in.Confirm {
		p, err := s.Privacy.PreviewErasure(r.Context(), r.TenantID, id)
		if err != nil {
			return nil, privErr(err)
		}
		return nil, &Error{Status: http.StatusConflict, Code: "confirmation_required", Field: "confirm",
			Message: `erasure cannot be undone; it will go: ` + p.Summary() + `. Send {"confirm": true} to go ahead`}
	}
	u, err := s.DB.User(r.Context(), r.TenantID, id)
	if err != nil {
		return nil, err
	}
	if u.Active {
		// deactivated first, so that the phones cannot register again once forgotten
		if err := tenancy.DeactivateUser(r.Context(), s.DB, r.TenantID, id, r.AuditEntry("user.deactivate", "user", id, "")); err != nil {
			return nil, err
		}
	}
	if s.Forget != nil {
		s.Forget(r.Context(), r.TenantID, id)
	}
	rep, err := s.Privacy.Erase(r.Context(), r.TenantID, id, r.actor())
	return rep, privErr(err)
}

func (s *Server) listAudit(r *Request) (any, error) {
	if s.Privacy == nil {
		return nil, errNoPrivacy
	}
	p, err := r.Page()
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	aq := store.AuditQuery{TenantID: scopeTenant(r), Action: q.Get("action"), TargetType: q.Get("target_type"), TargetID: q.Get("target_id"), Page: p}
	for name, dst := range map[string]*int64{"actor": &aq.ActorUserID, "since": &aq.Since, "until": &aq.Until} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, &Error{Status: 400, Code: "invalid_query", Field: name, Message: name + " must be a non-negative number"}
			}
			*dst = n
		}
	}
	es, err := s.Privacy.Audit(r.Context(), aq)
	return page(es, p, func(e store.AuditEntry) int64 { return e.ID }), err
}

func (s *Server) verifyAudit(r *Request) (any, error) {
	if s.Privacy == nil {
		return nil, errNoPrivacy
	}
	return s.Privacy.VerifyAudit(r.Context())
}

func (s *Server) statistics(r *Request) (any, error) {
	q := r.URL.Query()
	sq := store.StatsQuery{TenantID: r.TenantID, Source: q.Get("source"), Limit: 10000}
	for name, dst := range map[string]*int64{"from": &sq.From, "to": &sq.To} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, &Error{Status: 400, Code: "invalid_query", Field: name, Message: name + " must be unix milliseconds"}
			}
			*dst = n
		}
	}
	st, err := s.DB.ListHourlyStats(r.Context(), sq)
	if st == nil {
		st = []store.HourlyStat{}
	}
	return statsResult{Items: st}, err
}

func writeMarkdown(w http.ResponseWriter, doc string) {
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(doc))
}

func (s *Server) records(r *Request) (any, error) {
	if s.Privacy == nil {
		return nil, errNoPrivacy
	}
	doc, err := s.Privacy.RecordsOfProcessing(r.Context(), scopeTenant(r))
	if err != nil {
		return nil, err
	}
	writeMarkdown(r.W, doc)
	return nil, nil
}

func (s *Server) privacyNotice(r *Request) (any, error) {
	if s.Privacy == nil {
		return nil, errNoPrivacy
	}
	tid := r.TenantID
	if tid == 0 {
		ts, err := s.DB.ListTenants(r.Context(), store.Page{Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(ts) == 0 {
			return nil, errNotFound
		}
		tid = ts[0].ID
	}
	lang := r.URL.Query().Get("lang")
	if lang == "" {
		lang = "en"
	}
	doc, err := s.Privacy.PrivacyNotice(r.Context(), tid, lang)
	if err != nil {
		return nil, privErr(err)
	}
	writeMarkdown(r.W, doc)
	return nil, nil
}

func (s *Server) listFlows(r *Request) (any, error) {
	if s.Privacy == nil {
		return nil, errNoPrivacy
	}
	return s.Privacy.Flows(r.Context()), nil
}

func (s *Server) switchFlow(r *Request) (any, error) {
	if s.Privacy == nil {
		return nil, errNoPrivacy
	}
	var in flowSwitch
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	st, err := s.Privacy.SetFlow(r.Context(), in.Name, in.Enabled, r.actor())
	return st, privErr(err)
}
