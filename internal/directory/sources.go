package directory

import (
	"encoding/json"
	"strings"

	"github.com/privox/privox/internal/store"
)

// SourceInput is a directory source as an admin describes it (API body, CLI flags).
type SourceInput struct {
	PhonebookID int64  `json:"phonebook_id"`
	Name        string `json:"name"`
	URL         string `json:"url"`
	BindDN      string `json:"bind_dn,omitempty"`
	Password    string `json:"password,omitempty"`
	BaseDN      string `json:"base_dn"`
	Filter      string `json:"filter,omitempty"`
	// Settings: mapping, number_rules, ca_cert, starttls, insecure.
	Settings  *SourceSettings `json:"settings,omitempty"`
	Priority  int             `json:"priority,omitempty"`
	IntervalS int64           `json:"interval_s,omitempty"`
	// Enabled switches scheduled and manual runs (on for a new source; a change without it
	// keeps the switch as it is).
	Enabled *bool `json:"enabled,omitempty"`
}

// SourceFieldError names the field of a SourceInput at fault.
type SourceFieldError struct{ Field, Msg string }

func (e *SourceFieldError) Error() string { return e.Field + ": " + e.Msg }

// DefaultSourceInterval is how often a source runs unless told (seconds).
const DefaultSourceInterval = 3600

// ApplySource validates in and copies it into src (not the phonebook, not the password).
func ApplySource(in *SourceInput, src *store.DirectorySource) error {
	ldapURL := strings.HasPrefix(in.URL, "ldap://") || strings.HasPrefix(in.URL, "ldaps://")
	if !ldapURL && !strings.HasPrefix(in.URL, "https://") {
		return &SourceFieldError{"url", "must be ldap://, ldaps:// or https:// (a vCard or CSV file)"}
	}
	if strings.TrimSpace(in.Name) == "" {
		return &SourceFieldError{"name", "required"}
	}
	// A file over HTTPS has no search base.
	if ldapURL && strings.TrimSpace(in.BaseDN) == "" {
		return &SourceFieldError{"base_dn", "required for an LDAP source"}
	}
	settings := "{}"
	if in.Settings != nil {
		js, err := json.Marshal(in.Settings)
		if err != nil {
			return err
		}
		if _, err := ParseSettings(string(js)); err != nil {
			return err
		}
		settings = string(js)
	}
	if in.IntervalS == 0 {
		in.IntervalS = DefaultSourceInterval
	}
	if in.IntervalS < 60 {
		return &SourceFieldError{"interval_s", "must be at least 60"}
	}
	src.Name, src.URL, src.BindDN, src.BaseDN, src.Filter = in.Name, in.URL, in.BindDN, in.BaseDN, in.Filter
	src.Settings, src.Priority, src.IntervalS = settings, in.Priority, in.IntervalS
	if in.Enabled != nil {
		src.Enabled = *in.Enabled
	}
	return nil
}

// SourcePhonebook checks that a source may fill a phonebook: a company or group book.
func SourcePhonebook(b store.Phonebook) error {
	if b.Kind == store.BookPersonal {
		return &SourceFieldError{"phonebook_id", "must name a company or group phonebook of the tenant"}
	}
	return nil
}

// ErrSourceBook is the refusal to move a source to another phonebook.
var ErrSourceBook = &SourceFieldError{"phonebook_id", "a source's phonebook does not change; delete the source and add it again"}
