package media

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzOffer feeds untrusted SDP to Offer and Answer. Whatever the input, they return an error
// or SDP that parses again and anchors the stream on the relay's socket; they never panic.
// Seeds: every golden input under testdata/sdp and the corpus under testdata/fuzz/FuzzOffer.
func FuzzOffer(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/sdp/*/*.sdp")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	r := newTestRelay(f, nil)
	s, err := r.NewSession("fuzz")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, err := s.Offer(LegA, raw)
		if err != nil {
			return
		}
		desc, err := parseSDP(out)
		if err != nil {
			t.Fatalf("rewritten offer does not parse: %v\n%q", err, out)
		}
		i := anchorIndex(desc)
		if i < 0 || desc.MediaDescriptions[i].MediaName.Port.Value != s.legs[LegB].port {
			t.Fatalf("rewritten offer does not anchor on leg B's port %d:\n%s", s.legs[LegB].port, out)
		}
		// The same body as the callee's answer exercises the answer path and SRTP set-up.
		if out, err := s.Answer(LegB, raw); err == nil {
			if _, err := parseSDP(out); err != nil {
				t.Fatalf("rewritten answer does not parse: %v\n%q", err, out)
			}
		}
	})
}
