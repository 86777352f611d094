package prompts_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/filestore"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/prompts"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/store/storetest"
)

func need(t testing.TB, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("%s is not installed: install the Debian package %s (scripts/install-test-deps.sh does)", bin, pkg)
	}
	return p
}

var (
	genOnce sync.Once
	genDir  string
	genErr  error
	genRep  prompts.GenerateReport
)

// generated synthesises the whole set once for the package's tests.
func generated(t *testing.T) string {
	t.Helper()
	need(t, "espeak-ng", "espeak-ng")
	genOnce.Do(func() {
		// The directory test Privoxes share (privoxtest.PromptDir): synthesising the set
		// takes a while on a loaded machine, so it is done once per machine.
		genDir = filepath.Join(os.TempDir(), "privox-test-prompts")
		genRep, genErr = prompts.Generate(context.Background(), genDir, prompts.GenerateOptions{})
	})
	if genErr != nil {
		t.Fatal(genErr)
	}
	return genDir
}

// TestGenerateWholeSet: every prompt of both languages is synthesised, sounds like speech of a
// plausible length at announcement level, and a second run keeps them all without espeak-ng.
func TestGenerateWholeSet(t *testing.T) {
	dir := generated(t)
	want := len(prompts.Languages) * len(prompts.Names())
	if genRep.Generated+genRep.Kept != want {
		t.Fatalf("generated %d and kept %d of %d", genRep.Generated, genRep.Kept, want)
	}
	lib, err := prompts.Open(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lib.Missing() != 0 {
		t.Fatalf("%d prompts missing", lib.Missing())
	}
	for _, lang := range prompts.Languages {
		for _, name := range prompts.Names() {
			c, err := lib.System(lang, name)
			if err != nil {
				t.Fatal(err)
			}
			d := c.Duration()
			if d < 200*time.Millisecond || d > 15*time.Second {
				t.Errorf("%s/%s lasts %v", lang, name, d)
			}
			if lvl := audio.LevelDBm0(c.PCM()); lvl < -32 || lvl > -16 {
				t.Errorf("%s/%s at %.1f dBm0", lang, name, lvl)
			}
		}
	}
	// The German and English greetings differ, and a long prompt is longer than a short one.
	de, _ := lib.System("de", prompts.VMLeaveMessage)
	en, _ := lib.System("en", prompts.VMLeaveMessage)
	bye, _ := lib.System("de", prompts.Goodbye)
	if bytes.Equal(de.Data, en.Data) || de.Duration() < 2*bye.Duration() {
		t.Fatalf("de %v en %v goodbye %v", de.Duration(), en.Duration(), bye.Duration())
	}
	rep, err := prompts.Generate(context.Background(), dir, prompts.GenerateOptions{Espeak: "/nonexistent/espeak-ng"})
	if err != nil || rep.Generated != 0 || rep.Kept != want {
		t.Fatalf("second run: %+v %v", rep, err)
	}
	// A removed prompt is made again; without espeak-ng that is a clear error.
	os.Remove(prompts.Path(dir, "de", prompts.Goodbye))
	if _, err := prompts.Generate(context.Background(), dir, prompts.GenerateOptions{Espeak: "/nonexistent/espeak-ng"}); err == nil {
		t.Fatal("missing prompt and no synthesiser: no error")
	}
	if rep, err := prompts.Generate(context.Background(), dir, prompts.GenerateOptions{}); err != nil || rep.Generated != 1 {
		t.Fatalf("regenerate one: %+v %v", rep, err)
	}
}

func TestNumbersAndDigits(t *testing.T) {
	for _, tc := range []struct {
		lang string
		n    int
		want string
	}{
		{"en", 0, "zero"}, {"en", 21, "twenty-one"}, {"en", 105, "one hundred|five"}, {"en", 2000, "two thousand"},
		{"en", 9999, "nine thousand|nine hundred|ninety-nine"},
		{"de", 1, "eins"}, {"de", 21, "einundzwanzig"}, {"de", 101, "einhundert|eins"}, {"de", 1234, "eintausend|zweihundert|vierunddreißig"},
	} {
		names, err := prompts.Number(tc.lang, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		var words []string
		for _, n := range names {
			w, ok := prompts.Text(tc.lang, n)
			if !ok {
				t.Fatalf("%s: no prompt %s", tc.lang, n)
			}
			words = append(words, w)
		}
		if got := strings.Join(words, "|"); got != tc.want {
			t.Errorf("%s %d: %q, want %q", tc.lang, tc.n, got, tc.want)
		}
	}
	if _, err := prompts.Number("en", 10000); err == nil {
		t.Fatal("10000 accepted")
	}
	if d, err := prompts.Digits("1*#"); err != nil || strings.Join(d, ",") != "num-1,key-star,key-hash" {
		t.Fatalf("%v %v", d, err)
	}
	if _, err := prompts.Digits("1x"); err == nil {
		t.Fatal("x accepted")
	}
}

func wavTone(t *testing.T, rate, ch int, seconds float64) []byte {
	t.Helper()
	pcm := make([]byte, 0)
	n := int(float64(rate) * seconds)
	for i := 0; i < n; i++ {
		v := int16(8000 * math.Sin(2*math.Pi*700*float64(i)/float64(rate)))
		for c := 0; c < ch; c++ {
			pcm = append(pcm, byte(v), byte(uint16(v)>>8))
		}
	}
	b, err := audio.EncodeWAV(audio.Format{Encoding: audio.LinearPCM16, Rate: rate, Channels: ch}, pcm)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		const hdr = "RIFF\xff\xff\xff\xffWAVEjunk\xf0\xff\xff\xff"
		if e.n < int64(len(hdr)) {
			p[i] = hdr[e.n]
		} else {
			p[i] = byte(e.n)
		}
		e.n++
	}
	return len(p), nil
}

// TestTenantReplacement: an upload replaces one tenant's prompt only, is stored encrypted as a
// prompt content file, a second upload replaces the first (whose file goes), refusals change
// nothing, and a reset brings the system prompt back.
func TestTenantReplacement(t *testing.T) {
	dir := generated(t)
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tmp := t.TempDir()
		v, err := keys.Open(filepath.Join(tmp, "keys"))
		if err != nil {
			t.Fatal(err)
		}
		files, err := filestore.New(filepath.Join(tmp, "files"), db, v)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := db.CreateTenant(ctx, store.Tenant{Name: "a"})
		b, _ := db.CreateTenant(ctx, store.Tenant{Name: "b"})
		lib, err := prompts.Open(dir, db, files)
		if err != nil {
			t.Fatal(err)
		}
		sys, _ := lib.System("de", prompts.Welcome)
		upload := wavTone(t, 44100, 2, 2)
		p, err := lib.Replace(ctx, a.ID, "de", prompts.Welcome, prompts.Upload{Body: bytes.NewReader(upload)})
		if err != nil {
			t.Fatal(err)
		}
		got, err := lib.Clip(ctx, a.ID, "de", prompts.Welcome)
		if err != nil {
			t.Fatal(err)
		}
		if d := got.Duration(); d != 2*time.Second {
			t.Fatalf("replacement lasts %v", d)
		}
		if other, _ := lib.Clip(ctx, b.ID, "de", prompts.Welcome); other != sys {
			t.Fatal("tenant b hears tenant a's replacement")
		}
		if en, _ := lib.Clip(ctx, a.ID, "en", prompts.Welcome); en == got {
			t.Fatal("the English prompt was replaced too")
		}
		f, err := db.ContentFile(ctx, a.ID, p.FileID)
		if err != nil || f.Kind != filestore.KindPrompt || f.UserID != nil {
			t.Fatalf("content file %+v %v", f, err)
		}
		raw, err := os.ReadFile(files.Path(f))
		if err != nil || bytes.Contains(raw, []byte("WAVE")) {
			t.Fatalf("stored file not encrypted (%v)", err)
		}
		// Refusals: not audio, a lying header, a reader that never ends.
		for _, bad := range []prompts.Upload{
			{Body: strings.NewReader("this is a text file, not a recording")},
			{Body: bytes.NewReader(upload[:len(upload)/2])},
			{Body: &endless{}},
		} {
			if _, err := lib.Replace(ctx, a.ID, "de", prompts.Welcome, bad); err == nil {
				t.Fatal("bad upload accepted")
			}
		}
		if e, ok := bad(lib.Replace(ctx, a.ID, "de", "no-such-prompt", prompts.Upload{Body: bytes.NewReader(upload)})); !ok || !errors.Is(e, prompts.ErrUnknown) {
			t.Fatalf("unknown prompt: %v", e)
		}
		if c, _ := lib.Clip(ctx, a.ID, "de", prompts.Welcome); c.Duration() != 2*time.Second {
			t.Fatal("a refused upload changed the prompt")
		}
		all, _ := db.AllContentFiles(ctx, store.Page{Limit: 100})
		if len(all) != 1 {
			t.Fatalf("%d content files after refusals, want 1", len(all))
		}
		// A second upload (raw A-law) replaces the first, whose file is removed.
		alaw := make([]byte, 8000)
		for i := range alaw {
			alaw[i] = audio.PCMA.EncodeSample(int16(5000 * math.Sin(float64(i))))
		}
		c := audio.PCMA
		p2, err := lib.Replace(ctx, a.ID, "de", prompts.Welcome, prompts.Upload{Body: bytes.NewReader(alaw), Raw: &c})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := lib.Clip(ctx, a.ID, "de", prompts.Welcome); got.Duration() != time.Second {
			t.Fatalf("second replacement lasts %v", got.Duration())
		}
		if _, err := db.ContentFile(ctx, a.ID, p.FileID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("first replacement still stored: %v", err)
		}
		if _, err := os.Stat(files.Path(f)); !os.IsNotExist(err) {
			t.Fatal("first replacement's file left behind")
		}
		ls, _ := lib.List(ctx, a.ID)
		n := 0
		for _, e := range ls {
			if e.Replaced {
				n++
				if e.Lang != "de" || e.Name != prompts.Welcome {
					t.Fatalf("listed %+v as replaced", e)
				}
			}
		}
		if n != 1 {
			t.Fatalf("%d replaced prompts listed", n)
		}
		if err := lib.Reset(ctx, a.ID, "de", prompts.Welcome); err != nil {
			t.Fatal(err)
		}
		if c, _ := lib.Clip(ctx, a.ID, "de", prompts.Welcome); c != sys {
			t.Fatal("after reset the system prompt does not play")
		}
		if _, err := db.ContentFile(ctx, a.ID, p2.FileID); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("reset left the content file")
		}
		if err := lib.Reset(ctx, a.ID, "de", prompts.Welcome); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second reset: %v", err)
		}
		// A custom prompt (a menu's own greeting) exists only once uploaded.
		if _, err := lib.Clip(ctx, a.ID, "de", "custom-sales"); !errors.Is(err, prompts.ErrMissing) {
			t.Fatalf("custom prompt before upload: %v", err)
		}
		for _, bad := range []string{"custom-", "custom-Sales", "custom-../x", "sales"} {
			if _, err := lib.Replace(ctx, a.ID, "de", bad, prompts.Upload{Body: bytes.NewReader(upload)}); !errors.Is(err, prompts.ErrUnknown) {
				t.Fatalf("name %q: %v", bad, err)
			}
		}
		if _, err := lib.Replace(ctx, a.ID, "de", "custom-sales", prompts.Upload{Body: bytes.NewReader(upload)}); err != nil {
			t.Fatal(err)
		}
		if c, err := lib.Clip(ctx, a.ID, "de", "custom-sales"); err != nil || c.Duration() != 2*time.Second {
			t.Fatalf("custom prompt: %v", err)
		}
		if _, err := lib.Clip(ctx, b.ID, "de", "custom-sales"); !errors.Is(err, prompts.ErrMissing) {
			t.Fatalf("tenant b sees tenant a's custom prompt: %v", err)
		}
		ls, _ = lib.List(ctx, a.ID)
		if last := ls[len(ls)-1]; last.Name != "custom-sales" || !last.Replaced {
			t.Fatalf("custom prompt not listed last: %+v", last)
		}
		if err := lib.Reset(ctx, a.ID, "de", "custom-sales"); err != nil {
			t.Fatal(err)
		}
		if rep, err := files.Recover(ctx, false); err != nil || !rep.Clean() {
			t.Fatalf("filestore not clean: %+v %v", rep, err)
		}
	})
}

func bad(_ store.TenantPrompt, err error) (error, bool) { return err, err != nil }

// TestPromptsCauseNoDigits: an application listens for in-band DTMF while it plays prompts, and
// echo brings the prompts back; none of the system prompts, in either language, may look like
// a key press.
func TestPromptsCauseNoDigits(t *testing.T) {
	lib, err := prompts.Open(generated(t), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range prompts.Languages {
		var all []int16
		for _, name := range prompts.Names() {
			c, err := lib.System(lang, name)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, c.PCM()...)
		}
		if got := audio.Detect(audio.DTMFOptions{}, all); got != "" {
			t.Fatalf("%s prompts (%v) gave digits %q", lang, audio.Duration(len(all)), got)
		}
	}
}
