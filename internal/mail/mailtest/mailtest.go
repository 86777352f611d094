// Package mailtest runs a real SMTP server (github.com/emersion/go-smtp) on a free loopback
// port for tests: STARTTLS or implicit TLS with a certificate from a private CA made for the
// test, optional PLAIN login, and a record of every message it accepted. Only tests import it.
package mailtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	stdmail "net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options choose how the server talks.
type Options struct {
	// Mode is "starttls" (default), "tls" (implicit TLS) or "plaintext".
	Mode string
	// Username and Password, when set, are required (AUTH PLAIN).
	Username, Password string
	// ForeignCA signs the server's certificate with a CA other than the one CAPEM returns, as
	// an impostor would.
	ForeignCA bool
}

// Message is one accepted e-mail.
type Message struct {
	From string
	To   []string
	Data []byte
	TLS  bool
}

// Server is a running test SMTP server.
type Server struct {
	Host string
	Port int
	// CAPEM is the private CA the client should trust.
	CAPEM []byte

	opt  Options
	srv  *smtp.Server
	ln   net.Listener
	mu   sync.Mutex
	msgs []Message
	got  chan struct{}
	fail int // answer 451 to this many DATA commands
	wg   sync.WaitGroup
}

// Start starts a server on 127.0.0.1 and a free port; it stops when the test ends.
func Start(t testing.TB, opt Options) *Server {
	t.Helper()
	if opt.Mode == "" {
		opt.Mode = "starttls"
	}
	caPEM, caCert, caKey := newCA(t, "Privox test CA")
	signer, signerKey := caCert, caKey
	if opt.ForeignCA {
		_, signer, signerKey = newCA(t, "Impostor CA")
	}
	cert := leaf(t, signer, signerKey)
	s := &Server{Host: "127.0.0.1", CAPEM: caPEM, opt: opt, got: make(chan struct{}, 1000)}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, conn: c}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.MaxMessageBytes = 64 << 20
	s.srv.MaxRecipients = 10
	s.srv.AllowInsecureAuth = opt.Mode == "plaintext"
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	switch opt.Mode {
	case "starttls":
		s.srv.TLSConfig = tlsCfg
	case "tls":
		ln = tls.NewListener(ln, tlsCfg)
	}
	s.ln = ln
	s.Port = ln.Addr().(*net.TCPAddr).Port
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.srv.Serve(ln)
	}()
	t.Cleanup(s.Close)
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Close stops the server.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
	s.wg.Wait()
}

// FailNext makes the server answer the next n messages with 451 (try again later).
func (s *Server) FailNext(n int) {
	s.mu.Lock()
	s.fail = n
	s.mu.Unlock()
}

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait waits until n messages were accepted in all, or the timeout passed.
func (s *Server) Wait(n int, timeout time.Duration) []Message {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-s.got:
		case <-deadline.C:
			return s.Messages()
		}
	}
}

type session struct {
	s      *Server
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

var errAuth = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opt.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != ss.s.opt.Username || password != ss.s.opt.Password {
			return errors.New("invalid credentials")
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opt.Username != "" && !ss.authed {
		return errAuth
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.s.fail > 0 {
		ss.s.fail--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
	}
	_, isTLS := ss.conn.TLSConnectionState()
	ss.s.msgs = append(ss.s.msgs, Message{From: ss.from, To: ss.to, Data: bytes.Clone(data), TLS: isTLS})
	select {
	case ss.s.got <- struct{}{}:
	default:
	}
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

func newCA(t testing.TB, name string) ([]byte, *x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), cert, key
}

func leaf(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// Parsed is a received message taken apart.
type Parsed struct {
	Header      stdmail.Header
	Subject     string
	Text        string
	Attachments []Attachment
}

// Attachment is one decoded attachment.
type Attachment struct {
	Name, Type string
	Data       []byte
}

// Parse decodes a message: its subject, its text part and its attachments (base64 or
// quoted-printable decoded).
func Parse(raw []byte) (Parsed, error) {
	m, err := stdmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Parsed{}, err
	}
	var p Parsed
	p.Header = m.Header
	dec := new(mime.WordDecoder)
	if p.Subject, err = dec.DecodeHeader(m.Header.Get("Subject")); err != nil {
		return p, err
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		return p, err
	}
	if !strings.HasPrefix(mt, "multipart/") {
		b, err := io.ReadAll(decodePart(m.Body, m.Header.Get("Content-Transfer-Encoding")))
		p.Text = string(b)
		return p, err
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			return p, nil
		}
		if err != nil {
			return p, err
		}
		b, err := io.ReadAll(decodePart(part, part.Header.Get("Content-Transfer-Encoding")))
		if err != nil {
			return p, err
		}
		if part.FileName() != "" {
			p.Attachments = append(p.Attachments, Attachment{Name: part.FileName(), Type: part.Header.Get("Content-Type"), Data: b})
		} else if p.Text == "" {
			p.Text = string(b)
		}
	}
}

func decodePart(r io.Reader, cte string) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &crlfStripper{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// crlfStripper drops line breaks, which base64.NewDecoder does not skip on its own in every
// position.
type crlfStripper struct{ r io.Reader }

func (c *crlfStripper) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	j := 0
	for _, b := range p[:n] {
		if b != '\r' && b != '\n' {
			p[j] = b
			j++
		}
	}
	return j, err
}
