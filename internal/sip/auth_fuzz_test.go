package sip

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// The digest parser reads what any client sends. It is held to two independent readings:
// a reference parser written from the grammar (RFC 7235 §2.1, RFC 2617 §3.2.2) with regular
// expressions, and github.com/icholy/digest, which writes the credentials.

var (
	refToken  = `[!#$%&'*+\-.^_` + "`" + `|~0-9A-Za-z]+`
	refParam  = regexp.MustCompile(`^[ \t]*(` + refToken + `)[ \t]*=[ \t]*(` + refToken + `|"(?:[^"\\]|\\[\x00-\xff])*")[ \t]*(?:,|$)`)
	refScheme = regexp.MustCompile(`^[ \t]*(?i:digest)[ \t]+`)
)

// refParseDigest is the reference reading: ok only for what the grammar allows.
func refParseDigest(v string) (map[string]string, bool) {
	m := refScheme.FindString(v)
	if m == "" {
		return nil, false
	}
	v = v[len(m):]
	out := map[string]string{}
	for {
		v = strings.TrimLeft(v, " \t,")
		if v == "" {
			return out, true
		}
		sm := refParam.FindStringSubmatch(v)
		if sm == nil {
			return nil, false
		}
		val := sm[2]
		if strings.HasPrefix(val, `"`) {
			var b strings.Builder
			for i := 1; i < len(val)-1; i++ {
				if val[i] == '\\' {
					i++
				}
				b.WriteByte(val[i])
			}
			val = b.String()
		}
		out[strings.ToLower(sm[1])] = val
		v = v[len(sm[0]):]
	}
}

// FuzzDigestParse (seeds: testdata/fuzz/FuzzDigestParse) checks that whatever the grammar
// accepts, parseDigest accepts and reads the same way.
func FuzzDigestParse(f *testing.F) {
	for _, s := range []string{
		`Digest username="1001", realm="default", nonce="abc", uri="sip:1002@example.com", response="0123456789abcdef0123456789abcdef", algorithm=MD5, cnonce="x", qop=auth, nc=00000001`,
		`digest username="a\"b", realm="r",,nonce=n`,
		"Digest\tusername = \"x\" ,uri=\"sip:a@b;transport=tcp\"",
		`Basic dXNlcjpwYXNz`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ref, refOK := refParseDigest(v)
		got, ok := parseDigest(v)
		if !refOK {
			return
		}
		if !ok {
			t.Fatalf("grammar accepts, parseDigest does not: %q", v)
		}
		for k, want := range map[string]string{"username": got.Username, "realm": got.Realm, "nonce": got.Nonce, "uri": got.URI,
			"response": got.Response, "algorithm": got.Algorithm, "cnonce": got.Cnonce, "qop": got.QOP, "nc": got.NC} {
			if ref[k] != want {
				t.Fatalf("%s: reference %q, parseDigest %q in %q", k, ref[k], want, v)
			}
		}
	})
}

// FuzzDigestRoundTrip (seeds: testdata/fuzz/FuzzDigestRoundTrip) writes credentials with
// github.com/icholy/digest and reads them back with parseDigest.
func FuzzDigestRoundTrip(f *testing.F) {
	f.Add("1001", "default", "nonce", "sip:1002@example.com", "abcdef", "cn", true, 1)
	f.Add(`we"ird\user`, "re alm", "n,o", "sip:x@y;a=b,c", "", "", false, 0)
	f.Fuzz(func(t *testing.T, user, realm, nonce, uri, response, cnonce string, qop bool, nc int) {
		for _, s := range []string{user, realm, nonce, uri, response, cnonce} {
			for _, c := range []byte(s) {
				if c < 0x20 || c > 0x7e {
					return // strconv.Quote would write Go escapes, which no SIP peer reads
				}
			}
		}
		c := digest.Credentials{Username: user, Realm: realm, Nonce: nonce, URI: uri, Response: response, Algorithm: "MD5"}
		if qop {
			c.QOP, c.Cnonce, c.Nc = "auth", cnonce, nc&0x7fffffff
		}
		v := c.String()
		got, ok := parseDigest(v)
		if !ok {
			t.Fatalf("parseDigest rejects %q", v)
		}
		if got.Username != user || got.Realm != realm || got.Nonce != nonce || got.URI != uri || got.Response != response || got.Algorithm != "MD5" {
			t.Fatalf("read back %+v from %q", got, v)
		}
		if qop {
			back, err := digest.ParseCredentials(v)
			if err != nil {
				t.Fatal(err)
			}
			if got.QOP != "auth" || got.Cnonce != cnonce {
				t.Fatalf("qop/cnonce read back %+v from %q", got, v)
			}
			if n, ok := parseNC(got.NC); (ok && int(n) != back.Nc) || (!ok && back.Nc != 0) {
				t.Fatalf("nc %q read as %d/%v, written %d", got.NC, n, ok, back.Nc)
			}
		}
	})
}

func TestSameRequestURI(t *testing.T) {
	ruri := func(s string) digestRequest {
		var u sip.Uri
		if err := sip.ParseUri(s, &u); err != nil {
			t.Fatal(err)
		}
		return digestRequest{method: "INVITE", ruri: u}
	}
	tests := []struct {
		cred, ruri string
		same       bool
	}{
		{"sip:1002@example.com", "sip:1002@example.com", true},
		{"sip:1002@EXAMPLE.com", "sip:1002@example.com", true},
		{"sip:1002@example.com:5060", "sip:1002@example.com", true},
		{"sips:1002@example.com:5061", "sips:1002@example.com", true},
		{"sip:%31002@example.com", "sip:1002@example.com", true},
		{"sip:1002@example.com;foo=bar", "sip:1002@example.com", true},
		{"sip:1002@example.com;transport=TCP", "sip:1002@example.com;transport=tcp", true},
		{"sip:1002@example.com", "sip:1003@example.com", false},
		{"sip:1002@example.com", "sip:00491701234@example.com", false},
		{"sip:1002@example.com", "sip:1002@other.example", false},
		{"sip:1002@example.com:5070", "sip:1002@example.com", false},
		{"sips:1002@example.com", "sip:1002@example.com", false},
		{"sip:1002@example.com", "sip:1002@example.com;transport=tcp", true},
		{"sip:1002@example.com;transport=udp", "sip:1002@example.com;transport=tcp", false},
		{"", "sip:1002@example.com", false},
		{"not a uri", "sip:1002@example.com", false},
	}
	for _, tc := range tests {
		if got := sameRequestURI(tc.cred, ruri(tc.ruri)); got != tc.same {
			t.Errorf("uri=%q vs Request-URI %q: %v, want %v", tc.cred, tc.ruri, got, tc.same)
		}
	}
}

// TestNonceCounts: counts must grow per (nonce, user, cnonce); a REGISTER sent again as it
// was (a retransmission) passes, an INVITE does not; without qop a response is good once.
func TestNonceCounts(t *testing.T) {
	var n nonceCounts
	now := time.Unix(1_800_000_000, 0)
	reg := digestRequest{method: "REGISTER", callID: "c1", cseq: 1}
	inv := digestRequest{method: "INVITE", callID: "c2", cseq: 1}
	cr := func(nc, cnonce string) *digestCreds {
		return &digestCreds{Nonce: "N", Username: "1001", Cnonce: cnonce, QOP: "auth", NC: nc}
	}
	steps := []struct {
		name string
		c    *digestCreds
		r    digestRequest
		ok   bool
	}{
		{"first", cr("00000001", "a"), reg, true},
		{"retransmission", cr("00000001", "a"), reg, true},
		{"same count, new request", cr("00000001", "a"), digestRequest{method: "REGISTER", callID: "c1", cseq: 2}, false},
		{"next count", cr("00000002", "a"), digestRequest{method: "REGISTER", callID: "c1", cseq: 2}, true},
		{"lower count", cr("00000001", "a"), digestRequest{method: "REGISTER", callID: "c1", cseq: 3}, false},
		{"other cnonce", cr("00000001", "b"), inv, true},
		{"INVITE again", cr("00000001", "b"), inv, false},
		{"bad count", cr("1", "c"), inv, false},
		{"zero count", cr("00000000", "c"), inv, false},
		{"no qop", &digestCreds{Nonce: "M", Username: "1001"}, inv, true},
		{"no qop again", &digestCreds{Nonce: "M", Username: "1001"}, digestRequest{method: "INVITE", callID: "c3", cseq: 1}, false},
	}
	for _, s := range steps {
		if got := n.use(s.c, s.r, now, now, 5*time.Minute); got != s.ok {
			t.Errorf("%s: %v, want %v", s.name, got, s.ok)
		}
	}
	n.sweep(now.Add(10*time.Minute), 5*time.Minute)
	if n.size() != 0 {
		t.Errorf("%d counts left after their nonces expired", n.size())
	}
}

// TestNonceCountsBounded: beyond maxNonceCounts the older half is forgotten and its nonces
// turn stale (no replay gets through what was forgotten); recent ones stay good.
func TestNonceCountsBounded(t *testing.T) {
	var n nonceCounts
	start := time.Unix(1_800_000_000, 0)
	r := digestRequest{method: "INVITE", callID: "c", cseq: 1}
	for i := 0; i <= maxNonceCounts; i++ {
		issued := start.Add(time.Duration(i) * time.Minute / maxNonceCounts * 4)
		c := &digestCreds{Nonce: strconv.Itoa(i), Username: "u", Cnonce: "c", QOP: "auth", NC: "00000001"}
		if !n.use(c, r, issued, issued, 5*time.Minute) {
			t.Fatalf("count %d refused", i)
		}
	}
	if n.size() > maxNonceCounts {
		t.Fatalf("%d counts kept", n.size())
	}
	if !n.forgotten(start) {
		t.Error("the oldest nonce is not stale though its count was forgotten")
	}
	if n.forgotten(start.Add(4 * time.Minute)) {
		t.Error("the newest nonces turned stale")
	}
}
