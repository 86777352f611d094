package attendant

import (
	"context"
	"fmt"
	"time"

	"github.com/privox/privox/internal/audio"
)

// TonePrompts stands in for the spoken prompt set until it is wired: each attendant prompt is
// a short tone of its own frequency (the same in every language), so a caller, and a test,
// can tell them apart. A menu's own greeting name that is not one of these plays the greeting
// tone.
type TonePrompts struct{}

var _ Prompts = TonePrompts{}

// ToneOf is the frequency of each stand-in prompt, in Hz.
var ToneOf = map[string]int{
	PromptGreeting:    600,
	PromptClosed:      400,
	PromptInvalid:     350,
	PromptNoInput:     300,
	PromptUnavailable: 700,
	PromptGoodbye:     500,
}

// Prompt implements Prompts.
func (TonePrompts) Prompt(_ context.Context, _ int64, _ string, name string) (audio.Sound, error) {
	f, ok := ToneOf[name]
	if !ok {
		f = ToneOf[PromptGreeting]
	}
	if name == "" {
		return nil, fmt.Errorf("attendant: empty prompt name")
	}
	d := 600 * time.Millisecond
	if name == PromptGreeting || name == PromptClosed {
		d = 1500 * time.Millisecond
	}
	return audio.Tone{Name: name, Freqs: []int{f}, Level: -12, Cadence: []time.Duration{d}}, nil
}
