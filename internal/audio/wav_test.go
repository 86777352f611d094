package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// soxFile has sox write a 1 kHz tone at -10 dBm0 in a given file format.
func soxFile(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	sox := need(t, "sox", "sox")
	path := filepath.Join(t.TempDir(), name)
	all := append([]string{"-n"}, args...)
	all = append(all, path, "synth", "1.5", "sine", "1000", "vol", soxAmp(-10))
	run(t, sox, all...)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestImportFormats: WAV files from sox at every supported rate, mono and stereo, 16-bit and
// G.711, and raw G.711, all arrive as the same 1 kHz tone at 8 kHz.
func TestImportFormats(t *testing.T) {
	cases := []struct {
		name string
		args []string
		raw  *Codec
	}{
		{"8k-mono.wav", []string{"-r", "8000", "-c", "1", "-b", "16"}, nil},
		{"16k-mono.wav", []string{"-r", "16000", "-c", "1", "-b", "16"}, nil},
		{"44k1-stereo.wav", []string{"-r", "44100", "-c", "2", "-b", "16"}, nil},
		{"48k-stereo.wav", []string{"-r", "48000", "-c", "2", "-b", "16"}, nil},
		{"22k05-mono.wav", []string{"-r", "22050", "-c", "1", "-b", "16"}, nil},
		{"alaw.wav", []string{"-r", "8000", "-c", "1", "-e", "a-law"}, nil},
		{"ulaw-stereo.wav", []string{"-r", "8000", "-c", "2", "-e", "u-law"}, nil},
		{"extensible.wav", []string{"-r", "48000", "-c", "1", "-b", "16", "-t", "wavpcm"}, nil},
		{"raw.ul", []string{"-r", "8000", "-c", "1", "-t", "ul"}, ptr(PCMU)},
		{"raw.al", []string{"-r", "8000", "-c", "1", "-t", "al"}, ptr(PCMA)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := soxFile(t, tc.name, tc.args...)
			pcm, err := Import(bytes.NewReader(b), ImportOptions{Raw: tc.raw})
			if err != nil {
				t.Fatal(err)
			}
			if d := Duration(len(pcm)).Seconds(); math.Abs(d-1.5) > 0.01 {
				t.Fatalf("%.3f s, want 1.5", d)
			}
			if lvl := toneLevel(pcm[800:11200], 1000); math.Abs(lvl+10) > 0.5 {
				t.Fatalf("1 kHz at %.2f dBm0, want -10", lvl)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// endless is a reader that never ends, repeating a prefix followed by noise bytes.
type endless struct {
	prefix []byte
	n      int64
}

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		if e.n < int64(len(e.prefix)) {
			p[i] = e.prefix[e.n]
		} else {
			p[i] = byte(e.n * 7)
		}
		e.n++
	}
	return len(p), nil
}

func wavHeader(riffSize, dataSize uint32, tag, ch uint16, rate uint32, bits uint16) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("RIFF")
	binary.Write(&b, le, riffSize)
	b.WriteString("WAVEfmt ")
	binary.Write(&b, le, uint32(16))
	align := ch * bits / 8
	binary.Write(&b, le, tag)
	binary.Write(&b, le, ch)
	binary.Write(&b, le, rate)
	binary.Write(&b, le, rate*uint32(align))
	binary.Write(&b, le, align)
	binary.Write(&b, le, bits)
	b.WriteString("data")
	binary.Write(&b, le, dataSize)
	return b.Bytes()
}

// TestImportRefusals: everything that is not acceptable audio is refused with the right error,
// and a reader that never ends is read no further than the limit.
func TestImportRefusals(t *testing.T) {
	good := soxFile(t, "good.wav", "-r", "8000", "-c", "1", "-b", "16")
	espeak := need(t, "espeak-ng", "espeak-ng")
	// espeak-ng writing to a pipe leaves its sizes at 0x7fffffff: a real lying header.
	lying := run(t, espeak, "-v", "en-us", "--stdout", "hello")
	cases := []struct {
		name string
		in   io.Reader
		opt  ImportOptions
		want error
	}{
		{"text", bytes.NewReader([]byte("hello, this is not audio at all")), ImportOptions{}, ErrNotWAV},
		{"empty", bytes.NewReader(nil), ImportOptions{}, ErrNotWAV},
		{"mp3", bytes.NewReader([]byte("ID3\x03\x00\x00\x00\x00\x00\x00 rest of an mp3")), ImportOptions{}, ErrNotWAV},
		{"pdf", bytes.NewReader([]byte("%PDF-1.4\n...")), ImportOptions{}, ErrNotWAV},
		{"espeak-stdout-lying-sizes", bytes.NewReader(lying), ImportOptions{}, ErrMalformed},
		{"truncated-data", bytes.NewReader(good[:len(good)-1000]), ImportOptions{}, ErrMalformed},
		{"truncated-header", bytes.NewReader(good[:30]), ImportOptions{}, ErrMalformed},
		{"riff-size-too-small", bytes.NewReader(append(wavHeader(40, 16000, 1, 1, 8000, 16), make([]byte, 16000)...)), ImportOptions{}, ErrMalformed},
		{"riff-size-too-large", bytes.NewReader(append(wavHeader(36+16000+5000, 16000, 1, 1, 8000, 16), make([]byte, 16000)...)), ImportOptions{}, ErrMalformed},
		{"8-bit-pcm", bytes.NewReader(append(wavHeader(36+8000, 8000, 1, 1, 8000, 8), make([]byte, 8000)...)), ImportOptions{}, ErrUnsupported},
		{"float", bytes.NewReader(append(wavHeader(36+8000, 8000, 3, 1, 8000, 32), make([]byte, 8000)...)), ImportOptions{}, ErrUnsupported},
		{"6-channels", bytes.NewReader(append(wavHeader(36+12000, 12000, 1, 6, 8000, 16), make([]byte, 12000)...)), ImportOptions{}, ErrUnsupported},
		{"rate-96k", bytes.NewReader(append(wavHeader(36+19200, 19200, 1, 1, 96000, 16), make([]byte, 19200)...)), ImportOptions{}, ErrUnsupported},
		{"alaw-16k", bytes.NewReader(append(wavHeader(36+1600, 1600, 6, 1, 16000, 8), make([]byte, 1600)...)), ImportOptions{}, ErrUnsupported},
		{"odd-data", bytes.NewReader(append(wavHeader(36+1001, 1001, 1, 1, 8000, 16), make([]byte, 1001)...)), ImportOptions{}, ErrMalformed},
		{"no-audio", bytes.NewReader(wavHeader(36, 0, 1, 1, 8000, 16)), ImportOptions{}, ErrEmpty},
		{"too-long", bytes.NewReader(good), ImportOptions{MaxDuration: 1e9}, ErrTooLong},
		{"too-large", bytes.NewReader(good), ImportOptions{MaxBytes: 10000}, ErrTooLarge},
		{"raw-too-long", bytes.NewReader(make([]byte, 16001)), ImportOptions{MaxDuration: 2e9, Raw: ptr(PCMU)}, ErrTooLong},
		{"raw-empty", bytes.NewReader(nil), ImportOptions{Raw: ptr(PCMA)}, ErrEmpty},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Import(tc.in, tc.opt)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			t.Log(err)
		})
	}
	// Huge: a header that claims 4 GB, then bytes without end, and raw audio without end.
	for _, tc := range []struct {
		name   string
		prefix []byte
		raw    *Codec
	}{
		{"wav-4GB-endless", wavHeader(0xfffffff0, 0xffffffc0, 1, 1, 8000, 16), nil},
		{"wav-unknown-chunk-endless", append([]byte("RIFF\xf0\xff\xff\xffWAVEjunk\xe0\xff\xff\xff"), nil...), nil},
		{"raw-endless", nil, ptr(PCMU)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &endless{prefix: tc.prefix}
			const limit = 1 << 20
			_, err := Import(r, ImportOptions{MaxBytes: limit, MaxDuration: 1 << 62, Raw: tc.raw})
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v, want ErrTooLarge", err)
			}
			if r.n > limit+64 {
				t.Fatalf("read %d bytes with a limit of %d", r.n, limit)
			}
		})
	}
}

// TestWAVRoundTrip: what EncodeWAV writes ReadWAV reads back, and sox agrees with the header.
func TestWAVRoundTrip(t *testing.T) {
	pcm := make([]int16, 8001)
	src := Tones("us").Ringback.Open()
	for i := 0; i+FrameSamples <= len(pcm); i += FrameSamples {
		src.Read(pcm[i : i+FrameSamples])
	}
	clip := NewClip(PCMA, pcm)
	b := ClipWAV(clip)
	back, err := ParseClip(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Codec != PCMA || !bytes.Equal(back.Data, clip.Data) {
		t.Fatal("clip changed in a WAV round trip")
	}
	path := filepath.Join(t.TempDir(), "c.wav")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out := run(t, need(t, "soxi", "sox"), "-s", path)
	if string(bytes.TrimSpace(out)) != "8001" {
		t.Fatalf("soxi says %q samples", out)
	}
}
