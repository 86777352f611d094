package keys

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Password-equivalent secrets (SIP digest HA1 values, and later trunk and directory-source
// credentials) are stored sealed with their tenant's key, so that a copy of the database holds
// none of them. A sealed secret is text: SealedPrefix followed by the base64 of nonce ||
// AES-256-GCM ciphertext. The associated data binds the tenant, the binding the caller gives
// (the table, the row and the field, e.g. "sip_secrets:17:ha1_md5") and the version, so that a
// sealed value copied into another row, field or tenant does not open.

// SealedPrefix starts every sealed secret; a stored value without it is in clear (written
// before sealing existed) and is sealed at the next start.
const SealedPrefix = "pvx-sealed-v1:"

// ErrNotSealed is returned by OpenSecret for a value that is not sealed.
var ErrNotSealed = errors.New("keys: secret is not sealed")

// IsSealed reports whether a stored value is a sealed secret.
func IsSealed(s string) bool { return strings.HasPrefix(s, SealedPrefix) }

// SecretBinding names the place a secret is stored in: table, row and field.
func SecretBinding(table string, row int64, field string) string {
	return table + ":" + strconv.FormatInt(row, 10) + ":" + field
}

func secretAAD(tenantID int64, binding string) []byte {
	return []byte(SealedPrefix + "tenant:" + strconv.FormatInt(tenantID, 10) + ":" + binding)
}

// SealSecret seals a password-equivalent secret with the tenant's key for the place named by
// binding (see SecretBinding).
func (v *Vault) SealSecret(tenantID int64, binding, secret string) (string, error) {
	tk, err := v.TenantKey(tenantID)
	if err != nil {
		return "", err
	}
	ct, err := Seal(tk, []byte(secret), secretAAD(tenantID, binding))
	if err != nil {
		return "", err
	}
	return SealedPrefix + base64.RawStdEncoding.EncodeToString(ct), nil
}

// OpenSecret returns the secret sealed by SealSecret for the same tenant and binding.
func (v *Vault) OpenSecret(tenantID int64, binding, sealed string) (string, error) {
	b64, ok := strings.CutPrefix(sealed, SealedPrefix)
	if !ok {
		return "", ErrNotSealed
	}
	ct, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("keys: sealed secret for %s: %w", binding, err)
	}
	tk, err := v.TenantKey(tenantID)
	if err != nil {
		return "", err
	}
	pt, err := Unseal(tk, ct, secretAAD(tenantID, binding))
	if err != nil {
		return "", fmt.Errorf("keys: open sealed secret for %s: %w", binding, err)
	}
	return string(pt), nil
}
