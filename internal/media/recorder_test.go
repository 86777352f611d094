package media

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/filestore"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/store/storetest"
)

// TestRecorderWritesOneCompleteFile: received RTP (in either law, with a gap, a repeat and a
// late packet) becomes one A-law WAV content file of the declared kind, encrypted; the length
// limit holds; a save whose linked row fails leaves nothing behind.
func TestRecorderWritesOneCompleteFile(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		dir := t.TempDir()
		v, err := keys.Open(filepath.Join(dir, "keys"))
		if err != nil {
			t.Fatal(err)
		}
		files, err := filestore.New(filepath.Join(dir, "files"), db, v)
		if err != nil {
			t.Fatal(err)
		}
		tn, _ := db.CreateTenant(ctx, store.Tenant{Name: "t"})
		u, _ := db.CreateUser(ctx, store.User{TenantID: tn.ID, Name: "U", Email: "u@x.test"})

		tone := audio.Tone{Freqs: []int{800}, Level: -12}.Open()
		frame := make([]int16, audio.FrameSamples)
		payload := make([]byte, audio.FrameSamples)
		r := NewRecorder(audio.PCMA, 10*time.Second)
		ts := uint32(4000000000) // wraps during the recording
		for i := 0; i < 100; i++ {
			tone.Read(frame)
			c := audio.PCMU
			if i%2 == 1 {
				c = audio.PCMA
			}
			c.Encode(payload, frame)
			if i == 50 {
				ts += 3 * audio.FrameSamples // three lost packets
			}
			r.WriteRTP(uint8(c), ts, payload)
			if i == 60 {
				r.WriteRTP(uint8(c), ts, payload)                    // repeated
				r.WriteRTP(uint8(c), ts-audio.FrameSamples, payload) // late
				r.WriteRTP(101, ts+audio.FrameSamples, []byte{1, 2}) // telephone-event
			}
			ts += audio.FrameSamples
		}
		if d := r.Duration(); d != 103*audio.FrameDuration {
			t.Fatalf("recorded %v, want %v", d, 103*audio.FrameDuration)
		}
		// A link that fails: no row, no file.
		boom := errors.New("boom")
		rFail := NewRecorder(audio.PCMA, time.Second)
		rFail.WritePCM(frame)
		if _, err := rFail.Save(ctx, files, tn.ID, &u.ID, filestore.KindRecording, func(*store.DB, store.ContentFile) error { return boom }); !errors.Is(err, boom) {
			t.Fatalf("failed link: %v", err)
		}
		if all, _ := db.AllContentFiles(ctx, store.Page{Limit: 10}); len(all) != 0 {
			t.Fatalf("%d content files after a failed save", len(all))
		}
		if ents, _ := os.ReadDir(filepath.Join(dir, "files", "t1")); len(ents) != 0 {
			t.Fatalf("%d files on disk after a failed save", len(ents))
		}
		want := r.Clip()
		f, err := r.Save(ctx, files, tn.ID, &u.ID, filestore.KindRecording, nil)
		if err != nil {
			t.Fatal(err)
		}
		if f.Kind != filestore.KindRecording || f.UserID == nil || *f.UserID != u.ID {
			t.Fatalf("file %+v", f)
		}
		if _, err := r.Save(ctx, files, tn.ID, &u.ID, filestore.KindRecording, nil); err == nil {
			t.Fatal("saved twice")
		}
		b, _, err := files.Get(ctx, tn.ID, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := audio.ParseClip(b)
		if err != nil || got.Codec != audio.PCMA || !bytes.Equal(got.Data, want.Data) {
			t.Fatalf("stored recording differs (%v)", err)
		}
		// The three lost packets are silence; the rest is the tone.
		gap := got.PCM()[50*audio.FrameSamples : 53*audio.FrameSamples]
		if lvl := audio.LevelDBm0(gap); lvl > -60 {
			t.Fatalf("gap at %.1f dBm0", lvl)
		}
		if lvl := audio.LevelDBm0(got.PCM()[:50*audio.FrameSamples]); lvl < -13 || lvl > -11 {
			t.Fatalf("tone recorded at %.1f dBm0", lvl)
		}
		raw, _ := os.ReadFile(files.Path(f))
		if bytes.Contains(raw, []byte("WAVE")) {
			t.Fatal("recording stored in the clear")
		}
		// The limit: a recorder of one second holds one second.
		rl := NewRecorder(audio.PCMU, time.Second)
		for i := 0; i < 80; i++ {
			rl.WritePCM(frame)
		}
		if !rl.Full() || rl.Duration() != time.Second {
			t.Fatalf("limited recorder: full %v, %v", rl.Full(), rl.Duration())
		}
		if _, err := NewRecorder(audio.PCMU, time.Second).Save(ctx, files, tn.ID, nil, filestore.KindRecording, nil); !errors.Is(err, audio.ErrEmpty) {
			t.Fatalf("empty save: %v", err)
		}
	})
}
