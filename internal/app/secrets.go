package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/privox/privox/internal/config"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/store"
)

// sealSecrets gives the store the vault to seal password-equivalent secrets with, and seals
// those a release before sealing existed stored in clear. It runs at every start, before
// anything reads a secret; a migration cannot do it because migrations do not reach the vault.
func sealSecrets(ctx context.Context, db *store.DB, v *keys.Vault, logger *slog.Logger) error {
	db.SetSecretSealer(v)
	n, err := db.SealClearSIPSecrets(ctx, keys.IsSealed)
	if err != nil {
		return fmt.Errorf("seal SIP secrets stored in clear: %w", err)
	}
	if n > 0 {
		logger.Info("sealed SIP secrets stored in clear with the tenant keys", "extensions", n)
	}
	return nil
}

// attachSealer gives a command's store the vault, so that what it writes is sealed too.
func attachSealer(db *store.DB, cfg config.Config) error {
	v, err := keys.Open(keys.DefaultDir(cfg.DataDir))
	if err != nil {
		return err
	}
	db.SetSecretSealer(v)
	return nil
}
