package sip

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// TestNonceMemory checks the table of nonces whose MAC checked out: a nonce is ours only for
// the realm it was issued for, a changed MAC is never remembered or accepted, and a nonce
// that took over another's slot leaves the first to be checked by its MAC again.
func TestNonceMemory(t *testing.T) {
	a := newDigestAuth(func() time.Duration { return time.Minute }, func() []string { return []string{algMD5} })
	n := a.nonce("r1")
	var b [24]byte
	if _, err := base64.RawURLEncoding.Decode(b[:], []byte(n)); err != nil {
		t.Fatal(err)
	}
	if a.knownNonce(n, &b, "r1") {
		t.Fatal("a nonce is remembered before it was checked")
	}
	if ours, fresh := a.nonceState(n, "r1"); !ours || !fresh {
		t.Fatalf("own nonce: ours %v fresh %v", ours, fresh)
	}
	if !a.knownNonce(n, &b, "r1") || a.knownNonce(n, &b, "r2") {
		t.Fatal("the checked nonce is not remembered for its realm alone")
	}
	if ours, _ := a.nonceState(n, "r2"); ours {
		t.Fatal("a nonce of realm r1 accepted for r2")
	}
	// the same timestamp with another MAC, in the same slot
	forged := b
	forged[23] ^= 1
	fn := base64.RawURLEncoding.EncodeToString(forged[:])
	if ours, _ := a.nonceState(fn, "r1"); ours {
		t.Fatal("a forged nonce accepted")
	}
	if a.knownNonce(fn, &forged, "r1") {
		t.Fatal("a forged nonce remembered")
	}
	// another nonce that lands in the same slot takes it; the first is checked again
	for i := 0; ; i++ {
		m := a.nonce("r1")
		var mb [24]byte
		_, _ = base64.RawURLEncoding.Decode(mb[:], []byte(m))
		if nonceSlot(&mb) != nonceSlot(&b) {
			continue
		}
		if ours, _ := a.nonceState(m, "r1"); !ours {
			t.Fatal("second nonce not ours")
		}
		if a.knownNonce(n, &b, "r1") {
			t.Fatal("the slot holds two nonces")
		}
		if ours, fresh := a.nonceState(n, "r1"); !ours || !fresh {
			t.Fatal("the displaced nonce is no longer accepted")
		}
		break
	}
}

// TestVerifyAgainstDigest checks verify against responses written by github.com/icholy/digest,
// for both algorithms, with and without qop, and with a wrong password.
func TestVerifyAgainstDigest(t *testing.T) {
	const realm, user, password = "default", "1001", "secret"
	m := md5.Sum([]byte(user + ":" + realm + ":" + password))
	s := sha256.Sum256([]byte(user + ":" + realm + ":" + password))
	acct := &account{realm: realm, username: user, number: user, ha1MD5: hex.EncodeToString(m[:]), ha1SHA256: hex.EncodeToString(s[:])}
	var ruri sip.Uri
	if err := sip.ParseUri("sip:127.0.0.1", &ruri); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		alg, pw string
		qop     bool
		want    authResult
	}{
		{"MD5", password, true, authOK},
		{"MD5", password, false, authOK},
		{"SHA-256", password, true, authOK},
		{"SHA-256", password, false, authOK},
		{"MD5", "wrong", true, authFailed},
		{"SHA-256", "wrong", false, authFailed},
	} {
		a := newDigestAuth(func() time.Duration { return time.Minute }, func() []string { return []string{algMD5} })
		chal := &digest.Challenge{Realm: realm, Nonce: a.nonce(realm), Algorithm: tc.alg}
		if tc.qop {
			chal.QOP = []string{"auth"}
		}
		cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:127.0.0.1", Username: user, Password: tc.pw, Count: 1, Cnonce: "c0ffee"})
		if err != nil {
			t.Fatal(err)
		}
		c, ok := parseDigest(cred.String())
		if !ok {
			t.Fatalf("%d: parse %q", i, cred.String())
		}
		r := digestRequest{method: "REGISTER", ruri: ruri, callID: "call-" + string(rune('a'+i)), cseq: 2}
		if got := a.verify(&c, r, acct, realm); got != tc.want {
			t.Fatalf("%d (%s, qop %v): verify %v, want %v", i, tc.alg, tc.qop, got, tc.want)
		}
	}
}

// TestWriteViaWithRport checks that the fast path fills in rport and keeps every other
// parameter as it came.
func TestWriteViaWithRport(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport=40000"},
		{"SIP/2.0/UDP 10.0.0.1;rport;branch=z9hG4bK1", "SIP/2.0/UDP 10.0.0.1;rport=40000;branch=z9hG4bK1"},
		{"SIP/2.0/UDP h;branch=b; RPORT ;x", "SIP/2.0/UDP h;branch=b;rport=40000;x"},
		{"SIP/2.0/UDP h;rport;", "SIP/2.0/UDP h;rport=40000;"},
	} {
		var b bytes.Buffer
		writeViaWithRport(&b, []byte(tc.in), 40000)
		if b.String() != tc.want {
			t.Errorf("%q: wrote %q, want %q", tc.in, b.String(), tc.want)
		}
	}
}
