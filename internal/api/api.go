// Package api owns the REST API under /api/v1: route declarations with their auth level,
// token and session authentication, tenant isolation on every tenant path, JSON errors with a
// stable code, keyset pagination, and the OpenAPI 3 document generated from the same route
// declarations that the router serves.
package api

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/privox/privox/internal/dialplan"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/privox/privox/internal/directory"
	"github.com/privox/privox/internal/filestore"
	"github.com/privox/privox/internal/flows"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/privacy"
	"github.com/privox/privox/internal/prompts"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/tenancy"
	"github.com/privox/privox/internal/voicemail"
)

// Deps are the services the API works through. Engines add their field here.
type Deps struct {
	DB     *store.DB
	Files  *filestore.Store
	Vault  *keys.Vault
	Flows  *flows.Registry
	Logger *slog.Logger
	// Realm returns the SIP digest realm of a tenant (HA1 values are computed for it).
	Realm func(t store.Tenant) string
	// SecureCookies marks the session cookie Secure (HTTPS listeners).
	SecureCookies bool
	Metrics       prometheus.Registerer
	// OnDeactivate runs after a user is deactivated (the privacy engine erases per category).
	OnDeactivate func(ctx context.Context, tenantID, userID int64) error
	// Forget drops what running engines hold in memory about a user (the SIP server's
	// bindings, account cache and calls), after a deactivation or suspension.
	Forget func(ctx context.Context, tenantID, userID int64)
	// Privacy is the privacy engine behind the routes in privacy.go (nil: those routes answer 503).
	Privacy *privacy.Engine
	// Prompts serves and replaces prompts (prompts.go; nil: those routes answer 503).
	Prompts *prompts.Library
	// Directory serves phonebooks and search (directory.go; nil: those routes answer 503).
	Directory *directory.Service
	// Dialplan stores outbound routes and dialling settings (dialplan.go; nil: 503).
	Dialplan *dialplan.StoreTables
	// Forwards stores forwarding and do-not-disturb settings (forwarding.go; nil: 503).
	Forwards *dialplan.StoreForwards
	// Explain explains the routing of a call (the SIP server's dial plan when it runs).
	Explain dialplan.Explainer
	// TrunkStates reports the registration state of a tenant's trunks (nil: SIP not running).
	TrunkStates func(tenantID int64) any
	// Registrations lists a tenant's registered contacts, of one user's extensions when
	// userID > 0 (nil: SIP not running).
	Registrations func(tenantID, userID int64) any
	// ActiveCalls lists a tenant's running calls (nil: SIP not running).
	ActiveCalls func(tenantID int64) any
	// Voicemail serves the voicemail routes (voicemail.go; nil: 503).
	Voicemail *voicemail.Service
	// MailChanged is told when a tenant's SMTP relay changed (the flow follows it).
	MailChanged func(ctx context.Context)
	// MailPlaintextAllowed: the installation's local-testing switch allows plaintext relays.
	MailPlaintextAllowed bool
	// Readiness runs the checks /readyz makes; Gatherer is the Prometheus registry /metrics
	// serves (status.go; nil: that route answers 503).
	Readiness func(ctx context.Context) []ReadyCheck
	Gatherer  prometheus.Gatherer
}

// Server serves the API.
type Server struct {
	Deps
	jobs   jobTable // long-running actions (jobs.go)
	routes []Route
	mux    *http.ServeMux
	// failures throttles password guessing per source address and per account.
	failures *loginThrottle
	reqs     *prometheus.CounterVec
	lat      *prometheus.HistogramVec
}

// Auth is who may call a route.
type Auth int

const (
	// Public routes need no credentials.
	Public Auth = iota
	// Member routes need any active user of the path's tenant; handlers check self-or-admin
	// where a route acts on one user.
	Member
	// Admin routes need an admin of the path's tenant (or an operator).
	Admin
	// Operator routes need an admin of the installation's first tenant, which manages tenants.
	Operator
)

func (a Auth) String() string { return [...]string{"public", "member", "admin", "operator"}[a] }

// Route declares one endpoint. Paths use net/http patterns; a path containing {tenant} is a
// tenant path and is checked against the caller's tenant before the handler runs.
type Route struct {
	Method  string
	Path    string
	Summary string
	Auth    Auth
	// Body is an example of the request body type (nil when there is none).
	Body any
	// Result is an example of the response type (for the OpenAPI document).
	Result any
	// Status is the success status (200 when zero).
	Status  int
	Handler func(r *Request) (any, error)
	// Raw marks handlers that write the response themselves (downloads).
	Raw bool
	// Upload names the media types of a request body that is not JSON (a file the handler
	// reads itself); MaxBody, when set, replaces the usual 1 MiB body limit.
	Upload  []string
	MaxBody int64
	// Sorts are the columns a list sorts by besides id (?sort=); Search says what ?q=
	// matches ("" when the list has no search). Request.Page refuses others.
	Sorts  []string
	Search string
}

// routeSets are the route declarations, one function per resource file.
var routeSets []func(*Server) []Route

// registerRoutes adds a resource file's routes; call it from init.
func registerRoutes(f func(*Server) []Route) { routeSets = append(routeSets, f) }

// New builds the API server and its routes.
func New(d Deps) *Server {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Realm == nil {
		d.Realm = DefaultRealm
	}
	s := &Server{Deps: d, mux: http.NewServeMux(), failures: newLoginThrottle()}
	s.reqs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "privox_api_requests_total", Help: "API requests by route and status."}, []string{"route", "status"})
	s.lat = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "privox_api_request_seconds", Help: "API request latency by route.", Buckets: prometheus.DefBuckets}, []string{"route"})
	if d.Metrics != nil {
		d.Metrics.MustRegister(s.reqs, s.lat)
	}
	for _, set := range routeSets {
		for _, rt := range set(s) {
			s.add(rt)
		}
	}
	s.add(Route{Method: "GET", Path: "/api/v1/openapi.json", Summary: "The OpenAPI 3 document of this API", Auth: Public, Result: map[string]any{},
		Handler: func(r *Request) (any, error) { return s.OpenAPI(), nil }})
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such endpoint"})
	})
	return s
}

// DefaultRealm is the SIP realm of a tenant (tenancy.Realm).
func DefaultRealm(t store.Tenant) string { return tenancy.Realm(t) }

// Routes returns the registered routes.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) add(rt Route) {
	s.routes = append(s.routes, rt)
	s.mux.HandleFunc(rt.Method+" "+rt.Path, func(w http.ResponseWriter, hr *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: 200}
		s.serve(rt, sw, hr)
		s.reqs.WithLabelValues(rt.Method+" "+rt.Path, strconv.Itoa(sw.status)).Inc()
		s.lat.WithLabelValues(rt.Method + " " + rt.Path).Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }

// Request is an API call being handled.
type Request struct {
	*http.Request
	W         http.ResponseWriter
	Principal *Principal
	// TenantID is the {tenant} path value, already checked against the principal.
	TenantID int64
	srv      *Server
	route    *Route
	// auditErr is set when Audit could not record the request's change.
	auditErr error
}

// Principal is the authenticated caller.
type Principal struct {
	UserID   int64
	TenantID int64
	Role     string
	Operator bool
	Via      string // "token" or "session"
	CSRF     string
}

// IsAdmin reports whether the caller administers its tenant.
func (p *Principal) IsAdmin() bool { return p != nil && (p.Role == store.RoleAdmin || p.Operator) }

// Error is an API error with a stable code.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an API error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError is a 400 naming the field at fault.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid_field", Field: field, Message: field + ": " + fmt.Sprintf(format, args...)}
}

var (
	errUnauthenticated = &Error{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: "credentials required"}
	errForbidden       = &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "not allowed for this account"}
	errNotFound        = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such resource"}
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Status, map[string]any{"error": e})
}

// toAPIError maps store and internal errors to API errors.
func toAPIError(err error) *Error {
	var ae *Error
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, store.ErrNotFound):
		return errNotFound
	case errors.Is(err, store.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: "conflict", Message: "a resource with the same unique value exists"}
	default:
		return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}
	}
}

const maxBody = 1 << 20

func (s *Server) serve(rt Route, w http.ResponseWriter, hr *http.Request) {
	r := &Request{Request: hr, W: w, srv: s, route: &rt}
	reqID := hr.Header.Get("X-Request-ID")
	if reqID == "" || len(reqID) > 64 {
		reqID = newRequestID()
	}
	w.Header().Set("X-Request-ID", reqID)
	log := s.Logger.With("request_id", reqID, "method", hr.Method, "route", rt.Path, "remote", clientIP(hr))
	defer func() { log.Debug("api request") }()
	fail := func(err error) {
		ae := toAPIError(err)
		if ae.Status >= 500 {
			log.Error("api request failed", "err", err)
		}
		writeError(w, ae)
	}
	if rt.Auth != Public {
		p, err := s.authenticate(hr)
		if err != nil {
			fail(err)
			return
		}
		r.Principal = p
		log = log.With("tenant", p.TenantID, "user", p.UserID)
		if p.Via == "session" && hr.Method != http.MethodGet && hr.Method != http.MethodHead && !csrfMatches(hr.Header.Get("X-CSRF-Token"), p.CSRF) {
			fail(&Error{Status: http.StatusForbidden, Code: "csrf", Message: "missing or wrong X-CSRF-Token header"})
			return
		}
		if strings.Contains(rt.Path, "{tenant}") {
			tid, err := strconv.ParseInt(hr.PathValue("tenant"), 10, 64)
			if err != nil || tid <= 0 {
				fail(errNotFound)
				return
			}
			// Another tenant's resources do not exist for this caller.
			if tid != p.TenantID && !p.Operator {
				fail(errNotFound)
				return
			}
			if _, err := s.DB.Tenant(hr.Context(), tid); err != nil {
				fail(err)
				return
			}
			r.TenantID = tid
		}
		switch rt.Auth {
		case Admin:
			if !p.IsAdmin() {
				fail(errForbidden)
				return
			}
		case Operator:
			if !p.Operator {
				fail(errForbidden)
				return
			}
		}
	}
	limit := int64(maxBody)
	if rt.MaxBody > 0 {
		limit = rt.MaxBody
	}
	hr.Body = http.MaxBytesReader(w, hr.Body, limit)
	out, err := rt.Handler(r)
	if err == nil && r.auditErr != nil && !rt.Raw {
		// Handlers that can record their change in its own transaction do (AuditEntry); for
		// the others the caller at least learns that the record is missing.
		err = &Error{Status: http.StatusInternalServerError, Code: "audit_failed",
			Message: "the change was made but its audit entry could not be written; check the database"}
	}
	if err != nil {
		fail(err)
		return
	}
	if rt.Raw {
		return
	}
	status := rt.Status
	if status == 0 {
		status = http.StatusOK
	}
	if out == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, status, out)
}

// csrfMatches compares a request's CSRF token with the session's in constant time, so that
// response times do not reveal how much of a guess was right.
func csrfMatches(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// Decode reads a JSON body strictly: unknown fields and trailing data are errors.
func (r *Request) Decode(v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		var mbe *http.MaxBytesError
		switch {
		case errors.Is(err, io.EOF):
			return &Error{Status: 400, Code: "invalid_body", Message: "request body is empty"}
		case errors.As(err, &syn):
			return &Error{Status: 400, Code: "invalid_json", Message: fmt.Sprintf("malformed JSON at byte %d", syn.Offset)}
		case errors.As(err, &typ):
			return FieldError(typ.Field, "must be %s", typ.Type.String())
		case errors.As(err, &mbe):
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Message: "request body too large"}
		case errors.Is(err, os.ErrDeadlineExceeded):
			return &Error{Status: http.StatusRequestTimeout, Code: "body_timeout", Message: "request body not received in time"}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return &Error{Status: 400, Code: "unknown_field", Field: f, Message: "unknown field " + f}
		default:
			return &Error{Status: 400, Code: "invalid_json", Message: "malformed JSON"}
		}
	}
	if dec.More() {
		return &Error{Status: 400, Code: "invalid_json", Message: "trailing data after JSON body"}
	}
	return nil
}

// ID reads a numeric path value.
func (r *Request) ID(name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, errNotFound
	}
	return id, nil
}

// Page reads ?limit=, ?after= and ?after_key= (the next_after and next_key of a previous
// page), ?sort= (one of the route's Sorts, or id), ?order=asc|desc and, on a route with a
// search, ?q=.
func (r *Request) Page() (store.Page, error) {
	p := store.Page{Limit: 50}
	q := r.URL.Query()
	if v := q.Get("sort"); v != "" && v != "id" {
		if r.route == nil || !slices.Contains(r.route.Sorts, v) {
			allowed := "id"
			if r.route != nil && len(r.route.Sorts) > 0 {
				allowed += ", " + strings.Join(r.route.Sorts, ", ")
			}
			return p, &Error{Status: 400, Code: "invalid_query", Field: "sort", Message: "sort must be one of " + allowed}
		}
		p.Sort = v
	}
	switch q.Get("order") {
	case "", "asc":
	case "desc":
		p.Desc = true
	default:
		return p, &Error{Status: 400, Code: "invalid_query", Field: "order", Message: "order must be asc or desc"}
	}
	if v := q.Get("q"); v != "" {
		if r.route == nil || r.route.Search == "" {
			return p, &Error{Status: 400, Code: "invalid_query", Field: "q", Message: "this list has no search"}
		}
		if len(v) > 200 {
			return p, &Error{Status: 400, Code: "invalid_query", Field: "q", Message: "q must be at most 200 bytes"}
		}
		p.Search = v
	}
	p.AfterKey = q.Get("after_key")
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return p, &Error{Status: 400, Code: "invalid_query", Field: "limit", Message: "limit must be between 1 and 1000"}
		}
		p.Limit = n
	}
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return p, &Error{Status: 400, Code: "invalid_query", Field: "after", Message: "after must be a non-negative id"}
		}
		p.After = n
	}
	return p, nil
}

// SelfOrAdmin allows the user themself or an admin of the tenant.
func (r *Request) SelfOrAdmin(userID int64) error {
	if r.Principal.IsAdmin() || r.Principal.UserID == userID {
		return nil
	}
	return errForbidden
}

// Audit records an action of the caller in the audit log.
func (r *Request) Audit(action, targetType string, targetID any, detail string) {
	e := r.AuditEntry(action, targetType, targetID, detail)
	if _, err := r.srv.DB.AppendAudit(context.WithoutCancel(r.Context()), e); err != nil {
		r.srv.Logger.Error("audit append failed", "action", action, "err", err)
		r.auditErr = err
	}
}

// AuditEntry is the audit entry of an action of the caller, for handlers that append it in
// the transaction of the action itself.
func (r *Request) AuditEntry(action, targetType string, targetID any, detail string) store.AuditEntry {
	e := store.AuditEntry{Action: action, TargetType: targetType, TargetID: fmt.Sprint(targetID), SourceIP: clientIP(r.Request), Detail: detail, Actor: "anonymous"}
	if r.TenantID != 0 {
		tid := r.TenantID
		e.TenantID = &tid
	}
	if p := r.Principal; p != nil {
		uid := p.UserID
		e.ActorUserID = &uid
		e.Actor = "user:" + strconv.FormatInt(uid, 10)
		if e.TenantID == nil {
			tid := p.TenantID
			e.TenantID = &tid
		}
	}
	return e
}

// List is a page of items with the cursor of the next page: next_after (the last item's
// id) and, when the list is sorted by another column, next_key (the last item's value in
// it); pass both back as ?after= and ?after_key= with the same sort, order and q.
type List[T any] struct {
	Items     []T     `json:"items"`
	NextAfter *int64  `json:"next_after,omitempty"`
	NextKey   *string `json:"next_key,omitempty"`
}

func page[T any](items []T, p store.Page, id func(T) int64) List[T] {
	l := List[T]{Items: items}
	if l.Items == nil {
		l.Items = []T{}
	}
	if len(items) == p.Limit && len(items) > 0 {
		last := items[len(items)-1]
		n := id(last)
		l.NextAfter = &n
		if p.Sort != "" && p.Sort != "id" {
			k := sortKey(last, p.Sort)
			l.NextKey = &k
		}
	}
	return l
}

// sortKey is an item's value in its JSON field name, as the text of a cursor.
func sortKey(item any, name string) string {
	b, _ := json.Marshal(item)
	var m map[string]json.RawMessage
	json.Unmarshal(b, &m)
	raw := m[name]
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
