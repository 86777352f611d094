package api

import (
	"strings"

	"github.com/privox/privox/internal/credential"
	"github.com/privox/privox/internal/store"
)

// Bind accounts of the LDAP server (admins). The password is stored only as an argon2id hash
// and shown once, when the account is made.

func init() { registerRoutes(ldapRoutes) }

type ldapAccountBody struct {
	Name string `json:"name"`
	// PhonebookID limits the account to one company or group phonebook.
	PhonebookID *int64 `json:"phonebook_id,omitempty"`
	// Password is generated when empty.
	Password string `json:"password,omitempty"`
}

type ldapAccountResult struct {
	store.LDAPAccount
	// BindDN is the name phones bind with.
	BindDN   string `json:"bind_dn"`
	BaseDN   string `json:"base_dn"`
	Password string `json:"password,omitempty"`
}

func ldapRoutes(s *Server) []Route {
	const p = "/api/v1/tenants/{tenant}/ldap/accounts"
	return []Route{
		{Method: "GET", Path: p, Summary: "List the LDAP server's bind accounts", Auth: Admin, Result: List[ldapAccountResult]{}, Handler: s.listLDAPAccounts},
		{Method: "POST", Path: p, Summary: "Create an LDAP bind account; its password is shown only in this answer", Auth: Admin,
			Body: ldapAccountBody{}, Result: ldapAccountResult{}, Status: 201, Handler: s.createLDAPAccount},
		{Method: "DELETE", Path: p + "/{account}", Summary: "Delete an LDAP bind account", Auth: Admin, Handler: s.deleteLDAPAccount},
	}
}

func (s *Server) ldapResult(r *Request, a store.LDAPAccount) (ldapAccountResult, error) {
	t, err := s.DB.Tenant(r.Context(), r.TenantID)
	if err != nil {
		return ldapAccountResult{}, err
	}
	base := "o=" + t.Name + ",dc=privox"
	return ldapAccountResult{LDAPAccount: a, BindDN: "cn=" + a.Name + "," + base, BaseDN: base}, nil
}

func (s *Server) listLDAPAccounts(r *Request) (any, error) {
	as, err := s.DB.ListLDAPAccounts(r.Context(), r.TenantID)
	if err != nil {
		return nil, err
	}
	out := []ldapAccountResult{}
	for _, a := range as {
		res, err := s.ldapResult(r, a)
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return List[ldapAccountResult]{Items: out}, nil
}

func (s *Server) createLDAPAccount(r *Request) (any, error) {
	var body ldapAccountBody
	if err := r.Decode(&body); err != nil {
		return nil, err
	}
	if body.Name == "" || len(body.Name) > 64 || strings.ContainsAny(body.Name, ",=+<>#;\\\"@ ") {
		return nil, FieldError("name", "must be 1 to 64 characters without spaces or DN punctuation")
	}
	if body.PhonebookID != nil {
		b, err := s.DB.Phonebook(r.Context(), r.TenantID, *body.PhonebookID)
		if err != nil || b.Kind == store.BookPersonal {
			return nil, FieldError("phonebook_id", "must name a company or group phonebook of the tenant")
		}
	}
	pw := body.Password
	generated := pw == ""
	if generated {
		var err error
		if pw, err = credential.GeneratePassword(20); err != nil {
			return nil, err
		}
	} else if len(pw) < 8 {
		return nil, FieldError("password", "must have at least 8 characters")
	}
	hash, err := credential.HashPassword(pw)
	if err != nil {
		return nil, err
	}
	a, err := s.DB.CreateLDAPAccount(r.Context(), store.LDAPAccount{TenantID: r.TenantID, PhonebookID: body.PhonebookID, Name: body.Name, Hash: hash})
	if err != nil {
		return nil, err
	}
	r.Audit("ldap_account.create", "ldap_account", a.ID, a.Name)
	res, err := s.ldapResult(r, a)
	if generated {
		res.Password = pw
	}
	return res, err
}

func (s *Server) deleteLDAPAccount(r *Request) (any, error) {
	id, err := r.ID("account")
	if err != nil {
		return nil, err
	}
	if err := s.DB.DeleteLDAPAccount(r.Context(), r.TenantID, id); err != nil {
		return nil, err
	}
	r.Audit("ldap_account.delete", "ldap_account", id, "")
	return nil, nil
}
