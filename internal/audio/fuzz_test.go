package audio

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzWAV: no input makes ReadWAV or Import panic, read beyond the limit or return audio that
// contradicts its format; whatever ReadWAV accepts, EncodeWAV writes back identically.
func FuzzWAV(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/wav/*.wav")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err == nil {
			f.Add(b)
		}
	}
	f.Add(wavHeader(36+16, 16, 1, 1, 8000, 16))
	f.Add(append(wavHeader(36+16, 16, 7, 2, 8000, 8), make([]byte, 16)...))
	f.Add([]byte("RIFF\x24\x00\x00\x00WAVEfmt "))
	f.Fuzz(func(t *testing.T, b []byte) {
		const limit = 1 << 16
		w, err := ReadWAV(bytes.NewReader(b), limit)
		if err == nil {
			if len(w.Data) == 0 || len(w.Data)%w.blockAlign() != 0 || len(w.Data) > len(b) {
				t.Fatalf("accepted %d data bytes for %+v", len(w.Data), w.Format)
			}
			enc, err := EncodeWAV(w.Format, w.Data)
			if err != nil {
				t.Fatal(err)
			}
			w2, err := ReadWAV(bytes.NewReader(enc), int64(len(enc)))
			if err != nil || w2.Format != w.Format || !bytes.Equal(w2.Data, w.Data) {
				t.Fatalf("re-encoded WAV does not read back: %v", err)
			}
		}
		pcm, err := Import(bytes.NewReader(b), ImportOptions{MaxBytes: limit, MaxDuration: 1e10})
		if err == nil && len(pcm) == 0 {
			t.Fatal("accepted an upload without audio")
		}
	})
}
