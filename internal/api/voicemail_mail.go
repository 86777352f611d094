package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/privox/privox/internal/mail"
	"github.com/privox/privox/internal/store"
)

func init() { registerRoutes(voicemailMailRoutes) }

// Voicemail to e-mail: admins see the tenant's deliveries (failed ones above all), a person
// (or an admin for them) objects to e-mail copies, and admins give the tenant an SMTP relay of
// its own (the password sealed with the tenant key, never returned).

type mailObjection struct {
	// Objected: no e-mail copies of the person's voice messages are sent.
	Objected bool `json:"objected"`
}

type mailRelayBody struct {
	Enabled bool   `json:"enabled"`
	Host    string `json:"host"`
	// Port defaults to 587 for starttls, 465 for tls.
	Port int `json:"port,omitempty"`
	// Mode is starttls or tls (plaintext only on an installation with the local-testing switch).
	Mode     string `json:"mode"`
	Username string `json:"username,omitempty"`
	// Password: absent keeps the stored one, "" removes it.
	Password *string `json:"password,omitempty"`
	// CAPEM is the PEM certificate of a private CA that signed the relay's certificate.
	CAPEM string `json:"ca_pem,omitempty"`
	From  string `json:"from,omitempty"`
}

var mailStates = []string{store.MailPending, store.MailSent, store.MailFailed, store.MailSuppressed, store.MailDropped}

func voicemailMailRoutes(s *Server) []Route {
	const relay = "/api/v1/tenants/{tenant}/mail-relay"
	const objection = "/api/v1/tenants/{tenant}/users/{user}/objections/email-copy"
	return []Route{
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/voicemail/deliveries", Summary: "E-mail deliveries of voice messages (?state=" + strings.Join(mailStates, "|") + "; failed: the relay refused them after the last retry, the messages stay in their boxes)",
			Auth: Admin, Result: List[store.VoicemailMail]{}, Handler: s.listVoicemailMail},
		{Method: "POST", Path: "/api/v1/tenants/{tenant}/voicemail/deliveries/{delivery}/retry", Summary: "Send a failed delivery again: it is pending once more, due now, its attempts counted from zero (409: the delivery is not failed; audited)",
			Auth: Admin, Result: store.VoicemailMail{}, Handler: s.retryVoicemailMail},
		{Method: "GET", Path: objection, Summary: "Whether the person objected to e-mail copies of their voice messages (self or admin)", Auth: Member, Result: mailObjection{}, Handler: s.getMailObjection},
		{Method: "PUT", Path: objection, Summary: "Object to e-mail copies (objected true) or withdraw the objection (self or admin; audited)", Auth: Member, Body: mailObjection{}, Result: mailObjection{}, Handler: s.putMailObjection},
		{Method: "GET", Path: relay, Summary: "The tenant's own SMTP relay for voicemail e-mails (404: the installation's is used)", Auth: Admin, Result: store.MailRelay{}, Handler: s.getMailRelay},
		{Method: "PUT", Path: relay, Summary: "Set the tenant's own SMTP relay: STARTTLS or TLS, certificate always verified (ca_pem for a private CA); the password is sealed and never returned",
			Auth: Admin, Body: mailRelayBody{}, Result: store.MailRelay{}, Handler: s.putMailRelay},
		{Method: "DELETE", Path: relay, Summary: "Remove the tenant's own SMTP relay (the installation's is used again)", Auth: Admin, Handler: s.deleteMailRelay},
	}
}

func (s *Server) listVoicemailMail(r *Request) (any, error) {
	p, err := r.Page()
	if err != nil {
		return nil, err
	}
	state := r.URL.Query().Get("state")
	if state != "" && !contains(mailStates, state) {
		return nil, &Error{Status: 400, Code: "invalid_query", Field: "state", Message: "state must be one of " + strings.Join(mailStates, ", ")}
	}
	ds, err := s.DB.VoicemailMails(r.Context(), r.TenantID, state, p)
	if err != nil {
		return nil, err
	}
	return page(ds, p, func(d store.VoicemailMail) int64 { return d.ID }), nil
}

func (s *Server) retryVoicemailMail(r *Request) (any, error) {
	if s.Voicemail == nil {
		return nil, errNoVoicemail
	}
	id, err := r.ID("delivery")
	if err != nil {
		return nil, err
	}
	d, err := s.Voicemail.RetryMail(r.Context(), r.TenantID, id)
	if errors.Is(err, store.ErrMailNotFailed) {
		return nil, &Error{Status: http.StatusConflict, Code: "not_failed", Message: "only a failed delivery can be retried; this one is " + d.State}
	}
	if err != nil {
		return nil, err
	}
	r.Audit("voicemail.mail.retry", "voicemail_mail", d.ID, "message="+strconv.FormatInt(d.MessageID, 10))
	return d, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func (s *Server) getMailObjection(r *Request) (any, error) {
	u, err := s.pathUser(r)
	if err != nil {
		return nil, err
	}
	on, err := s.DB.MailObjection(r.Context(), r.TenantID, u.ID)
	return mailObjection{Objected: on}, err
}

func (s *Server) putMailObjection(r *Request) (any, error) {
	u, err := s.pathUser(r)
	if err != nil {
		return nil, err
	}
	var in mailObjection
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	if err := s.DB.SetMailObjection(r.Context(), r.TenantID, u.ID, in.Objected); err != nil {
		return nil, err
	}
	action := "objection.email_copy.withdraw"
	if in.Objected {
		action = "objection.email_copy.set"
	}
	r.Audit(action, "user", u.ID, "")
	return in, nil
}

func (s *Server) getMailRelay(r *Request) (any, error) {
	return s.DB.MailRelay(r.Context(), r.TenantID)
}

func (s *Server) putMailRelay(r *Request) (any, error) {
	var in mailRelayBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	in.Host = strings.TrimSpace(in.Host)
	switch in.Mode {
	case "":
		in.Mode = mail.ModeSTARTTLS
	case mail.ModeSTARTTLS, mail.ModeTLS:
	case mail.ModePlaintext:
		if !s.MailPlaintextAllowed {
			return nil, FieldError("mode", "plaintext sends e-mails unencrypted and is allowed only on an installation with mail.plaintext_for_local_testing (for local tests)")
		}
	default:
		return nil, FieldError("mode", "must be starttls or tls, not %q", in.Mode)
	}
	if in.Port == 0 {
		in.Port = map[string]int{mail.ModeSTARTTLS: 587, mail.ModeTLS: 465, mail.ModePlaintext: 25}[in.Mode]
	}
	check := mail.Relay{Host: in.Host, Port: in.Port, Mode: in.Mode, Username: in.Username, CAPEM: []byte(in.CAPEM), From: in.From,
		PlaintextForLocalTesting: s.MailPlaintextAllowed}
	if check.From == "" {
		check.From = "voicemail@" + in.Host
	}
	if in.From != "" && (!strings.Contains(in.From, "@") || strings.ContainsAny(in.From, " <>\r\n")) {
		return nil, FieldError("from", "must be a plain address such as voicemail@example.com")
	}
	if err := check.Validate(); err != nil {
		field := "host"
		switch msg := err.Error(); {
		case strings.Contains(msg, "port"):
			field = "port"
		case strings.Contains(msg, "CA"):
			field = "ca_pem"
		case strings.Contains(msg, "credentials"):
			field = "username"
		}
		return nil, FieldError(field, "%s", strings.TrimPrefix(err.Error(), "mail: "))
	}
	if in.Password != nil && *in.Password != "" && in.Username == "" {
		return nil, FieldError("username", "required with a password")
	}
	sealed, keep := "", in.Password == nil
	if in.Password != nil && *in.Password != "" {
		if s.Vault == nil {
			return nil, &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "no key vault to seal the password with"}
		}
		var err error
		if sealed, err = s.Vault.SealSecret(r.TenantID, store.MailRelaySecretBinding(r.TenantID), *in.Password); err != nil {
			return nil, fmt.Errorf("seal the relay password: %w", err)
		}
	}
	out, err := s.DB.PutMailRelay(r.Context(), store.MailRelay{TenantID: r.TenantID, Enabled: in.Enabled, Host: in.Host, Port: in.Port, Mode: in.Mode,
		Username: in.Username, CAPEM: in.CAPEM, From: in.From}, sealed, keep)
	if err != nil {
		return nil, err
	}
	r.Audit("mail_relay.set", "mail_relay", r.TenantID, fmt.Sprintf("enabled=%t mode=%s port=%d", out.Enabled, out.Mode, out.Port))
	s.mailChanged(r.Context())
	return out, nil
}

func (s *Server) deleteMailRelay(r *Request) (any, error) {
	if err := s.DB.DeleteMailRelay(r.Context(), r.TenantID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errNotFound
		}
		return nil, err
	}
	r.Audit("mail_relay.delete", "mail_relay", r.TenantID, "")
	s.mailChanged(r.Context())
	return nil, nil
}

func (s *Server) mailChanged(ctx context.Context) {
	if s.MailChanged != nil {
		s.MailChanged(context.WithoutCancel(ctx))
	}
}
