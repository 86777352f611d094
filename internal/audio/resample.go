package audio

import (
	"math"
	"sync"
)

// The resampler is a windowed-sinc low-pass evaluated at each output instant: the kernel is
// tabulated finely once (kernelRes points per zero crossing) and read with linear
// interpolation between table points, which is a polyphase filter with as many phases as the
// table has points. The cut-off sits at 45 % of the lower of the two rates, so nothing above
// 3.6 kHz folds back into telephone audio; a Blackman window keeps the stop band below about
// -70 dB.
const (
	kernelZeros = 16  // zero crossings on each side
	kernelRes   = 256 // table points per zero crossing
	cutoffShare = 0.9 // of the lower Nyquist frequency
)

var kernelOnce = sync.OnceValue(func() []float32 {
	t := make([]float32, kernelZeros*kernelRes+2)
	for i := range t {
		x := float64(i) / kernelRes // in zero crossings
		if x > kernelZeros {
			break
		}
		sinc := 1.0
		if x != 0 {
			sinc = math.Sin(math.Pi*x) / (math.Pi * x)
		}
		w := 0.42 + 0.5*math.Cos(math.Pi*x/kernelZeros) + 0.08*math.Cos(2*math.Pi*x/kernelZeros)
		t[i] = float32(sinc * w)
	}
	return t
})

// Resample converts mono PCM from one sample rate to another.
func Resample(in []int16, from, to int) []int16 {
	if from == to || len(in) == 0 {
		return append([]int16(nil), in...)
	}
	kern := kernelOnce()
	// fc is the cut-off in cycles per input sample; zero crossings of the kernel are 1/(2fc)
	// input samples apart.
	fc := cutoffShare * 0.5 * float64(min(from, to)) / float64(from)
	scale := 2 * fc
	half := kernelZeros / scale // kernel half-width in input samples
	outN := int(int64(len(in)) * int64(to) / int64(from))
	out := make([]int16, outN)
	x := make([]float32, len(in))
	for i, s := range in {
		x[i] = float32(s)
	}
	for n := range out {
		// The output instant in input samples, kept exact as a rational to avoid drift.
		num := int64(n) * int64(from)
		center := float64(num) / float64(to)
		lo := int(math.Ceil(center - half))
		hi := int(math.Floor(center + half))
		lo = max(lo, 0)
		hi = min(hi, len(in)-1)
		var acc float64
		for k := lo; k <= hi; k++ {
			d := math.Abs(center-float64(k)) * scale * kernelRes
			i := int(d)
			if i >= len(kern)-1 {
				continue
			}
			fr := float32(d - float64(i))
			h := kern[i] + (kern[i+1]-kern[i])*fr
			acc += float64(x[k] * h)
		}
		out[n] = clamp16(acc * scale)
	}
	return out
}
