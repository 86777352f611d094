package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/privox/privox/internal/directory"
	"github.com/privox/privox/internal/store"
)

// Phonebooks, contacts and directory search. Company phonebooks are read by every member and
// written by admins; a group phonebook is read by its owner, its members and admins and
// written by its owner and admins; a personal phonebook is read and written by its owner only.
// Search queries are answered from the index and never logged (directory_queries).

func init() { registerRoutes(directoryRoutes) }

type phonebookBody struct {
	Kind        string  `json:"kind"`
	Name        string  `json:"name"`
	OwnerUserID *int64  `json:"owner_user_id,omitempty"`
	Members     []int64 `json:"members,omitempty"`
}

type phonebookPatch struct {
	Name    *string  `json:"name,omitempty"`
	Members *[]int64 `json:"members,omitempty"`
}

type contactBody struct {
	Key         string        `json:"key,omitempty"`
	DisplayName string        `json:"display_name,omitempty"`
	GivenName   string        `json:"given_name,omitempty"`
	FamilyName  string        `json:"family_name,omitempty"`
	Company     string        `json:"company,omitempty"`
	Department  string        `json:"department,omitempty"`
	Title       string        `json:"title,omitempty"`
	Email       string        `json:"email,omitempty"`
	Street      string        `json:"street,omitempty"`
	City        string        `json:"city,omitempty"`
	PostalCode  string        `json:"postal_code,omitempty"`
	Region      string        `json:"region,omitempty"`
	Country     string        `json:"country,omitempty"`
	Notes       string        `json:"notes,omitempty"`
	Numbers     store.Numbers `json:"numbers"`
}

type directorySettings struct {
	// Country is the ISO 3166 code numbers without a country code are read for ("DE").
	Country string `json:"country"`
}

func directoryRoutes(s *Server) []Route {
	const pb = "/api/v1/tenants/{tenant}/phonebooks"
	return []Route{
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/directory/settings", Summary: "Get the directory settings (country for number normalisation)",
			Auth: Admin, Result: directorySettings{}, Handler: s.getDirectorySettings},
		{Method: "PUT", Path: "/api/v1/tenants/{tenant}/directory/settings", Summary: "Change the directory settings; numbers are normalised again",
			Auth: Admin, Body: directorySettings{}, Result: directorySettings{}, Handler: s.putDirectorySettings},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/directory/search", Summary: "Search the caller's phonebooks (?q= name or number, ?limit=); queries are not kept",
			Auth: Member, Result: List[directory.Hit]{}, Handler: s.searchDirectory},
		{Method: "GET", Path: pb, Summary: "List the phonebooks the caller may read", Auth: Member, Result: List[store.Phonebook]{}, Handler: s.listPhonebooks},
		{Method: "POST", Path: pb, Summary: "Create a phonebook (company and group: admin; personal: for oneself)", Auth: Member, Body: phonebookBody{},
			Result: store.Phonebook{}, Status: 201, Handler: s.createPhonebook},
		{Method: "GET", Path: pb + "/{phonebook}", Summary: "Get a phonebook", Auth: Member, Result: store.Phonebook{}, Handler: s.getPhonebook},
		{Method: "PATCH", Path: pb + "/{phonebook}", Summary: "Rename a phonebook or change a group's members", Auth: Member, Body: phonebookPatch{},
			Result: store.Phonebook{}, Handler: s.patchPhonebook},
		{Method: "DELETE", Path: pb + "/{phonebook}", Summary: "Delete a phonebook with its contacts", Auth: Member, Handler: s.deletePhonebook},
		{Method: "GET", Path: pb + "/{phonebook}/contacts", Summary: "List a phonebook's contacts", Auth: Member, Result: List[store.Contact]{}, Handler: s.listContacts,
			Sorts: store.SortNames(store.ContactSorts), Search: "display name, company or e-mail address"},
		{Method: "POST", Path: pb + "/{phonebook}/contacts", Summary: "Add a contact; numbers are normalised to E.164 and kept as entered", Auth: Member,
			Body: contactBody{}, Result: store.Contact{}, Status: 201, Handler: s.createContact},
		{Method: "GET", Path: pb + "/{phonebook}/contacts/{contact}", Summary: "Get a contact", Auth: Member, Result: store.Contact{}, Handler: s.getContact},
		{Method: "PUT", Path: pb + "/{phonebook}/contacts/{contact}", Summary: "Replace a contact's fields", Auth: Member, Body: contactBody{},
			Result: store.Contact{}, Handler: s.putContact},
		{Method: "DELETE", Path: pb + "/{phonebook}/contacts/{contact}", Summary: "Delete a contact", Auth: Member, Handler: s.deleteContact},
	}
}

func (s *Server) dir() (*directory.Service, error) {
	if s.Directory == nil {
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the directory is not running"}
	}
	return s.Directory, nil
}

func dirError(err error) error {
	if errors.Is(err, directory.ErrInvalid) {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: strings.TrimPrefix(err.Error(), "invalid: ")}
	}
	return err
}

// canRead and canWrite decide access to a phonebook; a phonebook the caller may not read
// does not exist for it.
func canRead(p *Principal, b store.Phonebook) bool {
	switch b.Kind {
	case store.BookCompany:
		return true
	case store.BookGroup:
		if p.IsAdmin() || (b.OwnerUserID != nil && *b.OwnerUserID == p.UserID) {
			return true
		}
		for _, m := range b.Members {
			if m == p.UserID {
				return true
			}
		}
	case store.BookPersonal:
		return b.OwnerUserID != nil && *b.OwnerUserID == p.UserID
	}
	return false
}

func canWrite(p *Principal, b store.Phonebook) bool {
	switch b.Kind {
	case store.BookCompany:
		return p.IsAdmin()
	case store.BookGroup:
		return p.IsAdmin() || (b.OwnerUserID != nil && *b.OwnerUserID == p.UserID)
	case store.BookPersonal:
		return b.OwnerUserID != nil && *b.OwnerUserID == p.UserID
	}
	return false
}

// book loads the path's phonebook for reading (write: for changing).
func (s *Server) book(r *Request, write bool) (store.Phonebook, error) {
	id, err := r.ID("phonebook")
	if err != nil {
		return store.Phonebook{}, err
	}
	b, err := s.DB.Phonebook(r.Context(), r.TenantID, id)
	if err != nil {
		return b, err
	}
	if !canRead(r.Principal, b) {
		return b, errNotFound
	}
	if write && !canWrite(r.Principal, b) {
		return b, errForbidden
	}
	return b, nil
}

func (s *Server) getDirectorySettings(r *Request) (any, error) {
	c, err := s.DB.TenantCountry(r.Context(), r.TenantID)
	return directorySettings{Country: c}, err
}

func (s *Server) putDirectorySettings(r *Request) (any, error) {
	d, err := s.dir()
	if err != nil {
		return nil, err
	}
	var body directorySettings
	if err := r.Decode(&body); err != nil {
		return nil, err
	}
	if err := d.SetCountry(r.Context(), r.TenantID, body.Country); err != nil {
		return nil, dirError(err)
	}
	r.Audit("directory.settings", "tenant", r.TenantID, "country="+strings.ToUpper(body.Country))
	return directorySettings{Country: strings.ToUpper(strings.TrimSpace(body.Country))}, nil
}

func (s *Server) searchDirectory(r *Request) (any, error) {
	d, err := s.dir()
	if err != nil {
		return nil, err
	}
	q := r.URL.Query().Get("q")
	if strings.TrimSpace(q) == "" || len(q) > 200 {
		return nil, &Error{Status: 400, Code: "invalid_query", Field: "q", Message: "q must hold 1 to 200 characters"}
	}
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, &Error{Status: 400, Code: "invalid_query", Field: "limit", Message: "limit must be between 1 and 1000"}
		}
		limit = n
	}
	hits, err := d.Search(r.Context(), r.TenantID, directory.Viewer{UserID: r.Principal.UserID}, q, limit, "api")
	if err != nil {
		return nil, err
	}
	if hits == nil {
		hits = []directory.Hit{}
	}
	return List[directory.Hit]{Items: hits}, nil
}

func (s *Server) listPhonebooks(r *Request) (any, error) {
	books, err := s.DB.ListPhonebooks(r.Context(), r.TenantID)
	if err != nil {
		return nil, err
	}
	out := []store.Phonebook{}
	for _, b := range books {
		if canRead(r.Principal, b) {
			out = append(out, b)
		}
	}
	return List[store.Phonebook]{Items: out}, nil
}

func (s *Server) createPhonebook(r *Request) (any, error) {
	d, err := s.dir()
	if err != nil {
		return nil, err
	}
	var body phonebookBody
	if err := r.Decode(&body); err != nil {
		return nil, err
	}
	b := store.Phonebook{TenantID: r.TenantID, Kind: body.Kind, Name: body.Name, OwnerUserID: body.OwnerUserID, Members: body.Members}
	switch body.Kind {
	case store.BookCompany:
		if !r.Principal.IsAdmin() {
			return nil, errForbidden
		}
	case store.BookGroup, store.BookPersonal:
		if b.OwnerUserID == nil {
			uid := r.Principal.UserID
			b.OwnerUserID = &uid
		}
		if *b.OwnerUserID != r.Principal.UserID && !r.Principal.IsAdmin() {
			return nil, errForbidden
		}
		if body.Kind == store.BookGroup && !r.Principal.IsAdmin() {
			return nil, errForbidden
		}
	}
	if err := s.checkUsers(r, b.OwnerUserID, b.Members); err != nil {
		return nil, err
	}
	b, err = d.CreatePhonebook(r.Context(), b)
	if err != nil {
		return nil, dirError(err)
	}
	r.Audit("phonebook.create", "phonebook", b.ID, b.Kind)
	return b, nil
}

// checkUsers requires every named user to exist in the path's tenant.
func (s *Server) checkUsers(r *Request, owner *int64, members []int64) error {
	ids := append([]int64(nil), members...)
	if owner != nil {
		ids = append(ids, *owner)
	}
	for _, id := range ids {
		if _, err := s.DB.User(r.Context(), r.TenantID, id); err != nil {
			return FieldError("members", "user %d does not exist", id)
		}
	}
	return nil
}

func (s *Server) getPhonebook(r *Request) (any, error) { return s.book(r, false) }

func (s *Server) patchPhonebook(r *Request) (any, error) {
	d, err := s.dir()
	if err != nil {
		return nil, err
	}
	b, err := s.book(r, true)
	if err != nil {
		return nil, err
	}
	var body phonebookPatch
	if err := r.Decode(&body); err != nil {
		return nil, err
	}
	if body.Name != nil {
		if strings.TrimSpace(*body.Name) == "" {
			return nil, FieldError("name", "must not be empty")
		}
		b.Name = *body.Name
	}
	if body.Members != nil {
		if b.Kind != store.BookGroup {
			return nil, FieldError("members", "only group phonebooks have members")
		}
		if err := s.checkUsers(r, nil, *body.Members); err != nil {
			return nil, err
		}
		b.Members = *body.Members
	}
	if err := d.UpdatePhonebook(r.Context(), b); err != nil {
		return nil, dirError(err)
	}
	r.Audit("phonebook.update", "phonebook", b.ID, "")
	return b, nil
}

func (s *Server) deletePhonebook(r *Request) (any, error) {
	d, err := s.dir()
	if err != nil {
		return nil, err
	}
	b, err := s.book(r, true)
	if err != nil {
		return nil, err
	}
	if err := d.DeletePhonebook(r.Context(), r.TenantID, b.ID); err != nil {
		return nil, err
	}
	r.Audit("phonebook.delete", "phonebook", b.ID, b.Kind)
	return nil, nil
}

func (s *Server) listContacts(r *Request) (any, error) {
	b, err := s.book(r, false)
	if err != nil {
		return nil, err
	}
	p, err := r.Page()
	if err != nil {
		return nil, err
	}
	cs, err := s.DB.ListContacts(r.Context(), r.TenantID, b.ID, p)
	if err != nil {
		return nil, err
	}
	return page(cs, p, func(c store.Contact) int64 { return c.ID }), nil
}

func (body contactBody) contact() store.Contact {
	return store.Contact{Key: body.Key, DisplayName: body.DisplayName, GivenName: body.GivenName, FamilyName: body.FamilyName, Company: body.Company,
		Department: body.Department, Title: body.Title, Email: body.Email, Street: body.Street, City: body.City, PostalCode: body.PostalCode,
		Region: body.Region, Country: body.Country, Notes: body.Notes, Numbers: body.Numbers}
}

func (s *Server) createContact(r *Request) (any, error) {
	d, err := s.dir()
	if err != nil {
		return nil, err
	}
	b, err := s.book(r, true)
	if err != nil {
		return nil, err
	}
	var body contactBody
	if err := r.Decode(&body); err != nil {
		return nil, err
	}
	c, err := d.SaveContact(r.Context(), b, body.contact())
	if err != nil {
		return nil, dirError(err)
	}
	r.Audit("contact.create", "contact", c.ID, "")
	return c, nil
}

// contact loads the path's contact within the path's phonebook.
func (s *Server) contact(r *Request, write bool) (store.Phonebook, store.Contact, error) {
	b, err := s.book(r, write)
	if err != nil {
		return b, store.Contact{}, err
	}
	id, err := r.ID("contact")
	if err != nil {
		return b, store.Contact{}, err
	}
	c, err := s.DB.Contact(r.Context(), r.TenantID, id)
	if err != nil {
		return b, c, err
	}
	if c.PhonebookID != b.ID {
		return b, c, errNotFound
	}
	return b, c, nil
}

func (s *Server) getContact(r *Request) (any, error) {
	_, c, err := s.contact(r, false)
	return c, err
}

func (s *Server) putContact(r *Request) (any, error) {
	d, err := s.dir()
	if err != nil {
		return nil, err
	}
	b, old, err := s.contact(r, true)
	if err != nil {
		return nil, err
	}
	var body contactBody
	if err := r.Decode(&body); err != nil {
		return nil, err
	}
	c := body.contact()
	c.ID, c.Key = old.ID, old.Key
	c, err = d.SaveContact(r.Context(), b, c)
	if err != nil {
		return nil, dirError(err)
	}
	r.Audit("contact.update", "contact", c.ID, "")
	return c, nil
}

func (s *Server) deleteContact(r *Request) (any, error) {
	d, err := s.dir()
	if err != nil {
		return nil, err
	}
	_, c, err := s.contact(r, true)
	if err != nil {
		return nil, err
	}
	if err := d.DeleteContact(r.Context(), r.TenantID, c.ID); err != nil {
		return nil, err
	}
	r.Audit("contact.delete", "contact", c.ID, "")
	return nil, nil
}
