package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Encoding is how a WAV file's samples are coded.
type Encoding int

const (
	// LinearPCM16 is signed 16-bit little-endian linear PCM (WAVE_FORMAT_PCM).
	LinearPCM16 Encoding = iota + 1
	// ALaw is G.711 A-law, 8 bits a sample (WAVE_FORMAT_ALAW).
	ALaw
	// MuLaw is G.711 µ-law, 8 bits a sample (WAVE_FORMAT_MULAW).
	MuLaw
)

func (e Encoding) String() string {
	switch e {
	case LinearPCM16:
		return "16-bit PCM"
	case ALaw:
		return "A-law"
	case MuLaw:
		return "µ-law"
	}
	return "unknown"
}

func (e Encoding) bits() int {
	if e == LinearPCM16 {
		return 16
	}
	return 8
}

// Format describes a WAV file's audio.
type Format struct {
	Encoding Encoding
	Rate     int
	Channels int
}

func (f Format) blockAlign() int { return f.Channels * f.Encoding.bits() / 8 }

// SupportedRates are the sample rates a WAV upload may have.
var SupportedRates = []int{8000, 11025, 16000, 22050, 32000, 44100, 48000}

// Errors a WAV or upload can be refused with; each is wrapped with the detail.
var (
	// ErrNotWAV: the bytes are not a RIFF/WAVE file.
	ErrNotWAV = errors.New("not a RIFF/WAVE file")
	// ErrUnsupported: a WAV file whose format Privox does not take.
	ErrUnsupported = errors.New("unsupported audio format")
	// ErrMalformed: a WAV whose headers contradict themselves or the file (lying sizes,
	// truncation, missing chunks).
	ErrMalformed = errors.New("malformed WAV file")
	// ErrTooLarge: more bytes than the size limit; reading stopped at the limit.
	ErrTooLarge = errors.New("audio too large")
	// ErrTooLong: more audio than the length limit.
	ErrTooLong = errors.New("audio too long")
	// ErrEmpty: no audio at all.
	ErrEmpty = errors.New("no audio")
)

// WAV is a decoded WAV file: its format and its sample data exactly as stored (interleaved).
type WAV struct {
	Format
	Data []byte
}

// maxChunks bounds how many chunks a file may hold before its data; real files have a handful.
const maxChunks = 64

// limitedReader counts what it reads and fails once more than max bytes were asked for, so
// that a reader that never ends is cut off at the limit.
type limitedReader struct {
	r    io.Reader
	n    int64
	max  int64
	over bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n >= l.max {
		// Probe one byte to tell "exactly at the limit" from "beyond it".
		var one [1]byte
		k, err := l.r.Read(one[:])
		if k > 0 {
			l.over = true
			return 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, l.max)
		}
		return 0, err
	}
	if int64(len(p)) > l.max-l.n {
		p = p[:l.max-l.n]
	}
	k, err := l.r.Read(p)
	l.n += int64(k)
	return k, err
}

// ReadWAV reads and validates a WAV file of at most maxBytes bytes (the limit is enforced while
// reading: at most one byte beyond the limit is read from r). It accepts 16-bit PCM, A-law and
// µ-law in WAVE_FORMAT_PCM/ALAW/MULAW or WAVE_FORMAT_EXTENSIBLE, mono or stereo, at the
// SupportedRates (G.711 at 8 kHz only), and refuses every header that lies about a size.
func ReadWAV(r io.Reader, maxBytes int64) (*WAV, error) {
	lr := &limitedReader{r: r, max: maxBytes}
	w, err := readWAV(lr)
	if err != nil && lr.over && !errors.Is(err, ErrTooLarge) {
		err = fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxBytes)
	}
	return w, err
}

func readFull(r io.Reader, b []byte, what string) error {
	n, err := io.ReadFull(r, b)
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrTooLarge) {
		return err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: file ends inside %s (%d of %d bytes)", ErrMalformed, what, n, len(b))
	}
	return fmt.Errorf("audio: read %s: %w", what, err)
}

func readWAV(r *limitedReader) (*WAV, error) {
	var hdr [12]byte
	n, err := io.ReadFull(r, hdr[:])
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	if n < 12 || string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		if n >= 4 && string(hdr[0:4]) == "RIFF" && n < 12 {
			return nil, fmt.Errorf("%w: file ends inside the RIFF header", ErrMalformed)
		}
		return nil, fmt.Errorf("%w%s", ErrNotWAV, sniff(hdr[:n]))
	}
	riffSize := int64(binary.LittleEndian.Uint32(hdr[4:8]))
	riffEnd := 8 + riffSize
	if riffSize < 4+8+16 {
		return nil, fmt.Errorf("%w: RIFF size %d is too small for a WAVE file", ErrMalformed, riffSize)
	}
	pos := int64(12)
	var f *Format
	var data []byte
	for chunks := 0; pos < riffEnd; chunks++ {
		if chunks == maxChunks {
			return nil, fmt.Errorf("%w: more than %d chunks", ErrMalformed, maxChunks)
		}
		var ch [8]byte
		if err := readFull(r, ch[:], "a chunk header"); err != nil {
			if data != nil && errors.Is(err, ErrMalformed) {
				return nil, fmt.Errorf("%w: the RIFF header declares %d bytes, the file has %d", ErrMalformed, riffEnd, pos)
			}
			return nil, err
		}
		pos += 8
		id := string(ch[0:4])
		size := int64(binary.LittleEndian.Uint32(ch[4:8]))
		padded := size + size&1
		if pos+size > riffEnd {
			return nil, fmt.Errorf("%w: chunk %q declares %d bytes, %d remain in the RIFF size", ErrMalformed, printable(id), size, riffEnd-pos)
		}
		switch id {
		case "fmt ":
			if f != nil {
				return nil, fmt.Errorf("%w: two fmt chunks", ErrMalformed)
			}
			if size < 16 || size > 1024 {
				return nil, fmt.Errorf("%w: fmt chunk of %d bytes", ErrMalformed, size)
			}
			b := make([]byte, size)
			if err := readFull(r, b, "the fmt chunk"); err != nil {
				return nil, err
			}
			ff, err := parseFmt(b)
			if err != nil {
				return nil, err
			}
			f = &ff
		case "data":
			if f == nil {
				return nil, fmt.Errorf("%w: data chunk before the fmt chunk", ErrMalformed)
			}
			if data != nil {
				return nil, fmt.Errorf("%w: two data chunks", ErrMalformed)
			}
			if size == 0 {
				return nil, fmt.Errorf("%w: the data chunk is empty", ErrEmpty)
			}
			if size%int64(f.blockAlign()) != 0 {
				return nil, fmt.Errorf("%w: data size %d is not a whole number of %d-byte sample frames", ErrMalformed, size, f.blockAlign())
			}
			// Read what is there rather than trusting the size: memory grows with the bytes
			// that actually arrive and stops at the limit.
			var buf bytes.Buffer
			n, err := io.Copy(&buf, io.LimitReader(r, size))
			if err != nil {
				return nil, err
			}
			if n < size {
				return nil, fmt.Errorf("%w: file ends inside the data chunk (%d of the %d bytes it declares)", ErrMalformed, n, size)
			}
			data = buf.Bytes()
		default:
			if _, err := io.CopyN(io.Discard, r, size); err != nil {
				if errors.Is(err, ErrTooLarge) {
					return nil, err
				}
				return nil, fmt.Errorf("%w: file ends inside chunk %q", ErrMalformed, printable(id))
			}
		}
		pos += size
		if padded != size && pos < riffEnd {
			var pad [1]byte
			if err := readFull(r, pad[:], "chunk padding"); err != nil {
				return nil, err
			}
			pos++
		}
	}
	if f == nil {
		return nil, fmt.Errorf("%w: no fmt chunk", ErrMalformed)
	}
	if data == nil {
		return nil, fmt.Errorf("%w: no data chunk", ErrMalformed)
	}
	return &WAV{Format: *f, Data: data}, nil
}

// The GUID tail of WAVE_FORMAT_EXTENSIBLE sub-formats (KSDATAFORMAT_SUBTYPE_*).
var subtypeTail = []byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71}

func parseFmt(b []byte) (Format, error) {
	le := binary.LittleEndian
	tag := le.Uint16(b[0:2])
	ch := int(le.Uint16(b[2:4]))
	rate := int(le.Uint32(b[4:8]))
	byteRate := int(le.Uint32(b[8:12]))
	align := int(le.Uint16(b[12:14]))
	bits := int(le.Uint16(b[14:16]))
	if tag == 0xfffe {
		if len(b) < 40 || le.Uint16(b[16:18]) < 22 {
			return Format{}, fmt.Errorf("%w: WAVE_FORMAT_EXTENSIBLE without its extension", ErrMalformed)
		}
		if valid := int(le.Uint16(b[18:20])); valid != bits {
			return Format{}, fmt.Errorf("%w: %d valid bits in %d-bit samples", ErrUnsupported, valid, bits)
		}
		if !bytes.Equal(b[26:40], subtypeTail) {
			return Format{}, fmt.Errorf("%w: unknown WAVE_FORMAT_EXTENSIBLE sub-format", ErrUnsupported)
		}
		tag = le.Uint16(b[24:26])
	}
	var f Format
	switch tag {
	case 1:
		f.Encoding = LinearPCM16
	case 6:
		f.Encoding = ALaw
	case 7:
		f.Encoding = MuLaw
	case 3:
		return Format{}, fmt.Errorf("%w: floating-point samples (use 16-bit PCM)", ErrUnsupported)
	default:
		return Format{}, fmt.Errorf("%w: WAV format tag %#04x (use 16-bit PCM, A-law or µ-law)", ErrUnsupported, tag)
	}
	if bits != f.Encoding.bits() {
		return Format{}, fmt.Errorf("%w: %d-bit %s (need %d-bit)", ErrUnsupported, bits, f.Encoding, f.Encoding.bits())
	}
	if ch != 1 && ch != 2 {
		return Format{}, fmt.Errorf("%w: %d channels (mono or stereo only)", ErrUnsupported, ch)
	}
	f.Channels = ch
	if f.Encoding != LinearPCM16 && rate != Rate {
		return Format{}, fmt.Errorf("%w: G.711 at %d Hz (G.711 is 8000 Hz)", ErrUnsupported, rate)
	}
	ok := false
	for _, r := range SupportedRates {
		ok = ok || r == rate
	}
	if !ok {
		return Format{}, fmt.Errorf("%w: sample rate %d Hz (supported: %v)", ErrUnsupported, rate, SupportedRates)
	}
	f.Rate = rate
	if align != f.blockAlign() || byteRate != rate*align {
		return Format{}, fmt.Errorf("%w: block align %d and byte rate %d do not match %d Hz, %d channels, %d bits", ErrMalformed, align, byteRate, rate, ch, bits)
	}
	return f, nil
}

func printable(id string) string {
	b := []byte(id)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// sniff names a few common non-WAV formats so that the refusal says what was sent.
func sniff(b []byte) string {
	has := func(p string) bool { return bytes.HasPrefix(b, []byte(p)) }
	switch {
	case len(b) == 0:
		return ": empty upload"
	case has("ID3") || (len(b) > 1 && b[0] == 0xff && b[1]&0xe0 == 0xe0):
		return ": looks like MP3 (convert to WAV)"
	case has("OggS"):
		return ": looks like Ogg (convert to WAV)"
	case has("fLaC"):
		return ": looks like FLAC (convert to WAV)"
	case has("%PDF"):
		return ": looks like a PDF document"
	case has("PK\x03\x04"):
		return ": looks like a ZIP archive"
	case has("RIFF"):
		return ": a RIFF file that is not WAVE"
	}
	return ""
}

// WriteWAV writes a canonical WAV file (RIFF, fmt, data; plus the fact chunk that non-PCM
// formats carry) with data as its interleaved samples.
func WriteWAV(w io.Writer, f Format, data []byte) error {
	b, err := EncodeWAV(f, data)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// EncodeWAV returns the bytes of a WAV file holding data.
func EncodeWAV(f Format, data []byte) ([]byte, error) {
	if f.Channels < 1 || f.Channels > 2 || f.Rate <= 0 || f.Encoding.bits() == 0 || len(data)%f.blockAlign() != 0 {
		return nil, fmt.Errorf("audio: cannot write WAV of %+v with %d bytes", f, len(data))
	}
	if int64(len(data)) > 1<<32-64 {
		return nil, fmt.Errorf("%w: %d bytes do not fit a WAV file", ErrTooLarge, len(data))
	}
	tag := map[Encoding]uint16{LinearPCM16: 1, ALaw: 6, MuLaw: 7}[f.Encoding]
	fmtSize := 16
	fact := 0
	if tag != 1 {
		fmtSize = 18 // cbSize = 0
		fact = 12
	}
	pad := len(data) & 1
	total := 4 + 8 + fmtSize + fact + 8 + len(data) + pad
	out := make([]byte, 0, 8+total)
	le := binary.LittleEndian
	out = append(out, "RIFF"...)
	out = le.AppendUint32(out, uint32(total))
	out = append(out, "WAVEfmt "...)
	out = le.AppendUint32(out, uint32(fmtSize))
	out = le.AppendUint16(out, tag)
	out = le.AppendUint16(out, uint16(f.Channels))
	out = le.AppendUint32(out, uint32(f.Rate))
	out = le.AppendUint32(out, uint32(f.Rate*f.blockAlign()))
	out = le.AppendUint16(out, uint16(f.blockAlign()))
	out = le.AppendUint16(out, uint16(f.Encoding.bits()))
	if tag != 1 {
		out = le.AppendUint16(out, 0)
		out = append(out, "fact"...)
		out = le.AppendUint32(out, 4)
		out = le.AppendUint32(out, uint32(len(data)/f.blockAlign()))
	}
	out = append(out, "data"...)
	out = le.AppendUint32(out, uint32(len(data)))
	out = append(out, data...)
	if pad == 1 {
		out = append(out, 0)
	}
	return out, nil
}

// ClipWAV returns a clip as a mono 8 kHz G.711 WAV file.
func ClipWAV(c *Clip) []byte {
	enc := MuLaw
	if c.Codec == PCMA {
		enc = ALaw
	}
	b, _ := EncodeWAV(Format{Encoding: enc, Rate: Rate, Channels: 1}, c.Data)
	return b
}

// ParseClip reads a mono 8 kHz G.711 WAV file (as ClipWAV writes) back into a clip.
func ParseClip(b []byte) (*Clip, error) {
	w, err := ReadWAV(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	if w.Channels != 1 || w.Rate != Rate || w.Encoding == LinearPCM16 {
		return nil, fmt.Errorf("%w: a clip is mono 8 kHz G.711, this is %d channels %d Hz %s", ErrUnsupported, w.Channels, w.Rate, w.Encoding)
	}
	c := PCMU
	if w.Encoding == ALaw {
		c = PCMA
	}
	return &Clip{Codec: c, Data: w.Data}, nil
}
