package sip_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBaresipAudio: two baresip softphones register as 1001 and 1002 (extensions made with
// the CLI, default policy) and 1001 calls 1002, which answers automatically. Each sends a tone
// from a WAV file (aufile): 440 Hz from 1001, 880 Hz from 1002. baresip's sndfile module
// writes what each phone decoded from the network; the test checks that each heard the
// other's tone, and that the relay carried the packets.
func TestBaresipAudio(t *testing.T) {
	need(t, "baresip", "baresip")
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	dir := t.TempDir()
	callee := e.baresip(dir, "1002", "secret-1002", 880, nil, 8)
	waitFor(t, "1002 registered", func() bool { return e.srv().Registered() == 1 })
	caller := e.baresip(dir, "1001", "secret-1001", 440, []string{"-e", "/dial 1002"}, 5)
	caller.wait(t)
	callee.wait(t)

	heard := func(who string) (f440, f880 float64, seconds float64) {
		samples := baresipHeard(t, dir, who)
		return goertzel(samples, 440), goertzel(samples, 880), float64(len(samples)) / 8000
	}
	a440, a880, secs := heard("1001")
	if secs < 2 || a880 < 100*a440 {
		t.Errorf("1001 did not hear 1002's 880 Hz tone: %.1fs of audio, power 440 Hz %.3g, 880 Hz %.3g", secs, a440, a880)
	}
	b440, b880, secs := heard("1002")
	if secs < 2 || b440 < 100*b880 {
		t.Errorf("1002 did not hear 1001's 440 Hz tone: %.1fs of audio, power 440 Hz %.3g, 880 Hz %.3g", secs, b440, b880)
	}
	st := e.p.App.Relay().Stats()
	if st.PacketsRelayed < 2*50*2 { // two directions, 50 packets/s, at least 2 s
		t.Errorf("relay forwarded only %d packets", st.PacketsRelayed)
	}
	waitFor(t, "CDR", func() bool { return len(e.cdrs(t)) == 1 })
	if c := e.cdrs(t)[0]; c.Cause != 200 || c.DurationMS < 2000 {
		t.Errorf("CDR cause %d duration %dms", c.Cause, c.DurationMS)
	}
}

type baresipRun struct {
	cmd  *exec.Cmd
	done chan error
}

func (r *baresipRun) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err
		if err != nil {
			t.Fatalf("baresip: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("baresip did not quit")
	}
}

// baresip starts a softphone for an extension that sends a tone and quits after quit seconds.
func (e *env) baresip(dir, number, password string, tone int, extra []string, quit int) *baresipRun {
	e.t.Helper()
	wav := filepath.Join(dir, number+"-tone.wav")
	writeToneWAV(e.t, wav, tone, 30)
	return e.baresipWAV(dir, number, password, wav, "", "", extra, quit)
}

// baresipWAV starts a softphone for an extension that sends a WAV file (its audio source) and
// quits after quit seconds; accountParams are added to its account line (";mediaenc=srtp"),
// conf to its configuration.
func (e *env) baresipWAV(dir, number, password, wav, accountParams, conf string, extra []string, quit int) *baresipRun {
	e.t.Helper()
	account := fmt.Sprintf("<sip:%s@%s>;auth_pass=%s;answermode=auto;regint=600%s", number, e.addr("udp"), password, accountParams)
	return baresipAccount(e.t, dir, number, account, wav, conf, extra, quit)
}

// baresipAccount starts a softphone in dir/name with one account line (any registrar: a
// phone of another PBX too) that sends a WAV file and quits after quit seconds.
func baresipAccount(t *testing.T, dir, name, account, wav, conf string, extra []string, quit int) *baresipRun {
	t.Helper()
	home := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Join(home, "snd"), 0o755); err != nil {
		t.Fatal(err)
	}
	port := freePortPair(t)
	rtp := freePort(t)
	config := fmt.Sprintf(`poll_method epoll
sip_listen 127.0.0.1:%d
audio_player alsa,null
audio_alert alsa,null
audio_source aufile,%s
ausrc_srate 8000
ausrc_channels 1
auplay_srate 8000
auplay_channels 1
rtp_ports %d-%d
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module alsa.so
module sndfile.so
module_app account.so
module_app menu.so
snd_path %s
%s`, port, wav, rtp, rtp+9, filepath.Join(home, "snd"), conf)
	if strings.Contains(conf, "audio_player ") {
		config = strings.Replace(config, "audio_player alsa,null\n", "", 1)
	}
	for file, content := range map[string]string{"config": config, "accounts": account + "\n"} {
		if err := os.WriteFile(filepath.Join(home, file), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	args := append([]string{"-f", home, "-t", strconv.Itoa(quit)}, extra...)
	cmd := exec.CommandContext(ctx, "baresip", args...)
	out, err := os.Create(filepath.Join(home, "out.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &baresipRun{cmd: cmd, done: make(chan error, 1)}
	go func() { r.done <- cmd.Wait(); cancel(); out.Close() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		err := <-r.done
		r.done <- err
	})
	return r
}

// baresipHeard returns what the softphone in dir/name decoded from the network in its one
// call (baresip's sndfile module writes it).
func baresipHeard(t *testing.T, dir, name string) []float64 {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dir, name, "snd", "*-dec.wav"))
	if len(matches) != 1 {
		log, _ := os.ReadFile(filepath.Join(dir, name, "out.log"))
		t.Fatalf("%s wrote no decoded audio (baresip sndfile): %v\n%s", name, matches, tail(string(log), 3000))
	}
	return readWAV(t, matches[0])
}

// freePortPair returns a port p with p and p+1 free (baresip also binds TLS on p+1).
func freePortPair(t *testing.T) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		p := freePort(t)
		if ln, err := listenBoth(p + 1); err == nil {
			ln()
			return p
		}
	}
	t.Fatal("no free port pair")
	return 0
}

// writeToneWAV writes seconds of a sine tone as 8 kHz mono 16-bit PCM.
func writeToneWAV(t *testing.T, path string, freq, seconds int) {
	t.Helper()
	n := 8000 * seconds
	b := make([]byte, 44+2*n)
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*n))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], 8000)
	binary.LittleEndian.PutUint32(b[28:], 16000)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*n))
	for i := 0; i < n; i++ {
		v := int16(8000 * math.Sin(2*math.Pi*float64(freq)*float64(i)/8000))
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(v))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readWAV returns the samples of a 16-bit PCM WAV file (its data chunk).
func readWAV(t *testing.T, path string) []float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := 12
	for i+8 <= len(b) {
		id, size := string(b[i:i+4]), int(binary.LittleEndian.Uint32(b[i+4:]))
		if id == "data" {
			data := b[i+8 : min(len(b), i+8+size)]
			out := make([]float64, len(data)/2)
			for j := range out {
				out[j] = float64(int16(binary.LittleEndian.Uint16(data[2*j:])))
			}
			return out
		}
		i += 8 + size
	}
	t.Fatalf("%s: no data chunk", path)
	return nil
}

// goertzel returns the power of one frequency in 8 kHz samples.
func goertzel(s []float64, freq float64) float64 {
	k := 2 * math.Cos(2*math.Pi*freq/8000)
	var a, b float64
	for _, x := range s {
		a, b = x+k*a-b, a
	}
	return a*a + b*b - k*a*b
}

// toneShare is the share of the samples' energy that is a tone at freq: about 1 for that pure
// tone, near 0 for another tone, speech or silence. It is summed over blocks of 50 ms, so that
// the phase jumps where a receiver dropped or inserted audio do not cancel the tone out.
func toneShare(s []float64, freq float64) float64 {
	const block = 400
	var tone, energy float64
	for i := 0; i < len(s); i += block {
		b := s[i:min(i+block, len(s))]
		var e float64
		for _, x := range b {
			e += x * x
		}
		tone += 2 * goertzel(b, freq)
		energy += float64(len(b)) * e
	}
	if energy == 0 {
		return 0
	}
	return tone / energy
}

// wantTone fails the test unless what was heard (8 kHz samples) is at least seconds long and
// mostly a tone at freq.
func wantTone(t *testing.T, what string, s []float64, freq float64, seconds int) {
	t.Helper()
	if share := toneShare(s, freq); len(s) < seconds*8000 || share < 0.5 {
		t.Errorf("%s: %.1f s of audio, %.0f%% of its energy at %.0f Hz; want %d s of that tone", what, float64(len(s))/8000, 100*share, freq, seconds)
	}
}
