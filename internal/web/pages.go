package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/privox/privox/internal/flows"
	"github.com/privox/privox/internal/privacy"
	"github.com/privox/privox/internal/store"
)

// pageSize is the number of rows of a list page.
const pageSize = 25

type list[T any] struct {
	Items     []T    `json:"items"`
	NextAfter *int64 `json:"next_after"`
}

// tpath is an API path under the page's tenant.
func tpath(v *view, format string, args ...any) string {
	return fmt.Sprintf("/api/v1/tenants/%d", v.Tenant) + fmt.Sprintf(format, args...)
}

// listPage reads one keyset page of an API list; ?after= of the page is passed on.
func listPage[T any](s *Server, w http.ResponseWriter, r *http.Request, v *view, apiPath string, extra url.Values) (list[T], bool) {
	q := url.Values{"limit": {strconv.Itoa(pageSize)}}
	if a := r.URL.Query().Get("after"); a != "" {
		q.Set("after", a)
	}
	for k, vs := range extra {
		q[k] = vs
	}
	var l list[T]
	if ae := s.call(r, "GET", apiPath+"?"+q.Encode(), nil, "", &l); ae != nil {
		s.fail(w, r, v, ae)
		return l, false
	}
	if l.NextAfter != nil {
		nq := r.URL.Query()
		nq.Set("after", strconv.FormatInt(*l.NextAfter, 10))
		v.NextPage = r.URL.Path + "?" + nq.Encode()
	}
	return l, true
}

func (s *Server) users(w http.ResponseWriter, r *http.Request, v *view) {
	l, ok := listPage[store.User](s, w, r, v, tpath(v, "/users"), nil)
	if !ok {
		return
	}
	v.Flash = flash(r, v)
	v.Data = l.Items
	s.render(w, r, http.StatusOK, "users", v)
}

// flash is the confirmation of the previous action (?done=key), translated.
func flash(r *http.Request, v *view) string {
	if d := r.URL.Query().Get("done"); d != "" {
		if m := tr(v.Lang, "done."+d); m != "done."+d {
			return m
		}
	}
	return ""
}

func (s *Server) userNew(w http.ResponseWriter, r *http.Request, v *view) {
	v.Form = url.Values{"role": {"user"}, "language": {v.Lang}}
	s.render(w, r, http.StatusOK, "user_new", v)
}

func (s *Server) formError(w http.ResponseWriter, r *http.Request, v *view, page string, ae *apiError) {
	if ae.Status == http.StatusBadRequest || ae.Status == http.StatusConflict {
		v.Error, v.Field = ae.Message, ae.Field
		s.render(w, r, ae.Status, page, v)
		return
	}
	s.fail(w, r, v, ae)
}

func (s *Server) userCreate(w http.ResponseWriter, r *http.Request, v *view) {
	f := v.Form
	body := map[string]string{"name": f.Get("name"), "email": f.Get("email"), "language": f.Get("language"), "role": f.Get("role"), "password": f.Get("password")}
	var u store.User
	if ae := s.call(r, "POST", tpath(v, "/users"), body, v.Form.Get("csrf"), &u); ae != nil {
		v.Form.Del("password")
		s.formError(w, r, v, "user_new", ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/users?done=user_created", v.Tenant), http.StatusSeeOther)
}

func (s *Server) pathUser(w http.ResponseWriter, r *http.Request, v *view) (store.User, bool) {
	var u store.User
	id, err := strconv.ParseInt(r.PathValue("user"), 10, 64)
	if err != nil || id <= 0 {
		s.notFound(w, r, v)
		return u, false
	}
	if ae := s.call(r, "GET", tpath(v, "/users/%d", id), nil, "", &u); ae != nil {
		s.fail(w, r, v, ae)
		return u, false
	}
	return u, true
}

func (s *Server) userEdit(w http.ResponseWriter, r *http.Request, v *view) {
	u, ok := s.pathUser(w, r, v)
	if !ok {
		return
	}
	v.Data = u
	v.Flash = flash(r, v)
	v.Form = url.Values{"name": {u.Name}, "email": {u.Email}, "language": {u.Language}, "role": {u.Role}}
	s.render(w, r, http.StatusOK, "user_edit", v)
}

func (s *Server) userUpdate(w http.ResponseWriter, r *http.Request, v *view) {
	u, ok := s.pathUser(w, r, v)
	if !ok {
		return
	}
	f := v.Form
	body := map[string]string{"name": f.Get("name"), "email": f.Get("email"), "language": f.Get("language")}
	if v.Admin() {
		body["role"] = f.Get("role")
	}
	if ae := s.call(r, "PATCH", tpath(v, "/users/%d", u.ID), body, v.Form.Get("csrf"), &u); ae != nil {
		v.Data = u
		s.formError(w, r, v, "user_edit", ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/users/%d?done=saved", v.Tenant, u.ID), http.StatusSeeOther)
}

func (s *Server) userLifecycle(action string) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, v *view) {
		u, ok := s.pathUser(w, r, v)
		if !ok {
			return
		}
		if ae := s.call(r, "POST", tpath(v, "/users/%d/%s", u.ID, action), nil, v.Form.Get("csrf"), nil); ae != nil {
			s.fail(w, r, v, ae)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/t/%d/users/%d?done=%s", v.Tenant, u.ID, action), http.StatusSeeOther)
	}
}

type deactivateView struct {
	User    store.User
	Preview privacy.ErasurePreview
}

func (s *Server) deactivateConfirm(w http.ResponseWriter, r *http.Request, v *view) {
	u, ok := s.pathUser(w, r, v)
	if !ok {
		return
	}
	var p privacy.ErasurePreview
	if ae := s.call(r, "GET", tpath(v, "/users/%d/erasure", u.ID), nil, "", &p); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	v.Data = deactivateView{User: u, Preview: p}
	s.render(w, r, http.StatusOK, "deactivate", v)
}

func (s *Server) deactivatePost(w http.ResponseWriter, r *http.Request, v *view) {
	u, ok := s.pathUser(w, r, v)
	if !ok {
		return
	}
	if v.Form.Get("confirm") != "yes" {
		http.Redirect(w, r, fmt.Sprintf("/t/%d/users/%d/deactivate", v.Tenant, u.ID), http.StatusSeeOther)
		return
	}
	if ae := s.call(r, "POST", tpath(v, "/users/%d/deactivate", u.ID), map[string]bool{"confirm": true}, v.Form.Get("csrf"), nil); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/users?done=deactivated", v.Tenant), http.StatusSeeOther)
}

func (s *Server) export(w http.ResponseWriter, r *http.Request, v *view) {
	id, err := strconv.ParseInt(r.PathValue("user"), 10, 64)
	if err != nil || id <= 0 {
		s.notFound(w, r, v)
		return
	}
	s.download(w, r, v, tpath(v, "/users/%d/export", id))
}

func (s *Server) myExport(w http.ResponseWriter, r *http.Request, v *view) {
	s.download(w, r, v, tpath(v, "/users/%d/export", v.S.P.UserID))
}

func (s *Server) extensions(w http.ResponseWriter, r *http.Request, v *view) {
	l, ok := listPage[store.Extension](s, w, r, v, tpath(v, "/extensions"), nil)
	if !ok {
		return
	}
	v.Data = l.Items
	s.render(w, r, http.StatusOK, "extensions", v)
}

func (s *Server) extensionNew(w http.ResponseWriter, r *http.Request, v *view) {
	v.Form = url.Values{}
	if u := r.URL.Query().Get("user"); u != "" {
		v.Form.Set("user_id", u)
	}
	s.render(w, r, http.StatusOK, "extension_new", v)
}

type extensionCreated struct {
	Extension store.Extension
	Password  string
}

func (s *Server) extensionCreate(w http.ResponseWriter, r *http.Request, v *view) {
	f := v.Form
	body := map[string]any{"number": strings.TrimSpace(f.Get("number")), "display_name": f.Get("display_name")}
	if u := strings.TrimSpace(f.Get("user_id")); u != "" {
		id, err := strconv.ParseInt(u, 10, 64)
		if err != nil || id <= 0 {
			v.Error, v.Field = v.T("err.userid"), "user_id"
			s.render(w, r, http.StatusBadRequest, "extension_new", v)
			return
		}
		body["user_id"] = id
	}
	// The SIP password is made here and shown once: the API keeps only its digest.
	pw := randomToken(18)
	body["sip_password"] = pw
	var e store.Extension
	if ae := s.call(r, "POST", tpath(v, "/extensions"), body, v.Form.Get("csrf"), &e); ae != nil {
		s.formError(w, r, v, "extension_new", ae)
		return
	}
	v.Data = extensionCreated{Extension: e, Password: pw}
	s.render(w, r, http.StatusCreated, "extension_created", v)
}

func (s *Server) cdrs(w http.ResponseWriter, r *http.Request, v *view) {
	l, ok := listPage[store.CDR](s, w, r, v, tpath(v, "/cdrs"), nil)
	if !ok {
		return
	}
	v.Data = l.Items
	s.render(w, r, http.StatusOK, "cdrs", v)
}

type retentionView struct {
	Preset  string                  `json:"preset"`
	Rules   []privacy.EffectiveRule `json:"rules"`
	Presets []string
}

func (s *Server) retention(w http.ResponseWriter, r *http.Request, v *view) {
	var rv retentionView
	if ae := s.call(r, "GET", tpath(v, "/retention"), nil, "", &rv); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	rv.Presets = []string{"default", "eu", "de"}
	v.Data = rv
	v.Flash = flash(r, v)
	s.render(w, r, http.StatusOK, "retention", v)
}

func (s *Server) presetPost(w http.ResponseWriter, r *http.Request, v *view) {
	if ae := s.call(r, "POST", tpath(v, "/retention/preset"), map[string]string{"preset": v.Form.Get("preset")}, v.Form.Get("csrf"), nil); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/retention?done=preset", v.Tenant), http.StatusSeeOther)
}

func (s *Server) flowsPage(w http.ResponseWriter, r *http.Request, v *view) {
	// The flow registry is the installation's; the tenant in the URL is checked by asking
	// the API for the tenant first.
	if ae := s.call(r, "GET", tpath(v, ""), nil, "", nil); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	var fs []flows.State
	if ae := s.call(r, "GET", "/api/v1/flows", nil, "", &fs); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	v.Data = fs
	v.Flash = flash(r, v)
	s.render(w, r, http.StatusOK, "flows", v)
}

func (s *Server) flowPost(w http.ResponseWriter, r *http.Request, v *view) {
	if ae := s.call(r, "GET", tpath(v, ""), nil, "", nil); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	body := map[string]any{"name": v.Form.Get("name"), "enabled": v.Form.Get("enabled") == "on"}
	if ae := s.call(r, "PUT", "/api/v1/flows", body, v.Form.Get("csrf"), nil); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/flows?done=flow", v.Tenant), http.StatusSeeOther)
}

type auditView struct {
	Entries []store.AuditEntry
	// Verified is nil when the caller may not verify the chain (operators only).
	Verified *privacy.AuditVerification
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request, v *view) {
	extra := url.Values{}
	if a := r.URL.Query().Get("action"); a != "" {
		extra.Set("action", a)
	}
	l, ok := listPage[store.AuditEntry](s, w, r, v, tpath(v, "/audit"), extra)
	if !ok {
		return
	}
	av := auditView{Entries: l.Items}
	var ver privacy.AuditVerification
	if ae := s.call(r, "GET", "/api/v1/audit/verify", nil, "", &ver); ae == nil {
		av.Verified = &ver
	}
	v.Data = av
	s.render(w, r, http.StatusOK, "audit", v)
}

func (s *Server) myCalls(w http.ResponseWriter, r *http.Request, v *view) {
	l, ok := listPage[store.JournalEntry](s, w, r, v, tpath(v, "/users/%d/journal", v.S.P.UserID), nil)
	if !ok {
		return
	}
	v.Data = l.Items
	s.render(w, r, http.StatusOK, "my_calls", v)
}

type myDataView struct {
	User    store.User
	Notice  string
	Cookies []CookieSpec
}

func (s *Server) myData(w http.ResponseWriter, r *http.Request, v *view) {
	rec := s.do(r, "GET", tpath(v, "/docs/privacy-notice?lang=%s", v.Lang), nil, "")
	if rec.status != http.StatusOK {
		s.fail(w, r, v, &apiError{Status: rec.status, Message: http.StatusText(rec.status)})
		return
	}
	v.Data = myDataView{User: v.S.User, Notice: rec.buf.String(), Cookies: Cookies}
	s.render(w, r, http.StatusOK, "my_data", v)
}
