package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/privox/privox/internal/flows"
	"github.com/privox/privox/internal/privacy"
	"github.com/privox/privox/internal/store"
)

// pageSize is the number of rows of a list page.
const pageSize = 25

type list[T any] struct {
	Items     []T     `json:"items"`
	NextAfter *int64  `json:"next_after"`
	NextKey   *string `json:"next_key"`
}

// tpath is an API path under the page's tenant.
func tpath(v *view, format string, args ...any) string {
	return fmt.Sprintf("/api/v1/tenants/%d", v.Tenant) + fmt.Sprintf(format, args...)
}

// listPage reads one keyset page of an API list. The page's ?q=, ?sort=, ?order= and
// cursor (?after=, ?after_key=) are passed on to the API unchanged, which checks them; a
// query the API refuses is shown above the table.
func listPage[T any](s *Server, w http.ResponseWriter, r *http.Request, v *view, apiPath string, extra url.Values) (list[T], bool) {
	q := url.Values{"limit": {strconv.Itoa(pageSize)}}
	pq := r.URL.Query()
	for _, k := range []string{"after", "after_key", "q", "sort", "order"} {
		if a := pq.Get(k); a != "" {
			q.Set(k, a)
		}
	}
	for k, vs := range extra {
		q[k] = vs
	}
	v.List = &listState{Q: pq.Get("q"), Sort: pq.Get("sort"), Desc: pq.Get("order") == "desc", query: pq, path: r.URL.Path}
	var l list[T]
	if ae := s.call(r, "GET", apiPath+"?"+q.Encode(), nil, "", &l); ae != nil {
		if ae.Status == http.StatusBadRequest {
			// a bad search or sort in the URL: say so over an empty table
			v.Error, v.Field = ae.Message, ae.Field
			return l, true
		}
		s.fail(w, r, v, ae)
		return l, false
	}
	v.List.Filtered = pq.Get("after") != "" || v.List.Q != ""
	if l.NextAfter != nil {
		nq := r.URL.Query()
		nq.Set("after", strconv.FormatInt(*l.NextAfter, 10))
		nq.Del("after_key")
		if l.NextKey != nil {
			nq.Set("after_key", *l.NextKey)
		}
		nq.Del("done")
		v.NextPage = r.URL.Path + "?" + nq.Encode()
	}
	return l, true
}

// listState is the search and sort of a list page, for its toolbar and column headers.
type listState struct {
	Q        string
	Sort     string
	Desc     bool
	Filtered bool // not the first page of the whole list: offer the way back
	query    url.Values
	path     string
}

// FirstPage is the list's first page with the same search and sort.
func (l *listState) FirstPage() string {
	q := url.Values{}
	for _, k := range []string{"q", "sort", "order"} {
		if v := l.query.Get(k); v != "" {
			q.Set(k, v)
		}
	}
	if len(q) == 0 {
		return l.path
	}
	return l.path + "?" + q.Encode()
}

// Keep are the query values a search form carries besides q (the sort and the filters).
func (l *listState) Keep() map[string]string {
	out := map[string]string{}
	for k, vs := range l.query {
		switch k {
		case "q", "after", "after_key", "done":
		default:
			if len(vs) > 0 && vs[0] != "" {
				out[k] = vs[0]
			}
		}
	}
	return out
}

// column is a sortable column header.
type column struct {
	Label string
	Href  string
	// Aria is the aria-sort value of the header: ascending, descending or none.
	Aria string
}

// Col is the header of a column sorted by key: a link that sorts by it ascending, or
// descending when it is the current ascending sort; the search stays.
func (v *view) Col(key, label string) column {
	c := column{Label: v.T(label), Aria: "none"}
	l := v.List
	if l == nil {
		return c
	}
	cur := l.Sort
	if cur == "" {
		cur = "id"
	}
	q := url.Values{}
	for k, vs := range l.query {
		if k != "after" && k != "after_key" && k != "done" && k != "sort" && k != "order" {
			q[k] = vs
		}
	}
	if key != "id" {
		q.Set("sort", key)
	}
	if cur == key {
		c.Aria = "ascending"
		if l.Desc {
			c.Aria = "descending"
		} else {
			q.Set("order", "desc")
		}
	}
	c.Href = l.path
	if len(q) > 0 {
		c.Href += "?" + q.Encode()
	}
	return c
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
	if !s.userEditData(w, r, v, u) {
		return
	}
	v.Flash = flash(r, v)
	v.Form = url.Values{"name": {u.Name}, "email": {u.Email}, "language": {u.Language}, "role": {u.Role}}
	s.render(w, r, http.StatusOK, "user_edit", v)
}

// userEditView is a user with the restriction of processing in force (nil: none).
type userEditView struct {
	store.User
	Restriction *store.Restriction
}

// userEditData sets the user page's data; false when the request has been answered.
func (s *Server) userEditData(w http.ResponseWriter, r *http.Request, v *view, u store.User) bool {
	d := userEditView{User: u}
	var rs store.Restriction
	switch ae := s.call(r, "GET", tpath(v, "/users/%d/restriction", u.ID), nil, "", &rs); {
	case ae == nil:
		d.Restriction = &rs
	case ae.Status == http.StatusNotFound:
	default:
		s.fail(w, r, v, ae)
		return false
	}
	v.Data = d
	return true
}

// userRestrict places (with a reason) or lifts a restriction of processing: the person's
// data is kept but not processed (Art. 18 GDPR), as the API's restriction routes do.
func (s *Server) userRestrict(place bool) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, v *view) {
		u, ok := s.pathUser(w, r, v)
		if !ok {
			return
		}
		csrf := v.Form.Get("csrf")
		if place {
			reason := strings.TrimSpace(v.Form.Get("reason"))
			if ae := s.call(r, "PUT", tpath(v, "/users/%d/restriction", u.ID), map[string]string{"reason": reason}, csrf, nil); ae != nil {
				if ae.Status == http.StatusBadRequest {
					if !s.userEditData(w, r, v, u) {
						return
					}
					v.Form = url.Values{"name": {u.Name}, "email": {u.Email}, "language": {u.Language}, "role": {u.Role}, "reason": {reason}}
					v.Error, v.Field = ae.Message, "reason"
					s.render(w, r, ae.Status, "user_edit", v)
					return
				}
				s.fail(w, r, v, ae)
				return
			}
			http.Redirect(w, r, fmt.Sprintf("/t/%d/users/%d?done=restricted", v.Tenant, u.ID), http.StatusSeeOther)
			return
		}
		if ae := s.call(r, "DELETE", tpath(v, "/users/%d/restriction", u.ID), nil, csrf, nil); ae != nil {
			s.fail(w, r, v, ae)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/t/%d/users/%d?done=unrestricted", v.Tenant, u.ID), http.StatusSeeOther)
	}
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
		if !s.userEditData(w, r, v, u) {
			return
		}
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
	// Filter is the filter form as submitted.
	Filter map[string]string
}

// auditFilters turns the filter form into the API's audit query: action (exact, or a
// prefix ending in "."), target type, actor user id, and days (YYYY-MM-DD, UTC) as
// unix milliseconds; the list is newest first unless the form asks otherwise.
func auditFilters(r *http.Request) (url.Values, map[string]string, string) {
	q := r.URL.Query()
	extra, form := url.Values{}, map[string]string{"order": "desc"}
	for _, k := range []string{"action", "target_type", "actor"} {
		if a := strings.TrimSpace(q.Get(k)); a != "" {
			extra.Set(k, a)
			form[k] = a
		}
	}
	if q.Get("order") == "asc" {
		form["order"] = "asc"
	}
	extra.Set("order", form["order"])
	for _, k := range []string{"since", "until"} {
		a := q.Get(k)
		if a == "" {
			continue
		}
		form[k] = a
		d, err := time.Parse("2006-01-02", a)
		if err != nil {
			return nil, form, k
		}
		if k == "until" {
			d = d.Add(24 * time.Hour) // the whole day named
		}
		extra.Set(k, strconv.FormatInt(d.UnixMilli(), 10))
	}
	return extra, form, ""
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request, v *view) {
	extra, form, bad := auditFilters(r)
	av := auditView{Filter: form}
	if bad != "" {
		v.Error, v.Field = bad+": "+v.T("err.date"), bad
		v.Data = av
		s.render(w, r, http.StatusBadRequest, "audit", v)
		return
	}
	l, ok := listPage[store.AuditEntry](s, w, r, v, tpath(v, "/audit"), extra)
	if !ok {
		return
	}
	av.Entries = l.Items
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
