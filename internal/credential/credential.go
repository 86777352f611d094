// Package credential owns how secrets are kept: argon2id hashes for web and API passwords and
// PINs, SIP digest HA1 values (MD5 and SHA-256, RFC 8760) so that no SIP password is stored in
// plaintext, and random tokens that are stored only as their SHA-256.
package credential

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters (RFC 9106 second recommendation, memory-constrained).
const (
	argonTime    = 3
	argonMemory  = 64 * 1024
	argonThreads = 2
	argonKeyLen  = 32
	saltLen      = 16
)

// ErrMismatch is returned when a password does not match its hash.
var ErrMismatch = errors.New("credential: password does not match")

// HashPassword returns an argon2id hash in the PHC string format.
func HashPassword(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := idKey(context.Background(), []byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPassword checks a password against a hash made by HashPassword, waiting as long as
// it takes for a hashing slot.
func VerifyPassword(hash, password string) error {
	return VerifyPasswordContext(context.Background(), hash, password)
}

// VerifyPasswordContext is VerifyPassword that gives up waiting for a hashing slot when ctx
// ends.
func VerifyPasswordContext(ctx context.Context, hash, password string) error {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return errors.New("credential: unknown hash format")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return errors.New("credential: unsupported argon2 version")
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return errors.New("credential: bad argon2 parameters")
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return errors.New("credential: bad argon2 encoding")
	}
	if m > maxArgonMemory || t > maxArgonTime || p == 0 || len(want) == 0 || len(want) > 64 {
		return errors.New("credential: argon2 parameters out of range")
	}
	got, err := idKey(ctx, []byte(password), salt, t, m, p, uint32(len(want)))
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// HA1MD5 is MD5(username:realm:password) in hex, as RFC 2617 digest authentication uses it.
func HA1MD5(username, realm, password string) string {
	sum := md5.Sum([]byte(username + ":" + realm + ":" + password))
	return hex.EncodeToString(sum[:])
}

// HA1SHA256 is SHA-256(username:realm:password) in hex (RFC 7616, RFC 8760).
func HA1SHA256(username, realm, password string) string {
	sum := sha256.Sum256([]byte(username + ":" + realm + ":" + password))
	return hex.EncodeToString(sum[:])
}

// NewToken returns a random token with a prefix and its SHA-256 hex digest for storage.
func NewToken(prefix string) (token, digest string, err error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	token = prefix + base64.RawURLEncoding.EncodeToString(b)
	return token, TokenDigest(token), nil
}

// TokenDigest is the stored form of a token.
func TokenDigest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// GeneratePassword returns a random password of n characters from an unambiguous alphabet.
func GeneratePassword(n int) (string, error) {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b), nil
}
