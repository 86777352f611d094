package api_test

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/store"
)

// neverEnding is a request body that never ends: a WAV header claiming 4 GB, then bytes.
type neverEnding struct{ n int64 }

func (r *neverEnding) Read(p []byte) (int, error) {
	const hdr = "RIFF\xf0\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\xc0\xff\xff\xff"
	for i := range p {
		if r.n < int64(len(hdr)) {
			p[i] = hdr[r.n]
		} else {
			p[i] = byte(r.n * 13)
		}
		r.n++
	}
	return len(p), nil
}

func upload(t *testing.T, url, token, ctype string, body io.Reader) (int, map[string]any) {
	t.Helper()
	var out map[string]any
	return send(t, "PUT", url, token, ctype, body, &out), out
}

// TestPromptUploadOverHTTP: an admin replaces a German prompt with a 48 kHz stereo WAV, hears
// it back as G.711, and every bad upload is refused with its own code and changes nothing.
func TestPromptUploadOverHTTP(t *testing.T) {
	f := setup(t)
	base := fmt.Sprintf("%s/api/v1/tenants/%d/prompts", f.p.URL, f.tenantA)
	var list struct {
		Items []struct {
			Lang, Name string
			Replaced   bool
			Generated  bool
		} `json:"items"`
	}
	f.p.MustDo(200, "GET", fmt.Sprintf("/api/v1/tenants/%d/prompts", f.tenantA), f.adminA, nil, &list)
	if len(list.Items) < 200 || !list.Items[0].Generated {
		t.Fatalf("%d prompts listed, first %+v", len(list.Items), list.Items[0])
	}
	var pcm []byte
	for i := 0; i < 48000*3/2; i++ {
		v := int16(9000 * math.Sin(2*math.Pi*600*float64(i)/48000))
		pcm = append(pcm, byte(v), byte(uint16(v)>>8), byte(v), byte(uint16(v)>>8))
	}
	wav, err := audio.EncodeWAV(audio.Format{Encoding: audio.LinearPCM16, Rate: 48000, Channels: 2}, pcm)
	if err != nil {
		t.Fatal(err)
	}
	refusals := []struct {
		name, ctype string
		body        io.Reader
		status      int
		code        string
	}{
		{"text", "audio/wav", strings.NewReader("just some text"), 415, "not_wav"},
		{"lying-header", "audio/wav", bytes.NewReader(wav[:len(wav)/3]), 400, "malformed_audio"},
		{"never-ending", "audio/wav", &neverEnding{}, 413, "audio_too_large"},
		{"raw-never-ending", "audio/basic", &neverEnding{}, 413, "audio_too_large"},
	}
	for _, tc := range refusals {
		st, out := upload(t, base+"/de/welcome", f.adminA, tc.ctype, tc.body)
		e, _ := out["error"].(map[string]any)
		if st != tc.status || e["code"] != tc.code {
			t.Fatalf("%s: status %d %v, want %d %s", tc.name, st, out, tc.status, tc.code)
		}
	}
	if st, _ := upload(t, base+"/de/no-such-prompt", f.adminA, "audio/wav", bytes.NewReader(wav)); st != 404 {
		t.Fatalf("unknown prompt: %d", st)
	}
	if st, _ := upload(t, base+"/de/welcome", f.memberA, "audio/wav", bytes.NewReader(wav)); st != 403 {
		t.Fatalf("member upload: %d", st)
	}
	files, _ := f.p.App.DB.AllContentFiles(t.Context(), store.Page{Limit: 10})
	if len(files) != 0 {
		t.Fatalf("%d content files after refusals", len(files))
	}
	st, out := upload(t, base+"/de/welcome", f.adminA, "audio/wav", bytes.NewReader(wav))
	if st != 200 || out["name"] != "welcome" {
		t.Fatalf("upload: %d %v", st, out)
	}
	st, body := f.p.Do("GET", fmt.Sprintf("/api/v1/tenants/%d/prompts/de/welcome/audio", f.tenantA), f.adminA, nil)
	if st != 200 {
		t.Fatalf("download: %d %s", st, body)
	}
	clip, err := audio.ParseClip(body)
	if err != nil {
		t.Fatal(err)
	}
	if d := clip.Duration().Seconds(); d != 1.5 {
		t.Fatalf("downloaded prompt lasts %v s", d)
	}
	// Tenant B still hears the system prompt.
	_, bodyB := f.p.Do("GET", fmt.Sprintf("/api/v1/tenants/%d/prompts/de/welcome/audio", f.tenantB), f.adminB, nil)
	if bytes.Equal(bodyB, body) {
		t.Fatal("tenant B hears tenant A's prompt")
	}
	f.p.MustDo(204, "DELETE", fmt.Sprintf("/api/v1/tenants/%d/prompts/de/welcome", f.tenantA), f.adminA, nil, nil)
	f.p.MustDo(404, "DELETE", fmt.Sprintf("/api/v1/tenants/%d/prompts/de/welcome", f.tenantA), f.adminA, nil, nil)
	_, bodyA := f.p.Do("GET", fmt.Sprintf("/api/v1/tenants/%d/prompts/de/welcome/audio", f.tenantA), f.adminA, nil)
	if !bytes.Equal(bodyA, bodyB) {
		t.Fatal("after reset tenant A does not hear the system prompt")
	}
	// The CLI does the same against the same store.
	path := t.TempDir() + "/p.wav"
	if err := writeFile(path, wav); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := f.p.CLI("prompts", "set", "--tenant", "alpha", "--lang", "en", "--name", "goodbye", path); code != 0 {
		t.Fatalf("cli set: %s", stderr)
	}
	if _, stderr, code := f.p.CLI("prompts", "set", "--tenant", "alpha", "--lang", "en", "--name", "goodbye", "/dev/null"); code == 0 || !strings.Contains(stderr, "not a RIFF/WAVE file") {
		t.Fatalf("cli set of an empty file: %d %s", code, stderr)
	}
	stdout, _, code := f.p.CLI("prompts", "list", "--tenant", "alpha", "--lang", "en")
	if code != 0 || !strings.Contains(stdout, "goodbye") || !strings.Contains(stdout, "tenant") {
		t.Fatalf("cli list: %s", stdout)
	}
	if _, stderr, code := f.p.CLI("prompts", "reset", "--tenant", "alpha", "--lang", "en", "--name", "goodbye"); code != 0 {
		t.Fatalf("cli reset: %s", stderr)
	}
	if n := len(mustFiles(t, f)); n != 0 {
		t.Fatalf("%d content files left", n)
	}
}

func mustFiles(t *testing.T, f *fixture) []store.ContentFile {
	fs, err := f.p.App.DB.AllContentFiles(t.Context(), store.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }
