package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The SMTP relay options are checked with clear errors at their lines; plaintext needs the
// explicit local-testing switch, and an option that does not exist is refused.
func TestMailOptions(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, []byte("x"), 0o600)
	for _, c := range []struct {
		name, yaml string
		want       []string // "" for a valid file
	}{
		{"starttls", "mail:\n  enabled: true\n  host: smtp.example.com\n  ca_file: " + ca + "\n  from: vm@example.com\n", nil},
		{"tls with login", "mail:\n  enabled: true\n  host: smtp.example.com\n  mode: tls\n  username: pbx\n  password: secret\n", nil},
		{"enabled without host", "mail:\n  enabled: true\n", []string{"mail.host", "required when mail.enabled is true"}},
		{"plaintext refused", "mail:\n  host: 127.0.0.1\n  mode: plaintext\n", []string{":3: mail.mode: plaintext sends e-mails unencrypted"}},
		{"plaintext for tests", "mail:\n  host: 127.0.0.1\n  mode: plaintext\n  plaintext_for_local_testing: true\n", nil},
		{"credentials in clear", "mail:\n  host: 127.0.0.1\n  mode: plaintext\n  plaintext_for_local_testing: true\n  username: u\n", []string{"mail.username: credentials are sent only over TLS"}},
		{"unknown mode", "mail:\n  mode: ssl\n", []string{":2: mail.mode: must be starttls or tls"}},
		{"no such option", "mail:\n  verify_certificates: false\n", []string{":2: mail.verify_certificates: unknown option"}},
		{"missing CA file", "mail:\n  host: h\n  ca_file: " + filepath.Join(dir, "none.pem") + "\n", []string{"mail.ca_file"}},
		{"bad retry", "mail:\n  retry:\n    attempts: 0\n    first: 10m\n    max: 1m\n", []string{"mail.retry.attempts", "mail.retry.max"}},
		{"password without user", "mail:\n  host: h\n  password: p\n", []string{"mail.username", "required with a password"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "privox.yaml")
			os.WriteFile(p, []byte(c.yaml), 0o600)
			_, err := Load(p, nil)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("valid file refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if got := (Mail{Mode: "tls"}).MailPort(); got != 465 {
		t.Errorf("tls port %d", got)
	}
	if got := Default().Mail.MailPort(); got != 587 {
		t.Errorf("starttls port %d", got)
	}
}
