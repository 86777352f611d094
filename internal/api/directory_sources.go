package api

import (
	"errors"
	"net/http"

	"github.com/privox/privox/internal/directory"
	"github.com/privox/privox/internal/store"
)

// Directory sources (admins): LDAP/AD servers or vCard/CSV files over HTTPS replicated into a
// company or group phonebook.
// The bind password is sealed with the tenant key and never returned; a change without a
// password keeps the stored one. Last run, last success and last error show in every answer.

func init() { registerRoutes(sourceRoutes) }

type sourceBody = directory.SourceInput

type syncResult struct {
	Entries int                   `json:"entries"`
	Source  store.DirectorySource `json:"source"`
}

func sourceRoutes(s *Server) []Route {
	const p = "/api/v1/tenants/{tenant}/directory/sources"
	return []Route{
		{Method: "GET", Path: p, Summary: "List the directory sources with their last run", Auth: Admin, Result: List[store.DirectorySource]{}, Handler: s.listSources},
		{Method: "POST", Path: p, Summary: "Add an LDAP/AD source replicated into a phonebook (its password is stored sealed)", Auth: Admin,
			Body: sourceBody{}, Result: store.DirectorySource{}, Status: 201, Handler: s.createSource},
		{Method: "GET", Path: p + "/{source}", Summary: "Get a directory source", Auth: Admin, Result: store.DirectorySource{}, Handler: s.getSource},
		{Method: "PUT", Path: p + "/{source}", Summary: "Change a directory source (not its phonebook); without a password the stored one stays", Auth: Admin,
			Body: sourceBody{}, Result: store.DirectorySource{}, Handler: s.updateSource},
		{Method: "DELETE", Path: p + "/{source}", Summary: "Delete a directory source (its phonebook stays)", Auth: Admin, Handler: s.deleteSource},
		{Method: "POST", Path: p + "/{source}/sync", Summary: "Sync a directory source now", Auth: Admin, Result: syncResult{}, Handler: s.syncSource},
	}
}

func (s *Server) listSources(r *Request) (any, error) {
	out, err := s.DB.ListDirectorySources(r.Context(), r.TenantID)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []store.DirectorySource{}
	}
	return List[store.DirectorySource]{Items: out}, nil
}

func (s *Server) createSource(r *Request) (any, error) {
	if s.Vault == nil {
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the key vault is not available"}
	}
	var body sourceBody
	if err := r.Decode(&body); err != nil {
		return nil, err
	}
	b, err := s.DB.Phonebook(r.Context(), r.TenantID, body.PhonebookID)
	if err != nil || b.Kind == store.BookPersonal {
		return nil, FieldError("phonebook_id", "must name a company or group phonebook of the tenant")
	}
	src := store.DirectorySource{TenantID: r.TenantID, PhonebookID: b.ID, Enabled: true}
	if err := checkSource(&body, &src); err != nil {
		return nil, err
	}
	src, err = s.DB.CreateDirectorySource(r.Context(), src)
	if err != nil {
		return nil, err
	}
	return s.storeSource(r, "directory_source.create", src, body.Password)
}

// checkSource validates a source's body and copies it into src.
func checkSource(body *sourceBody, src *store.DirectorySource) error {
	err := directory.ApplySource(body, src)
	var fe *directory.SourceFieldError
	if errors.As(err, &fe) {
		return FieldError(fe.Field, "%s", fe.Msg)
	}
	return dirError(err)
}

// storeSource seals a new password (none keeps the stored one), tells the index the source's
// priority and audits the change.
func (s *Server) storeSource(r *Request, action string, src store.DirectorySource, password string) (any, error) {
	if password != "" {
		sealed, err := directory.SealSecret(s.Vault, r.TenantID, src.ID, password)
		if err != nil {
			return nil, err
		}
		if err := s.DB.SetDirectorySourceSecret(r.Context(), r.TenantID, src.ID, sealed); err != nil {
			return nil, err
		}
	}
	if s.Directory != nil {
		s.Directory.SetSourcePriority(r.TenantID, src.PhonebookID, src.Priority)
	}
	r.Audit(action, "directory_source", src.ID, src.URL)
	return s.DB.DirectorySource(r.Context(), r.TenantID, src.ID)
}

func (s *Server) updateSource(r *Request) (any, error) {
	if s.Vault == nil {
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the key vault is not available"}
	}
	src, err := s.source(r)
	if err != nil {
		return nil, err
	}
	var body sourceBody
	if err := r.Decode(&body); err != nil {
		return nil, err
	}
	// The entries copied so far belong to the phonebook; another one means a new source.
	if body.PhonebookID != 0 && body.PhonebookID != src.PhonebookID {
		return nil, FieldError("phonebook_id", "a source's phonebook does not change; delete the source and add it again")
	}
	if err := checkSource(&body, &src); err != nil {
		return nil, err
	}
	if err := s.DB.UpdateDirectorySource(r.Context(), src); err != nil {
		return nil, err
	}
	return s.storeSource(r, "directory_source.update", src, body.Password)
}

func (s *Server) source(r *Request) (store.DirectorySource, error) {
	id, err := r.ID("source")
	if err != nil {
		return store.DirectorySource{}, err
	}
	return s.DB.DirectorySource(r.Context(), r.TenantID, id)
}

func (s *Server) getSource(r *Request) (any, error) { return s.source(r) }

func (s *Server) deleteSource(r *Request) (any, error) {
	src, err := s.source(r)
	if err != nil {
		return nil, err
	}
	if err := s.DB.DeleteDirectorySource(r.Context(), r.TenantID, src.ID); err != nil {
		return nil, err
	}
	r.Audit("directory_source.delete", "directory_source", src.ID, "")
	return nil, nil
}

func (s *Server) syncSource(r *Request) (any, error) {
	d, err := s.dir()
	if err != nil {
		return nil, err
	}
	src, err := s.source(r)
	if err != nil {
		return nil, err
	}
	y := &directory.Syncer{Dir: d, DB: s.DB, Vault: s.Vault, Flows: s.Flows}
	n, runErr := y.Run(r.Context(), src)
	src, err = s.DB.DirectorySource(r.Context(), r.TenantID, src.ID)
	if err != nil {
		return nil, err
	}
	if runErr != nil {
		return nil, &Error{Status: http.StatusBadGateway, Code: "source_failed", Message: runErr.Error()}
	}
	r.Audit("directory_source.sync", "directory_source", src.ID, "")
	return syncResult{Entries: n, Source: src}, nil
}
