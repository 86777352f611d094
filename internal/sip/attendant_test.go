package sip_test

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/privox/privox/internal/attendant"
	"github.com/privox/privox/internal/prompts"
)

// The auto attendant against real phones: baresip and sipp call an attendant number, hear
// the menu, choose by DTMF (in-band from a sox-generated WAV, RFC 4733 from sipp's pcap) and
// reach the chosen extension.

// putMenu stores a menu of the default tenant through the API.
func (e *env) putMenu(name, number, spec string) {
	e.t.Helper()
	st, body := e.p.Do("PUT", "/api/v1/tenants/1/menus/"+name, e.p.AdminToken, fmt.Sprintf(`{"number":%q,"spec":%s}`, number, spec))
	if st != 200 {
		e.t.Fatalf("PUT menu %s: %d %s", name, st, body)
	}
}

// callerWAV writes what the calling phone "says": silence, DTMF digit keys (sox-generated,
// 150 ms each, for the attendant's in-band detector) after lead seconds, then a 440 Hz tone.
func callerWAV(t *testing.T, dir string, lead float64, digits string) string {
	t.Helper()
	if _, err := exec.LookPath("sox"); err != nil {
		t.Fatal("sox is not installed: install the Debian package sox (scripts/install-test-deps.sh does)")
	}
	keys := map[rune][2]int{'1': {697, 1209}, '2': {697, 1336}, '3': {697, 1477}, '4': {770, 1209}, '5': {770, 1336},
		'6': {770, 1477}, '7': {852, 1209}, '8': {852, 1336}, '9': {852, 1477}, '0': {941, 1336}, '*': {941, 1209}, '#': {941, 1477}}
	sox := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("sox", args...).CombinedOutput(); err != nil {
			t.Fatalf("sox %v: %v\n%s", args, err, out)
		}
	}
	silence := func(name string, secs float64) string {
		p := filepath.Join(dir, name)
		sox("-n", "-r", "8000", "-c", "1", "-b", "16", p, "trim", "0", strconv.FormatFloat(secs, 'f', 2, 64))
		return p
	}
	parts := []string{silence("lead.wav", lead)}
	gap := silence("gap.wav", 0.3)
	for i, d := range digits {
		f := keys[d]
		two := filepath.Join(dir, fmt.Sprintf("dtmf%d-2ch.wav", i))
		one := filepath.Join(dir, fmt.Sprintf("dtmf%d.wav", i))
		sox("-n", "-r", "8000", "-c", "2", "-b", "16", two, "synth", "0.15", "sine", strconv.Itoa(f[0]), "sine", strconv.Itoa(f[1]))
		sox(two, "-c", "1", one, "remix", "1,2", "vol", "0.5")
		parts = append(parts, one, gap)
	}
	voice := filepath.Join(dir, "voice.wav")
	sox("-n", "-r", "8000", "-c", "1", "-b", "16", voice, "synth", "30", "sine", "440", "vol", "0.25")
	out := filepath.Join(dir, "caller.wav")
	sox(append(append([]string{}, parts...), voice, out)...)
	return out
}

// heardWAV returns the audio a baresip phone decoded (its sndfile recording).
func heardWAV(t *testing.T, dir, who string) []float64 {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dir, who, "snd", "*-dec.wav"))
	if len(matches) != 1 {
		log, _ := os.ReadFile(filepath.Join(dir, who, "out.log"))
		t.Fatalf("%s wrote no decoded audio (baresip sndfile): %v\n%s", who, matches, tail(string(log), 3000))
	}
	return readWAV(t, matches[0])
}

// window returns samples from second a to b (clipped).
func window(s []float64, a, b float64) []float64 {
	i, j := int(a*8000), int(b*8000)
	i, j = min(max(i, 0), len(s)), min(max(j, 0), len(s))
	return s[i:j]
}

// rms returns the root mean square of each 20 ms frame of samples.
func rms(s []float64) []float64 {
	var out []float64
	for i := 0; i+160 <= len(s); i += 160 {
		var e float64
		for _, x := range s[i : i+160] {
			e += x * x
		}
		out = append(out, math.Sqrt(e/160))
	}
	return out
}

// TestAttendantInBand: 1001 (baresip) calls the attendant number 800 of a tenant with the de
// preset, hears the German greeting (espeak-ng's "Willkommen. Vielen Dank für Ihren Anruf.":
// speech for as long as that prompt lasts, then silence), keys 2 in-band after it and is
// connected to 1002 (baresip) with two-way audio.
func TestAttendantInBand(t *testing.T) {
	need(t, "baresip", "baresip")
	e := start(t, nil)
	lib := e.p.App.Prompts
	var greeting, english float64
	for _, n := range []string{prompts.Welcome, prompts.ThankYouCalling} {
		de, err := lib.System("de", n)
		if err != nil {
			t.Fatalf("German prompt %s: %v (espeak-ng installed?)", n, err)
		}
		en, _ := lib.System("en", n)
		greeting += de.Duration().Seconds()
		english += en.Duration().Seconds()
	}
	if st, body := e.p.Do("PATCH", "/api/v1/tenants/1", e.p.AdminToken, `{"retention_preset":"de"}`); st != 200 {
		t.Fatalf("de preset: %d %s", st, body)
	}
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	e.putMenu("main", "800", `{"options":{"2":{"type":"extension","target":"1002"}},"timeout_ms":6000,"retries":1}`)
	dir := t.TempDir()
	callee := e.baresip(dir, "1002", "secret-1002", 880, nil, 16)
	waitFor(t, "1002 registered", func() bool { return e.srv().Registered() == 1 })
	lead := greeting + 2.5
	wav := callerWAV(t, dir, lead, "2")
	caller := e.baresipWAV(dir, "1001", "secret-1001", wav, "", "", []string{"-e", "/dial 800"}, int(lead)+8)
	caller.wait(t)
	callee.wait(t)

	heard := heardWAV(t, dir, "1001")
	// The greeting is the speech before 1002's 880 Hz tone starts (the phone's recording and
	// its audio source do not start at the same instant, so the digit's time is no mark).
	frames := rms(heard)
	tone := len(frames)
	for i := 0; i+5 <= len(frames); i++ {
		w := heard[i*160 : (i+5)*160]
		if frames[i] > 1000 && goertzel(w, 880) > 0.8*goertzel(w, 880)+10*goertzel(w, 440)+1e12 {
			tone = i
			break
		}
	}
	last, speech := -1, 0
	for i := 0; i < tone; i++ {
		if frames[i] > 300 {
			last, speech = i, speech+1
		}
	}
	end := float64(last+1) * 0.02
	t.Logf("German greeting %.2fs (English %.2fs); the caller heard speech until %.2fs (%d frames), 1002 from %.2fs",
		greeting, english, end, speech, float64(tone)*0.02)
	if last < 0 || math.Abs(end-greeting) > 0.4 || float64(speech)*0.02 < greeting/2 {
		t.Errorf("the caller did not hear the German greeting: speech until %.2fs (%d frames), the prompt lasts %.2fs", end, speech, greeting)
	}
	if tone == len(frames) {
		t.Fatalf("the caller never heard 1002's 880 Hz tone")
	}
	tail := window(heard, float64(tone)*0.02+0.5, float64(len(heard))/8000-0.5)
	if a := goertzel(tail, 880); len(tail) < 8000 || a < 1e12 || a < 100*goertzel(tail, 440) {
		t.Errorf("caller did not hear 1002's 880 Hz tone after choosing 2 (%.1fs judged, power %.3g)", float64(len(tail))/8000, a)
	}
	callee440 := heardWAV(t, dir, "1002")
	if secs := float64(len(callee440)) / 8000; secs < 2 || goertzel(callee440, 440) < 100*goertzel(callee440, 880) {
		t.Errorf("1002 did not hear the caller's 440 Hz tone: %.1fs of audio", secs)
	}
	waitFor(t, "CDR", func() bool { return len(e.cdrs(t)) == 1 })
	if c := e.cdrs(t)[0]; c.Cause != 200 || c.Callee != "800" {
		t.Errorf("CDR cause %d callee %s", c.Cause, c.Callee)
	}
	waitFor(t, "no calls", func() bool { return e.srv().ActiveCalls() == 0 })
}

// TestAttendantRFC4733: a sipp caller keys 2 by RFC 4733 and reaches the sipp callee 1002.
func TestAttendantRFC4733(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	e.putMenu("main", "800", `{"options":{"2":{"type":"extension","target":"1002"}},"timeout_ms":6000,"retries":1}`)
	uas := e.newPeer("udp")
	callee := e.sippUAS("callee", "uas.xml", uas)
	e.register("1002", "secret-1002", uas)
	e.sippUAC("caller", "uac_attendant_dtmf.xml", "udp", "-s", "800").wait(t)
	callee.wait(t)
	waitFor(t, "CDR", func() bool { return len(e.cdrs(t)) == 1 })
	if c := e.cdrs(t)[0]; c.Cause != 200 || c.HangupBy != "caller" {
		t.Errorf("CDR cause %d hung up by %s", c.Cause, c.HangupBy)
	}
}

// TestAttendantFallback: a caller who presses nothing, or only keys that are no option, is
// sent to the menu's fallback (here 1002, a sipp callee) after the retries; out of business
// hours the caller hears the closed message instead of the greeting and is hung up.
func TestAttendantFallback(t *testing.T) {
	need(t, "baresip", "baresip")
	for _, tc := range []struct {
		name, digits string
	}{{"time-out", ""}, {"invalid", "9"}} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, nil)
			e.p.App.Attendant().UsePrompts(attendant.TonePrompts{})
			e.ext("1001", "secret-1001")
			e.ext("1002", "secret-1002")
			e.putMenu("main", "800", `{"options":{"2":{"type":"extension","target":"1003"}},"timeout_ms":1000,"retries":1,
				"fallback":{"type":"extension","target":"1002"}}`)
			uas := e.newPeer("udp")
			callee := e.sippUAS("callee", "uas.xml", uas)
			e.register("1002", "secret-1002", uas)
			dir := t.TempDir()
			// the digit comes during the first greeting, and again during the repeat
			digits := tc.digits
			if digits != "" {
				digits += digits
			}
			wav := callerWAV(t, dir, 0.5, digits)
			e.baresipWAV(dir, "1001", "secret-1001", wav, "", "", []string{"-e", "/dial 800"}, 10).wait(t)
			callee.wait(t)
			heard := heardWAV(t, dir, "1001")
			invalid := float64(attendant.ToneOf[attendant.PromptInvalid])
			noInput := float64(attendant.ToneOf[attendant.PromptNoInput])
			want, not := noInput, invalid
			if tc.digits != "" {
				want, not = invalid, noInput
			}
			if w, n := goertzel(heard, want), goertzel(heard, not); w < 100*n {
				t.Errorf("caller heard %.0f Hz at %.3g and %.0f Hz at %.3g; want the first", want, w, not, n)
			}
		})
	}
	t.Run("closed", func(t *testing.T) {
		e := start(t, nil)
		e.p.App.Attendant().UsePrompts(attendant.TonePrompts{})
		e.ext("1001", "secret-1001")
		st, body := e.p.Do("PUT", "/api/v1/tenants/1/calendars/office", e.p.AdminToken,
			`{"spec":{"time_zone":"Europe/Berlin","hours":{},"holidays":["2026-12-24"]}}`)
		if st != 200 {
			t.Fatalf("PUT calendar: %d %s", st, body)
		}
		e.putMenu("main", "800", `{"language":"de","options":{"2":{"type":"extension","target":"1002"}},"calendar":"office"}`)
		dir := t.TempDir()
		wav := callerWAV(t, dir, 0.5, "2")
		e.baresipWAV(dir, "1001", "secret-1001", wav, "", "", []string{"-e", "/dial 800"}, 5).wait(t)
		heard := heardWAV(t, dir, "1001")
		closed := float64(attendant.ToneOf[attendant.PromptClosed])
		greeting := float64(attendant.ToneOf[attendant.PromptGreeting])
		if c, g := goertzel(heard, closed), goertzel(heard, greeting); c < 100*g {
			t.Errorf("caller did not hear the closed message: %.3g, greeting %.3g", c, g)
		}
		waitFor(t, "CDR", func() bool { return len(e.cdrs(t)) == 1 })
		if c := e.cdrs(t)[0]; c.HangupBy != "system:app" {
			t.Errorf("closed call hung up by %q, want the application", c.HangupBy)
		}
	})
}

// TestAttendantSRTP: both phones use SRTP (SDES) and accept nothing else (srtp-mand); the
// attendant plays through the caller's
// SRTP context, hears the digit in-band through the decrypted tap and connects the caller to
// 1002 (the relay offers 1002 SRTP as the caller asked for it).
func TestAttendantSRTP(t *testing.T) {
	need(t, "baresip", "baresip")
	e := start(t, nil)
	e.p.App.Attendant().UsePrompts(attendant.TonePrompts{})
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	e.putMenu("main", "800", `{"language":"de","options":{"2":{"type":"extension","target":"1002"}},"timeout_ms":6000,"retries":1}`)
	dir := t.TempDir()
	tone := filepath.Join(dir, "880.wav")
	writeToneWAV(t, tone, 880, 30)
	callee := e.baresipWAV(dir, "1002", "secret-1002", tone, ";mediaenc=srtp-mand", "module srtp.so\n", nil, 14)
	waitFor(t, "1002 registered", func() bool { return e.srv().Registered() == 1 })
	wav := callerWAV(t, dir, 2.5, "2")
	caller := e.baresipWAV(dir, "1001", "secret-1001", wav, ";mediaenc=srtp-mand", "module srtp.so\n", []string{"-e", "/dial 800"}, 9)
	caller.wait(t)
	callee.wait(t)
	heard := heardWAV(t, dir, "1001")
	greeting := float64(attendant.ToneOf[attendant.PromptGreeting])
	if g, o := goertzel(window(heard, 0.1, 1.4), greeting), goertzel(window(heard, 0.1, 1.4), 880); g < 100*o || g < 1e12 {
		t.Errorf("SRTP caller did not hear the greeting: power %.3g vs 880 Hz %.3g", g, o)
	}
	if a, b := goertzel(window(heard, 5, 8.5), 880), goertzel(window(heard, 5, 8.5), greeting); a < 100*b || a < 1e12 {
		t.Errorf("SRTP caller did not reach 1002: 880 Hz %.3g vs greeting %.3g", a, b)
	}
	callee440 := heardWAV(t, dir, "1002")
	if goertzel(callee440, 440) < 100*goertzel(callee440, greeting) {
		t.Errorf("1002 did not hear the SRTP caller")
	}
}
