package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/tenancy"
)

func init() { registerRoutes(adminRoutes) }

type tenantBody struct {
	Name            string `json:"name"`
	SIPDomain       string `json:"sip_domain,omitempty"`
	RetentionPreset string `json:"retention_preset,omitempty"`
	AdminContact    string `json:"admin_contact,omitempty"`
}

type userBody struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	Language string `json:"language,omitempty"`
	Role     string `json:"role,omitempty"`
	Password string `json:"password,omitempty"`
}

type userPatch struct {
	Name     *string `json:"name,omitempty"`
	Email    *string `json:"email,omitempty"`
	Language *string `json:"language,omitempty"`
	Role     *string `json:"role,omitempty"`
}

type passwordBody struct {
	Password string `json:"password"`
}

type extensionBody struct {
	Number      string `json:"number"`
	UserID      *int64 `json:"user_id,omitempty"`
	SIPUsername string `json:"sip_username,omitempty"`
	SIPPassword string `json:"sip_password"`
	DisplayName string `json:"display_name,omitempty"`
}

type extensionPatch struct {
	UserID      *int64  `json:"user_id,omitempty"`
	DisplayName *string `json:"display_name,omitempty"`
	SIPPassword *string `json:"sip_password,omitempty"`
}

type tokenBody struct {
	Name      string `json:"name"`
	UserID    int64  `json:"user_id,omitempty"`
	ExpiresAt *int64 `json:"expires_at,omitempty"`
}

type tokenResult struct {
	store.APIToken
	Token string `json:"token"`
}

func adminRoutes(s *Server) []Route {
	return []Route{
		{Method: "GET", Path: "/api/v1/tenants", Summary: "List tenants", Auth: Operator, Result: List[store.Tenant]{}, Handler: s.listTenants},
		{Method: "POST", Path: "/api/v1/tenants", Summary: "Create a tenant", Auth: Operator, Body: tenantBody{}, Result: store.Tenant{}, Status: 201, Handler: s.createTenant},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}", Summary: "Get a tenant", Auth: Member, Result: store.Tenant{}, Handler: s.getTenant},
		{Method: "PATCH", Path: "/api/v1/tenants/{tenant}", Summary: "Change a tenant", Auth: Admin, Body: tenantBody{}, Result: store.Tenant{}, Handler: s.patchTenant},

		{Method: "GET", Path: "/api/v1/tenants/{tenant}/users", Summary: "List the tenant's users", Auth: Admin, Result: List[store.User]{}, Handler: s.listUsers,
			Sorts: store.SortNames(store.UserSorts), Search: "name or e-mail address"},
		{Method: "POST", Path: "/api/v1/tenants/{tenant}/users", Summary: "Create a user", Auth: Admin, Body: userBody{}, Result: store.User{}, Status: 201, Handler: s.createUser},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/users/{user}", Summary: "Get a user (self or admin)", Auth: Member, Result: store.User{}, Handler: s.getUser},
		{Method: "PATCH", Path: "/api/v1/tenants/{tenant}/users/{user}", Summary: "Rectify a user's personal fields (self or admin; role by admin only)", Auth: Member, Body: userPatch{}, Result: store.User{}, Handler: s.patchUser},
		{Method: "PUT", Path: "/api/v1/tenants/{tenant}/users/{user}/password", Summary: "Set a user's password (self or admin)", Auth: Member, Body: passwordBody{}, Handler: s.setPassword},

		{Method: "GET", Path: "/api/v1/tenants/{tenant}/extensions", Summary: "List the tenant's extensions", Auth: Admin, Result: List[store.Extension]{}, Handler: s.listExtensions,
			Sorts: store.SortNames(store.ExtensionSorts), Search: "number, SIP user name or display name"},
		{Method: "POST", Path: "/api/v1/tenants/{tenant}/extensions", Summary: "Create an extension; the SIP password is stored only as HA1", Auth: Admin, Body: extensionBody{}, Result: store.Extension{}, Status: 201, Handler: s.createExtension},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/extensions/{extension}", Summary: "Get an extension", Auth: Admin, Result: store.Extension{}, Handler: s.getExtension},
		{Method: "PATCH", Path: "/api/v1/tenants/{tenant}/extensions/{extension}", Summary: "Change an extension's owner, display name or SIP password", Auth: Admin, Body: extensionPatch{}, Result: store.Extension{}, Handler: s.patchExtension},
		{Method: "DELETE", Path: "/api/v1/tenants/{tenant}/extensions/{extension}", Summary: "Delete an extension", Auth: Admin, Handler: s.deleteExtension},

		{Method: "GET", Path: "/api/v1/tenants/{tenant}/tokens", Summary: "List API tokens (own, or all for admins)", Auth: Member, Result: List[store.APIToken]{}, Handler: s.listTokens},
		{Method: "POST", Path: "/api/v1/tenants/{tenant}/tokens", Summary: "Create an API token; the token is shown once", Auth: Member, Body: tokenBody{}, Result: tokenResult{}, Status: 201, Handler: s.createToken},
		{Method: "DELETE", Path: "/api/v1/tenants/{tenant}/tokens/{token}", Summary: "Revoke an API token", Auth: Member, Handler: s.deleteToken},
	}
}

// fieldErr maps validation errors to 400 with the field named.
func fieldErr(err error) error {
	var fe *tenancy.FieldError
	if errors.As(err, &fe) {
		status := http.StatusBadRequest
		code := "invalid_field"
		if fe.Msg != "" && (fe.Field == "number" || fe.Field == "name" || fe.Field == "email" || fe.Field == "sip_username" || fe.Field == "sip_domain") && containsExists(fe.Msg) {
			status, code = http.StatusConflict, "conflict"
		}
		return &Error{Status: status, Code: code, Field: fe.Field, Message: fe.Error()}
	}
	return err
}

func containsExists(s string) bool {
	for i := 0; i+6 <= len(s); i++ {
		if s[i:i+6] == "exists" {
			return true
		}
	}
	return false
}

func (s *Server) listTenants(r *Request) (any, error) {
	p, err := r.Page()
	if err != nil {
		return nil, err
	}
	ts, err := s.DB.ListTenants(r.Context(), p)
	return page(ts, p, func(t store.Tenant) int64 { return t.ID }), err
}

func (s *Server) createTenant(r *Request) (any, error) {
	var in tenantBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	t, err := tenancy.CreateTenant(r.Context(), s.DB, store.Tenant{Name: in.Name, SIPDomain: in.SIPDomain, RetentionPreset: in.RetentionPreset, AdminContact: in.AdminContact})
	if err != nil {
		return nil, fieldErr(err)
	}
	r.TenantID = t.ID
	r.Audit("tenant.create", "tenant", t.ID, t.Name)
	return t, nil
}

func (s *Server) getTenant(r *Request) (any, error) { return s.DB.Tenant(r.Context(), r.TenantID) }

func (s *Server) patchTenant(r *Request) (any, error) {
	t, err := s.DB.Tenant(r.Context(), r.TenantID)
	if err != nil {
		return nil, err
	}
	var in tenantBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	oldName, oldDomain := t.Name, t.SIPDomain
	if in.Name != "" {
		t.Name = in.Name
	}
	if in.SIPDomain != "" {
		t.SIPDomain = in.SIPDomain
	}
	if in.RetentionPreset != "" {
		t.RetentionPreset = in.RetentionPreset
	}
	if in.AdminContact != "" {
		t.AdminContact = in.AdminContact
	}
	// The SIP domain decides which tenant a phone's requests reach: only operators change it.
	domainChanged := in.SIPDomain != "" && tenancy.NormalizeDomain(in.SIPDomain) != oldDomain
	if domainChanged && !r.Principal.Operator {
		return nil, &Error{Status: http.StatusForbidden, Code: "forbidden", Field: "sip_domain", Message: "sip_domain: only an operator changes a tenant's SIP domain"}
	}
	if t, err = tenancy.UpdateTenant(r.Context(), s.DB, t); err != nil {
		return nil, fieldErr(err)
	}
	if domainChanged {
		r.Audit("tenant.sip_domain", "tenant", t.ID, fmt.Sprintf("%q -> %q", oldDomain, t.SIPDomain))
	}
	detail := ""
	if t.Name != oldName {
		detail = fmt.Sprintf("name %q -> %q", oldName, t.Name)
	}
	r.Audit("tenant.update", "tenant", t.ID, detail)
	return t, nil
}

func (s *Server) listUsers(r *Request) (any, error) {
	p, err := r.Page()
	if err != nil {
		return nil, err
	}
	us, err := s.DB.ListUsers(r.Context(), r.TenantID, p)
	return page(us, p, func(u store.User) int64 { return u.ID }), err
}

func (s *Server) createUser(r *Request) (any, error) {
	var in userBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	u, err := tenancy.CreateUser(r.Context(), s.DB, store.User{TenantID: r.TenantID, Name: in.Name, Email: in.Email, Language: in.Language, Role: in.Role}, in.Password,
		r.AuditEntry("user.create", "user", "", ""))
	if err != nil {
		return nil, fieldErr(err)
	}
	return u, nil
}

func (s *Server) pathUser(r *Request) (store.User, error) {
	id, err := r.ID("user")
	if err != nil {
		return store.User{}, err
	}
	if err := r.SelfOrAdmin(id); err != nil {
		return store.User{}, err
	}
	return s.DB.User(r.Context(), r.TenantID, id)
}

func (s *Server) getUser(r *Request) (any, error) { return s.pathUser(r) }

func (s *Server) patchUser(r *Request) (any, error) {
	u, err := s.pathUser(r)
	if err != nil {
		return nil, err
	}
	var in userPatch
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	if in.Role != nil && *in.Role != u.Role && !r.Principal.IsAdmin() {
		return nil, errForbidden
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&u.Name, in.Name)
	set(&u.Email, in.Email)
	set(&u.Language, in.Language)
	set(&u.Role, in.Role)
	if err := tenancy.UpdateUser(r.Context(), s.DB, u, r.AuditEntry("user.update", "user", u.ID, "")); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, &Error{Status: 409, Code: "conflict", Field: "email", Message: "email: a user with this e-mail address exists in the tenant"}
		}
		return nil, fieldErr(err)
	}
	return u, nil
}

func (s *Server) setPassword(r *Request) (any, error) {
	u, err := s.pathUser(r)
	if err != nil {
		return nil, err
	}
	var in passwordBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	if err := tenancy.SetPassword(r.Context(), s.DB, r.TenantID, u.ID, in.Password, r.AuditEntry("user.password", "user", u.ID, "")); err != nil {
		return nil, fieldErr(err)
	}
	return nil, nil
}

func (s *Server) listExtensions(r *Request) (any, error) {
	p, err := r.Page()
	if err != nil {
		return nil, err
	}
	es, err := s.DB.ListExtensions(r.Context(), r.TenantID, p)
	return page(es, p, func(e store.Extension) int64 { return e.ID }), err
}

func (s *Server) createExtension(r *Request) (any, error) {
	var in extensionBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	t, err := s.DB.Tenant(r.Context(), r.TenantID)
	if err != nil {
		return nil, err
	}
	e, err := tenancy.CreateExtension(r.Context(), s.DB, s.Realm(t), store.Extension{TenantID: t.ID, UserID: in.UserID, Number: in.Number, SIPUsername: in.SIPUsername, DisplayName: in.DisplayName}, in.SIPPassword)
	if err != nil {
		return nil, fieldErr(err)
	}
	r.Audit("extension.create", "extension", e.ID, e.Number)
	return e, nil
}

func (s *Server) getExtension(r *Request) (any, error) {
	id, err := r.ID("extension")
	if err != nil {
		return nil, err
	}
	return s.DB.Extension(r.Context(), r.TenantID, id)
}

func (s *Server) patchExtension(r *Request) (any, error) {
	id, err := r.ID("extension")
	if err != nil {
		return nil, err
	}
	e, err := s.DB.Extension(r.Context(), r.TenantID, id)
	if err != nil {
		return nil, err
	}
	var in extensionPatch
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	if in.UserID != nil {
		if err := tenancy.CheckOwner(r.Context(), s.DB, r.TenantID, *in.UserID); err != nil {
			return nil, fieldErr(err)
		}
		e.UserID = in.UserID
	}
	if in.DisplayName != nil {
		e.DisplayName = *in.DisplayName
	}
	if in.SIPPassword != nil {
		if err := tenancy.ValidateSIPPassword(*in.SIPPassword); err != nil {
			return nil, fieldErr(err)
		}
	}
	if err := s.DB.UpdateExtension(r.Context(), e); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, FieldError("user_id", "no such user in this tenant")
		}
		return nil, err
	}
	if in.SIPPassword != nil {
		t, err := s.DB.Tenant(r.Context(), r.TenantID)
		if err != nil {
			return nil, err
		}
		if err := s.DB.SetSIPSecret(r.Context(), r.TenantID, e.ID, tenancy.Secret(e.SIPUsername, s.Realm(t), *in.SIPPassword)); err != nil {
			return nil, err
		}
	}
	r.Audit("extension.update", "extension", e.ID, "")
	return e, nil
}

func (s *Server) deleteExtension(r *Request) (any, error) {
	id, err := r.ID("extension")
	if err != nil {
		return nil, err
	}
	if err := s.DB.DeleteExtension(r.Context(), r.TenantID, id); err != nil {
		return nil, err
	}
	r.Audit("extension.delete", "extension", id, "")
	return nil, nil
}

func (s *Server) listTokens(r *Request) (any, error) {
	p, err := r.Page()
	if err != nil {
		return nil, err
	}
	uid := r.Principal.UserID
	if r.Principal.IsAdmin() {
		uid = 0
	}
	ts, err := s.DB.ListAPITokens(r.Context(), r.TenantID, uid, p)
	return page(ts, p, func(t store.APIToken) int64 { return t.ID }), err
}

func (s *Server) createToken(r *Request) (any, error) {
	var in tokenBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	if in.UserID == 0 {
		in.UserID = r.Principal.UserID
	}
	if err := r.SelfOrAdmin(in.UserID); err != nil {
		return nil, err
	}
	if r.TenantID != r.Principal.TenantID && in.UserID == r.Principal.UserID {
		return nil, FieldError("user_id", "an operator names the user of this tenant the token is for")
	}
	tok, t, err := tenancyToken(r, in)
	if err != nil {
		return nil, fieldErr(err)
	}
	r.Audit("token.create", "token", t.ID, t.Name)
	return tokenResult{APIToken: t, Token: tok}, nil
}

func tenancyToken(r *Request, in tokenBody) (string, store.APIToken, error) {
	return tenancy.CreateToken(r.Context(), r.srv.DB, r.TenantID, in.UserID, in.Name, in.ExpiresAt)
}

func (s *Server) deleteToken(r *Request) (any, error) {
	id, err := r.ID("token")
	if err != nil {
		return nil, err
	}
	t, err := s.DB.APIToken(r.Context(), r.TenantID, id)
	if err != nil {
		return nil, err
	}
	if err := r.SelfOrAdmin(t.UserID); err != nil {
		return nil, errNotFound
	}
	if err := s.DB.DeleteAPIToken(r.Context(), r.TenantID, id); err != nil {
		return nil, err
	}
	r.Audit("token.delete", "token", id, "")
	return nil, nil
}
