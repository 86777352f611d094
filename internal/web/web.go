// Package web serves the web console (admin pages) and the user portal on the HTTP listener
// at /, next to the REST API under /api/v1.
//
// One path to the data: every page reads and changes data by calling the REST API's own
// handler in-process (api.Server.ServeHTTP with the browser's session cookie, source address
// and CSRF token), never the store or the engines directly. Authentication, the tenant check
// of every {tenant} path, the admin/operator/self-or-admin checks, field validation, the audit
// entries and login throttling therefore happen exactly once, in internal/api, for browsers
// and REST clients alike. The pages add rendering (html/template, English and German),
// forms, confirmation pages before destructive actions, and the strict Content-Security-Policy
// of pages. The only thing this package asks the API for outside its routes is who is signed
// in (api.Server.Authenticate), to know the tenant, role and CSRF token of the session.
//
// Sessions are the API's: signing in posts to /api/v1/login and hands its session cookie to
// the browser; signing out posts to /api/v1/logout. The cookies the console sets are declared
// in Cookies.
package web

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/privox/privox/internal/api"
	"github.com/privox/privox/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// CSP is the Content-Security-Policy of every page: nothing from elsewhere, no inline script
// or style, no framing, forms post only here.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// CookieSpec declares a cookie the console sets.
type CookieSpec struct {
	Name    string
	Purpose string
	MaxAge  time.Duration
}

// loginCookie carries the CSRF token of the sign-in form (there is no session yet).
const loginCookie = "privox_login"

// Cookies is every cookie the console and the API set: both strictly necessary, HttpOnly,
// SameSite=Strict, Secure on HTTPS. The privacy notice and the browser test rely on this list.
var Cookies = []CookieSpec{
	{Name: api.SessionCookie, Purpose: "keeps you signed in (the session)", MaxAge: 12 * time.Hour},
	{Name: loginCookie, Purpose: "protects the sign-in form against cross-site requests", MaxAge: 30 * time.Minute},
}

// Server serves the console.
type Server struct {
	API    *api.Server
	Logger *slog.Logger
	// Secure marks cookies Secure (HTTPS listener).
	Secure bool
	mux    *http.ServeMux
	pages  map[string]*template.Template
}

// New builds the console on top of the API server.
func New(a *api.Server, logger *slog.Logger, secure bool) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Server{API: a, Logger: logger, Secure: secure, mux: http.NewServeMux(), pages: map[string]*template.Template{}}
	s.parseTemplates()
	s.routes()
	return s
}

// pageNames are the page templates (every file but the layout and the shared parts).
func (s *Server) pageNames() map[string]string {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]string{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base != "layout" && base != "parts" {
			out[base] = n
		}
	}
	return out
}

func (s *Server) parseTemplates() {
	for base, n := range s.pageNames() {
		s.pages[base] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html", n))
	}
}

var funcs = template.FuncMap{
	"list": func(xs ...string) []string { return xs },
	"when": func(ms int64) string {
		if ms == 0 {
			return ""
		}
		return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05")
	},
	"secs": func(ms int64) string { return strconv.FormatInt(ms/1000, 10) + " s" },
	"deref": func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	},
}

// ServeHTTP serves a console request with the page headers.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

func (s *Server) routes() {
	m := s.mux
	static, _ := fs.Sub(staticFS, "static")
	m.Handle("GET /static/", http.StripPrefix("/static/", staticHandler(http.FileServerFS(static))))
	m.HandleFunc("GET /{$}", s.home)
	m.HandleFunc("GET /login", s.loginPage)
	m.HandleFunc("POST /login", s.loginPost)
	m.HandleFunc("POST /logout", s.page(s.logoutPost))

	m.HandleFunc("GET /t/{tenant}/users", s.page(s.users))
	m.HandleFunc("GET /t/{tenant}/users/new", s.page(s.userNew))
	m.HandleFunc("POST /t/{tenant}/users", s.page(s.userCreate))
	m.HandleFunc("GET /t/{tenant}/users/{user}", s.page(s.userEdit))
	m.HandleFunc("POST /t/{tenant}/users/{user}", s.page(s.userUpdate))
	m.HandleFunc("POST /t/{tenant}/users/{user}/suspend", s.page(s.userLifecycle("suspend")))
	m.HandleFunc("POST /t/{tenant}/users/{user}/resume", s.page(s.userLifecycle("resume")))
	m.HandleFunc("POST /t/{tenant}/users/{user}/restrict", s.page(s.userRestrict(true)))
	m.HandleFunc("POST /t/{tenant}/users/{user}/unrestrict", s.page(s.userRestrict(false)))
	m.HandleFunc("GET /t/{tenant}/users/{user}/deactivate", s.page(s.deactivateConfirm))
	m.HandleFunc("POST /t/{tenant}/users/{user}/deactivate", s.page(s.deactivatePost))
	m.HandleFunc("GET /t/{tenant}/users/{user}/export", s.page(s.export))
	m.HandleFunc("POST /t/{tenant}/users/{user}/export", s.page(s.exportStart))
	m.HandleFunc("GET /t/{tenant}/extensions", s.page(s.extensions))
	m.HandleFunc("GET /t/{tenant}/extensions/new", s.page(s.extensionNew))
	m.HandleFunc("POST /t/{tenant}/extensions", s.page(s.extensionCreate))
	m.HandleFunc("GET /t/{tenant}/cdrs", s.page(s.cdrs))
	m.HandleFunc("GET /t/{tenant}/retention", s.page(s.retention))
	m.HandleFunc("POST /t/{tenant}/retention/preset", s.page(s.presetPost))
	m.HandleFunc("POST /t/{tenant}/retention/run", s.page(s.retentionRun))
	m.HandleFunc("GET /t/{tenant}/jobs/{job}", s.page(s.jobShow))
	m.HandleFunc("GET /t/{tenant}/jobs/{job}/download", s.page(s.jobDownload))
	m.HandleFunc("POST /t/{tenant}/phonebooks/{phonebook}/import", s.upload(s.contactsImport))
	m.HandleFunc("GET /t/{tenant}/flows", s.page(s.flowsPage))
	m.HandleFunc("POST /t/{tenant}/flows", s.page(s.flowPost))
	m.HandleFunc("GET /t/{tenant}/audit", s.page(s.audit))
	m.HandleFunc("GET /t/{tenant}/tokens", s.page(s.tokens))
	m.HandleFunc("POST /t/{tenant}/tokens", s.page(s.tokenCreate))
	m.HandleFunc("POST /t/{tenant}/tokens/{token}/revoke", s.page(s.tokenRevoke))
	m.HandleFunc("GET /t/{tenant}/holds", s.page(s.holds))
	m.HandleFunc("GET /t/{tenant}/tenants", s.page(s.tenants))
	m.HandleFunc("POST /t/{tenant}/tenants", s.page(s.tenantCreate))
	m.HandleFunc("POST /t/{tenant}/holds", s.page(s.holdPlace))
	m.HandleFunc("POST /t/{tenant}/holds/{hold}/release", s.page(s.holdRelease))
	m.HandleFunc("GET /t/{tenant}/docs", s.page(s.docs))
	m.HandleFunc("GET /t/{tenant}/me/password", s.page(s.passwordPage))
	m.HandleFunc("POST /t/{tenant}/me/password", s.page(s.passwordPost))

	m.HandleFunc("GET /t/{tenant}/trunks", s.page(s.trunks))
	m.HandleFunc("POST /t/{tenant}/trunks", s.page(s.trunkSave))
	m.HandleFunc("POST /t/{tenant}/trunks/{trunk}/delete", s.page(s.trunkDelete))
	m.HandleFunc("GET /t/{tenant}/routes", s.page(s.routesPage))
	m.HandleFunc("POST /t/{tenant}/routes", s.page(s.routeSave))
	m.HandleFunc("POST /t/{tenant}/routes/{route}/delete", s.page(s.deleteNamed("/outbound-routes/%s", "route", "routes", "route_deleted")))
	m.HandleFunc("GET /t/{tenant}/dialling", s.page(s.dialling))
	m.HandleFunc("POST /t/{tenant}/dialling", s.page(s.diallingSave))
	m.HandleFunc("GET /t/{tenant}/dids", s.page(s.dids))
	m.HandleFunc("POST /t/{tenant}/dids", s.page(s.didCreate))
	m.HandleFunc("POST /t/{tenant}/dids/{did}/delete", s.page(s.didDelete))
	m.HandleFunc("POST /t/{tenant}/did-default", s.page(s.didDefaultSave))
	m.HandleFunc("GET /t/{tenant}/menus", s.page(s.menus))
	m.HandleFunc("POST /t/{tenant}/menus", s.page(s.menuSave))
	m.HandleFunc("POST /t/{tenant}/menus/{menu}/delete", s.page(s.deleteNamed("/menus/%s", "menu", "menus", "menu_deleted")))
	m.HandleFunc("GET /t/{tenant}/calendars", s.page(s.calendars))
	m.HandleFunc("POST /t/{tenant}/calendars", s.page(s.calendarSave))
	m.HandleFunc("POST /t/{tenant}/calendars/{calendar}/delete", s.page(s.calendarDelete))
	m.HandleFunc("GET /t/{tenant}/directory-sources", s.page(s.sources))
	m.HandleFunc("POST /t/{tenant}/directory-sources", s.page(s.sourceSave))
	m.HandleFunc("POST /t/{tenant}/directory-sources/{source}/sync", s.page(s.sourceSync))
	m.HandleFunc("POST /t/{tenant}/directory-sources/{source}/delete", s.page(s.sourceDelete))
	m.HandleFunc("GET /t/{tenant}/groups", s.page(s.groups))
	m.HandleFunc("POST /t/{tenant}/groups", s.page(s.groupSave))
	m.HandleFunc("POST /t/{tenant}/groups/{group}/delete", s.page(s.deleteNamed("/groups/%s", "group", "groups", "group_deleted")))
	m.HandleFunc("GET /t/{tenant}/mailboxes", s.page(s.mailboxes))
	m.HandleFunc("POST /t/{tenant}/mailboxes/{extension}/enabled", s.page(s.mailboxEnable))
	m.HandleFunc("GET /t/{tenant}/me/voicemail", s.page(s.myVoicemail))
	m.HandleFunc("GET /t/{tenant}/me/voicemail/{extension}/{message}/audio", s.page(s.myVoicemailAudio))
	m.HandleFunc("POST /t/{tenant}/me/voicemail/{extension}/{message}/read", s.page(s.myVoicemailRead))
	m.HandleFunc("POST /t/{tenant}/me/voicemail/{extension}/{message}/delete", s.page(s.myVoicemailDelete))
	m.HandleFunc("POST /t/{tenant}/me/voicemail/{extension}/pin", s.page(s.myVoicemailPIN))
	m.HandleFunc("POST /t/{tenant}/me/voicemail/{extension}/greeting", s.upload(s.myGreetingUpload))
	m.HandleFunc("POST /t/{tenant}/me/voicemail/{extension}/greeting/{slot}/delete", s.page(s.myGreetingDelete))
	m.HandleFunc("GET /t/{tenant}/me/calls", s.page(s.myCalls))
	m.HandleFunc("GET /t/{tenant}/me/devices", s.page(s.myDevices))
	m.HandleFunc("GET /t/{tenant}/phonebooks", s.page(s.phonebooks))
	m.HandleFunc("POST /t/{tenant}/phonebooks", s.page(s.phonebookCreate))
	m.HandleFunc("GET /t/{tenant}/phonebooks/{phonebook}", s.page(s.phonebook))
	m.HandleFunc("POST /t/{tenant}/phonebooks/{phonebook}/delete", s.page(s.phonebookDelete))
	m.HandleFunc("POST /t/{tenant}/phonebooks/{phonebook}/contacts", s.page(s.contactCreate))
	m.HandleFunc("POST /t/{tenant}/phonebooks/{phonebook}/contacts/{contact}/delete", s.page(s.contactDelete))
	m.HandleFunc("GET /t/{tenant}/live", s.page(s.live))
	m.HandleFunc("GET /t/{tenant}/status", s.page(s.statusPage))
	m.HandleFunc("GET /t/{tenant}/me/forwarding", s.page(s.myForwarding))
	m.HandleFunc("POST /t/{tenant}/me/forwarding/{extension}", s.page(s.myForwardingSave))
	m.HandleFunc("GET /t/{tenant}/me/data", s.page(s.myData))
	m.HandleFunc("GET /t/{tenant}/me/export", s.page(s.myExport))
	m.HandleFunc("POST /t/{tenant}/me/export", s.page(s.myExportStart))
	// Voicemail to e-mail and the tenant's forwarding settings.
	m.HandleFunc("GET /t/{tenant}/email", s.page(s.email))
	m.HandleFunc("POST /t/{tenant}/email/relay", s.page(s.emailRelaySave))
	m.HandleFunc("POST /t/{tenant}/email/relay/delete", s.page(s.emailRelayDelete))
	m.HandleFunc("POST /t/{tenant}/email/deliveries/{delivery}/retry", s.page(s.emailRetry))
	m.HandleFunc("POST /t/{tenant}/me/voicemail/{extension}/email", s.page(s.myVoicemailEmail))
	m.HandleFunc("POST /t/{tenant}/mailboxes/{extension}/email", s.page(s.mailboxEmail))
	m.HandleFunc("POST /t/{tenant}/mailboxes/{extension}/settings", s.page(s.mailboxSettings))
	m.HandleFunc("POST /t/{tenant}/me/voicemail/objection", s.page(s.myEmailObjection))
	m.HandleFunc("GET /t/{tenant}/forwarding", s.page(s.forwardingPage))
	m.HandleFunc("POST /t/{tenant}/forwarding/settings", s.page(s.forwardSettingsSave))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { s.notFound(w, r, nil) })
}

func staticHandler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// session is the signed-in user of a page request.
type session struct {
	P    *api.Principal
	User store.User
	Lang string
}

// view is what every page template gets.
type view struct {
	Lang   string
	Title  string
	S      *session
	Tenant int64
	CSRF   string
	Flash  string
	Error  string
	Field  string
	Data   any
	Form   url.Values
	Path   string
	// Refresh reloads the page after so many seconds (a running job's progress).
	Refresh  int
	NextPage string
	List     *listState
}

// T translates a message key into the page's language.
func (v *view) T(key string) string { return tr(v.Lang, key) }

// Active marks the navigation entry of the current page.
func (v *view) Active(prefix string) bool {
	return strings.HasPrefix(v.Path, fmt.Sprintf("/t/%d/%s", v.Tenant, prefix))
}

// Admin reports whether the signed-in user administers the tenant.
func (v *view) Admin() bool { return v.S != nil && v.S.P.IsAdmin() }

// Operator reports whether the signed-in user runs the installation (all tenants).
func (v *view) Operator() bool { return v.S != nil && v.S.P.Operator }

// pageFunc handles a page of a signed-in user.
type pageFunc func(w http.ResponseWriter, r *http.Request, v *view)

// page resolves the session (or sends the browser to the sign-in page), checks the CSRF token
// of a form post, and runs h. The {tenant} of the URL is passed on to the API unchanged: it
// decides whether this caller may see that tenant.
func (s *Server) page(h pageFunc) http.HandlerFunc { return s.pageWith(formLimit, h) }

// formLimit bounds a form post; uploadLimit a post with a file (multipart/form-data), which
// only the routes made with upload accept.
const (
	formLimit   = 64 << 10
	uploadLimit = 17 << 20
)

// upload is page for a form that carries a file.
func (s *Server) upload(h pageFunc) http.HandlerFunc { return s.pageWith(uploadLimit, h) }

func (s *Server) pageWith(limit int64, h pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := s.API.Authenticate(r)
		if err != nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.render(w, r, http.StatusUnauthorized, "error", &view{Lang: browserLang(r), Error: tr(browserLang(r), "err.signedout")})
			return
		}
		v := &view{S: &session{P: p}, CSRF: p.CSRF, Path: r.URL.Path, Lang: browserLang(r)}
		var me struct {
			User store.User `json:"user"`
		}
		if ae := s.call(r, "GET", "/api/v1/me", nil, "", &me); ae != nil {
			s.fail(w, r, v, ae)
			return
		}
		v.S.User = me.User
		if me.User.Language == "de" || me.User.Language == "en" {
			v.Lang = me.User.Language
		}
		v.S.Lang = v.Lang
		v.Tenant = p.TenantID
		if t := r.PathValue("tenant"); t != "" {
			id, err := strconv.ParseInt(t, 10, 64)
			if err != nil || id <= 0 {
				s.notFound(w, r, v)
				return
			}
			v.Tenant = id
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			var err error
			if ct := r.Header.Get("Content-Type"); limit > formLimit && strings.HasPrefix(ct, "multipart/form-data") {
				// The whole body fits the memory allowance: an upload (a recorded voice) never
				// reaches a temporary file in clear.
				err = r.ParseMultipartForm(limit)
			} else {
				err = r.ParseForm()
			}
			if err != nil {
				v.Error = v.T("err.form")
				s.render(w, r, http.StatusRequestEntityTooLarge, "error", v)
				return
			}
			if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(p.CSRF)) != 1 {
				v.Error = v.T("err.csrf")
				s.render(w, r, http.StatusForbidden, "error", v)
				return
			}
			v.Form = r.PostForm
		}
		h(w, r, v)
	}
}

// apiError is an error answer of the API.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

// call runs an API request in-process as the browser's request: same session cookie, same
// source address, and for changes the CSRF token of the form. out receives the JSON answer.
func (s *Server) call(r *http.Request, method, path string, body any, csrf string, out any) *apiError {
	rec := s.do(r, method, path, body, csrf)
	if ae := rec.apiError(); ae != nil {
		return ae
	}
	if out != nil && rec.buf.Len() > 0 {
		if err := json.Unmarshal(rec.buf.Bytes(), out); err != nil {
			s.Logger.Error("web: API answer not understood", "path", path, "err", err)
			return &apiError{Status: 500, Code: "internal", Message: "internal error"}
		}
	}
	return nil
}

func (s *Server) do(r *http.Request, method, path string, body any, csrf string) *recorder {
	var rd io.Reader = http.NoBody
	ctype := ""
	switch b := body.(type) {
	case nil:
	case rawBody:
		rd, ctype = b.r, b.contentType
	default:
		js, _ := json.Marshal(body)
		rd, ctype = bytes.NewReader(js), "application/json"
	}
	req, _ := http.NewRequestWithContext(r.Context(), method, path, rd)
	req.RemoteAddr = r.RemoteAddr
	req.TLS = r.TLS
	if c, err := r.Cookie(api.SessionCookie); err == nil {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	rec := &recorder{h: http.Header{}, status: 200}
	s.API.ServeHTTP(rec, req)
	return rec
}

// rawBody is a request body passed to the API as it is (an uploaded file).
type rawBody struct {
	r           io.Reader
	contentType string
}

// recorder keeps an in-process API answer.
type recorder struct {
	h      http.Header
	status int
	buf    bytes.Buffer
}

// apiError is the API's error answer (nil for a success).
func (w *recorder) apiError() *apiError {
	if w.status < 400 {
		return nil
	}
	var e struct {
		Error apiError `json:"error"`
	}
	if err := json.Unmarshal(w.buf.Bytes(), &e); err != nil || e.Error.Code == "" {
		e.Error = apiError{Code: "internal", Message: http.StatusText(w.status)}
	}
	e.Error.Status = w.status
	return &e.Error
}

func (w *recorder) Header() http.Header         { return w.h }
func (w *recorder) Write(b []byte) (int, error) { return w.buf.Write(b) }
func (w *recorder) WriteHeader(code int)        { w.status = code }

// streamer passes an API answer (a download) straight to the browser.
type streamer struct {
	w       http.ResponseWriter
	status  int
	started bool
	errBuf  bytes.Buffer
	// inline shows the answer in the page (an <audio> element) instead of saving it.
	inline bool
}

func (s *streamer) Header() http.Header { return s.w.Header() }
func (s *streamer) WriteHeader(code int) {
	s.status = code
	if code < 400 {
		s.started = true
		if h := s.w.Header(); s.inline && h.Get("Content-Disposition") != "" {
			h.Set("Content-Disposition", strings.Replace(h.Get("Content-Disposition"), "attachment", "inline", 1))
		}
		s.w.WriteHeader(code)
	}
}
func (s *streamer) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.WriteHeader(200)
	}
	if !s.started {
		return s.errBuf.Write(b)
	}
	return s.w.Write(b)
}

// download streams a raw API answer (the export ZIP) to the browser; an API error is shown
// as a page.
func (s *Server) download(w http.ResponseWriter, r *http.Request, v *view, path string) {
	s.stream(w, r, v, path, false)
}

// stream passes a raw API answer to the browser, as a download or (inline) for the page to
// show or play.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, v *view, path string, inline bool) {
	req, _ := http.NewRequestWithContext(r.Context(), "GET", path, http.NoBody)
	req.RemoteAddr = r.RemoteAddr
	req.TLS = r.TLS
	if c, err := r.Cookie(api.SessionCookie); err == nil {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	st := &streamer{w: w, inline: inline}
	s.API.ServeHTTP(st, req)
	if !st.started {
		var e struct {
			Error apiError `json:"error"`
		}
		json.Unmarshal(st.errBuf.Bytes(), &e)
		e.Error.Status = st.status
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Del("Content-Disposition")
		s.fail(w, r, v, &e.Error)
	}
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	t, ok := s.pages[name]
	if !ok {
		panic("web: no template " + name)
	}
	if v.Title == "" {
		v.Title = v.T("title." + name)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		s.Logger.Error("web: template failed", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail shows an API error as a page: another tenant's or a missing resource is "not found",
// a forbidden action says so.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, v *view, e *apiError) {
	switch {
	case e.Status == http.StatusNotFound:
		s.notFound(w, r, v)
		return
	case e.Status == http.StatusUnauthorized:
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	case e.Status == http.StatusForbidden:
		v.Error = v.T("err.forbidden")
	case e.Status >= 500:
		v.Error = v.T("err.internal")
	default:
		v.Error = e.Message
	}
	s.render(w, r, e.Status, "error", v)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request, v *view) {
	if v == nil {
		v = &view{Lang: browserLang(r)}
	}
	v.Error = v.T("err.notfound")
	s.render(w, r, http.StatusNotFound, "error", v)
}

// browserLang picks German or English from Accept-Language (the first of the two named).
func browserLang(r *http.Request) string {
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case tag == "de" || strings.HasPrefix(tag, "de-"):
			return "de"
		case tag == "en" || strings.HasPrefix(tag, "en-"):
			return "en"
		}
	}
	return "en"
}

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	p, err := s.API.Authenticate(r)
	if err != nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	if p.IsAdmin() {
		http.Redirect(w, r, fmt.Sprintf("/t/%d/users", p.TenantID), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/me/calls", p.TenantID), http.StatusSeeOther)
}

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/t/") && !strings.Contains(next, "//") && !strings.Contains(next, "\\") {
		return next
	}
	return "/"
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	tok := randomToken(24)
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: tok, Path: "/login", MaxAge: int(Cookies[1].MaxAge.Seconds()), HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteStrictMode})
	v := &view{Lang: browserLang(r), CSRF: tok, Form: url.Values{"next": {r.URL.Query().Get("next")}, "tenant": {"default"}}}
	s.render(w, r, http.StatusOK, "login", v)
}

func (s *Server) loginPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	v := &view{Lang: browserLang(r)}
	if err := r.ParseForm(); err != nil {
		v.Error = v.T("err.form")
		s.render(w, r, http.StatusBadRequest, "error", v)
		return
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostForm.Get("csrf"))) != 1 {
		v.Error = v.T("err.csrf")
		s.render(w, r, http.StatusForbidden, "error", v)
		return
	}
	v.CSRF = c.Value
	v.Form = r.PostForm
	rec := s.do(r, "POST", "/api/v1/login", map[string]string{"tenant": r.PostForm.Get("tenant"), "email": r.PostForm.Get("email"), "password": r.PostForm.Get("password")}, "")
	if rec.status != http.StatusOK {
		v.Form.Del("password")
		v.Error = v.T("err.login")
		if rec.status == http.StatusTooManyRequests {
			v.Error = v.T("err.throttled")
		}
		s.render(w, r, rec.status, "login", v)
		return
	}
	for _, sc := range rec.h.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", sc)
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/login", MaxAge: -1, HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, safeNext(r.PostForm.Get("next")), http.StatusSeeOther)
}

func (s *Server) logoutPost(w http.ResponseWriter, r *http.Request, v *view) {
	rec := s.do(r, "POST", "/api/v1/logout", nil, v.Form.Get("csrf"))
	for _, sc := range rec.h.Values("Set-Cookie") {
		w.Header().Add("Set-Cookie", sc)
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
