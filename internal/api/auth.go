package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/privox/privox/internal/credential"
	"github.com/privox/privox/internal/store"
)

// SessionCookie is the name of the session cookie (strictly necessary; there are no others).
const SessionCookie = "privox_session"

// sessionTTL is how long a session lasts.
const sessionTTL = 12 * time.Hour

func init() { registerRoutes(authRoutes) }

type loginRequest struct {
	Tenant   string `json:"tenant"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

type loginResult struct {
	UserID    int64  `json:"user_id"`
	TenantID  int64  `json:"tenant_id"`
	Role      string `json:"role"`
	CSRFToken string `json:"csrf_token"`
}

type meResult struct {
	User     store.User `json:"user"`
	Operator bool       `json:"operator"`
}

func authRoutes(s *Server) []Route {
	return []Route{
		{Method: "POST", Path: "/api/v1/login", Summary: "Log in with tenant, e-mail and password; sets the session cookie", Auth: Public,
			Body: loginRequest{}, Result: loginResult{}, Handler: s.login},
		{Method: "POST", Path: "/api/v1/logout", Summary: "End the current session", Auth: Member, Handler: s.logout},
		{Method: "GET", Path: "/api/v1/me", Summary: "The authenticated user", Auth: Member, Result: meResult{}, Handler: s.me},
	}
}

type throttleEntry struct {
	n     int
	until time.Time
}

type loginThrottle struct {
	mu sync.Mutex
	m  map[string]*throttleEntry
}

const maxLoginFailures = 10

func (t *loginThrottle) blocked(ip string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.m[ip]
	return e != nil && e.n >= maxLoginFailures && time.Now().Before(e.until)
}

func (t *loginThrottle) fail(ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.m[ip]
	if e == nil || time.Now().After(e.until) {
		e = &throttleEntry{}
		t.m[ip] = e
	}
	e.n++
	e.until = time.Now().Add(5 * time.Minute)
	if len(t.m) > 100000 { // bound memory under a distributed attack
		for k, v := range t.m {
			if time.Now().After(v.until) {
				delete(t.m, k)
			}
		}
	}
}

func (t *loginThrottle) reset(ip string) {
	t.mu.Lock()
	delete(t.m, ip)
	t.mu.Unlock()
}

var errBadLogin = &Error{Status: http.StatusUnauthorized, Code: "invalid_credentials", Message: "wrong tenant, e-mail or password"}

func (s *Server) login(r *Request) (any, error) {
	ip := clientIP(r.Request)
	if s.failures.blocked(ip) {
		return nil, &Error{Status: http.StatusTooManyRequests, Code: "too_many_attempts", Message: "too many failed logins; try again later"}
	}
	var in loginRequest
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	ctx := r.Context()
	t, err := s.DB.TenantByName(ctx, in.Tenant)
	if err != nil {
		s.failures.fail(ip)
		return nil, errBadLogin
	}
	u, err := s.DB.UserByEmail(ctx, t.ID, in.Email)
	if err != nil || !u.Usable() {
		s.failures.fail(ip)
		return nil, errBadLogin
	}
	hash, err := s.DB.PasswordHash(ctx, t.ID, u.ID)
	if err != nil || credential.VerifyPassword(hash, in.Password) != nil {
		s.failures.fail(ip)
		return nil, errBadLogin
	}
	s.failures.reset(ip)
	tok, digest, err := credential.NewToken("pvs_")
	if err != nil {
		return nil, err
	}
	csrf, _, err := credential.NewToken("")
	if err != nil {
		return nil, err
	}
	exp := time.Now().Add(sessionTTL)
	if _, err := s.DB.CreateSession(ctx, store.Session{TenantID: t.ID, UserID: u.ID, CSRF: csrf, ExpiresAt: exp.UnixMilli()}, digest); err != nil {
		return nil, err
	}
	http.SetCookie(r.W, &http.Cookie{Name: SessionCookie, Value: tok, Path: "/", Expires: exp, HttpOnly: true, Secure: s.SecureCookies, SameSite: http.SameSiteStrictMode})
	r.TenantID = t.ID
	r.Principal = &Principal{UserID: u.ID, TenantID: t.ID, Role: u.Role}
	r.Audit("session.login", "user", u.ID, "")
	return loginResult{UserID: u.ID, TenantID: t.ID, Role: u.Role, CSRFToken: csrf}, nil
}

func (s *Server) logout(r *Request) (any, error) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		s.DB.DeleteSession(r.Context(), credential.TokenDigest(c.Value))
	}
	http.SetCookie(r.W, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.SecureCookies, SameSite: http.SameSiteStrictMode})
	return nil, nil
}

func (s *Server) me(r *Request) (any, error) {
	u, err := s.DB.User(r.Context(), r.Principal.TenantID, r.Principal.UserID)
	if err != nil {
		return nil, err
	}
	return meResult{User: u, Operator: r.Principal.Operator}, nil
}

// authenticate resolves a bearer token or session cookie to an active user.
func (s *Server) authenticate(r *http.Request) (*Principal, error) {
	ctx := r.Context()
	var p Principal
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return nil, errUnauthenticated
		}
		t, err := s.DB.APITokenByDigest(ctx, credential.TokenDigest(strings.TrimSpace(tok)))
		if err != nil {
			return nil, unauth(err)
		}
		p = Principal{UserID: t.UserID, TenantID: t.TenantID, Via: "token"}
	} else if c, err := r.Cookie(SessionCookie); err == nil {
		sess, err := s.DB.SessionByDigest(ctx, credential.TokenDigest(c.Value))
		if err != nil {
			return nil, unauth(err)
		}
		p = Principal{UserID: sess.UserID, TenantID: sess.TenantID, Via: "session", CSRF: sess.CSRF}
	} else {
		return nil, errUnauthenticated
	}
	u, err := s.DB.User(ctx, p.TenantID, p.UserID)
	if err != nil || !u.Usable() {
		return nil, errUnauthenticated
	}
	p.Role = u.Role
	p.Operator = u.Role == store.RoleAdmin && s.isOperatorTenant(ctx, p.TenantID)
	return &p, nil
}

func unauth(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errUnauthenticated
	}
	return err
}

// isOperatorTenant reports whether a tenant is the installation's first tenant, whose admins
// manage every tenant.
func (s *Server) isOperatorTenant(ctx context.Context, tenantID int64) bool {
	ts, err := s.DB.ListTenants(ctx, store.Page{Limit: 1})
	return err == nil && len(ts) == 1 && ts[0].ID == tenantID
}
