package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/privox/privox/internal/api"
	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/config"
	"github.com/privox/privox/internal/flows"
	"github.com/privox/privox/internal/mail"
	"github.com/privox/privox/internal/privacy"
	"github.com/privox/privox/internal/sip"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/voicemail"
)

// Voicemail: the engine is made on first use (the SIP subsystem, wired before this file's
// subsystem, routes unanswered calls to it) and serves the API's voicemail routes. Its mailer
// sends e-mail copies through the outbound flow "smtp_relay", which is on while a relay is
// configured and enabled (mail.* in the configuration, or a tenant's own relay) and the
// flow's switch is on (mail.enabled, unless an administrator switched the flow).

func init() { registerSubsystem(newVoicemail) }

var (
	_ sip.Diverter      = (*voicemail.Service)(nil)
	_ sip.MessageCounts = (*voicemail.Service)(nil)
)

// mailRefreshEvery is how often the flow's destination follows the tenants' relays.
const mailRefreshEvery = 30 * time.Second

type voicemailSubsystem struct {
	a      *App
	mailer *voicemail.Mailer
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ Subsystem = (*voicemailSubsystem)(nil)

func newVoicemail(a *App) (Subsystem, error) {
	vm := a.voicemail()
	s := &voicemailSubsystem{a: a}
	retry := a.Cfg.Mail.Retry
	s.mailer = vm.UseMail(voicemail.MailOptions{
		FlowOn: func() bool { return a.Flows.Enabled(mail.FlowName) },
		Relay:  a.mailRelay,
		Dial:   a.Flows.Dialer(mail.FlowName),
		Check: func(ctx context.Context, tenantID, userID int64) error {
			if a.Privacy == nil {
				return errors.New("the privacy engine is not running")
			}
			return a.Privacy.CheckProcessing(ctx, tenantID, userID, privacy.PurposeEmailCopy)
		},
		IsRefusal: func(err error) bool { return errors.Is(err, privacy.ErrRestricted) },
		Attempts:  retry.Attempts, First: retry.First, Max: retry.Max,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a.refreshMailFlow(ctx)
	a.apiDeps = append(a.apiDeps, func(d *api.Deps) {
		d.Voicemail = vm
		d.MailChanged = func(ctx context.Context) { a.refreshMailFlow(ctx); s.mailer.Wake() }
		d.MailPlaintextAllowed = a.Cfg.Mail.PlaintextForLocalTesting
	})
	return s, nil
}

func (s *voicemailSubsystem) Name() string { return "voicemail" }

// Start runs the mailer; it also follows changes of the tenants' relays and of the flow switch.
func (s *voicemailSubsystem) Start(ctx context.Context) error {
	run, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		s.mailer.Run(run)
	}()
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(mailRefreshEvery)
		defer t.Stop()
		for {
			select {
			case <-run.Done():
				return
			case <-t.C:
				if s.a.refreshMailFlow(run) {
					s.mailer.Wake()
				}
			}
		}
	}()
	return nil
}

// Drain lets a delivery in progress finish; queued ones wait in the store for the next start.
func (s *voicemailSubsystem) Drain(ctx context.Context) error { return nil }

func (s *voicemailSubsystem) Stop() error {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	return nil
}

// refreshMailFlow sets the flow's destination from the relays configured now (the
// installation's and the tenants' enabled ones) and, unless an administrator switched the flow,
// its switch: on with mail.enabled or an enabled tenant relay. It reports whether the flow is on.
func (a *App) refreshMailFlow(ctx context.Context) bool {
	return setMailFlow(ctx, a.Cfg.Mail, a.DB, a.Flows, a.Logger)
}

// setMailFlow is refreshMailFlow for any registry (the CLI's documents use their own).
func setMailFlow(ctx context.Context, cfg config.Mail, db *store.DB, reg *flows.Registry, logger *slog.Logger) bool {
	dest, plain := "", false
	if r, ok, err := mail.FromConfig(cfg); err != nil {
		logger.Warn("installation SMTP relay unusable", "component", "voicemail", "err", err)
	} else if ok {
		dest, plain = r.Destination(), r.Mode == mail.ModePlaintext
	}
	n, np, err := db.EnabledMailRelays(ctx)
	if err != nil {
		logger.Warn("tenant SMTP relays unreadable", "component", "voicemail", "err", err)
	}
	if n > 0 {
		if dest != "" {
			dest += "; "
		}
		dest += fmt.Sprintf("%d tenant relay(s)", n)
		plain = plain || np > 0
	}
	reg.SetDestination(mail.FlowName, dest)
	reg.SetUnencrypted(mail.FlowName, plain)
	stored := false
	if fs, err := db.FlowSettings(ctx); err == nil {
		for _, f := range fs {
			if f.Name == mail.FlowName {
				stored = true
				reg.SetEnabled(mail.FlowName, f.Enabled)
			}
		}
	}
	if !stored {
		reg.SetEnabled(mail.FlowName, cfg.Enabled || n > 0)
	}
	return reg.Enabled(mail.FlowName)
}

// mailRelay is the relay of a tenant: its own when it configured one (used only while
// enabled: a tenant that switched its relay off gets no e-mail), else the installation's.
func (a *App) mailRelay(ctx context.Context, tenantID int64) (mail.Relay, bool, error) {
	tr, err := a.DB.MailRelay(ctx, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		return mail.FromConfig(a.Cfg.Mail)
	}
	if err != nil {
		return mail.Relay{}, false, err
	}
	if !tr.Enabled {
		return mail.Relay{}, false, nil
	}
	r := mail.Relay{Host: tr.Host, Port: tr.Port, Mode: tr.Mode, Username: tr.Username, CAPEM: []byte(tr.CAPEM), From: tr.From,
		PlaintextForLocalTesting: a.Cfg.Mail.PlaintextForLocalTesting, Timeout: a.Cfg.Mail.Timeout}
	if r.From == "" {
		r.From = a.Cfg.Mail.From
	}
	if r.From == "" {
		r.From = "voicemail@" + tr.Host
	}
	if tr.HasPassword {
		sealed, err := a.DB.MailRelaySecret(ctx, tenantID)
		if err != nil {
			return mail.Relay{}, false, err
		}
		if r.Password, err = a.Vault.OpenSecret(tenantID, store.MailRelaySecretBinding(tenantID), sealed); err != nil {
			return mail.Relay{}, false, fmt.Errorf("open the relay password: %w", err)
		}
	}
	return r, true, nil
}

// voicemail returns the voicemail engine, making it on the first call.
func (a *App) voicemail() *voicemail.Service {
	if a.Voicemail == nil {
		a.Voicemail = voicemail.New(a.DB, a.Files, appPrompts{a}, a.Logger, voicemail.Options{})
	}
	return a.Voicemail
}

// appPrompts reads the prompt library when a prompt is played (it is opened after the
// voicemail engine is made).
type appPrompts struct{ a *App }

var errNoPromptLibrary = errors.New("app: no prompt library")

func (p appPrompts) Sound(ctx context.Context, tenantID int64, lang string, names ...string) (audio.Sound, error) {
	if p.a.Prompts == nil {
		return nil, errNoPromptLibrary
	}
	return p.a.Prompts.Sound(ctx, tenantID, lang, names...)
}
