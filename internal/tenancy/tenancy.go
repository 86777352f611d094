// Package tenancy owns the administrative domain shared by the REST API and the CLI: tenants,
// users, extensions and API tokens, with the validation that keeps bad input out of the store,
// SIP secrets turned into HA1 values before anything is written, and the first-start bootstrap
// of the default tenant and its admin.
package tenancy

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/privox/privox/internal/credential"
	"github.com/privox/privox/internal/store"
)

// FieldError is a validation error naming the field at fault.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

var (
	tenantName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	extNumber  = regexp.MustCompile(`^[0-9]{2,15}$`)
	sipUser    = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	domainRe   = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$`)
	languages  = map[string]bool{"en": true, "de": true, "fr": true, "es": true, "it": true, "nl": true}
)

// ValidateTenant checks a tenant's fields.
func ValidateTenant(t store.Tenant) error {
	if !tenantName.MatchString(t.Name) {
		return fieldErr("name", "must be 1-63 lower-case letters, digits or hyphens, starting with a letter or digit")
	}
	if t.SIPDomain != "" && !domainRe.MatchString(t.SIPDomain) {
		return fieldErr("sip_domain", "must be a domain name")
	}
	switch t.RetentionPreset {
	case "", "default", "eu", "de":
	default:
		return fieldErr("retention_preset", "must be default, eu or de")
	}
	if len(t.AdminContact) > 254 {
		return fieldErr("admin_contact", "at most 254 characters")
	}
	return nil
}

// NormalizeDomain is the form a SIP domain is stored and compared in: lower case, without
// surrounding space or a trailing dot.
func NormalizeDomain(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}

// CreateTenant validates and adds a tenant. Its SIP realm is fixed now: its SIP domain, or
// its name.
func CreateTenant(ctx context.Context, db *store.DB, t store.Tenant) (store.Tenant, error) {
	t.Name = strings.TrimSpace(t.Name)
	t.SIPDomain = NormalizeDomain(t.SIPDomain)
	t.SIPRealm = Realm(t)
	if err := ValidateTenant(t); err != nil {
		return t, err
	}
	out, err := db.CreateTenant(ctx, t)
	if errors.Is(err, store.ErrConflict) {
		return out, tenantConflict(ctx, db, t)
	}
	return out, err
}

// UpdateTenant validates and stores a tenant's changed name, SIP domain, preset or contact.
// The SIP realm stays as it was, so phones keep registering after a rename.
func UpdateTenant(ctx context.Context, db *store.DB, t store.Tenant) (store.Tenant, error) {
	t.Name = strings.TrimSpace(t.Name)
	t.SIPDomain = NormalizeDomain(t.SIPDomain)
	if err := ValidateTenant(t); err != nil {
		return t, err
	}
	err := db.UpdateTenant(ctx, t)
	if errors.Is(err, store.ErrConflict) {
		return t, tenantConflict(ctx, db, t)
	}
	return t, err
}

// tenantConflict names the field whose unique value another tenant has.
func tenantConflict(ctx context.Context, db *store.DB, t store.Tenant) error {
	if o, err := db.TenantByName(ctx, t.Name); err == nil && o.ID != t.ID {
		return &FieldError{Field: "name", Msg: "a tenant with this name exists"}
	}
	return &FieldError{Field: "sip_domain", Msg: "a tenant with this SIP domain (in any case) exists"}
}

// ValidateUser checks a user's fields.
func ValidateUser(u store.User) error {
	name := strings.TrimSpace(u.Name)
	if name == "" {
		return fieldErr("name", "must not be empty")
	}
	if utf8.RuneCountInString(name) > 200 {
		return fieldErr("name", "at most 200 characters")
	}
	if strings.ContainsAny(name, "\x00\r\n") {
		return fieldErr("name", "must not contain control characters")
	}
	if len(u.Email) > 254 {
		return fieldErr("email", "at most 254 characters")
	}
	if a, err := mail.ParseAddress(u.Email); err != nil || a.Address != u.Email {
		return fieldErr("email", "must be a plain e-mail address")
	}
	if u.Language != "" && !languages[u.Language] {
		return fieldErr("language", "must be one of en, de, fr, es, it, nl")
	}
	switch u.Role {
	case "", store.RoleAdmin, store.RoleUser:
	default:
		return fieldErr("role", "must be admin or user")
	}
	return nil
}

// ValidatePassword checks a new web/API password.
func ValidatePassword(pw string) error {
	if n := utf8.RuneCountInString(pw); n < 10 || n > 256 {
		return fieldErr("password", "must be 10 to 256 characters")
	}
	return nil
}

// CreateUser validates and adds a user, with a password when pw is not empty. The audit
// entries are appended in the same transaction; one without a target id names the new user.
func CreateUser(ctx context.Context, db *store.DB, u store.User, pw string, audit ...store.AuditEntry) (store.User, error) {
	u.Name = strings.TrimSpace(u.Name)
	u.Email = strings.TrimSpace(u.Email)
	if err := ValidateUser(u); err != nil {
		return u, err
	}
	var hash string
	if pw != "" {
		if err := ValidatePassword(pw); err != nil {
			return u, err
		}
		var err error
		if hash, err = credential.HashPassword(pw); err != nil {
			return u, err
		}
	}
	var out store.User
	err := db.InTx(ctx, func(tx *store.DB) error {
		if _, err := tx.Tenant(ctx, u.TenantID); err != nil {
			return err
		}
		var err error
		if out, err = tx.CreateUser(ctx, u); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return &FieldError{Field: "email", Msg: "a user with this e-mail address exists in the tenant"}
			}
			return err
		}
		if hash != "" {
			if err := tx.SetPassword(ctx, u.TenantID, out.ID, hash); err != nil {
				return err
			}
		}
		for i := range audit {
			if audit[i].TargetID == "" {
				audit[i].TargetID = strconv.FormatInt(out.ID, 10)
			}
		}
		return appendAudit(ctx, tx, audit)
	})
	return out, err
}

// UpdateUser validates and stores a user's changed fields, with its audit entries in the same
// transaction.
func UpdateUser(ctx context.Context, db *store.DB, u store.User, audit ...store.AuditEntry) error {
	if err := ValidateUser(u); err != nil {
		return err
	}
	return db.InTx(ctx, func(tx *store.DB) error {
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		return appendAudit(ctx, tx, audit)
	})
}

// SetPassword validates and stores a new password, with its audit entries in the same
// transaction.
func SetPassword(ctx context.Context, db *store.DB, tenantID, userID int64, pw string, audit ...store.AuditEntry) error {
	if err := ValidatePassword(pw); err != nil {
		return err
	}
	hash, err := credential.HashPassword(pw)
	if err != nil {
		return err
	}
	return db.InTx(ctx, func(tx *store.DB) error {
		if err := tx.SetPassword(ctx, tenantID, userID, hash); err != nil {
			return err
		}
		return appendAudit(ctx, tx, audit)
	})
}

// ValidateSIPPassword checks a SIP password (scanners guess weak ones within minutes).
func ValidateSIPPassword(pw string) error {
	if n := len(pw); n < 8 || n > 128 {
		return fieldErr("sip_password", "must be 8 to 128 characters")
	}
	return nil
}

// Realm is the SIP digest realm of a tenant, which HA1 values are computed for: the realm
// stored when the tenant was created, which neither a rename nor a new SIP domain changes.
// A tenant not yet stored gets the rule used at creation: its SIP domain, or its name.
func Realm(t store.Tenant) string {
	if t.SIPRealm != "" {
		return t.SIPRealm
	}
	if t.SIPDomain != "" {
		return t.SIPDomain
	}
	return t.Name
}

// Secret computes the stored digest secret for a SIP password.
func Secret(username, realm, pw string) store.SIPSecret {
	return store.SIPSecret{Realm: realm, HA1MD5: credential.HA1MD5(username, realm, pw), HA1SHA256: credential.HA1SHA256(username, realm, pw)}
}

// CreateExtension validates and adds an extension; the SIP password becomes HA1 values.
func CreateExtension(ctx context.Context, db *store.DB, realm string, e store.Extension, sipPassword string) (store.Extension, error) {
	if !extNumber.MatchString(e.Number) {
		return e, fieldErr("number", "must be 2 to 15 digits")
	}
	if e.SIPUsername == "" {
		e.SIPUsername = e.Number
	}
	if !sipUser.MatchString(e.SIPUsername) {
		return e, fieldErr("sip_username", "must be 1-64 letters, digits, dots, underscores or hyphens")
	}
	if utf8.RuneCountInString(e.DisplayName) > 100 || strings.ContainsAny(e.DisplayName, "\x00\r\n\"<>") {
		return e, fieldErr("display_name", "at most 100 characters, no quotes, angle brackets or control characters")
	}
	if err := ValidateSIPPassword(sipPassword); err != nil {
		return e, err
	}
	if e.UserID != nil {
		if err := CheckOwner(ctx, db, e.TenantID, *e.UserID); err != nil {
			return e, err
		}
	}
	out, err := db.CreateExtension(ctx, e, Secret(e.SIPUsername, realm, sipPassword))
	switch {
	case errors.Is(err, store.ErrConflict):
		if _, err2 := db.ExtensionByNumber(ctx, e.TenantID, e.Number); err2 == nil {
			return out, &FieldError{Field: "number", Msg: "this extension number exists in the tenant"}
		}
		return out, &FieldError{Field: "sip_username", Msg: "this SIP user name exists in the tenant"}
	case errors.Is(err, store.ErrNotFound) && e.UserID != nil:
		return out, &FieldError{Field: "user_id", Msg: "no such user in this tenant"}
	}
	return out, err
}

// DeactivateUser marks a user inactive and removes their sessions and tokens. Erasure of the
// rest of their data per category is the privacy engine's job, run by its caller. The audit
// entries given are appended in the same transaction: the change and its record of who made
// it are stored together or not at all.
func DeactivateUser(ctx context.Context, db *store.DB, tenantID, userID int64, audit ...store.AuditEntry) error {
	return db.InTx(ctx, func(tx *store.DB) error {
		if err := tx.SetUserActive(ctx, tenantID, userID, false); err != nil {
			return err
		}
		if err := tx.DeleteUserCredentials(ctx, tenantID, userID); err != nil {
			return err
		}
		return appendAudit(ctx, tx, audit)
	})
}

// SuspendUser suspends (on) or resumes (off) a user: a suspended user cannot sign in, register
// phones or make and take calls, and keeps every record; resuming restores all of it. A
// deactivated user cannot be suspended or resumed (deactivation is final). The audit entries
// are appended in the same transaction.
func SuspendUser(ctx context.Context, db *store.DB, tenantID, userID int64, on bool, audit ...store.AuditEntry) error {
	return db.InTx(ctx, func(tx *store.DB) error {
		if err := tx.SetUserSuspended(ctx, tenantID, userID, on); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return &FieldError{Field: "user", Msg: "the user is deactivated; deactivation cannot be undone"}
			}
			return err
		}
		return appendAudit(ctx, tx, audit)
	})
}

func appendAudit(ctx context.Context, tx *store.DB, entries []store.AuditEntry) error {
	for _, e := range entries {
		if _, err := tx.AppendAudit(ctx, e); err != nil {
			return fmt.Errorf("audit %s: %w", e.Action, err)
		}
	}
	return nil
}

// CheckOwner refuses to give an extension to a user who is not in the tenant or is
// deactivated: nothing new may be stored about an erased person.
func CheckOwner(ctx context.Context, db *store.DB, tenantID, userID int64) error {
	u, err := db.User(ctx, tenantID, userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &FieldError{Field: "user_id", Msg: "no such user in this tenant"}
	case err != nil:
		return err
	case !u.Active:
		return &FieldError{Field: "user_id", Msg: "the user is deactivated and cannot be given an extension"}
	}
	return nil
}

// CreateToken makes an API token for a user; the token is returned once and stored as a digest.
func CreateToken(ctx context.Context, db *store.DB, tenantID, userID int64, name string, expiresAt *int64) (string, store.APIToken, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return "", store.APIToken{}, fieldErr("name", "must be 1 to 100 characters")
	}
	if _, err := db.User(ctx, tenantID, userID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", store.APIToken{}, fieldErr("user_id", "no such user in this tenant")
		}
		return "", store.APIToken{}, err
	}
	tok, digest, err := credential.NewToken("pvx_")
	if err != nil {
		return "", store.APIToken{}, err
	}
	t, err := db.CreateAPIToken(ctx, store.APIToken{TenantID: tenantID, UserID: userID, Name: name, ExpiresAt: expiresAt}, digest)
	return tok, t, err
}

// Bootstrap creates the default tenant and its first admin on an empty store. It returns the
// generated password (empty when password was given or nothing was created).
func Bootstrap(ctx context.Context, db *store.DB, preset, password string) (created bool, generated string, err error) {
	ts, err := db.ListTenants(ctx, store.Page{Limit: 1})
	if err != nil || len(ts) > 0 {
		return false, "", err
	}
	if password == "" {
		if generated, err = credential.GeneratePassword(20); err != nil {
			return false, "", err
		}
		password = generated
	}
	err = db.InTx(ctx, func(tx *store.DB) error {
		t, err := CreateTenant(ctx, tx, store.Tenant{Name: "default", RetentionPreset: preset})
		if err != nil {
			return err
		}
		_, err = CreateUser(ctx, tx, store.User{TenantID: t.ID, Name: "Administrator", Email: "admin@localhost", Role: store.RoleAdmin}, password)
		return err
	})
	if err != nil {
		return false, "", fmt.Errorf("bootstrap: %w", err)
	}
	return true, generated, nil
}
