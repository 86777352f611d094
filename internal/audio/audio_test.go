package audio

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
	"time"
)

// TestG711Tables: decoding then encoding every code gives it back (both laws), and the
// tables agree with sox's G.711 encoder on a sweep of every 16-bit value.
func TestG711Tables(t *testing.T) {
	for _, c := range []Codec{PCMU, PCMA} {
		for i := 0; i < 256; i++ {
			b := byte(i)
			if c == PCMU && b == 0x7f {
				continue // µ-law has two codes for zero (0x7f and 0xff); 0 encodes as 0xff
			}
			if got := c.EncodeSample(c.DecodeSample(b)); got != b {
				t.Fatalf("%s: code %#02x decodes to %d, which encodes to %#02x", c, b, c.DecodeSample(b), got)
			}
		}
	}
	if PCMU.EncodeSample(0) != 0xff || PCMA.EncodeSample(0) != 0xd5 || PCMA.DecodeSample(0xd5) != 8 || PCMU.DecodeSample(0) != -32124 {
		t.Fatal("reference values of G.711 wrong")
	}
	sox := need(t, "sox", "sox")
	var raw bytes.Buffer
	for v := -32768; v < 32768; v += 3 {
		binary.Write(&raw, binary.LittleEndian, int16(v))
	}
	pcm := rawToPCM(raw.Bytes())
	for _, tc := range []struct {
		c   Codec
		enc string
	}{{PCMU, "u-law"}, {PCMA, "a-law"}} {
		cmd := runWithInput(t, raw.Bytes(), sox, "-t", "raw", "-e", "signed", "-b", "16", "-r", "8000", "-c", "1", "-",
			"-t", "raw", "-e", tc.enc, "-b", "8", "-")
		mine := make([]byte, len(pcm))
		tc.c.Encode(mine, pcm)
		diff := 0
		for i := range mine {
			if mine[i] == cmd[i] {
				continue
			}
			// G.711 defines decision values on 14-bit (µ) and 13-bit (A) input; how a 16-bit
			// sample on or next to a decision value is rounded is up to the encoder, and sox
			// rounds some of them the other way. Such a difference is one level; anything
			// else (another segment, another sign) is a real error.
			m, s := int(tc.c.DecodeSample(mine[i])), int(tc.c.DecodeSample(cmd[i]))
			if abs(m) <= 8 && abs(s) <= 8 { // the levels around zero, either sign
				diff++
				continue
			}
			if mine[i]&0x80 != cmd[i]&0x80 || abs(m-s) > 1024 || abs(m-s) > abs(m)/8+16 || abs(int(pcm[i])-m) > abs(m-s)+abs(m)/16+16 {
				t.Fatalf("%s: sample %d encodes to %#02x (%d), sox %#02x (%d)", tc.c, pcm[i], mine[i], m, cmd[i], s)
			}
			diff++
		}
		if diff > len(mine)/50 {
			t.Fatalf("%s: %d of %d codes differ from sox", tc.c, diff, len(mine))
		}
	}
	// µ↔A conversion keeps the value within one A-law step.
	for i := 0; i < 256; i++ {
		var a [1]byte
		Transcode(PCMU, PCMA, a[:], []byte{byte(i)})
		u, v := float64(PCMU.DecodeSample(byte(i))), float64(PCMA.DecodeSample(a[0]))
		if math.Abs(u-v) > math.Max(16, math.Abs(u)/16) {
			t.Fatalf("µ %#02x (%v) → A %#02x (%v)", i, u, a[0], v)
		}
	}
}

// TestToneCadences: each tone has its frequencies at its level and its on/off pattern.
func TestToneCadences(t *testing.T) {
	cases := []struct {
		tone  Tone
		freqs []float64
		on    []time.Duration // expected on/off pattern
	}{
		{Tones("de").Ringback, []float64{425}, []time.Duration{time.Second, 4 * time.Second}},
		{Tones("de").Busy, []float64{425}, []time.Duration{480 * time.Millisecond, 480 * time.Millisecond}},
		{Tones("de").Congestion, []float64{425}, []time.Duration{240 * time.Millisecond, 240 * time.Millisecond}},
		{Tones("de").CallWaiting, []float64{425}, []time.Duration{200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond, 5 * time.Second}},
		{Tones("us").Ringback, []float64{440, 480}, []time.Duration{2 * time.Second, 4 * time.Second}},
		{Tones("us").Busy, []float64{480, 620}, []time.Duration{500 * time.Millisecond, 500 * time.Millisecond}},
		{Tones("us").Congestion, []float64{480, 620}, []time.Duration{250 * time.Millisecond, 250 * time.Millisecond}},
	}
	for _, tc := range cases {
		t.Run(tc.tone.Name+"-"+tc.tone.Cadence[0].String(), func(t *testing.T) {
			var cycle time.Duration
			for _, d := range tc.on {
				cycle += d
			}
			// Two full cycles, sample by sample.
			src := tc.tone.Open()
			n := 2 * Samples(cycle)
			pcm := make([]int16, 0, n)
			frame := make([]int16, FrameSamples)
			for len(pcm) < n {
				if !src.Read(frame) {
					t.Fatal("repeating tone ended")
				}
				pcm = append(pcm, frame...)
			}
			pcm = pcm[:n]
			// Runs of on (non-zero in 1 ms windows) and off.
			var runs []time.Duration
			on := true
			run := 0
			for i := 0; i+8 <= n; i += 8 {
				w := LevelDBm0(pcm[i:i+8]) > -50
				if w != on {
					runs = append(runs, Duration(run))
					on, run = w, 0
				}
				run += 8
			}
			runs = append(runs, Duration(run))
			want := append(append([]time.Duration(nil), tc.on...), tc.on...)
			if len(runs) != len(want) {
				t.Fatalf("runs %v, want %v", runs, want)
			}
			for i := range want {
				if d := runs[i] - want[i]; d < -2*time.Millisecond || d > 2*time.Millisecond {
					t.Fatalf("runs %v, want %v", runs, want)
				}
			}
			onPart := pcm[:Samples(tc.on[0])]
			for _, f := range tc.freqs {
				if lvl := toneLevel(onPart, f); math.Abs(lvl-tc.tone.Level) > 0.5 {
					t.Fatalf("%v Hz at %.2f dBm0, want %v", f, lvl, tc.tone.Level)
				}
			}
			if lvl := toneLevel(onPart, tc.freqs[0]+60); lvl > tc.tone.Level-25 {
				t.Fatalf("energy off the tone's frequencies: %.1f dBm0", lvl)
			}
		})
	}
	// A beep plays once and ends.
	src := Tones("de").Beep.Open()
	frame := make([]int16, FrameSamples)
	n := 0
	for src.Read(frame) {
		n++
	}
	if n != 20 {
		t.Fatalf("beep of %d frames, want 20", n)
	}
}

// TestResample: a 1 kHz tone keeps its frequency and level from every rate; a tone above 4 kHz
// does not fold back into the telephone band.
func TestResample(t *testing.T) {
	for _, rate := range []int{11025, 16000, 22050, 32000, 44100, 48000} {
		gen := func(f float64) []int16 {
			pcm := make([]int16, rate)
			for i := range pcm {
				pcm[i] = int16(10000 * math.Sin(2*math.Pi*f*float64(i)/float64(rate)))
			}
			return pcm
		}
		out := Resample(gen(1000), rate, Rate)
		if len(out) != Rate {
			t.Fatalf("%d Hz: %d samples out of a second", rate, len(out))
		}
		mid := out[800:7200]
		want := PowerDBm0(10000 * 10000 / 2)
		if lvl := toneLevel(mid, 1000); math.Abs(lvl-want) > 0.3 {
			t.Fatalf("%d Hz: 1 kHz at %.2f dBm0, want %.2f", rate, lvl, want)
		}
		if rate >= 16000 {
			alias := float64(Rate) - 5000 // where 5 kHz would fold to
			out := Resample(gen(5000), rate, Rate)
			if lvl := toneLevel(out[800:7200], alias); lvl > want-50 {
				t.Fatalf("%d Hz: 5 kHz folds to %.0f Hz at %.1f dBm0", rate, alias, lvl)
			}
		}
	}
}

// TestVAD: speech between silences gives one start and one end, the end a hangover after the
// speech stops; steady noise is not speech.
func TestVAD(t *testing.T) {
	sp := speech(t, "en-us", 160, "Hello, I would like to leave a message for Maria about the meeting tomorrow.")
	noise := soxNoise(t, "pinknoise", float64(len(sp))/Rate+4, -55)
	pcm := append([]int16(nil), noise...)
	Mix(pcm[Rate:], sp)
	v := NewVAD(VADOptions{Hangover: time.Second})
	var events []VADEvent
	var at []int
	for i := 0; i+FrameSamples <= len(pcm); i += FrameSamples {
		if e := v.Feed(pcm[i : i+FrameSamples]); e != VADNone {
			events, at = append(events, e), append(at, i)
		}
	}
	if len(events) != 2 || events[0] != VADSpeechStart || events[1] != VADSpeechEnd {
		t.Fatalf("events %v at %v", events, at)
	}
	startErr := Duration(at[0] - Rate)
	if startErr < 0 || startErr > 300*time.Millisecond {
		t.Fatalf("speech start found %v after it began", startErr)
	}
	// speech ends (its trailing silence aside) before Rate+len(sp); the end is a second later.
	endAt := Duration(at[1] - Rate - len(sp))
	if endAt < -time.Second || endAt > 1500*time.Millisecond {
		t.Fatalf("end of speech at %v relative to the end of the clip", endAt)
	}
	if v.SilentFor() < time.Second {
		t.Fatalf("silent for %v at the end", v.SilentFor())
	}
	v = NewVAD(VADOptions{})
	for _, lvl := range []float64{-60, -45, -30} {
		n := soxNoise(t, "whitenoise", 10, lvl)
		for i := 0; i+FrameSamples <= len(n); i += FrameSamples {
			if e := v.Feed(n[i : i+FrameSamples]); e == VADSpeechStart && i > Rate {
				t.Fatalf("steady noise at %v dBm0 taken for speech at %v", lvl, Duration(i))
			}
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
