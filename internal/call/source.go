package call

import (
	"time"

	"github.com/privox/privox/internal/audio"
)

// FrameSamples is one 20 ms frame at 8 kHz, the unit every application endpoint sends.
const FrameSamples = audio.FrameSamples

// Source is one playing of a sound (audio.Source): 20 ms of 8 kHz PCM per Read.
type Source = audio.Source

// DefaultMusicOnHold is Privox's own hold music: a slow, soft arpeggio of sine tones
// (G major: 392, 494, 587, 784 Hz), 400 ms each with a short gap, looped until stopped.
func DefaultMusicOnHold() Source {
	var notes []audio.Sound
	for _, f := range []int{392, 494, 587, 784, 587, 494} {
		notes = append(notes, audio.Tone{Name: "moh", Freqs: []int{f}, Level: -16, Cadence: []time.Duration{400 * time.Millisecond}},
			audio.Silence(40*time.Millisecond))
	}
	return audio.Loop(audio.Sequence(notes...), 0).Open()
}
