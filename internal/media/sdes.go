package media

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/pion/srtp/v3"
)

// srtpSuites maps the RFC 4568/6188/7714 crypto-suite names Privox accepts to pion profiles.
var srtpSuites = map[string]srtp.ProtectionProfile{
	"AES_CM_128_HMAC_SHA1_80": srtp.ProtectionProfileAes128CmHmacSha1_80,
	"AES_CM_128_HMAC_SHA1_32": srtp.ProtectionProfileAes128CmHmacSha1_32,
	"AES_256_CM_HMAC_SHA1_80": srtp.ProtectionProfileAes256CmHmacSha1_80,
	"AES_256_CM_HMAC_SHA1_32": srtp.ProtectionProfileAes256CmHmacSha1_32,
	"AEAD_AES_128_GCM":        srtp.ProtectionProfileAeadAes128Gcm,
	"AEAD_AES_256_GCM":        srtp.ProtectionProfileAeadAes256Gcm,
}

// errUnsupportedCrypto marks an a=crypto line Privox cannot use (unknown suite, session
// parameters, several keys); such lines are skipped, not fatal.
var errUnsupportedCrypto = errors.New("unsupported crypto attribute")

// sdesCrypto is one parsed a=crypto attribute (RFC 4568 §9.1):
//
//	a=crypto:<tag> <crypto-suite> inline:<key||salt>[|<lifetime>][|<MKI>:<length>] [<session-params>]
type sdesCrypto struct {
	tag     string
	suite   string
	profile srtp.ProtectionProfile
	key     []byte
	salt    []byte
	mki     []byte
}

func parseCrypto(value string) (sdesCrypto, error) {
	f := strings.Fields(value)
	if len(f) < 3 {
		return sdesCrypto{}, fmt.Errorf("crypto: want tag, suite and key params, got %d fields", len(f))
	}
	tag, err := strconv.ParseUint(f[0], 10, 32)
	if err != nil || len(f[0]) > 9 {
		return sdesCrypto{}, fmt.Errorf("crypto: bad tag %q", f[0])
	}
	c := sdesCrypto{tag: strconv.FormatUint(tag, 10), suite: f[1]}
	var ok bool
	if c.profile, ok = srtpSuites[f[1]]; !ok {
		return c, fmt.Errorf("%w: suite %q", errUnsupportedCrypto, f[1])
	}
	for _, p := range f[3:] {
		// The window size hint only tunes replay protection; anything else (UNENCRYPTED_SRTP,
		// KDR, FEC_ORDER, ...) changes the transform, which Privox does not implement.
		if !strings.HasPrefix(p, "WSH=") {
			return c, fmt.Errorf("%w: session parameter %q", errUnsupportedCrypto, p)
		}
	}
	if strings.Contains(f[2], ";") {
		return c, fmt.Errorf("%w: several master keys", errUnsupportedCrypto)
	}
	inline, found := strings.CutPrefix(f[2], "inline:")
	if !found {
		return c, fmt.Errorf("crypto: key method of %q is not inline", f[2])
	}
	parts := strings.Split(inline, "|")
	raw, err := base64.StdEncoding.DecodeString(parts[0])
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(parts[0]); err != nil {
			return c, fmt.Errorf("crypto: key is not base64")
		}
	}
	keyLen, _ := c.profile.KeyLen()
	saltLen, _ := c.profile.SaltLen()
	if len(raw) != keyLen+saltLen {
		return c, fmt.Errorf("crypto: %s needs %d bytes of key and salt, got %d", c.suite, keyLen+saltLen, len(raw))
	}
	c.key, c.salt = raw[:keyLen], raw[keyLen:]
	for _, p := range parts[1:] {
		v, l, isMKI := strings.Cut(p, ":")
		if !isMKI {
			continue // lifetime: Privox re-keys with every re-INVITE long before any limit
		}
		val, err1 := strconv.ParseUint(v, 10, 64)
		n, err2 := strconv.Atoi(l)
		if err1 != nil || err2 != nil || n < 1 || n > 128 {
			return c, fmt.Errorf("crypto: bad MKI %q", p)
		}
		c.mki = make([]byte, n)
		for i := n - 1; i >= 0 && val > 0; i-- {
			c.mki[i] = byte(val)
			val >>= 8
		}
		if val != 0 {
			return c, fmt.Errorf("crypto: MKI %q does not fit its length", p)
		}
	}
	return c, nil
}

// material is the inline key (key||salt) in the form used to compare keys across re-INVITEs.
func (c sdesCrypto) material() string {
	return string(c.key) + string(c.salt) + "|" + string(c.mki)
}

// newKey draws a master key and salt for a suite.
func newKey(r io.Reader, profile srtp.ProtectionProfile) ([]byte, error) {
	keyLen, err := profile.KeyLen()
	if err != nil {
		return nil, err
	}
	saltLen, err := profile.SaltLen()
	if err != nil {
		return nil, err
	}
	b := make([]byte, keyLen+saltLen)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("media: srtp key: %w", err)
	}
	return b, nil
}

func cryptoValue(tag, suite string, keySalt []byte) string {
	return tag + " " + suite + " inline:" + base64.StdEncoding.EncodeToString(keySalt)
}

// newLegCrypto builds the four SRTP contexts of a leg: in (what its remote sends, with the
// remote's key) and out (what the relay sends it, with the relay's key for that leg).
func newLegCrypto(in sdesCrypto, out []byte) (*legCrypto, error) {
	keyLen, _ := in.profile.KeyLen()
	var inOpts []srtp.ContextOption
	if len(in.mki) > 0 {
		inOpts = append(inOpts, srtp.MasterKeyIndicator(in.mki))
	}
	rtpIn, err := srtp.CreateContext(in.key, in.salt, in.profile, append(inOpts, srtp.SRTPReplayProtection(128))...)
	if err != nil {
		return nil, fmt.Errorf("srtp context: %w", err)
	}
	rtcpIn, err := srtp.CreateContext(in.key, in.salt, in.profile, append(inOpts, srtp.SRTCPReplayProtection(128))...)
	if err != nil {
		return nil, fmt.Errorf("srtp context: %w", err)
	}
	rtpOut, err := srtp.CreateContext(out[:keyLen], out[keyLen:], in.profile)
	if err != nil {
		return nil, fmt.Errorf("srtp context: %w", err)
	}
	rtcpOut, err := srtp.CreateContext(out[:keyLen], out[keyLen:], in.profile)
	if err != nil {
		return nil, fmt.Errorf("srtp context: %w", err)
	}
	return &legCrypto{
		profile: in.profile,
		inKey:   in.material(),
		outKey:  string(out),
		rtpIn:   rtpIn,
		rtcpIn:  rtcpIn,
		rtpOut:  rtpOut,
		rtcpOut: rtcpOut,
	}, nil
}
