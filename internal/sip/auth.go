package sip

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Digest authentication (RFC 3261 §22, RFC 8760 for SHA-256) against the HA1 values the store
// keeps. Nonces are stateless: a timestamp and an HMAC over it and the realm under a key that
// lives as long as the process, so any node restart simply re-challenges. The nonce count is
// not tracked (as in Kamailio's default set-up): a captured response can be replayed only
// within the nonce lifetime and only for the same method and URI.

// Digest algorithms (RFC 8760).
const (
	algSHA256 = "SHA-256"
	algMD5    = "MD5"
)

type digestAuth struct {
	key      [32]byte
	lifetime func() time.Duration
	now      func() time.Time
	// algorithms are offered in this order, one challenge header each.
	algorithms func() []string
}

func newDigestAuth(lifetime func() time.Duration, algorithms func() []string) *digestAuth {
	a := &digestAuth{lifetime: lifetime, now: time.Now, algorithms: algorithms}
	if _, err := rand.Read(a.key[:]); err != nil {
		panic("sip: no randomness for digest nonces: " + err.Error())
	}
	return a
}

// nonce returns a fresh nonce for realm.
func (a *digestAuth) nonce(realm string) string {
	var b [24]byte
	binary.BigEndian.PutUint64(b[:8], uint64(a.now().Unix()))
	m := hmac.New(sha256.New, a.key[:])
	m.Write(b[:8])
	m.Write([]byte(realm))
	copy(b[8:], m.Sum(nil)[:16])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// nonceState says whether a nonce is ours for realm, and whether it is still fresh.
func (a *digestAuth) nonceState(n, realm string) (ours, fresh bool) {
	if len(n) != 32 {
		return false, false
	}
	var b [24]byte
	if _, err := base64.RawURLEncoding.Decode(b[:], []byte(n)); err != nil {
		return false, false
	}
	m := hmac.New(sha256.New, a.key[:])
	m.Write(b[:8])
	m.Write([]byte(realm))
	if !hmac.Equal(m.Sum(nil)[:16], b[8:]) {
		return false, false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	age := a.now().Sub(issued)
	return true, age >= -time.Minute && age <= a.lifetime()
}

// challenge adds one WWW-Authenticate (or Proxy-Authenticate) header per algorithm.
func (a *digestAuth) challenge(res *sip.Response, proxy bool, realm string, stale bool) {
	name := "WWW-Authenticate"
	if proxy {
		name = "Proxy-Authenticate"
	}
	n := a.nonce(realm)
	for _, alg := range a.algorithms() {
		c := digest.Challenge{Realm: realm, Nonce: n, Algorithm: alg, QOP: []string{"auth"}, Stale: stale}
		res.AppendHeader(sip.NewHeader(name, c.String()))
	}
}

// authResult is the outcome of checking a request's credentials.
type authResult int

const (
	// authNone: no credentials for our realm; challenge.
	authNone authResult = iota
	// authOK: the response matches the stored secret.
	authOK
	// authStale: the response matches but the nonce expired; challenge with stale=true.
	authStale
	// authFailed: wrong response, unknown user, or a realm the user has no secret for.
	authFailed
)

// credentials returns the parsed credentials for realm from the request's Authorization (or
// Proxy-Authorization) headers, or nil.
func credentials(req *sip.Request, proxy bool, realm string) *digest.Credentials {
	name := "Authorization"
	if proxy {
		name = "Proxy-Authorization"
	}
	for _, h := range req.GetHeaders(name) {
		c, err := digest.ParseCredentials(h.Value())
		if err != nil {
			continue
		}
		if c.Realm == realm {
			return c
		}
	}
	return nil
}

// verify checks credentials against an account's stored secret.
func (a *digestAuth) verify(c *digest.Credentials, method string, acct *account, realm string) authResult {
	if acct == nil || acct.realm != realm {
		return authFailed
	}
	var ha1 string
	var h hash.Hash
	switch strings.ToUpper(c.Algorithm) {
	case "", algMD5:
		ha1, h = acct.ha1MD5, md5.New()
	case algSHA256:
		ha1, h = acct.ha1SHA256, sha256.New()
	default:
		return authFailed
	}
	if ha1 == "" {
		return authFailed
	}
	var expect string
	switch strings.ToLower(c.QOP) {
	case "":
		expect = hexHash(h, ha1, ":", c.Nonce, ":", hexHash(h, method, ":", c.URI))
	case "auth":
		nc := hex8(c.Nc)
		expect = hexHash(h, ha1, ":", c.Nonce, ":", nc, ":", c.Cnonce, ":", "auth", ":", hexHash(h, method, ":", c.URI))
	default:
		return authFailed // auth-int is not offered
	}
	if subtle.ConstantTimeCompare([]byte(expect), []byte(strings.ToLower(c.Response))) != 1 {
		return authFailed
	}
	ours, fresh := a.nonceState(c.Nonce, realm)
	if !ours || !fresh {
		// The password is right but the nonce is not (an old or foreign one): RFC 2617 stale.
		return authStale
	}
	return authOK
}

func hexHash(h hash.Hash, parts ...string) string {
	h.Reset()
	for _, p := range parts {
		h.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

func hex8(n int) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(n))
	return hex.EncodeToString(b[:])
}
