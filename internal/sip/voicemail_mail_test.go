package sip_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/privox/privox/internal/config"
	"github.com/privox/privox/internal/mail/mailtest"
	"github.com/privox/privox/internal/privoxtest"
)

// TestVoicemailMailAfterCall: a sipp caller leaves a message in 1002's box; the box mails it
// to its owner over STARTTLS at a real SMTP server on loopback, and the attached WAV is the
// stored message.
func TestVoicemailMailAfterCall(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{Mode: "starttls"})
	ca := filepath.Join(t.TempDir(), "relay-ca.pem")
	if err := os.WriteFile(ca, srv.CAPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	e := startWith(t, privoxtest.Options{Configure: func(c *config.Config) {
		c.Mail = config.Mail{Enabled: true, Host: srv.Host, Port: srv.Port, Mode: "starttls", CAFile: ca, From: "voicemail@pbx.test",
			Retry: config.MailRetry{Attempts: 3, First: time.Second, Max: time.Second}}
	}}, nil)
	var u struct{ ID int64 }
	e.p.MustDo(201, "POST", "/api/v1/tenants/1/users", e.p.AdminToken, map[string]any{"name": "Bea", "email": "bea@acme.test", "language": "de"}, &u)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002", "--user", fmt.Sprint(u.ID))
	e.putGreeting("1002", "unavailable", time.Second)
	e.p.MustDo(200, "PATCH", e.vmPath("1002"), e.p.AdminToken, map[string]any{"email_copy": true}, nil)
	const lead = 2500 * time.Millisecond
	e.sippUAC("caller", "uac_voicemail.xml", "udp", "-d", fmt.Sprint(lead.Milliseconds())).wait(t)
	e.checkMessage(t, lead)
	msgs := srv.Wait(1, 30*time.Second)
	if len(msgs) != 1 || !msgs[0].TLS || len(msgs[0].To) != 1 || msgs[0].To[0] != "bea@acme.test" {
		t.Fatalf("mails received: %+v", msgs)
	}
	p, err := mailtest.Parse(msgs[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	m := e.vmMessages("1002")[0]
	st, wav := e.p.Do("GET", fmt.Sprintf("%s/messages/%d/audio", e.vmPath("1002"), m.ID), e.p.AdminToken, nil)
	if st != 200 || len(p.Attachments) != 1 || !bytes.Equal(p.Attachments[0].Data, wav) {
		t.Fatalf("the attached WAV is not the stored message (%d, %d attachments)", st, len(p.Attachments))
	}
	if !strings.Contains(p.Subject, "Neue Sprachnachricht") || !strings.Contains(p.Text, "1001") {
		t.Errorf("mail in the owner's language naming the caller: %q %q", p.Subject, p.Text)
	}
}
