package audio

import (
	"math"
	"time"
)

// The telephone audio Privox works in: 8 kHz mono, 20 ms frames of 160 samples.
const (
	Rate          = 8000
	FrameSamples  = 160
	FrameDuration = 20 * time.Millisecond
)

// fullScaleDBm0 is the level of a full-scale sine in G.711 (G.711 §4: +3.17 dBm0 for µ-law;
// A-law is +3.14, the same to within what matters here).
const fullScaleDBm0 = 3.17

// AmplitudeDBm0 returns the peak amplitude of a sine of the given level in dBm0.
func AmplitudeDBm0(level float64) float64 {
	return 32767 * math.Pow(10, (level-fullScaleDBm0)/20)
}

// PowerDBm0 returns the level in dBm0 of a signal with the given mean square (linear units).
func PowerDBm0(meanSquare float64) float64 {
	if meanSquare <= 0 {
		return -120
	}
	// A full-scale sine has mean square 32767²/2.
	return 10*math.Log10(meanSquare/(32767.0*32767.0/2)) + fullScaleDBm0
}

// MeanSquare returns the mean square of pcm.
func MeanSquare(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var sum int64
	for _, s := range pcm {
		sum += int64(s) * int64(s)
	}
	return float64(sum) / float64(len(pcm))
}

// LevelDBm0 returns the level of pcm in dBm0 (-120 for digital silence).
func LevelDBm0(pcm []int16) float64 { return PowerDBm0(MeanSquare(pcm)) }

// Samples returns how many 8 kHz samples d spans.
func Samples(d time.Duration) int { return int(d * Rate / time.Second) }

// Duration returns how long n 8 kHz samples last.
func Duration(n int) time.Duration { return time.Duration(n) * time.Second / Rate }

// clamp16 saturates v to the int16 range.
func clamp16(v float64) int16 {
	if v > 32767 {
		return 32767
	}
	if v < -32768 {
		return -32768
	}
	return int16(math.Round(v))
}

// Mix adds src into dst sample by sample, saturating.
func Mix(dst, src []int16) {
	n := min(len(dst), len(src))
	for i := 0; i < n; i++ {
		v := int32(dst[i]) + int32(src[i])
		if v > 32767 {
			v = 32767
		} else if v < -32768 {
			v = -32768
		}
		dst[i] = int16(v)
	}
}

// Gain scales pcm by db decibels, saturating.
func Gain(pcm []int16, db float64) {
	g := math.Pow(10, db/20)
	for i, s := range pcm {
		pcm[i] = clamp16(float64(s) * g)
	}
}
