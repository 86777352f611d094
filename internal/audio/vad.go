package audio

import "time"

// VADEvent is what a VAD reports for a frame.
type VADEvent int

const (
	// VADNone: nothing changed.
	VADNone VADEvent = iota
	// VADSpeechStart: speech began (after MinSpeech of frames above the threshold).
	VADSpeechStart
	// VADSpeechEnd: speech ended (Hangover of frames below the threshold followed it). This
	// is the end-of-speech signal a recording or a spoken answer waits for.
	VADSpeechEnd
)

// VADOptions tune the voice-activity detector. Zero fields take the defaults.
type VADOptions struct {
	// Threshold is the least level (dBm0) of a speech frame (default -40). The detector also
	// tracks the noise floor and requires speech to stand Margin above it.
	Threshold float64
	// Margin is how far (dB) speech must exceed the tracked noise floor (default 9).
	Margin float64
	// MinSpeech is how long the level must stay up before speech counts (default 60 ms), so
	// that clicks do not.
	MinSpeech time.Duration
	// Hangover is how long the level must stay down before speech has ended (default 1.5 s),
	// so that pauses between words do not end it.
	Hangover time.Duration
}

// VAD is an energy voice-activity detector with a noise-floor tracker and hangover. It is fed 20
// ms frames; it also tells how long the line has been silent, for silence time-outs.
type VAD struct {
	opt        VADOptions
	speaking   bool
	run        int     // consecutive frames on the other side of the threshold
	floor      float64 // tracked noise floor in dBm0
	silent     int     // samples since the last speech frame (or since start)
	minSpeechN int
	hangoverN  int
}

// NewVAD returns a detector with the given options.
func NewVAD(opt VADOptions) *VAD {
	if opt.Threshold == 0 {
		opt.Threshold = -40
	}
	if opt.Margin == 0 {
		opt.Margin = 9
	}
	if opt.MinSpeech == 0 {
		opt.MinSpeech = 60 * time.Millisecond
	}
	if opt.Hangover == 0 {
		opt.Hangover = 1500 * time.Millisecond
	}
	return &VAD{
		opt:        opt,
		floor:      -70,
		minSpeechN: max(1, Samples(opt.MinSpeech)),
		hangoverN:  max(1, Samples(opt.Hangover)),
	}
}

// Speaking reports whether the detector is inside speech (including its hangover).
func (v *VAD) Speaking() bool { return v.speaking }

// SilentFor is how long no speech frame has been seen: since the start, or since the last
// frame above the threshold.
func (v *VAD) SilentFor() time.Duration { return Duration(v.silent) }

// Feed processes one frame and reports a change.
func (v *VAD) Feed(frame []int16) VADEvent {
	lvl := LevelDBm0(frame)
	active := lvl >= v.opt.Threshold && lvl >= v.floor+v.opt.Margin
	// The floor follows quiet frames quickly and loud ones very slowly, so that speech does
	// not raise it but a noisy line does.
	if !active {
		if lvl < v.floor {
			v.floor += (lvl - v.floor) * 0.5
		} else {
			v.floor += (lvl - v.floor) * 0.05
		}
	} else {
		v.floor += (lvl - v.floor) * 0.001
	}
	n := len(frame)
	if active {
		v.silent = 0
	} else {
		v.silent += n
	}
	if active != v.speaking {
		v.run += n
	} else {
		v.run = 0
	}
	switch {
	case !v.speaking && v.run >= v.minSpeechN:
		v.speaking, v.run = true, 0
		return VADSpeechStart
	case v.speaking && v.run >= v.hangoverN:
		v.speaking, v.run = false, 0
		return VADSpeechEnd
	}
	return VADNone
}
