package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/privox/privox/internal/config"
	"github.com/privox/privox/internal/dirlock"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/store"
)

// The embedded database's own commands: encrypt a clear database (what every start does too),
// rotate its key, and take an encrypted backup while the server runs.
func init() {
	addCommand(command{"db encrypt", "db encrypt   (encrypts a clear embedded database with the key vault's database key; no server may run)", runDBEncrypt})
	addCommand(command{"db rekey", "db rekey   (rewrites the embedded database under a new key from the key vault; no server may run)", runDBRekey})
	addCommand(command{"db backup", "db backup --out FILE   (a consistent copy of the embedded database, encrypted like it; also while the server runs)", runDBBackup})
}

// offlineDBCommands rewrite the database file and so run only while no server (and no other
// writing command) has the data directory.
var offlineDBCommands = map[string]bool{"db encrypt": true, "db rekey": true}

// lockOffline takes what a running server holds (the data directory and key vault locks,
// exclusive) and the write lock exclusively, so that neither a server nor a writing command
// runs while the database is rewritten.
func lockOffline(c *cmdCtx, name string) (locks, error) {
	if err := ensureDir(c.cfg.DataDir); err != nil {
		return nil, err
	}
	vault := keys.DefaultDir(c.cfg.DataDir)
	if err := os.MkdirAll(vault, 0o700); err != nil {
		return nil, fmt.Errorf("keys: create vault %s: %w", vault, err)
	}
	var held locks
	fail := func(err error) (locks, error) { held.release(); return nil, err }
	var he *dirlock.HeldError
	l, err := dirlock.Acquire(filepath.Join(c.cfg.DataDir, serveLockName), dirlock.Exclusive)
	if errors.As(err, &he) {
		return fail(errServerRunning(c.cfg.DataDir, he.PID, "stop it first: privox "+name+" rewrites the database file and runs only while no server does"))
	} else if err != nil {
		return fail(err)
	}
	held = append(held, l)
	if l, err = dirlock.Acquire(filepath.Join(vault, serveLockName), dirlock.Exclusive); errors.As(err, &he) {
		return fail(fmt.Errorf("another privox serve (pid %d) is using key vault %s; stop it before privox %s", he.PID, vault, name))
	} else if err != nil {
		return fail(err)
	}
	held = append(held, l)
	if l, err = dirlock.Acquire(filepath.Join(c.cfg.DataDir, writeLockName), dirlock.Exclusive); errors.Is(err, dirlock.ErrHeld) {
		return fail(fmt.Errorf("another privox command is writing to data directory %s; run privox %s when it has finished", c.cfg.DataDir, name))
	} else if err != nil {
		return fail(err)
	}
	return append(held, l), nil
}

// embeddedOnly refuses the db commands on PostgreSQL, whose files are the operator's.
func embeddedOnly(cfg config.Config, name string) error {
	if cfg.Database.Driver == "postgres" {
		return fmt.Errorf("privox %s is for the embedded database; PostgreSQL's files are encrypted by its operator (docs/database-encryption.md)", name)
	}
	return nil
}

func runDBEncrypt(c *cmdCtx) error {
	if err := embeddedOnly(c.cfg, "db encrypt"); err != nil {
		return err
	}
	if !c.cfg.Database.Encrypt {
		return fmt.Errorf("database.encrypt is false in the configuration: set it to true first (a server configured clear refuses an encrypted database)")
	}
	path := c.cfg.SQLitePath()
	st, err := store.SQLiteFileState(path)
	if err != nil {
		return err
	}
	switch st {
	case store.FileEmpty:
		fmt.Fprintf(c.env.Stdout, "no database at %s yet: the first start creates it encrypted\n", path)
		return nil
	case store.FileOther:
		if _, err := databaseKey(c.ctx, c.cfg); err != nil {
			return err
		}
		fmt.Fprintf(c.env.Stdout, "%s is already encrypted with the database key of the key vault %s\n", path, keys.DefaultDir(c.cfg.DataDir))
		return nil
	}
	key, err := databaseKey(c.ctx, c.cfg)
	if err != nil {
		return err
	}
	if err := store.EncryptSQLite(c.ctx, path, key); err != nil {
		return err
	}
	if err := checkOpens(c.ctx, path, key); err != nil {
		return err
	}
	fmt.Fprintf(c.env.Stdout, "encrypted %s with the database key of the key vault %s\n", path, keys.DefaultDir(c.cfg.DataDir))
	return nil
}

// rekeyHook lets the crash tests stop the process at a point of a key rotation.
var rekeyHook func(point string)

func rekeyPoint(p string) {
	if rekeyHook != nil {
		rekeyHook(p)
	}
}

// runDBRekey rotates the database key. The order keeps a key that opens the database in the
// vault at every moment, whatever kills the process:
//
//  1. the next key is written beside the current one (database.key.next, synced);
//  2. the database is rewritten under the next key into a file beside it, synced, and renamed
//     over the database (store.RekeySQLite);
//  3. the next key replaces the current one (a rename): the old key is retired.
//
// Killed before 2 ends, the database is still under the current key; killed between 2 and 3,
// it is under the next key. The next start (databaseKey) tries the current key, then the
// next one, and completes or drops the rotation accordingly.
func runDBRekey(c *cmdCtx) error {
	if err := embeddedOnly(c.cfg, "db rekey"); err != nil {
		return err
	}
	if !c.cfg.Database.Encrypt {
		return fmt.Errorf("database.encrypt is false in the configuration: the database is kept clear and has no key to rotate")
	}
	path := c.cfg.SQLitePath()
	st, err := store.SQLiteFileState(path)
	if err != nil {
		return err
	}
	if st != store.FileOther {
		return fmt.Errorf("no encrypted database at %s: start the server (or run privox db encrypt) first", path)
	}
	old, err := databaseKey(c.ctx, c.cfg) // completes an interrupted rotation first
	if err != nil {
		return err
	}
	vault, err := keys.Open(keys.DefaultDir(c.cfg.DataDir))
	if err != nil {
		return err
	}
	next, err := vault.NewPendingDatabaseKey()
	if err != nil {
		return err
	}
	rekeyPoint("after-next-key")
	if err := store.RekeySQLite(c.ctx, path, old, next); err != nil {
		if derr := vault.DiscardPendingDatabaseKey(); derr != nil {
			return fmt.Errorf("%w (and %v)", err, derr)
		}
		return err
	}
	rekeyPoint("before-promote")
	if err := vault.PromotePendingDatabaseKey(); err != nil {
		return err
	}
	rekeyPoint("after-promote")
	if err := checkOpens(c.ctx, path, next); err != nil {
		return err
	}
	fmt.Fprintf(c.env.Stdout, "rewrote %s under a new database key; the old key is retired (backups taken before now need the old vault)\n", path)
	return nil
}

// checkOpens opens the database once with key, migrations and all, as the next start will.
func checkOpens(ctx context.Context, path string, key []byte) error {
	db, err := store.OpenSQLite(ctx, path, key)
	if err != nil {
		return err
	}
	return db.Close()
}

// runDBBackup copies the running database with VACUUM INTO (a read transaction: the server
// goes on writing meanwhile) into FILE, encrypted with the database key, and proves that the
// copy opens with it.
func runDBBackup(c *cmdCtx) error {
	if err := embeddedOnly(c.cfg, "db backup"); err != nil {
		return err
	}
	out := c.str("out")
	if out == "" {
		return usageErr("--out is required")
	}
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("invalid --out: %s already exists", out)
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	vault := keys.DefaultDir(c.cfg.DataDir)
	if strings.HasPrefix(abs, vault+string(filepath.Separator)) {
		return fmt.Errorf("invalid --out: %s is inside the key vault %s; a backup goes apart from its key", out, vault)
	}
	db, err := c.store()
	if err != nil {
		return err
	}
	if err := db.BackupSQLite(c.ctx, abs); err != nil {
		return err
	}
	if !c.cfg.Database.Encrypt {
		fmt.Fprintf(c.env.Stdout, "backup %s written clear (database.encrypt is false)\n", out)
		return nil
	}
	key, err := databaseKey(c.ctx, c.cfg)
	if err != nil {
		return err
	}
	if err := store.CheckSQLiteKey(c.ctx, abs, key); err != nil {
		os.Remove(abs)
		return fmt.Errorf("backup %s does not open with the database key: %w", out, err)
	}
	fmt.Fprintf(c.env.Stdout, "backup %s written, encrypted with the database key of the key vault %s (restoring it needs that vault)\n", out, vault)
	return nil
}

// settleRekey finishes what an interrupted `privox db rekey` left in the vault: with a pending
// key, the database is under the current key (the rewrite had not replaced it: the pending key
// goes) or under the pending one (it had: the pending key becomes current). It returns the key
// that opens the database, or nil and no error when no rotation is pending.
func settleRekey(ctx context.Context, vault *keys.Vault, path string, st store.FileState) ([]byte, error) {
	next, err := vault.PendingDatabaseKey()
	if errors.Is(err, keys.ErrNoKey) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the next database key in the key vault %s: %w", vault.Dir(), err)
	}
	if st != store.FileOther {
		return nil, vault.DiscardPendingDatabaseKey()
	}
	cur, cerr := vault.DatabaseKey(false)
	if cerr == nil {
		if err := store.CheckSQLiteKey(ctx, path, cur); err == nil {
			return cur, vault.DiscardPendingDatabaseKey()
		} else if !errors.Is(err, store.ErrWrongKey) {
			return nil, err
		}
	}
	if err := store.CheckSQLiteKey(ctx, path, next); err != nil {
		if errors.Is(err, store.ErrWrongKey) {
			return nil, fmt.Errorf("%w (neither the current nor the next database key of the key vault %s opens it)", err, vault.Dir())
		}
		return nil, err
	}
	if err := vault.PromotePendingDatabaseKey(); err != nil {
		return nil, err
	}
	return next, nil
}

// checkPostgresTransport applies store.CheckPostgresTransport to a PostgreSQL configuration
// (config check; OpenStore applies it at every start).
func checkPostgresTransport(cfg config.Config) error {
	if cfg.Database.Driver != "postgres" {
		return nil
	}
	return store.CheckPostgresTransport(cfg.Database.DSN, cfg.Database.AllowPlaintextLoopback)
}
