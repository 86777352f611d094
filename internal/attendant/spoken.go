package attendant

import (
	"context"
	"errors"

	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/prompts"
)

// SpokenPrompts plays the attendant's prompts from the prompt set (system prompts spoken by
// espeak-ng, each replaceable by a tenant's upload). A menu's own greeting may name a
// tenant's custom prompt ("custom-main"). Where the set lacks a prompt (espeak-ng was not
// installed when Privox started) the tone stand-in plays instead, so calls still work.
type SpokenPrompts struct {
	Lib *prompts.Library
}

var _ Prompts = SpokenPrompts{}

// phrases are the system prompts each attendant prompt is made of.
var phrases = map[string][]string{
	PromptGreeting:    {prompts.Welcome, prompts.ThankYouCalling},
	PromptClosed:      {prompts.OfficeClosed, prompts.CallBackHours},
	PromptInvalid:     {prompts.InvalidChoice, prompts.TryAgain},
	PromptNoInput:     {prompts.NoInput, prompts.TryAgain},
	PromptUnavailable: {prompts.NotAvailable},
	PromptGoodbye:     {prompts.Goodbye},
}

// Prompt implements Prompts.
func (p SpokenPrompts) Prompt(ctx context.Context, tenantID int64, lang, name string) (audio.Sound, error) {
	names, ok := phrases[name]
	if !ok {
		names = []string{name}
	}
	if p.Lib != nil {
		snd, err := p.Lib.Sound(ctx, tenantID, lang, names...)
		if err == nil {
			return snd, nil
		}
		if !errors.Is(err, prompts.ErrMissing) && !errors.Is(err, prompts.ErrUnknown) {
			return nil, err
		}
	}
	return TonePrompts{}.Prompt(ctx, tenantID, lang, name)
}
