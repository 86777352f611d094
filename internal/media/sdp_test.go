package media

import (
	"bytes"
	"errors"
	"flag"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/sdp")

// TestSDPGolden runs each directory of testdata/sdp as one call: its NN-<offer|answer>-<a|b>.sdp
// files are fed in order to Offer or Answer from that leg, and the SDP the relay returns (or
// its error) is compared with NN-...golden. Ports are replaced by <A>/<A+1>/<B>/<B+1> and the
// SRTP keys come from a seeded generator, so the files are stable.
func TestSDPGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/sdp/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			r := newTestRelay(t, func(c *Config) { c.AdvertiseIP = netip.MustParseAddr("203.0.113.1") })
			r.rand = rand.NewChaCha8([32]byte{'p', 'r', 'i', 'v', 'o', 'x'})
			s, err := r.NewSession(filepath.Base(dir))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			inputs, _ := filepath.Glob(filepath.Join(dir, "*.sdp"))
			for _, in := range inputs {
				raw, err := os.ReadFile(in)
				if err != nil {
					t.Fatal(err)
				}
				raw = bytes.ReplaceAll(raw, []byte("\n"), []byte("\r\n"))
				parts := strings.Split(strings.TrimSuffix(filepath.Base(in), ".sdp"), "-")
				leg := LegA
				if parts[2] == "b" {
					leg = LegB
				}
				var out []byte
				if parts[1] == "offer" {
					out, err = s.Offer(leg, raw)
				} else {
					out, err = s.Answer(leg, raw)
				}
				var got string
				if err != nil {
					got = "error: " + err.Error() + "\n"
				} else {
					if !bytes.HasSuffix(out, []byte("\r\n")) || bytes.Count(out, []byte("\n")) != bytes.Count(out, []byte("\r\n")) {
						t.Errorf("%s: output lines do not all end in CRLF", in)
					}
					got = normalizePorts(string(bytes.ReplaceAll(out, []byte("\r\n"), []byte("\n"))), s)
				}
				golden := strings.TrimSuffix(in, ".sdp") + ".golden"
				if *update {
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -run TestSDPGolden -update)", err)
				}
				if got != string(want) {
					t.Errorf("%s:\n--- got\n%s--- want\n%s", in, got, want)
				}
			}
		})
	}
}

func normalizePorts(sdp string, s *Session) string {
	for _, l := range []LegID{LegA, LegB} {
		p := s.legs[l].port
		sdp = regexp.MustCompile(`\b`+strconv.Itoa(p)+`\b`).ReplaceAllString(sdp, "<"+l.String()+">")
		sdp = regexp.MustCompile(`\b`+strconv.Itoa(p+1)+`\b`).ReplaceAllString(sdp, "<"+l.String()+"+1>")
	}
	return sdp
}

// TestSDPErrors: malformed or unsupported SDP gives an error (the SIP layer answers 488).
func TestSDPErrors(t *testing.T) {
	r := newTestRelay(t, nil)
	s, err := r.NewSession("errors")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const head = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n"
	const c = "c=IN IP4 192.0.2.1\r\nt=0 0\r\n"
	for _, tc := range []struct {
		name string
		sdp  string
		want error
	}{
		{"empty", "", ErrBadSDP},
		{"garbage", "hello", ErrBadSDP},
		{"no media", head + c + "", ErrNoMedia},
		{"video only", head + c + "m=video 5000 RTP/AVP 96\r\n", ErrNoMedia},
		{"all disabled", head + c + "m=audio 0 RTP/AVP 0\r\n", ErrNoMedia},
		{"no c=", head + "t=0 0\r\nm=audio 5000 RTP/AVP 0\r\n", ErrBadSDP},
		{"dtls", head + c + "m=audio 5000 UDP/TLS/RTP/SAVPF 0\r\n", ErrUnsupported},
		{"odd transport", head + c + "m=audio 5000 TCP/MSRP *\r\n", ErrUnsupported},
		{"savp without crypto", head + c + "m=audio 5000 RTP/SAVP 0\r\n", ErrUnsupported},
		{"savp only unknown suite", head + c + "m=audio 5000 RTP/SAVP 0\r\na=crypto:1 F8_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm\r\n", ErrUnsupported},
		{"short key", head + c + "m=audio 5000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA\r\n", ErrBadSDP},
		{"bad rtcp", head + c + "m=audio 5000 RTP/AVP 0\r\na=rtcp:x\r\n", ErrBadSDP},
		{"too big", head + strings.Repeat("a=x\r\n", maxSDP/5+1), ErrBadSDP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Offer(LegA, []byte(tc.sdp)); !errors.Is(err, tc.want) {
				t.Fatalf("Offer: %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := s.Answer(LegB, []byte(head+c+"m=audio 5000 RTP/AVP 0\r\n")); !errors.Is(err, ErrNoOffer) {
		t.Fatalf("answer without offer: %v", err)
	}
	if _, err := s.Offer(LegID(7), nil); !errors.Is(err, ErrBadLeg) {
		t.Fatalf("bad leg: %v", err)
	}
}

func TestParseCrypto(t *testing.T) {
	for _, tc := range []struct {
		in      string
		ok      bool
		mki     []byte
		unsupp  bool
		keySize int
	}{
		{"1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", true, nil, false, 16},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4", true, []byte{0, 0, 0, 1}, false, 16},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|300:1", false, nil, false, 0},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz WSH=64", true, nil, false, 16},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz UNENCRYPTED_SRTP", false, nil, true, 0},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:a;inline:b", false, nil, true, 0},
		{"1 SEED_CTR_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", false, nil, true, 0},
		{"x AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", false, nil, false, 0},
		{"1 AES_CM_128_HMAC_SHA1_80", false, nil, false, 0},
		{"1 AES_CM_128_HMAC_SHA1_80 uri:http://x", false, nil, false, 0},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:!!!", false, nil, false, 0},
	} {
		c, err := parseCrypto(tc.in)
		if (err == nil) != tc.ok || errors.Is(err, errUnsupportedCrypto) != tc.unsupp {
			t.Errorf("parseCrypto(%q): %v", tc.in, err)
			continue
		}
		if tc.ok && (len(c.key) != tc.keySize || !bytes.Equal(c.mki, tc.mki)) {
			t.Errorf("parseCrypto(%q) = key %d bytes, mki %x", tc.in, len(c.key), c.mki)
		}
	}
}
