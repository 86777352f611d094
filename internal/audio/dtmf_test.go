package audio

import (
	"fmt"
	"strings"
	"testing"
)

const allKeys = "123A456B789C*0#D"

// TestDTMFSoxAllDigits: every key, synthesised by sox, at several levels and twists, is
// recognised exactly once.
func TestDTMFSoxAllDigits(t *testing.T) {
	cases := []struct {
		name     string
		row, col float64 // dBm0 per tone
		dur      float64
		errPct   float64
	}{
		{"loud", -4, -2, 0.1, 0},
		{"nominal", -10, -8, 0.07, 0},
		{"quiet", -25, -24, 0.1, 0},
		{"normal-twist-6dB", -8, -14, 0.1, 0},
		{"reverse-twist-3dB", -14, -11, 0.1, 0},
		{"minimum-40ms", -10, -10, 0.04, 0},
		{"freq-plus-1.5pct", -10, -10, 0.1, 1.5},
		{"freq-minus-1.5pct", -10, -10, 0.1, -1.5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var parts [][]int16
			for _, k := range allKeys {
				parts = append(parts, silenceN(0.06), soxDTMF(t, k, tc.dur, tc.row, tc.col, tc.errPct))
			}
			parts = append(parts, silenceN(0.1))
			if got := Detect(DTMFOptions{}, concat(parts...)); got != allKeys {
				t.Fatalf("detected %q, want %q", got, allKeys)
			}
		})
	}
}

// TestDTMFSoxRejected: what Q.24 says a receiver must not accept is not reported.
func TestDTMFSoxRejected(t *testing.T) {
	cases := []struct {
		name     string
		row, col float64
		dur      float64
		errPct   float64
	}{
		{"too-short-20ms", -10, -10, 0.02, 0},
		{"too-quiet", -40, -40, 0.1, 0},
		{"normal-twist-12dB", -6, -18, 0.1, 0},
		{"reverse-twist-8dB", -16, -8, 0.1, 0},
		{"freq-plus-6pct", -10, -10, 0.1, 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var parts [][]int16
			for _, k := range allKeys {
				parts = append(parts, silenceN(0.06), soxDTMF(t, k, tc.dur, tc.row, tc.col, tc.errPct))
			}
			if got := Detect(DTMFOptions{}, concat(parts...)); got != "" {
				t.Fatalf("detected %q", got)
			}
		})
	}
}

// TestDTMFRepeatsAndHold: a long press is one digit; the same key twice with a gap is two.
func TestDTMFRepeatsAndHold(t *testing.T) {
	five := soxDTMF(t, '5', 1.5, -10, -8, 0)
	short := soxDTMF(t, '5', 0.06, -10, -8, 0)
	pcm := concat(five, silenceN(0.2), short, silenceN(0.05), short, silenceN(0.05))
	if got := Detect(DTMFOptions{}, pcm); got != "555" {
		t.Fatalf("detected %q, want 555", got)
	}
}

// TestDTMFInNoise: digits are still found in noise at about 15 dB SNR, and noise alone
// produces none.
func TestDTMFInNoise(t *testing.T) {
	for _, kind := range []string{"whitenoise", "pinknoise", "brownnoise"} {
		t.Run(kind, func(t *testing.T) {
			var parts [][]int16
			for _, k := range allKeys {
				parts = append(parts, silenceN(0.08), soxDTMF(t, k, 0.08, -12, -10, 0))
			}
			sig := concat(parts...)
			noise := soxNoise(t, kind, float64(len(sig))/Rate+0.01, -26)
			Mix(noise[:len(sig)], sig)
			if got := Detect(DTMFOptions{}, noise[:len(sig)]); got != allKeys {
				t.Fatalf("detected %q in noise, want %q", got, allKeys)
			}
			for _, lvl := range []float64{-40, -20, -6} {
				if got := Detect(DTMFOptions{}, soxNoise(t, kind, 20, lvl)); got != "" {
					t.Fatalf("noise at %v dBm0 gave digits %q", lvl, got)
				}
			}
		})
	}
}

// talkTexts are long passages that exercise many phonemes.
var talkTexts = map[string]string{
	"en": "Good morning, this is the front desk. Thank you for calling our office. All of our agents are busy helping other customers, " +
		"so please stay on the line. Your call is important to us. If you know the extension of the person you want to reach, you can dial it at any time. " +
		"The quick brown fox jumps over the lazy dog while the weather in the northern mountains stays cold and windy, with heavy rain expected tomorrow morning. " +
		"Seven hundred and sixty-two invoices were processed last quarter, and the finance team would like to review them on Thursday afternoon at half past three. " +
		"Could you please call me back when you have a moment? My number is in the signature of the email I sent you yesterday evening. " +
		"Meanwhile, the kitchen will be closed for cleaning, the elevators on the west side are being serviced, and the parking garage opens at six.",
	"de": "Guten Tag, hier ist die Zentrale. Vielen Dank für Ihren Anruf. Zurzeit sind alle Mitarbeiter im Gespräch, bitte bleiben Sie in der Leitung. " +
		"Wenn Sie die Durchwahl Ihres Gesprächspartners kennen, können Sie sie jederzeit wählen. Franz jagt im komplett verwahrlosten Taxi quer durch Bayern. " +
		"Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich. Die Rechnungen des letzten Quartals werden am Donnerstag um halb vier besprochen. " +
		"Könnten Sie mich bitte zurückrufen, sobald Sie einen Moment Zeit haben? Meine Nummer steht in der Signatur der E-Mail von gestern Abend. " +
		"Die Kantine bleibt wegen Reinigungsarbeiten geschlossen, die Aufzüge im Westflügel werden gewartet, und die Tiefgarage öffnet um sechs Uhr.",
}

// TestDTMFTalkOffSpeech: more than a minute of synthetic speech per language, in several
// voices, speeds and pitches, produces no digit; and digits spoken over are still found.
func TestDTMFTalkOffSpeech(t *testing.T) {
	voices := map[string][]string{
		"en": {"en-us", "en-gb", "en-us+f3", "en-us+m7", "en-gb-x-rp+f4"},
		"de": {"de", "de+f2", "de+m3", "de+f4", "de+m6"},
	}
	for _, lang := range []string{"en", "de"} {
		t.Run(lang, func(t *testing.T) {
			var all []int16
			for i, v := range voices[lang] {
				s := speech(t, v, 130+20*i, talkTexts[lang])
				all = append(all, s...)
			}
			if sec := float64(len(all)) / Rate; sec < 60 {
				t.Fatalf("only %.0f s of speech", sec)
			}
			// At the synthesiser's level and boosted, as a loud talker would be.
			for _, gain := range []float64{0, 8} {
				pcm := append([]int16(nil), all...)
				Gain(pcm, gain)
				if got := Detect(DTMFOptions{}, pcm); got != "" {
					t.Fatalf("%.0f s of %s speech (gain %+.0f dB) gave digits %q", float64(len(pcm))/Rate, lang, gain, got)
				}
			}
			// Digits pressed while the caller keeps talking.
			sp := all[:Rate*8]
			var keys strings.Builder
			for i, k := range "1593#" {
				tone := soxDTMF(t, k, 0.1, -6, -4, 0)
				at := Rate/2 + i*Rate*3/2
				Mix(sp[at:at+len(tone)], tone)
				keys.WriteRune(k)
			}
			if got := Detect(DTMFOptions{}, sp); got != keys.String() {
				t.Fatalf("digits over speech: detected %q, want %q", got, keys.String())
			}
		})
	}
}

// TestDTMFStreamingFrames: the result does not depend on how the audio is cut into frames.
func TestDTMFStreamingFrames(t *testing.T) {
	var parts [][]int16
	for _, k := range allKeys {
		parts = append(parts, silenceN(0.05), soxDTMF(t, k, 0.05, -10, -10, 0))
	}
	pcm := concat(parts...)
	for _, size := range []int{1, 7, 80, 160, 320} {
		d := NewDTMFDetector(DTMFOptions{})
		var got []rune
		for off := 0; off < len(pcm); off += size {
			if r := d.Feed(pcm[off:min(len(pcm), off+size)]); r != 0 {
				got = append(got, r)
			}
		}
		if string(got) != allKeys {
			t.Fatalf("frames of %d: %q", size, string(got))
		}
	}
}

func BenchmarkDTMFFrame(b *testing.B) {
	for _, kind := range []string{"silence", "speechlike"} {
		b.Run(kind, func(b *testing.B) {
			frame := make([]int16, FrameSamples)
			if kind != "speechlike" {
				// digital silence: the energy gate skips the filters
			} else {
				tone := Tone{Freqs: []int{300, 1300}, Level: -15}.Open()
				tone.Read(frame)
			}
			d := NewDTMFDetector(DTMFOptions{})
			b.ReportAllocs()
			for b.Loop() {
				d.Feed(frame)
			}
		})
	}
}

var _ = fmt.Sprint

// TestDTMFTalkOffMusic: hold music and tones are not key presses: a sine sweeping the whole
// telephone band, plucked chords, and the call-progress tones.
func TestDTMFTalkOffMusic(t *testing.T) {
	sox := need(t, "sox", "sox")
	raw := func(args ...string) []int16 {
		a := append([]string{"-n", "-t", "raw", "-e", "signed", "-b", "16", "-r", "8000", "-c", "1", "-", "synth"}, args...)
		return rawToPCM(run(t, sox, a...))
	}
	var music []int16
	music = append(music, raw("20", "sine", "300-3400", "vol", "0.5")...)
	for _, chord := range [][3]string{{"262", "330", "392"}, {"294", "370", "440"}, {"349", "440", "523"}, {"392", "494", "587"}, {"698", "880", "1047"}, {"784", "988", "1175"}} {
		for i := 0; i < 4; i++ {
			music = append(music, raw("0.4", "pluck", chord[0], "pluck", "mix", chord[1], "pluck", "mix", chord[2], "vol", "0.6")...)
		}
	}
	for _, ts := range []ToneSet{Tones("de"), Tones("us")} {
		for _, tone := range []Tone{ts.Dial, ts.Ringback, ts.Busy, ts.Congestion, ts.CallWaiting, ts.Beep} {
			src := tone.Open()
			frame := make([]int16, FrameSamples)
			for i := 0; i < 250 && src.Read(frame); i++ {
				music = append(music, frame...)
			}
		}
	}
	if got := Detect(DTMFOptions{}, music); got != "" {
		t.Fatalf("%v of music and tones gave digits %q", Duration(len(music)), got)
	}
}
