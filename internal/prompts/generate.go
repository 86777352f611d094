package prompts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/privox/privox/internal/audio"
)

// generator names what shapes a generated prompt; a change regenerates every prompt.
const generator = "espeak-ng/v1/rate150/pcmu/-20dBm0"

// ErrNoSynthesizer: espeak-ng is not installed and prompts are missing.
var ErrNoSynthesizer = errors.New("prompts: espeak-ng not found (install the Debian package espeak-ng)")

// GenerateOptions tune Generate.
type GenerateOptions struct {
	// Espeak is the espeak-ng binary; empty looks it up in PATH.
	Espeak string
	// Workers is how many prompts are synthesised at once (default 2).
	Workers int
}

// GenerateReport says what Generate did.
type GenerateReport struct {
	Generated int `json:"generated"`
	Kept      int `json:"kept"`
}

type manifest map[string]string // "lang/name" → hash of generator, voice and text

func promptHash(lang, name string) string {
	text, _ := Text(lang, name)
	h := sha256.Sum256([]byte(generator + "\x00" + voices[lang] + "\x00" + text))
	return hex.EncodeToString(h[:8])
}

// Path returns where the generated prompt lang/name lives under dir.
func Path(dir, lang, name string) string { return filepath.Join(dir, lang, name+".wav") }

// Generate synthesises every prompt of the system set that is missing from dir, or whose text
// or voice changed, with espeak-ng, and stores it as an 8 kHz µ-law WAV file (written to a
// temporary file, synced and renamed: a prompt file is complete or absent). Nothing is
// downloaded. With every prompt present and current it does not need espeak-ng at all.
func Generate(ctx context.Context, dir string, opt GenerateOptions) (GenerateReport, error) {
	var rep GenerateReport
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return rep, fmt.Errorf("prompts: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return rep, fmt.Errorf("prompts: lock %s: %w", dir, err)
	}
	defer unlock()
	man := manifest{}
	if b, err := os.ReadFile(filepath.Join(dir, "manifest.json")); err == nil {
		_ = json.Unmarshal(b, &man) // an unreadable manifest regenerates everything
	}
	type job struct{ lang, name, hash string }
	var jobs []job
	for _, lang := range Languages {
		for _, name := range Names() {
			h := promptHash(lang, name)
			key := lang + "/" + name
			if man[key] == h {
				if _, err := os.Stat(Path(dir, lang, name)); err == nil {
					rep.Kept++
					continue
				}
			}
			jobs = append(jobs, job{lang, name, h})
		}
	}
	if len(jobs) == 0 {
		return rep, nil
	}
	bin := opt.Espeak
	if bin == "" {
		p, err := exec.LookPath("espeak-ng")
		if err != nil {
			return rep, ErrNoSynthesizer
		}
		bin = p
	}
	for _, lang := range Languages {
		if err := os.MkdirAll(filepath.Join(dir, lang), 0o755); err != nil {
			return rep, fmt.Errorf("prompts: %w", err)
		}
	}
	tmp, err := os.MkdirTemp(dir, ".synth-")
	if err != nil {
		return rep, fmt.Errorf("prompts: %w", err)
	}
	defer os.RemoveAll(tmp)
	workers := max(1, opt.Workers)
	if opt.Workers == 0 {
		workers = 2
	}
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
		next  = make(chan job)
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for j := range next {
				err := synthesize(ctx, bin, filepath.Join(tmp, fmt.Sprintf("w%d.wav", w)), dir, j.lang, j.name)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				if err == nil {
					man[j.lang+"/"+j.name] = j.hash
					rep.Generated++
				}
				mu.Unlock()
			}
		}(w)
	}
	for _, j := range jobs {
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		next <- j
	}
	close(next)
	wg.Wait()
	b, _ := json.MarshalIndent(man, "", "  ")
	if err := writeAtomic(filepath.Join(dir, "manifest.json"), b); err != nil && first == nil {
		first = err
	}
	if first == nil {
		first = ctx.Err()
	}
	return rep, first
}

func synthesize(ctx context.Context, bin, tmpWav, dir, lang, name string) error {
	text, _ := Text(lang, name)
	cmd := exec.CommandContext(ctx, bin, "-v", voices[lang], "-s", "150", "-w", tmpWav, "--", text)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("prompts: espeak-ng %s/%s: %w: %s", lang, name, err, bytes.TrimSpace(stderr.Bytes()))
	}
	f, err := os.Open(tmpWav)
	if err != nil {
		return fmt.Errorf("prompts: %w", err)
	}
	pcm, err := audio.Import(f, audio.ImportOptions{})
	f.Close()
	if err != nil {
		return fmt.Errorf("prompts: espeak-ng output for %s/%s: %w", lang, name, err)
	}
	pcm = shape(pcm)
	return writeAtomic(Path(dir, lang, name), audio.ClipWAV(audio.NewClip(audio.PCMU, pcm)))
}

// shape trims the synthesiser's leading and trailing silence (keeping 40 ms before and 120 ms
// after the speech, so that concatenated prompts sound like one sentence) and brings the speech
// to an active level of about -20 dBm0, the usual level of announcements.
func shape(pcm []int16) []int16 {
	const thr = 300
	first, last := -1, -1
	for i, s := range pcm {
		if s > thr || s < -thr {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return pcm
	}
	first = max(0, first-audio.Samples(40*time.Millisecond))
	last = min(len(pcm), last+audio.Samples(120*time.Millisecond))
	out := append([]int16(nil), pcm[first:last]...)
	// Active level: mean square of the 20 ms frames that carry speech.
	var sum float64
	var n int
	for i := 0; i+audio.FrameSamples <= len(out); i += audio.FrameSamples {
		ms := audio.MeanSquare(out[i : i+audio.FrameSamples])
		if audio.PowerDBm0(ms) > -45 {
			sum += ms
			n++
		}
	}
	if n > 0 {
		gain := -20 - audio.PowerDBm0(sum/float64(n))
		audio.Gain(out, math.Max(-20, math.Min(20, gain)))
	}
	return out
}

func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-")
	if err != nil {
		return fmt.Errorf("prompts: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("prompts: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("prompts: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("prompts: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("prompts: %w", err)
	}
	return nil
}
