package mail

import (
	"fmt"
	"os"
	"strings"

	"github.com/privox/privox/internal/config"
)

// FromConfig returns the installation's relay from the configuration; ok is false when
// none is configured or it is not enabled. The CA and password files are read here.
func FromConfig(c config.Mail) (r Relay, ok bool, err error) {
	if !c.Enabled || c.Host == "" {
		return Relay{}, false, nil
	}
	r = Relay{Host: c.Host, Port: c.MailPort(), Mode: c.Mode, Username: c.Username, Password: c.Password, From: c.From,
		PlaintextForLocalTesting: c.PlaintextForLocalTesting, Timeout: c.Timeout}
	if r.From == "" {
		r.From = "voicemail@" + c.Host
	}
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return Relay{}, false, fmt.Errorf("mail: password_file: %w", err)
		}
		r.Password = strings.TrimRight(string(b), "\r\n")
	}
	if c.CAFile != "" {
		if r.CAPEM, err = os.ReadFile(c.CAFile); err != nil {
			return Relay{}, false, fmt.Errorf("mail: ca_file: %w", err)
		}
	}
	if err := r.Validate(); err != nil {
		return Relay{}, false, err
	}
	return r, true, nil
}

// Destination names a relay for the flow registry and the privacy notice: host, port and
// mode, and plainly when mail crosses the network unencrypted.
func (r Relay) Destination() string {
	d := fmt.Sprintf("%s (%s)", r.Addr(), r.Mode)
	if r.Mode == ModePlaintext {
		d = r.Addr() + " (" + PlaintextNotice + ")"
	}
	return d
}

// PlaintextNotice is how the privacy documents name a relay reached without encryption.
const PlaintextNotice = "UNENCRYPTED, local-testing switch mail.plaintext_for_local_testing on"
