// Package mail owns sending e-mail through an SMTP relay: the relay's settings and their
// checks, and one Send that builds a message (text, optionally one attachment) and hands it
// to the relay over STARTTLS or implicit TLS with the certificate always verified (against the
// system's roots and an optional private CA). Plaintext exists only for a relay used in local
// tests and must be asked for by name. Every connection goes through the dial function it is
// given, which the app binds to the declared outbound flow "smtp_relay"; the package itself
// opens nothing. Errors it returns never carry an address or message content.
package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// FlowName is the declared outbound flow every relay connection goes through.
const FlowName = "smtp_relay"

// Modes of a relay connection.
const (
	ModeSTARTTLS  = "starttls"
	ModeTLS       = "tls"
	ModePlaintext = "plaintext"
)

// DefaultTimeout bounds one delivery when the relay sets none.
const DefaultTimeout = time.Minute

// Relay is an SMTP relay to send through.
type Relay struct {
	Host string
	Port int
	Mode string
	// Username and Password log in (PLAIN, over TLS only); empty sends without login.
	Username, Password string
	// CAPEM holds certificates of a private CA trusted besides the system's roots.
	CAPEM []byte
	// From is the sender address.
	From string
	// PlaintextForLocalTesting must be set for ModePlaintext.
	PlaintextForLocalTesting bool
	Timeout                  time.Duration
}

// Addr is the relay's host:port.
func (r Relay) Addr() string { return net.JoinHostPort(r.Host, strconv.Itoa(r.Port)) }

// Validate reports a relay that Send would refuse.
func (r Relay) Validate() error {
	if strings.TrimSpace(r.Host) == "" || strings.ContainsAny(r.Host, " /@") {
		return errors.New("mail: relay host missing or malformed")
	}
	if r.Port < 1 || r.Port > 65535 {
		return errors.New("mail: relay port must be 1 to 65535")
	}
	switch r.Mode {
	case ModeSTARTTLS, ModeTLS:
	case ModePlaintext:
		if !r.PlaintextForLocalTesting {
			return errors.New("mail: plaintext relay refused (allowed only with the local-testing switch)")
		}
		if r.Username != "" {
			return errors.New("mail: credentials are sent only over TLS")
		}
	default:
		return fmt.Errorf("mail: relay mode must be starttls or tls, not %q", r.Mode)
	}
	if len(r.CAPEM) > 0 && !x509.NewCertPool().AppendCertsFromPEM(r.CAPEM) {
		return errors.New("mail: the relay's CA file holds no PEM certificate")
	}
	if r.From == "" || !strings.Contains(r.From, "@") {
		return errors.New("mail: relay sender address missing")
	}
	return nil
}

// TLSConfig is the verified client configuration for the relay: its host name checked
// against a certificate from the system's roots or the relay's private CA, TLS 1.2 or newer.
func (r Relay) TLSConfig() (*tls.Config, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if len(r.CAPEM) > 0 && !pool.AppendCertsFromPEM(r.CAPEM) {
		return nil, errors.New("mail: the relay's CA file holds no PEM certificate")
	}
	return &tls.Config{ServerName: r.Host, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// Message is one e-mail.
type Message struct {
	To      string
	Subject string
	Text    string
	// Attachment, when not nil, is attached as AttachmentName with AttachmentType.
	Attachment     []byte
	AttachmentName string
	AttachmentType string
}

// DialFunc opens a connection (flows.Registry.Dialer binds one to the declared flow).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Error is a failed delivery. Permanent says the relay refused the message for good (a 5xx
// answer); anything else may work on a later try.
type Error struct {
	Permanent bool
	msg       string
}

func (e *Error) Error() string { return e.msg }

// Send delivers m through r, dialling with dial.
func Send(ctx context.Context, dial DialFunc, r Relay, m Message) error {
	if err := r.Validate(); err != nil {
		return &Error{Permanent: true, msg: err.Error()}
	}
	if dial == nil {
		return &Error{Permanent: true, msg: "mail: no dialer"}
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Every connection of this delivery is closed when it ends, also the one a failed TLS
	// handshake leaves behind in the client.
	var opened []net.Conn
	defer func() {
		for _, c := range opened {
			c.Close()
		}
	}()
	inner := dial
	dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := inner(ctx, network, addr)
		if err == nil {
			opened = append(opened, c)
		}
		return c, err
	}
	tlsCfg, err := r.TLSConfig()
	if err != nil {
		return &Error{Permanent: true, msg: err.Error()}
	}
	msg := gomail.NewMsg()
	if err := msg.From(r.From); err != nil {
		return &Error{Permanent: true, msg: "mail: invalid sender address"}
	}
	if err := msg.To(m.To); err != nil {
		return &Error{Permanent: true, msg: "mail: invalid recipient address"}
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.Attachment != nil {
		typ := m.AttachmentType
		if typ == "" {
			typ = "application/octet-stream"
		}
		if err := msg.AttachReader(m.AttachmentName, bytes.NewReader(m.Attachment), gomail.WithFileContentType(gomail.ContentType(typ))); err != nil {
			return &Error{Permanent: true, msg: "mail: attach: " + Redact(err.Error())}
		}
	}
	opts := []gomail.Option{gomail.WithPort(r.Port), gomail.WithTimeout(timeout), gomail.WithTLSConfig(tlsCfg)}
	switch r.Mode {
	case ModeTLS:
		// Implicit TLS: the connection is TLS from its first byte, verified here, and the
		// client is told so (no STARTTLS on top).
		opts = append(opts, gomail.WithSSL(), gomail.WithDialContextFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			tc := tls.Client(c, tlsCfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				c.Close()
				return nil, err
			}
			return tc, nil
		}))
	case ModeSTARTTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory), gomail.WithDialContextFunc(gomail.DialContextFunc(dial)))
	case ModePlaintext:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS), gomail.WithDialContextFunc(gomail.DialContextFunc(dial)))
	}
	if r.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername(r.Username), gomail.WithPassword(r.Password))
	}
	c, err := gomail.NewClient(r.Host, opts...)
	if err != nil {
		return &Error{Permanent: true, msg: "mail: client: " + Redact(err.Error())}
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		var se *gomail.SendError
		perm := errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500
		return &Error{Permanent: perm, msg: "mail: send: " + Redact(err.Error())}
	}
	return nil
}

// Redact removes from an error text every word that holds an address (a relay's answer may
// quote the recipient) and bounds its length.
func Redact(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		if strings.Contains(w, "@") {
			words[i] = "[address]"
		}
	}
	s = strings.Join(words, " ")
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300])
	}
	return s
}
