package audio

import (
	"math"
	"time"
)

// Tone is a call-progress tone: one or two frequencies, each at Level dBm0, switched on and off
// by a cadence. A Tone is a Sound.
type Tone struct {
	Name string
	// Freqs are whole hertz (every tone of E.180 is); at most two are used.
	Freqs []int
	// Level is the level of each frequency in dBm0.
	Level float64
	// Cadence alternates on and off durations, starting with on; empty means continuous.
	Cadence []time.Duration
	// Repeat plays the cadence again and again until the playing is stopped; a continuous tone
	// always plays until stopped.
	Repeat bool
}

// ToneSet is the call-progress tones of one country or region.
type ToneSet struct {
	Region      string
	Dial        Tone
	Ringback    Tone
	Busy        Tone
	Congestion  Tone
	CallWaiting Tone
	// Beep is the short tone before a recording starts ("leave a message after the tone").
	Beep Tone
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// German tones (ITU-T E.180 Annex, Germany; Deutsche Telekom 1TR110): 425 Hz throughout.
var germanTones = ToneSet{
	Region:      "de",
	Dial:        Tone{Name: "dial", Freqs: []int{425}, Level: -13},
	Ringback:    Tone{Name: "ringback", Freqs: []int{425}, Level: -13, Cadence: []time.Duration{ms(1000), ms(4000)}, Repeat: true},
	Busy:        Tone{Name: "busy", Freqs: []int{425}, Level: -13, Cadence: []time.Duration{ms(480), ms(480)}, Repeat: true},
	Congestion:  Tone{Name: "congestion", Freqs: []int{425}, Level: -13, Cadence: []time.Duration{ms(240), ms(240)}, Repeat: true},
	CallWaiting: Tone{Name: "call-waiting", Freqs: []int{425}, Level: -13, Cadence: []time.Duration{ms(200), ms(200), ms(200), ms(5000)}, Repeat: true},
	Beep:        Tone{Name: "beep", Freqs: []int{1000}, Level: -10, Cadence: []time.Duration{ms(400)}},
}

// North American precise tones (ANSI T1.401, ITU-T E.180 United States), which Privox also
// uses as its international default.
var usTones = ToneSet{
	Region:      "us",
	Dial:        Tone{Name: "dial", Freqs: []int{350, 440}, Level: -13},
	Ringback:    Tone{Name: "ringback", Freqs: []int{440, 480}, Level: -19, Cadence: []time.Duration{ms(2000), ms(4000)}, Repeat: true},
	Busy:        Tone{Name: "busy", Freqs: []int{480, 620}, Level: -24, Cadence: []time.Duration{ms(500), ms(500)}, Repeat: true},
	Congestion:  Tone{Name: "reorder", Freqs: []int{480, 620}, Level: -24, Cadence: []time.Duration{ms(250), ms(250)}, Repeat: true},
	CallWaiting: Tone{Name: "call-waiting", Freqs: []int{440}, Level: -13, Cadence: []time.Duration{ms(300), ms(9700)}, Repeat: true},
	Beep:        Tone{Name: "beep", Freqs: []int{1000}, Level: -10, Cadence: []time.Duration{ms(400)}},
}

// Tones returns the tone set of a region or tenant preset: "de" and "eu" (CEPT countries use
// 425 Hz) get the German set, anything else the North American one.
func Tones(region string) ToneSet {
	switch region {
	case "de", "eu", "at", "ch":
		return germanTones
	}
	return usTones
}

// sineTable holds one period of a sine at 1 Hz resolution for 8 kHz: a whole-hertz frequency f
// advances the index by f per sample, so the generated tone is exact and never drifts.
var sineTable = func() (t [Rate]float32) {
	for i := range t {
		t[i] = float32(math.Sin(2 * math.Pi * float64(i) / Rate))
	}
	return
}()

// Open starts the tone at the beginning of its cadence.
func (t Tone) Open() Source {
	s := &toneSource{t: t, amp: float32(AmplitudeDBm0(t.Level))}
	for i, f := range t.Freqs {
		if i == 2 {
			break
		}
		s.step[i] = ((f % Rate) + Rate) % Rate
		s.n++
	}
	if len(t.Cadence) > 0 {
		s.left = Samples(t.Cadence[0])
	}
	return s
}

type toneSource struct {
	t     Tone
	amp   float32
	n     int
	step  [2]int
	phase [2]int
	seg   int // index into the cadence
	left  int // samples left in the current segment
	ended bool
}

func (s *toneSource) Read(frame []int16) bool {
	if s.ended {
		return false
	}
	cad := s.t.Cadence
	for i := range frame {
		on := true
		if len(cad) > 0 {
			for s.left <= 0 {
				s.seg++
				if s.seg == len(cad) {
					if !s.t.Repeat {
						s.ended = true
						if i == 0 {
							return false
						}
						clear(frame[i:])
						return true
					}
					s.seg = 0
				}
				s.left = Samples(cad[s.seg])
			}
			s.left--
			on = s.seg%2 == 0
		}
		if !on {
			frame[i] = 0
			continue
		}
		var v float32
		for k := 0; k < s.n; k++ {
			v += sineTable[s.phase[k]]
			s.phase[k] += s.step[k]
			if s.phase[k] >= Rate {
				s.phase[k] -= Rate
			}
		}
		frame[i] = int16(v * s.amp)
	}
	return true
}
