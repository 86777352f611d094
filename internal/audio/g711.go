package audio

// Codec is a G.711 companding law, numbered by its static RTP payload type (RFC 3551).
type Codec uint8

const (
	// PCMU is G.711 µ-law (payload type 0), used in North America and Japan.
	PCMU Codec = 0
	// PCMA is G.711 A-law (payload type 8), used in Europe and most of the world.
	PCMA Codec = 8
)

// String names the codec as SDP does.
func (c Codec) String() string {
	switch c {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	}
	return "unknown"
}

// Valid reports whether c is one of the two G.711 laws.
func (c Codec) Valid() bool { return c == PCMU || c == PCMA }

// Silence returns the code of a zero sample in c (0xFF for µ-law, 0xD5 for A-law).
func (c Codec) Silence() byte {
	if c == PCMA {
		return 0xD5
	}
	return 0xFF
}

// The tables are built once at start: decoding and encoding are one lookup per sample. The
// encoding tables cover every 16-bit value (64 KiB each) so that the decision between two
// levels is made on the exact input, not on an input already truncated to 14 bits.
var (
	ulawDecode [256]int16
	alawDecode [256]int16
	ulawEncode [1 << 16]byte
	alawEncode [1 << 16]byte
	ulawToAlaw [256]byte
	alawToUlaw [256]byte
)

func init() {
	for i := 0; i < 256; i++ {
		ulawDecode[i] = ulawDecodeSample(byte(i))
		alawDecode[i] = alawDecodeSample(byte(i))
	}
	for i := 0; i < 1<<16; i++ {
		s := int16(uint16(i))
		ulawEncode[i] = ulawEncodeSample(s)
		alawEncode[i] = alawEncodeSample(s)
	}
	// G.711 Tables 3 and 4 define the µ↔A conversion as decode-then-encode of the nearest level.
	for i := 0; i < 256; i++ {
		ulawToAlaw[i] = alawEncodeSample(ulawDecode[i])
		alawToUlaw[i] = ulawEncodeSample(alawDecode[i])
	}
}

// ulawEncodeSample is the G.711 µ-law encoder on the 14-bit magnitude (bias 33 in 14-bit units).
func ulawEncodeSample(s int16) byte {
	const bias = 0x84 // 33 << 2 in 16-bit units
	const clip = 32635
	v := int32(s)
	sign := byte(0)
	if v < 0 {
		v = -v
		sign = 0x80
	}
	if v > clip {
		v = clip
	}
	v += bias
	exp := byte(7)
	for mask := int32(0x4000); v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := byte(v>>(exp+3)) & 0x0f
	return ^(sign | exp<<4 | mant)
}

func ulawDecodeSample(u byte) int16 {
	u = ^u
	exp := (u >> 4) & 0x07
	mant := int32(u & 0x0f)
	v := ((mant << 3) + 0x84) << exp
	v -= 0x84
	if u&0x80 != 0 {
		return int16(-v)
	}
	return int16(v)
}

// alawEncodeSample is the G.711 A-law encoder on the 13-bit magnitude, even bits inverted.
func alawEncodeSample(s int16) byte {
	v := int32(s) >> 3 // 13-bit
	sign := byte(0x80)
	if v < 0 {
		v = -v - 1
		sign = 0
	}
	if v > 0xfff {
		v = 0xfff
	}
	var code byte
	if v < 32 {
		code = byte(v >> 1)
	} else {
		exp := byte(1)
		for t := v >> 5; t > 1; t >>= 1 {
			exp++
		}
		code = exp<<4 | byte(v>>exp)&0x0f
	}
	return (sign | code) ^ 0x55
}

func alawDecodeSample(a byte) int16 {
	a ^= 0x55
	exp := int32(a>>4) & 0x07
	mant := int32(a & 0x0f)
	var v int32
	if exp == 0 {
		v = mant<<4 + 8
	} else {
		v = (mant<<4 + 0x108) << (exp - 1)
	}
	if a&0x80 == 0 {
		return int16(-v)
	}
	return int16(v)
}

// EncodeSample compands one linear 16-bit sample.
func (c Codec) EncodeSample(s int16) byte {
	if c == PCMA {
		return alawEncode[uint16(s)]
	}
	return ulawEncode[uint16(s)]
}

// DecodeSample expands one G.711 code to a linear 16-bit sample.
func (c Codec) DecodeSample(b byte) int16 {
	if c == PCMA {
		return alawDecode[b]
	}
	return ulawDecode[b]
}

// Encode compands pcm into dst (len(dst) >= len(pcm)) and returns the bytes written.
func (c Codec) Encode(dst []byte, pcm []int16) int {
	t := &ulawEncode
	if c == PCMA {
		t = &alawEncode
	}
	dst = dst[:len(pcm)]
	for i, s := range pcm {
		dst[i] = t[uint16(s)]
	}
	return len(pcm)
}

// Decode expands G.711 codes into dst (len(dst) >= len(src)) and returns the samples written.
func (c Codec) Decode(dst []int16, src []byte) int {
	t := &ulawDecode
	if c == PCMA {
		t = &alawDecode
	}
	dst = dst[:len(src)]
	for i, b := range src {
		dst[i] = t[b]
	}
	return len(src)
}

// Transcode converts G.711 codes from one law to the other in place-safe fashion (dst may be
// src) using the G.711 conversion tables; equal laws copy.
func Transcode(from, to Codec, dst, src []byte) int {
	dst = dst[:len(src)]
	switch {
	case from == to:
		copy(dst, src)
	case from == PCMU:
		for i, b := range src {
			dst[i] = ulawToAlaw[b]
		}
	default:
		for i, b := range src {
			dst[i] = alawToUlaw[b]
		}
	}
	return len(src)
}
