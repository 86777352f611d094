package audio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// need fails the test when a peer binary is missing, naming the Debian package.
func need(t testing.TB, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("%s is not installed: install the Debian package %s (scripts/install-test-deps.sh does)", bin, pkg)
	}
	return p
}

func run(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func rawToPCM(b []byte) []int16 {
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return out
}

// soxAmp is sox's -v factor (of full scale) for a sine at level dBm0.
func soxAmp(level float64) string {
	return fmt.Sprintf("%.6f", AmplitudeDBm0(level)/32767)
}

// soxDTMF has sox synthesise the two sines of a key at 8 kHz, each at its own level in dBm0,
// with the given frequency error (in percent, applied to both tones).
func soxDTMF(t testing.TB, key rune, seconds, rowLevel, colLevel, errPct float64) []int16 {
	t.Helper()
	sox := need(t, "sox", "sox")
	var fr, fc float64
	for r := 0; r < 4; r++ {
		for c := 0; c < 4; c++ {
			if dtmfKeys[r][c] == key {
				fr, fc = dtmfRows[r], dtmfCols[c]
			}
		}
	}
	if fr == 0 {
		t.Fatalf("no key %q", key)
	}
	k := 1 + errPct/100
	dur := fmt.Sprintf("%.4f", seconds)
	out := run(t, sox, "-m",
		"-v", soxAmp(rowLevel), "|sox -n -r 8000 -c 1 -b 16 -p synth "+dur+" sine "+fmt.Sprintf("%.2f", fr*k),
		"-v", soxAmp(colLevel), "|sox -n -r 8000 -c 1 -b 16 -p synth "+dur+" sine "+fmt.Sprintf("%.2f", fc*k),
		"-t", "raw", "-e", "signed", "-b", "16", "-r", "8000", "-c", "1", "-")
	return rawToPCM(out)
}

// soxNoise has sox synthesise noise of a type (whitenoise, pinknoise, brownnoise) at 8 kHz.
func soxNoise(t testing.TB, kind string, seconds float64, level float64) []int16 {
	t.Helper()
	sox := need(t, "sox", "sox")
	out := run(t, sox, "-n", "-t", "raw", "-e", "signed", "-b", "16", "-r", "8000", "-c", "1", "-",
		"synth", fmt.Sprintf("%.3f", seconds), kind)
	pcm := rawToPCM(out)
	Gain(pcm, level-LevelDBm0(pcm))
	return pcm
}

// speech has espeak-ng speak text with a voice (and speed) and returns it at 8 kHz, converted
// by Import from espeak-ng's 22.05 kHz WAV.
func speech(t testing.TB, voice string, speed int, text string) []int16 {
	t.Helper()
	espeak := need(t, "espeak-ng", "espeak-ng")
	path := filepath.Join(t.TempDir(), "s.wav")
	run(t, espeak, "-v", voice, "-s", fmt.Sprint(speed), "-w", path, "--", text)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pcm, err := Import(f, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pcm
}

func silenceN(d float64) []int16 { return make([]int16, int(d*Rate)) }

func concat(parts ...[]int16) []int16 {
	var out []int16
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// toneLevel measures the level (dBm0) of one frequency in pcm with a Goertzel filter.
func toneLevel(pcm []int16, f float64) float64 {
	coef := 2 * math.Cos(2*math.Pi*f/Rate)
	var s1, s2 float64
	for _, v := range pcm {
		s0 := float64(v) + coef*s1 - s2
		s2, s1 = s1, s0
	}
	n := float64(len(pcm))
	p := (s1*s1 + s2*s2 - coef*s1*s2) * 2 / (n * n)
	return PowerDBm0(p)
}

func runWithInput(t testing.TB, in []byte, name string, args ...string) []byte {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}
