// Package flows is the registry of outbound data flows (SPEC §4): every connection Privox
// initiates is declared here with its purpose, destination, the data it sends, its legal basis,
// its default and the switch that turns it on. A flow is on only when it is switched on and the
// subsystem that owns it has a destination configured (a trunk, a directory source, an SMTP
// relay): a declared flow with nothing to connect to is off, and the generated privacy
// documents leave it out. Dialling goes through Dial, which refuses a flow that is undeclared,
// switched off or without a destination; nothing else in Privox opens outbound connections.
package flows

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
)

// Flow declares one kind of outbound connection.
type Flow struct {
	Name        string `json:"name"`
	Purpose     string `json:"purpose"`
	Destination string `json:"destination"`
	DataSent    string `json:"data_sent"`
	LegalBasis  string `json:"legal_basis"`
	// DefaultOn is the switch before an administrator changes it; the flow is still off
	// while no destination is configured.
	DefaultOn bool `json:"default_on"`
	// Switch names the setting that turns the flow on or off.
	Switch string `json:"switch"`
}

// The flows of SPEC §4. Subsystems that dial declare their flow here, nowhere else.
var declared = []Flow{
	{Name: "sip_trunk", Purpose: "Place and receive calls through a SIP trunk provider", Destination: "the configured trunk's SIP server", DataSent: "call signalling (numbers, caller ID) and media of trunk calls", LegalBasis: "contract (Art. 6(1)(b) GDPR)", DefaultOn: true, Switch: "per trunk: trunks.enabled"},
	{Name: "smtp_relay", Purpose: "Send voicemail and fax notifications by e-mail", Destination: "the configured SMTP relay (STARTTLS or TLS only)", DataSent: "recipient address, caller number, message time; the recording or fax only when attachments are on", LegalBasis: "contract (Art. 6(1)(b) GDPR)", DefaultOn: false, Switch: "mail.enabled"},
	{Name: "backup_target", Purpose: "Store encrypted backups off the machine", Destination: "the configured external backup target", DataSent: "an archive encrypted before it leaves", LegalBasis: "legitimate interest in availability (Art. 6(1)(f) GDPR)", DefaultOn: false, Switch: "backup.external_enabled"},
	{Name: "directory_source", Purpose: "Replicate contacts from a directory into the local index", Destination: "the configured LDAP/AD server or URL", DataSent: "bind credentials and search queries of the connector", LegalBasis: "legitimate interest (Art. 6(1)(f) GDPR)", DefaultOn: true, Switch: "per source: directory.sources.enabled"},
	{Name: "push_gateway", Purpose: "Wake mobile softphones for incoming calls", Destination: "the configured push gateway", DataSent: "a minimal wake-up payload; no number unless allowed", LegalBasis: "consent (Art. 6(1)(a) GDPR)", DefaultOn: false, Switch: "push.enabled"},
	{Name: "update_check", Purpose: "Check whether a newer Privox version exists", Destination: "the configured update server", DataSent: "the product version only", LegalBasis: "legitimate interest (Art. 6(1)(f) GDPR)", DefaultOn: false, Switch: "update.enabled"},
	{Name: "time_sync", Purpose: "Check the host clock against an NTP server", Destination: "the configured NTP server", DataSent: "an NTP query", LegalBasis: "legitimate interest (Art. 6(1)(f) GDPR)", DefaultOn: false, Switch: "time.ntp_enabled"},
}

// ErrUndeclared is returned for a flow the registry does not know.
var ErrUndeclared = errors.New("flows: undeclared outbound flow")

// ErrSwitchedOff is returned for a declared flow that is switched off.
var ErrSwitchedOff = errors.New("flows: outbound flow is switched off")

// ErrNotConfigured is returned for a declared flow that has no destination configured.
var ErrNotConfigured = errors.New("flows: outbound flow has no destination configured")

// Registry holds the declared flows, their current switches and their configured
// destinations.
type Registry struct {
	mu     sync.RWMutex
	on     map[string]bool
	dest   map[string]string
	plain  map[string]bool
	dialer net.Dialer
}

// NewRegistry returns a registry with every flow's switch at its default and no destination.
func NewRegistry() *Registry {
	r := &Registry{on: map[string]bool{}, dest: map[string]string{}, plain: map[string]bool{}}
	for _, f := range declared {
		r.on[f.Name] = f.DefaultOn
	}
	return r
}

// Declared lists every declared flow.
func Declared() []Flow {
	out := append([]Flow(nil), declared...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns one declared flow.
func Lookup(name string) (Flow, bool) {
	for _, f := range declared {
		if f.Name == name {
			return f, true
		}
	}
	return Flow{}, false
}

// State is a flow with its current switch and destination.
type State struct {
	Flow
	// Enabled is whether the flow is on: switched on and with a destination configured.
	Enabled bool `json:"enabled"`
	// SwitchedOn is the administrator's switch (or the default).
	SwitchedOn bool `json:"switched_on"`
	// Configured is whether the owning subsystem has a destination for the flow.
	Configured bool `json:"configured"`
	// Unencrypted says that the flow's destination is reached without encryption, which only
	// an explicit local-testing switch allows (mail.plaintext_for_local_testing); the privacy
	// documents name it.
	Unencrypted bool `json:"unencrypted,omitempty"`
}

// NewState is a flow with a switch and a configured destination (or none).
func NewState(f Flow, switchedOn bool, destination string) State {
	return State{Flow: f, Enabled: switchedOn && destination != "", SwitchedOn: switchedOn, Configured: destination != ""}
}

// List returns every flow with its current state.
func (r *Registry) List() []State {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []State
	for _, f := range Declared() {
		st := NewState(f, r.on[f.Name], r.dest[f.Name])
		st.Unencrypted = st.Configured && r.plain[f.Name]
		out = append(out, st)
	}
	return out
}

// SetUnencrypted records that a flow's configured destination is reached in plaintext.
func (r *Registry) SetUnencrypted(name string, plain bool) error {
	if _, ok := Lookup(name); !ok {
		return fmt.Errorf("%w: %q", ErrUndeclared, name)
	}
	r.mu.Lock()
	r.plain[name] = plain
	r.mu.Unlock()
	return nil
}

// Unencrypted reports whether a flow's configured destination is reached in plaintext.
func (r *Registry) Unencrypted(name string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.plain[name] && r.dest[name] != ""
}

// Enabled reports whether a flow is on: switched on and with a destination configured.
func (r *Registry) Enabled(name string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.on[name] && r.dest[name] != ""
}

// SwitchedOn reports the switch of a flow, whether or not it has a destination.
func (r *Registry) SwitchedOn(name string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.on[name]
}

// Destination returns the destination configured for a flow ("" when none).
func (r *Registry) Destination(name string) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.dest[name]
}

// SetDestination records the destination the subsystem that owns a flow is configured with
// (a trunk's server, a directory source's URL); "" says there is none, and the flow is off.
func (r *Registry) SetDestination(name, destination string) error {
	if _, ok := Lookup(name); !ok {
		return fmt.Errorf("%w: %q", ErrUndeclared, name)
	}
	r.mu.Lock()
	if destination == "" {
		delete(r.dest, name)
	} else {
		r.dest[name] = destination
	}
	r.mu.Unlock()
	return nil
}

// SetEnabled switches a declared flow on or off.
func (r *Registry) SetEnabled(name string, on bool) error {
	if _, ok := Lookup(name); !ok {
		return fmt.Errorf("%w: %q", ErrUndeclared, name)
	}
	r.mu.Lock()
	r.on[name] = on
	r.mu.Unlock()
	return nil
}

// Dial opens an outbound connection for a declared, switched-on flow.
func (r *Registry) Dial(ctx context.Context, flow, network, addr string) (net.Conn, error) {
	if err := r.Check(flow); err != nil {
		return nil, err
	}
	return r.dialer.DialContext(ctx, network, addr)
}

// Check reports whether a flow may be used now.
func (r *Registry) Check(flow string) error {
	if _, ok := Lookup(flow); !ok {
		return fmt.Errorf("%w: %q", ErrUndeclared, flow)
	}
	if !r.SwitchedOn(flow) {
		return fmt.Errorf("%w: %q", ErrSwitchedOff, flow)
	}
	if r.Destination(flow) == "" {
		return fmt.Errorf("%w: %q", ErrNotConfigured, flow)
	}
	return nil
}

// Dialer returns a dial function bound to one flow, for libraries that take one.
func (r *Registry) Dialer(flow string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return r.Dial(ctx, flow, network, addr)
	}
}
