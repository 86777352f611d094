package audio

import "math"

// DTMF frequencies (ITU-T Q.23): rows 697-941 Hz, columns 1209-1633 Hz.
var (
	dtmfRows = [4]float64{697, 770, 852, 941}
	dtmfCols = [4]float64{1209, 1336, 1477, 1633}
	dtmfKeys = [4][4]rune{
		{'1', '2', '3', 'A'},
		{'4', '5', '6', 'B'},
		{'7', '8', '9', 'C'},
		{'*', '0', '#', 'D'},
	}
)

// dtmfBlock is the Goertzel block: 102 samples (12.75 ms) resolve the row frequencies and fit
// at least two whole blocks into the 40 ms that ITU-T Q.24 requires a receiver to accept.
const dtmfBlock = 102

// evenness is the least ratio of the energies of a block's two halves: a block counts only
// when the tone covers more than about 80 of its 102 samples.
const evenness = 0.6

// DTMFOptions tune the in-band detector. The zero value gives the defaults of NewDTMFDetector.
type DTMFOptions struct {
	// MinLevel is the lowest accepted level of each of the two tones, in dBm0 (default -32).
	MinLevel float64
	// NormalTwist is how much weaker (dB) the column tone may be than the row tone (default 8).
	NormalTwist float64
	// ReverseTwist is how much stronger (dB) the column tone may be than the row tone (default 4).
	ReverseTwist float64
	// RelativePeak is by how much (dB) the strongest row and column must exceed the other rows
	// and columns (default 8).
	RelativePeak float64
	// ToneShare is the least share of the block's energy the two tones must carry (default 0.7):
	// speech spreads its energy, a key press does not.
	ToneShare float64
	// HarmonicLimit is how far (dB) the column tone's second harmonic must stay below the
	// tone (default 13): voiced speech is rich in harmonics, a DTMF generator is not.
	HarmonicLimit float64
	// MinBlocks is how many consecutive 12.75 ms blocks must agree before a digit is reported
	// (default 2, about 25 ms: a 40 ms key press is always accepted, one under 23 ms never).
	MinBlocks int
	// GapBlocks is how many blocks without the digit end it (default 2); the same digit again
	// is reported only after such a gap.
	GapBlocks int
}

// DTMFDetector finds DTMF key presses in 8 kHz audio with Goertzel filters. It is fed in frames
// of any size (normally 20 ms) and reports each key press once, when it starts; it holds no
// audio beyond one 12.75 ms block. A detector serves one stream and is not safe for concurrent
// use.
type DTMFDetector struct {
	opt DTMFOptions
	// thresholds derived from opt, in linear power ratios
	minPow, normTwist, revTwist, relPeak, harm float32

	buf [dtmfBlock]float32
	n   int

	cand    rune // candidate of the previous block
	hits    int  // consecutive blocks with cand
	down    rune // digit currently held (reported), 0 when none
	misses  int  // consecutive blocks without down
	minGate float32
}

var (
	rowCoef, colCoef, col2Coef [4]float32
)

func init() {
	for i := 0; i < 4; i++ {
		rowCoef[i] = float32(2 * math.Cos(2*math.Pi*dtmfRows[i]/Rate))
		colCoef[i] = float32(2 * math.Cos(2*math.Pi*dtmfCols[i]/Rate))
		col2Coef[i] = float32(2 * math.Cos(2*math.Pi*2*dtmfCols[i]/Rate))
	}
}

// NewDTMFDetector returns a detector with the given options (zero fields take defaults).
func NewDTMFDetector(opt DTMFOptions) *DTMFDetector {
	if opt.MinLevel == 0 {
		opt.MinLevel = -32
	}
	if opt.NormalTwist == 0 {
		opt.NormalTwist = 8
	}
	if opt.ReverseTwist == 0 {
		opt.ReverseTwist = 4
	}
	if opt.RelativePeak == 0 {
		opt.RelativePeak = 8
	}
	if opt.ToneShare == 0 {
		opt.ToneShare = 0.7
	}
	if opt.HarmonicLimit == 0 {
		opt.HarmonicLimit = 13
	}
	if opt.MinBlocks == 0 {
		opt.MinBlocks = 2
	}
	if opt.GapBlocks == 0 {
		opt.GapBlocks = 2
	}
	db := func(x float64) float32 { return float32(math.Pow(10, x/10)) }
	// A sine of level L dBm0 has mean square (A(L))²/2.
	a := AmplitudeDBm0(opt.MinLevel)
	d := &DTMFDetector{
		opt:       opt,
		minPow:    float32(a * a / 2),
		normTwist: db(opt.NormalTwist),
		revTwist:  db(opt.ReverseTwist),
		relPeak:   db(opt.RelativePeak),
		harm:      db(opt.HarmonicLimit),
	}
	// Below this total mean square no pair of tones can pass, so the filters are skipped.
	d.minGate = 2 * d.minPow
	return d
}

// Reset forgets any partial block and held digit.
func (d *DTMFDetector) Reset() {
	d.n, d.cand, d.hits, d.down, d.misses = 0, 0, 0, 0, 0
}

// Feed processes pcm and returns the digit ('0'-'9', '*', '#', 'A'-'D') whose key press was
// recognised within it, or 0. Two key presses are at least four blocks (51 ms) apart, so a
// frame of up to 400 samples holds at most one; use Detect for longer audio.
func (d *DTMFDetector) Feed(pcm []int16) rune {
	var got rune
	for _, s := range pcm {
		d.buf[d.n] = float32(s)
		d.n++
		if d.n == dtmfBlock {
			d.n = 0
			if r := d.block(); r != 0 {
				got = r
			}
		}
	}
	return got
}

// Detect runs a fresh detector over pcm and returns every digit it recognised, in order.
func Detect(opt DTMFOptions, pcm []int16) string {
	d := NewDTMFDetector(opt)
	var out []rune
	for len(pcm) > 0 {
		n := min(len(pcm), FrameSamples)
		if r := d.Feed(pcm[:n]); r != 0 {
			out = append(out, r)
		}
		pcm = pcm[n:]
	}
	return string(out)
}

func goertzel(x *[dtmfBlock]float32, coef float32) float32 {
	var s1, s2 float32
	for _, v := range x {
		s0 := v + coef*s1 - s2
		s2 = s1
		s1 = s0
	}
	// |X|² scaled so that a sine of amplitude A on the frequency gives A²/2, its mean square.
	return (s1*s1 + s2*s2 - coef*s1*s2) * (2.0 / (dtmfBlock * dtmfBlock))
}

// goertzel4 runs four Goertzel filters in one pass: their recurrences are independent, so the
// processor overlaps them instead of waiting on one chain (about three times faster than four
// single passes).
func goertzel4(x *[dtmfBlock]float32, c *[4]float32, out *[4]float32) {
	c0, c1, c2, c3 := c[0], c[1], c[2], c[3]
	var a1, a2, b1, b2, d1, d2, e1, e2 float32
	for _, v := range x {
		a1, a2 = v+c0*a1-a2, a1
		b1, b2 = v+c1*b1-b2, b1
		d1, d2 = v+c2*d1-d2, d1
		e1, e2 = v+c3*e1-e2, e1
	}
	const k = 2.0 / (dtmfBlock * dtmfBlock)
	out[0] = (a1*a1 + a2*a2 - c0*a1*a2) * k
	out[1] = (b1*b1 + b2*b2 - c1*b1*b2) * k
	out[2] = (d1*d1 + d2*d2 - c2*d1*d2) * k
	out[3] = (e1*e1 + e2*e2 - c3*e1*e2) * k
}

// classify returns the digit one block carries, or 0.
func (d *DTMFDetector) classify() rune {
	var h1, h2 float32
	for _, v := range d.buf[:dtmfBlock/2] {
		h1 += v * v
	}
	for _, v := range d.buf[dtmfBlock/2:] {
		h2 += v * v
	}
	energy := (h1 + h2) / dtmfBlock
	if energy < d.minGate {
		return 0
	}
	// A key press fills the block evenly; a block that only partly holds a tone (its start or
	// end) does not count, so that a burst under 23 ms cannot fill two blocks.
	if h1 < evenness*h2 || h2 < evenness*h1 {
		return 0
	}
	var rows, cols [4]float32
	goertzel4(&d.buf, &rowCoef, &rows)
	goertzel4(&d.buf, &colCoef, &cols)
	br, bc := 0, 0
	for i := 0; i < 4; i++ {
		if rows[i] > rows[br] {
			br = i
		}
		if cols[i] > cols[bc] {
			bc = i
		}
	}
	r, c := rows[br], cols[bc]
	if r < d.minPow || c < d.minPow {
		return 0
	}
	// Twist: the column tone may be somewhat weaker (line loss rises with frequency) or a
	// little stronger than the row tone.
	if c < r && r > c*d.normTwist {
		return 0
	}
	if c > r && c > r*d.revTwist {
		return 0
	}
	for i := 0; i < 4; i++ {
		if i != br && rows[i]*d.relPeak > r {
			return 0
		}
		if i != bc && cols[i]*d.relPeak > c {
			return 0
		}
	}
	if r+c < float32(d.opt.ToneShare)*energy {
		return 0
	}
	if goertzel(&d.buf, col2Coef[bc])*d.harm > c {
		return 0
	}
	return dtmfKeys[br][bc]
}

func (d *DTMFDetector) block() rune {
	c := d.classify()
	if c != 0 && c == d.cand {
		d.hits++
	} else if c != 0 {
		d.cand, d.hits = c, 1
	} else {
		d.cand, d.hits = 0, 0
	}
	if d.down != 0 {
		if c == d.down {
			d.misses = 0
			return 0
		}
		d.misses++
		if d.misses < d.opt.GapBlocks {
			return 0
		}
		d.down = 0
	}
	if d.cand != 0 && d.hits >= d.opt.MinBlocks {
		d.down, d.misses = d.cand, 0
		return d.down
	}
	return 0
}
