package app

import (
	"context"
	"errors"

	"github.com/privox/privox/internal/api"
	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/sip"
	"github.com/privox/privox/internal/voicemail"
)

// Voicemail: the engine is made on first use (the SIP subsystem, wired before this file's
// subsystem, routes unanswered calls to it) and serves the API's voicemail routes.

func init() { registerSubsystem(newVoicemail) }

var (
	_ sip.Diverter      = (*voicemail.Service)(nil)
	_ sip.MessageCounts = (*voicemail.Service)(nil)
)

func newVoicemail(a *App) (Subsystem, error) {
	vm := a.voicemail()
	a.apiDeps = append(a.apiDeps, func(d *api.Deps) { d.Voicemail = vm })
	return nil, nil
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
