package audio

import (
	"math"
	"sync"
)

// HoldMusic returns Privox's default music on hold: 32 s of soft arpeggiated chords (a I-vi-IV-V
// progression in C, plucked notes with a decaying envelope) synthesised here, so nothing has to
// be downloaded or licensed. It loops without a click (it starts and ends silent), sits at about
// -24 dBm0, and no DTMF detector hears a key press in it. The clip is built once and shared.
func HoldMusic() *Clip { return holdMusic() }

var holdMusic = sync.OnceValue(func() *Clip {
	const (
		beat  = Rate / 4 // an eighth note at 120 bpm
		bars  = 16
		notes = 8 // per bar
	)
	// Chords as MIDI notes; each bar arpeggiates its chord up and down.
	chords := [][]int{{60, 64, 67, 72}, {57, 60, 64, 69}, {53, 57, 60, 65}, {55, 59, 62, 67}}
	pattern := []int{0, 1, 2, 3, 2, 1, 0, 1}
	pcm := make([]float64, bars*notes*beat+Rate)
	freq := func(m int) float64 { return 440 * math.Pow(2, float64(m-69)/12) }
	for bar := 0; bar < bars; bar++ {
		ch := chords[bar%len(chords)]
		// A soft bass note under each bar.
		bass := freq(ch[0] - 12)
		start := bar * notes * beat
		for i := 0; i < notes*beat; i++ {
			t := float64(i) / Rate
			env := math.Exp(-t*1.5) * math.Min(1, t*50)
			pcm[start+i] += 0.5 * env * math.Sin(2*math.Pi*bass*t)
		}
		for n := 0; n < notes; n++ {
			f := freq(ch[pattern[n]])
			off := start + n*beat
			for i := 0; i < 3*beat && off+i < len(pcm); i++ {
				t := float64(i) / Rate
				env := math.Exp(-t*4) * math.Min(1, t*200)
				// A fundamental with a weak octave: round, not shrill.
				pcm[off+i] += env * (math.Sin(2*math.Pi*f*t) + 0.25*math.Sin(4*math.Pi*f*t))
			}
		}
	}
	// Scale to about -24 dBm0 mean level, fade in, and fade the last half second to silence.
	var ms float64
	for _, v := range pcm {
		ms += v * v
	}
	ms /= float64(len(pcm))
	target := AmplitudeDBm0(-24) / math.Sqrt2 // rms of a -24 dBm0 sine
	g := target / math.Sqrt(ms)
	out := make([]int16, len(pcm))
	fade := Rate / 2
	for i, v := range pcm {
		if left := len(pcm) - i; left < fade {
			v *= float64(left) / float64(fade)
		}
		if i < Rate/20 { // and fade in over 50 ms
			v *= float64(i) / (Rate / 20)
		}
		out[i] = clamp16(v * g)
	}
	return NewClip(PCMA, out)
})
