package audio

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// ImportOptions bound and describe an audio upload.
type ImportOptions struct {
	// MaxBytes is the size limit, enforced while reading (default 32 MiB).
	MaxBytes int64
	// MaxDuration is the length limit (default 10 minutes).
	MaxDuration time.Duration
	// Raw, when set to PCMU or PCMA, accepts headerless 8 kHz mono G.711 of that law; a WAV
	// file is still recognised by its RIFF header.
	Raw *Codec
}

// DefaultMaxBytes and DefaultMaxDuration are the upload limits when ImportOptions leaves them zero.
const (
	DefaultMaxBytes    = 32 << 20
	DefaultMaxDuration = 10 * time.Minute
)

// Import reads an uploaded sound (a WAV file at a supported rate, mono or stereo, 16-bit PCM or
// G.711; or raw G.711 when opt.Raw says so), checks it against the limits and returns it as 8
// kHz mono PCM. Stereo is mixed down, other rates are resampled. Errors wrap ErrNotWAV,
// ErrUnsupported, ErrMalformed, ErrTooLarge, ErrTooLong or ErrEmpty and say what was wrong.
func Import(r io.Reader, opt ImportOptions) ([]int16, error) {
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	if opt.MaxDuration <= 0 {
		opt.MaxDuration = DefaultMaxDuration
	}
	// A small buffer: the size limit stays tight on the underlying reader.
	br := bufio.NewReaderSize(r, 16)
	magic, _ := br.Peek(4)
	if string(magic) != "RIFF" && opt.Raw != nil {
		return importRaw(br, *opt.Raw, opt)
	}
	w, err := ReadWAV(br, opt.MaxBytes)
	if err != nil {
		return nil, err
	}
	frames := len(w.Data) / w.blockAlign()
	if d := time.Duration(frames) * time.Second / time.Duration(w.Rate); d > opt.MaxDuration {
		return nil, fmt.Errorf("%w: %s of audio, the limit is %s", ErrTooLong, d.Round(time.Millisecond), opt.MaxDuration)
	}
	mono := make([]int16, frames)
	switch w.Encoding {
	case LinearPCM16:
		for i := range mono {
			if w.Channels == 1 {
				mono[i] = int16(binary.LittleEndian.Uint16(w.Data[2*i:]))
				continue
			}
			l := int32(int16(binary.LittleEndian.Uint16(w.Data[4*i:])))
			r := int32(int16(binary.LittleEndian.Uint16(w.Data[4*i+2:])))
			mono[i] = int16((l + r) / 2)
		}
	default:
		c := PCMU
		if w.Encoding == ALaw {
			c = PCMA
		}
		for i := range mono {
			if w.Channels == 1 {
				mono[i] = c.DecodeSample(w.Data[i])
				continue
			}
			mono[i] = int16((int32(c.DecodeSample(w.Data[2*i])) + int32(c.DecodeSample(w.Data[2*i+1]))) / 2)
		}
	}
	return Resample(mono, w.Rate, Rate), nil
}

func importRaw(r io.Reader, c Codec, opt ImportOptions) ([]int16, error) {
	if !c.Valid() {
		return nil, fmt.Errorf("%w: raw audio must be PCMU or PCMA", ErrUnsupported)
	}
	limit := opt.MaxBytes
	if d := opt.MaxDuration.Seconds() * Rate; d < float64(limit) {
		limit = int64(d)
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("audio: read upload: %w", err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty upload", ErrEmpty)
	}
	if int64(len(b)) > limit {
		if limit == opt.MaxBytes {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
		}
		return nil, fmt.Errorf("%w: more than %s of raw %s, the limit", ErrTooLong, opt.MaxDuration, c)
	}
	pcm := make([]int16, len(b))
	c.Decode(pcm, b)
	return pcm, nil
}

// ImportClip is Import followed by encoding in codec c.
func ImportClip(r io.Reader, c Codec, opt ImportOptions) (*Clip, error) {
	pcm, err := Import(r, opt)
	if err != nil {
		return nil, err
	}
	return NewClip(c, pcm), nil
}
