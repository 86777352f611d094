package mail_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/privox/privox/internal/mail"
	"github.com/privox/privox/internal/mail/mailtest"
)

func dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func relayFor(s *mailtest.Server, mode string) mail.Relay {
	return mail.Relay{Host: s.Host, Port: s.Port, Mode: mode, CAPEM: s.CAPEM, From: "voicemail@pbx.test", Timeout: 10 * time.Second}
}

// attachment returns the first attachment of a message, its content type and the text.
func attachment(t *testing.T, raw []byte) ([]byte, string, string) {
	t.Helper()
	p, err := mailtest.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Attachments) == 0 {
		return nil, "", p.Text
	}
	return p.Attachments[0].Data, p.Attachments[0].Type, p.Text
}

func TestSendOverSTARTTLSAndTLS(t *testing.T) {
	for _, mode := range []string{"starttls", "tls"} {
		t.Run(mode, func(t *testing.T) {
			s := mailtest.Start(t, mailtest.Options{Mode: mode, Username: "pbx", Password: "relay-secret"})
			r := relayFor(s, mode)
			r.Username, r.Password = "pbx", "relay-secret"
			wav := []byte("RIFF....WAVEfmt binary \x00\x01\x02\xff")
			err := mail.Send(context.Background(), dial, r, mail.Message{To: "alice@acme.test", Subject: "Voice message", Text: "hello",
				Attachment: wav, AttachmentName: "message.wav", AttachmentType: "audio/wav"})
			if err != nil {
				t.Fatal(err)
			}
			msgs := s.Wait(1, 5*time.Second)
			if len(msgs) != 1 || !msgs[0].TLS || msgs[0].To[0] != "alice@acme.test" || msgs[0].From != "voicemail@pbx.test" {
				t.Fatalf("messages: %+v", msgs)
			}
			got, ct, _ := attachment(t, msgs[0].Data)
			if !bytes.Equal(got, wav) || !strings.HasPrefix(ct, "audio/wav") {
				t.Fatalf("attachment %q %q", got, ct)
			}
		})
	}
}

// A relay whose certificate does not chain to a trusted CA is refused; the message is not sent.
func TestUnknownCARefused(t *testing.T) {
	for _, mode := range []string{"starttls", "tls"} {
		t.Run(mode, func(t *testing.T) {
			s := mailtest.Start(t, mailtest.Options{Mode: mode, ForeignCA: true})
			err := mail.Send(context.Background(), dial, relayFor(s, mode), mail.Message{To: "alice@acme.test", Subject: "x", Text: "y"})
			if err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("relay with an impostor certificate: %v", err)
			}
			if n := len(s.Messages()); n != 0 {
				t.Fatalf("%d messages reached the impostor", n)
			}
		})
	}
}

// A relay that offers no STARTTLS is refused in starttls mode; plaintext needs its switch.
func TestNoPlaintextUnlessAsked(t *testing.T) {
	s := mailtest.Start(t, mailtest.Options{Mode: "plaintext"})
	if err := mail.Send(context.Background(), dial, relayFor(s, "starttls"), mail.Message{To: "a@b.test", Text: "x"}); err == nil {
		t.Fatal("sent without TLS in starttls mode")
	}
	r := relayFor(s, "plaintext")
	var me *mail.Error
	if err := mail.Send(context.Background(), dial, r, mail.Message{To: "a@b.test", Text: "x"}); !errors.As(err, &me) || !me.Permanent {
		t.Fatalf("plaintext without the switch: %v", err)
	}
	r.PlaintextForLocalTesting = true
	if err := mail.Send(context.Background(), dial, r, mail.Message{To: "a@b.test", Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if m := s.Wait(1, 5*time.Second); len(m) != 1 || m[0].TLS {
		t.Fatalf("messages %+v", m)
	}
}

// A 4xx answer is temporary; the error names no address.
func TestTemporaryFailure(t *testing.T) {
	s := mailtest.Start(t, mailtest.Options{})
	s.FailNext(1)
	err := mail.Send(context.Background(), dial, relayFor(s, "starttls"), mail.Message{To: "alice@acme.test", Text: "x"})
	var me *mail.Error
	if !errors.As(err, &me) || me.Permanent || strings.Contains(err.Error(), "alice") {
		t.Fatalf("451: %v", err)
	}
	if got := mail.Redact("550 5.1.1 <bob@x.test>: unknown"); strings.Contains(got, "bob") {
		t.Fatal(got)
	}
}
