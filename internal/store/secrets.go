package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// Password-equivalent secrets (the SIP digest HA1 values, and later trunk and directory-source
// credentials) are written only sealed with the tenant's key (keys.Vault.SealSecret), so that
// a copy of the database holds none of them; the store never sees the vault's keys. Readers
// get the sealed text and open it where the secret is used (the SIP account cache).

// SecretSealer seals a secret for its tenant and the place it is stored in (keys.Vault).
type SecretSealer interface {
	SealSecret(tenantID int64, binding, secret string) (string, error)
}

// ErrNoSealer is returned when a secret would be written without a sealer.
var ErrNoSealer = errors.New("store: no key vault to seal secrets with")

// SetSecretSealer gives the store the sealer it seals secrets with before writing them.
func (db *DB) SetSecretSealer(s SecretSealer) { db.state.sealer = s }

// SIPSecretBinding names an HA1 field of an extension's secret, as keys.SecretBinding does:
// the sealed value opens only for this extension and field.
func SIPSecretBinding(extID int64, field string) string {
	return "sip_secrets:" + strconv.FormatInt(extID, 10) + ":" + field
}

// sealSIP seals both HA1 values of an extension.
func (db *DB) sealSIP(tenantID, extID int64, sec SIPSecret) (md5, sha256 string, err error) {
	s := db.state.sealer
	if s == nil {
		return "", "", ErrNoSealer
	}
	if md5, err = s.SealSecret(tenantID, SIPSecretBinding(extID, "ha1_md5"), sec.HA1MD5); err != nil {
		return "", "", fmt.Errorf("store: seal SIP secret: %w", err)
	}
	if sha256, err = s.SealSecret(tenantID, SIPSecretBinding(extID, "ha1_sha256"), sec.HA1SHA256); err != nil {
		return "", "", fmt.Errorf("store: seal SIP secret: %w", err)
	}
	return md5, sha256, nil
}

// SealClearSIPSecrets seals every HA1 value stored in clear (written before sealing existed)
// and returns how many rows it changed. It runs at every start and is idempotent and
// crash-safe: each row changes in one statement, only from the clear values it read, so a
// crash leaves each row either clear (sealed at the next start) or sealed, and a secret set
// meanwhile is not overwritten.
func (db *DB) SealClearSIPSecrets(ctx context.Context, isSealed func(string) bool) (int, error) {
	type row struct {
		ext, tenant int64
		md5, sha    string
	}
	rows, err := db.Query(ctx, `SELECT extension_id, tenant_id, ha1_md5, ha1_sha256 FROM sip_secrets ORDER BY extension_id`)
	if err != nil {
		return 0, err
	}
	var clear []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.ext, &r.tenant, &r.md5, &r.sha); err != nil {
			rows.Close()
			return 0, mapErr(err)
		}
		if !isSealed(r.md5) || !isSealed(r.sha) {
			clear = append(clear, r)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, r := range clear {
		md5, sha := r.md5, r.sha
		for _, f := range []struct {
			v     *string
			field string
		}{{&md5, "ha1_md5"}, {&sha, "ha1_sha256"}} {
			if isSealed(*f.v) {
				continue
			}
			if db.state.sealer == nil {
				return n, ErrNoSealer
			}
			if *f.v, err = db.state.sealer.SealSecret(r.tenant, SIPSecretBinding(r.ext, f.field), *f.v); err != nil {
				return n, fmt.Errorf("store: seal SIP secret: %w", err)
			}
		}
		res, err := db.Exec(ctx, `UPDATE sip_secrets SET ha1_md5 = ?, ha1_sha256 = ? WHERE extension_id = ? AND ha1_md5 = ? AND ha1_sha256 = ?`,
			md5, sha, r.ext, r.md5, r.sha)
		if err != nil {
			return n, err
		}
		if k, _ := res.RowsAffected(); k > 0 {
			n++
		}
	}
	return n, nil
}
