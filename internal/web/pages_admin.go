package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/privox/privox/internal/store"
)

// API tokens: create (the secret shown once), list, revoke after a confirmation.

type tokensView struct {
	Tokens []store.APIToken
	// Secret is the token just created, shown this once.
	Secret string
	Name   string
}

func (s *Server) tokens(w http.ResponseWriter, r *http.Request, v *view) {
	l, ok := listPage[store.APIToken](s, w, r, v, tpath(v, "/tokens"), nil)
	if !ok {
		return
	}
	v.Flash = flash(r, v)
	if v.Form == nil {
		v.Form = url.Values{}
	}
	v.Data = tokensView{Tokens: l.Items}
	s.render(w, r, http.StatusOK, "tokens", v)
}

func (s *Server) tokenCreate(w http.ResponseWriter, r *http.Request, v *view) {
	body := map[string]any{"name": strings.TrimSpace(v.Form.Get("name"))}
	if d := strings.TrimSpace(v.Form.Get("days")); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > 3650 {
			v.Error, v.Field = "days: "+v.T("err.days"), "days"
			s.rerenderTokens(w, r, v, http.StatusBadRequest)
			return
		}
		body["expires_at"] = time.Now().Add(time.Duration(n) * 24 * time.Hour).UnixMilli()
	}
	var out struct {
		store.APIToken
		Token string `json:"token"`
	}
	if ae := s.call(r, "POST", tpath(v, "/tokens"), body, v.Form.Get("csrf"), &out); ae != nil {
		if ae.Status == http.StatusBadRequest || ae.Status == http.StatusConflict {
			v.Error, v.Field = ae.Message, ae.Field
			s.rerenderTokens(w, r, v, ae.Status)
			return
		}
		s.fail(w, r, v, ae)
		return
	}
	l, ok := listPage[store.APIToken](s, w, r, v, tpath(v, "/tokens"), nil)
	if !ok {
		return
	}
	v.Form = url.Values{}
	v.Data = tokensView{Tokens: l.Items, Secret: out.Token, Name: out.Name}
	s.render(w, r, http.StatusCreated, "tokens", v)
}

func (s *Server) rerenderTokens(w http.ResponseWriter, r *http.Request, v *view, status int) {
	l, ok := listPage[store.APIToken](s, w, r, v, tpath(v, "/tokens"), nil)
	if !ok {
		return
	}
	v.Data = tokensView{Tokens: l.Items}
	s.render(w, r, status, "tokens", v)
}

func (s *Server) tokenRevoke(w http.ResponseWriter, r *http.Request, v *view) {
	id, err := strconv.ParseInt(r.PathValue("token"), 10, 64)
	if err != nil || id <= 0 {
		s.notFound(w, r, v)
		return
	}
	if ae := s.call(r, "DELETE", tpath(v, "/tokens/%d", id), nil, v.Form.Get("csrf"), nil); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/tokens?done=token_revoked", v.Tenant), http.StatusSeeOther)
}

// Legal holds: place on a person or a record, release.

func (s *Server) holds(w http.ResponseWriter, r *http.Request, v *view) {
	l, ok := listPage[store.LegalHold](s, w, r, v, tpath(v, "/holds"), nil)
	if !ok {
		return
	}
	v.Flash = flash(r, v)
	if v.Form == nil {
		v.Form = url.Values{"days": {"90"}}
	}
	v.Data = l.Items
	s.render(w, r, http.StatusOK, "holds", v)
}

func (s *Server) holdPlace(w http.ResponseWriter, r *http.Request, v *view) {
	f := v.Form
	body := map[string]any{"reason": strings.TrimSpace(f.Get("reason"))}
	bad := func(field string) {
		v.Error, v.Field = field+": "+v.T("err.number"), field
		l, ok := listPage[store.LegalHold](s, w, r, v, tpath(v, "/holds"), nil)
		if ok {
			v.Data = l.Items
			s.render(w, r, http.StatusBadRequest, "holds", v)
		}
	}
	num := func(field string) (int64, bool) {
		t := strings.TrimSpace(f.Get(field))
		if t == "" {
			return 0, true
		}
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil || n <= 0 {
			bad(field)
			return 0, false
		}
		return n, true
	}
	uid, ok := num("user_id")
	if !ok {
		return
	}
	rid, ok := num("record_id")
	if !ok {
		return
	}
	days, ok := num("days")
	if !ok {
		return
	}
	if uid != 0 {
		body["user_id"] = uid
	}
	if rid != 0 {
		body["record_id"] = rid
		body["table"] = strings.TrimSpace(f.Get("table"))
	}
	if days != 0 {
		body["expires_at"] = time.Now().Add(time.Duration(days) * 24 * time.Hour).UnixMilli()
	}
	if ae := s.call(r, "POST", tpath(v, "/holds"), body, f.Get("csrf"), nil); ae != nil {
		if ae.Status == http.StatusBadRequest || ae.Status == http.StatusConflict {
			v.Error, v.Field = ae.Message, ae.Field
			l, ok := listPage[store.LegalHold](s, w, r, v, tpath(v, "/holds"), nil)
			if ok {
				v.Data = l.Items
				s.render(w, r, ae.Status, "holds", v)
			}
			return
		}
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/holds?done=hold_placed", v.Tenant), http.StatusSeeOther)
}

func (s *Server) holdRelease(w http.ResponseWriter, r *http.Request, v *view) {
	id, err := strconv.ParseInt(r.PathValue("hold"), 10, 64)
	if err != nil || id <= 0 {
		s.notFound(w, r, v)
		return
	}
	if ae := s.call(r, "DELETE", tpath(v, "/holds/%d", id), nil, v.Form.Get("csrf"), nil); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/holds?done=hold_released", v.Tenant), http.StatusSeeOther)
}

// The generated records of processing (admins) and privacy notice, as the API renders them.

type docsView struct {
	Records string
	Notice  string
}

func (s *Server) docs(w http.ResponseWriter, r *http.Request, v *view) {
	rec := s.do(r, "GET", tpath(v, "/docs/records"), nil, "")
	if rec.status != http.StatusOK {
		s.fail(w, r, v, &apiError{Status: rec.status, Message: http.StatusText(rec.status)})
		return
	}
	notice := s.do(r, "GET", tpath(v, "/docs/privacy-notice?lang=%s", v.Lang), nil, "")
	if notice.status != http.StatusOK {
		s.fail(w, r, v, &apiError{Status: notice.status, Message: http.StatusText(notice.status)})
		return
	}
	v.Data = docsView{Records: rec.buf.String(), Notice: notice.buf.String()}
	s.render(w, r, http.StatusOK, "docs", v)
}

// Portal: change my password (the API checks length and rules and names the field).

func (s *Server) passwordPage(w http.ResponseWriter, r *http.Request, v *view) {
	v.Flash = flash(r, v)
	s.render(w, r, http.StatusOK, "password", v)
}

func (s *Server) passwordPost(w http.ResponseWriter, r *http.Request, v *view) {
	pw, again := v.Form.Get("password"), v.Form.Get("password_again")
	v.Form = url.Values{}
	if pw != again {
		v.Error, v.Field = "password_again: "+v.T("err.pwmatch"), "password_again"
		s.render(w, r, http.StatusBadRequest, "password", v)
		return
	}
	if ae := s.call(r, "PUT", tpath(v, "/users/%d/password", v.S.P.UserID), map[string]string{"password": pw}, r.PostForm.Get("csrf"), nil); ae != nil {
		s.formError(w, r, v, "password", ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/me/password?done=password", v.Tenant), http.StatusSeeOther)
}

// tenants lists every tenant and makes new ones (operators only: the API's tenant routes
// refuse everyone else).
func (s *Server) tenants(w http.ResponseWriter, r *http.Request, v *view) {
	s.renderTenants(w, r, v, http.StatusOK)
}

func (s *Server) renderTenants(w http.ResponseWriter, r *http.Request, v *view, status int) {
	// The page lives under a tenant's path like every other: that tenant must be the
	// caller's to see.
	if ae := s.call(r, "GET", tpath(v, ""), nil, "", nil); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	l, ok := listPage[store.Tenant](s, w, r, v, "/api/v1/tenants", nil)
	if !ok {
		return
	}
	if v.Flash == "" {
		v.Flash = flash(r, v)
	}
	if v.Form == nil {
		v.Form = url.Values{"retention_preset": {"default"}}
	}
	v.Data = l.Items
	s.render(w, r, status, "tenants", v)
}

func (s *Server) tenantCreate(w http.ResponseWriter, r *http.Request, v *view) {
	f := v.Form
	body := map[string]string{"name": strings.TrimSpace(f.Get("name")), "sip_domain": strings.TrimSpace(f.Get("sip_domain")),
		"retention_preset": f.Get("retention_preset"), "admin_contact": strings.TrimSpace(f.Get("admin_contact"))}
	ae := s.call(r, "POST", "/api/v1/tenants", body, f.Get("csrf"), nil)
	switch {
	case ae == nil:
		http.Redirect(w, r, fmt.Sprintf("/t/%d/tenants?done=tenant", v.Tenant), http.StatusSeeOther)
	case ae.Status == http.StatusBadRequest || ae.Status == http.StatusConflict:
		v.Error, v.Field = ae.Message, ae.Field
		s.renderTenants(w, r, v, ae.Status)
	default:
		s.fail(w, r, v, ae)
	}
}
