package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
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

var errBadLogin = &Error{Status: http.StatusUnauthorized, Code: "invalid_credentials", Message: "wrong tenant, e-mail or password"}

func tooMany(r *Request, wait time.Duration) error {
	r.W.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
	return &Error{Status: http.StatusTooManyRequests, Code: "too_many_attempts", Message: "too many failed logins; try again later"}
}

// login checks a password. The throttle decides before any hashing; an unknown tenant or
// account, an inactive user and a user without password cost the same hashing as a wrong
// password, so that neither the answer nor its time tells which it was.
func (s *Server) login(r *Request) (any, error) {
	ip := clientIP(r.Request)
	if ok, wait := s.failures.addrAllowed(ip); !ok {
		return nil, tooMany(r, wait)
	}
	var in loginRequest
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	account := accountKey(in.Tenant, in.Email)
	if ok, wait := s.failures.begin(ip, account); !ok {
		return nil, tooMany(r, wait)
	}
	ctx := r.Context()
	var (
		u    store.User
		hash string
	)
	t, err := s.DB.TenantByName(ctx, in.Tenant)
	if err == nil {
		u, err = s.DB.UserByEmail(ctx, t.ID, in.Email)
	}
	if err == nil && !u.Usable() {
		err = store.ErrNotFound
	}
	if err == nil {
		hash, err = s.DB.PasswordHash(ctx, t.ID, u.ID)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	// A check waits for a hashing slot as long as the client does; the throttle above and
	// http.max_conns bound how many wait.
	if err != nil {
		err = credential.VerifyUnknown(ctx, in.Password)
	} else {
		err = credential.VerifyPasswordContext(ctx, hash, in.Password)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: "gone", Message: "the request ended before the password was checked"}
	case err != nil:
		return nil, errBadLogin
	}
	s.failures.succeeded(ip, account)
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

// Authenticate resolves a request's bearer token or session cookie to an active user, with
// the session's CSRF token; the web console reads who is signed in through it.
func (s *Server) Authenticate(r *http.Request) (*Principal, error) { return s.authenticate(r) }

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
