package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/privox/privox/internal/store"
)

// Phonebooks through the API's directory routes: the books the signed-in user may read
// (company books for everyone, group books for their members, the user's own personal
// book), their contacts with search, sort and pages, and adding and deleting contacts where
// the API lets the user write (company books: admins only).

type phonebooksView struct {
	Books []store.Phonebook
}

func (s *Server) phonebooks(w http.ResponseWriter, r *http.Request, v *view) {
	if v.Form == nil {
		v.Form = url.Values{"kind": {store.BookPersonal}}
	}
	s.renderPhonebooks(w, r, v, http.StatusOK)
}

func (s *Server) renderPhonebooks(w http.ResponseWriter, r *http.Request, v *view, status int) {
	var l list[store.Phonebook]
	if ae := s.call(r, "GET", tpath(v, "/phonebooks"), nil, "", &l); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	if v.Flash == "" {
		v.Flash = flash(r, v)
	}
	v.Data = phonebooksView{Books: l.Items}
	s.render(w, r, status, "phonebooks", v)
}

func (s *Server) phonebookCreate(w http.ResponseWriter, r *http.Request, v *view) {
	f := v.Form
	body := map[string]any{"kind": f.Get("kind"), "name": strings.TrimSpace(f.Get("name"))}
	if f.Get("kind") != store.BookCompany {
		body["owner_user_id"] = v.S.P.UserID
	}
	var b store.Phonebook
	if ae := s.call(r, "POST", tpath(v, "/phonebooks"), body, f.Get("csrf"), &b); ae != nil {
		if ae.Status == http.StatusBadRequest || ae.Status == http.StatusConflict || ae.Status == http.StatusForbidden {
			v.Error, v.Field = ae.Message, ae.Field
			if v.Field == "" {
				v.Field = "name"
			}
			s.renderPhonebooks(w, r, v, ae.Status)
			return
		}
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/phonebooks/%d?done=book_created", v.Tenant, b.ID), http.StatusSeeOther)
}

type phonebookView struct {
	Book     store.Phonebook
	Contacts []store.Contact
	// Writable: the signed-in user may add and delete contacts here.
	Writable bool
}

func (s *Server) phonebook(w http.ResponseWriter, r *http.Request, v *view) {
	if v.Form == nil {
		v.Form = url.Values{}
	}
	s.renderPhonebook(w, r, v, http.StatusOK)
}

func (s *Server) renderPhonebook(w http.ResponseWriter, r *http.Request, v *view, status int) {
	id, ok := s.pathID(w, r, v, "phonebook")
	if !ok {
		return
	}
	var b store.Phonebook
	if ae := s.call(r, "GET", tpath(v, "/phonebooks/%d", id), nil, "", &b); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	l, ok := listPage[store.Contact](s, w, r, v, tpath(v, "/phonebooks/%d/contacts", id), nil)
	if !ok {
		return
	}
	if v.Flash == "" {
		v.Flash = flash(r, v)
	}
	writable := v.Admin() || b.Kind != store.BookCompany && b.OwnerUserID != nil && *b.OwnerUserID == v.S.P.UserID
	v.Data = phonebookView{Book: b, Contacts: l.Items, Writable: writable}
	v.Title = b.Name
	s.render(w, r, status, "phonebook", v)
}

// contactFields are the form's contact fields, as the API names them.
var contactFields = []string{"display_name", "given_name", "family_name", "company", "department", "title", "email", "notes"}

func (s *Server) contactCreate(w http.ResponseWriter, r *http.Request, v *view) {
	id, ok := s.pathID(w, r, v, "phonebook")
	if !ok {
		return
	}
	f := v.Form
	body := map[string]any{}
	for _, k := range contactFields {
		body[k] = strings.TrimSpace(f.Get(k))
	}
	body["numbers"] = store.Numbers{Work: strings.TrimSpace(f.Get("work")), Mobile: strings.TrimSpace(f.Get("mobile")), Home: strings.TrimSpace(f.Get("home"))}
	if ae := s.call(r, "POST", tpath(v, "/phonebooks/%d/contacts", id), body, f.Get("csrf"), nil); ae != nil {
		if ae.Status == http.StatusBadRequest {
			v.Error, v.Field = ae.Message, ae.Field
			if v.Field == "" {
				v.Field = fieldNamed(ae.Message)
			}
			s.renderPhonebook(w, r, v, ae.Status)
			return
		}
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/phonebooks/%d?done=contact_added", v.Tenant, id), http.StatusSeeOther)
}

// fieldNamed finds the form field a directory refusal is about ("" if none).
func fieldNamed(msg string) string {
	if strings.Contains(msg, "needs a name") {
		return "display_name"
	}
	for _, k := range []string{"work", "mobile", "home"} {
		if strings.Contains(msg, "number "+k+" ") {
			return k
		}
	}
	return ""
}

func (s *Server) contactDelete(w http.ResponseWriter, r *http.Request, v *view) {
	id, ok := s.pathID(w, r, v, "phonebook")
	if !ok {
		return
	}
	cid, ok := s.pathID(w, r, v, "contact")
	if !ok {
		return
	}
	if ae := s.call(r, "DELETE", tpath(v, "/phonebooks/%d/contacts/%d", id, cid), nil, v.Form.Get("csrf"), nil); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/phonebooks/%d?done=contact_deleted", v.Tenant, id), http.StatusSeeOther)
}

func (s *Server) phonebookDelete(w http.ResponseWriter, r *http.Request, v *view) {
	id, ok := s.pathID(w, r, v, "phonebook")
	if !ok {
		return
	}
	if ae := s.call(r, "DELETE", tpath(v, "/phonebooks/%d", id), nil, v.Form.Get("csrf"), nil); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/phonebooks?done=book_deleted", v.Tenant), http.StatusSeeOther)
}
