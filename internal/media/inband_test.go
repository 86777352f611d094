package media

import (
	"encoding/binary"
	"os/exec"
	"testing"

	"github.com/privox/privox/internal/audio"
)

// soxKeys has sox synthesise key presses (100 ms each, 100 ms apart) at 8 kHz.
func soxKeys(t *testing.T, keys string) []int16 {
	t.Helper()
	sox, err := exec.LookPath("sox")
	if err != nil {
		t.Fatal("sox is not installed: install the Debian package sox (scripts/install-test-deps.sh does)")
	}
	freqs := map[rune][2]string{'1': {"697", "1209"}, '5': {"770", "1336"}, '9': {"852", "1477"}, '#': {"941", "1477"}, '0': {"941", "1336"}}
	var pcm []int16
	for _, k := range keys {
		f := freqs[k]
		out, err := exec.Command(sox, "-n", "-t", "raw", "-e", "signed", "-b", "16", "-r", "8000", "-c", "1", "-",
			"synth", "0.1", "sine", f[0], "sine", "mix", f[1], "vol", "0.5", "pad", "0.1", "0").Output()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(out); i += 2 {
			pcm = append(pcm, int16(binary.LittleEndian.Uint16(out[i:])))
		}
	}
	return append(pcm, make([]int16, 800)...)
}

// TestDigitDetector: in-band digits arrive through G.711 payloads of either law; after the leg
// sends one telephone-event, only events count (a phone sending both is not heard twice).
func TestDigitDetector(t *testing.T) {
	pcm := soxKeys(t, "1590#")
	for _, c := range []audio.Codec{audio.PCMU, audio.PCMA} {
		d := NewDigitDetector(audio.DTMFOptions{})
		payload := make([]byte, audio.FrameSamples)
		var got []rune
		for off := 0; off+audio.FrameSamples <= len(pcm); off += audio.FrameSamples {
			c.Encode(payload, pcm[off:off+audio.FrameSamples])
			if r := d.FeedRTP(uint8(c), payload); r != 0 {
				got = append(got, r)
			}
			d.FeedRTP(101, []byte{1, 0, 0, 160}) // an event payload type is not audio
		}
		if string(got) != "1590#" {
			t.Fatalf("%s: in-band digits %q", c, string(got))
		}
	}
	d := NewDigitDetector(audio.DTMFOptions{})
	if r := d.FeedEvent(DTMFEvent{Event: 5, Digit: '5', Timestamp: 1000}); r != '5' {
		t.Fatalf("event: %q", r)
	}
	if r := d.FeedEvent(DTMFEvent{Event: 5, Digit: '5', Timestamp: 1000}); r != 0 {
		t.Fatalf("repeated event: %q", r)
	}
	payload := make([]byte, audio.FrameSamples)
	for off := 0; off+audio.FrameSamples <= len(pcm); off += audio.FrameSamples {
		audio.PCMU.Encode(payload, pcm[off:off+audio.FrameSamples])
		if r := d.FeedRTP(0, payload); r != 0 {
			t.Fatalf("in-band digit %q after a telephone-event", r)
		}
	}
	if d.InBand() {
		t.Fatal("in-band still on")
	}
}
