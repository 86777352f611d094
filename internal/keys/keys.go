// Package keys owns the encryption keys of content at rest: a master key, one key per tenant
// wrapped by the master key, and one data key per user wrapped by the tenant key; and the
// sealing of password-equivalent secrets with the tenant key (secrets.go). The keys live in a
// key vault directory kept apart from the data directory, so that copies of the data directory
// (backups, snapshots) hold content and sealed secrets only as ciphertext (the database's
// other columns are not encrypted). Destroying a user's data key is crypto-erasure: every copy
// of that user's content, wherever it went, can no longer be read.
package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// KeySize is the size of every key (AES-256).
const KeySize = 32

// ErrErased is returned for a user whose data key was destroyed.
var ErrErased = errors.New("keys: data key destroyed (crypto-erased)")

// ErrNoKey is returned when a key does not exist and may not be created.
var ErrNoKey = errors.New("keys: no such key")

// Vault stores wrapped keys as files under one directory.
type Vault struct {
	dir    string
	master []byte
	mu     sync.Mutex
	cache  map[string][]byte // path → unwrapped key
}

// DefaultDir returns the vault directory that goes with a data directory: a sibling named
// "<data>-keys", outside the data directory so that copies of it carry no keys.
func DefaultDir(dataDir string) string {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	return filepath.Clean(abs) + "-keys"
}

// Open opens (and on first use creates) a vault and its master key.
func Open(dir string) (*Vault, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keys: create vault %s: %w", dir, err)
	}
	mp := filepath.Join(dir, "master.key")
	master, err := os.ReadFile(mp)
	switch {
	case errors.Is(err, os.ErrNotExist):
		master = make([]byte, KeySize)
		if _, err := rand.Read(master); err != nil {
			return nil, err
		}
		if err := writeNew(mp, master); errors.Is(err, os.ErrExist) {
			return Open(dir) // made by another process meanwhile
		} else if err != nil {
			return nil, fmt.Errorf("keys: write master key: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("keys: read master key: %w", err)
	case len(master) != KeySize:
		return nil, fmt.Errorf("keys: master key %s is corrupt (%d bytes, want %d)", mp, len(master), KeySize)
	}
	return &Vault{dir: dir, master: master, cache: map[string][]byte{}}, nil
}

// Dir returns the vault directory.
func (v *Vault) Dir() string { return v.dir }

func (v *Vault) tenantPath(tenantID int64) string {
	return filepath.Join(v.dir, "t"+strconv.FormatInt(tenantID, 10), "tenant.key")
}

func (v *Vault) userPath(tenantID, userID int64) string {
	return filepath.Join(v.dir, "t"+strconv.FormatInt(tenantID, 10), "u"+strconv.FormatInt(userID, 10)+".key")
}

// TenantKey returns a tenant's key, creating it on first use.
func (v *Vault) TenantKey(tenantID int64) ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.loadOrCreate(v.tenantPath(tenantID), v.master, "tenant:"+strconv.FormatInt(tenantID, 10), true)
}

// UserKey returns a user's data key, creating it on first use unless create is false.
func (v *Vault) UserKey(tenantID, userID int64, create bool) ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	p := v.userPath(tenantID, userID)
	if _, err := os.Stat(p + ".erased"); err == nil {
		return nil, ErrErased
	}
	tk, err := v.loadOrCreate(v.tenantPath(tenantID), v.master, "tenant:"+strconv.FormatInt(tenantID, 10), true)
	if err != nil {
		return nil, err
	}
	return v.loadOrCreate(p, tk, "user:"+strconv.FormatInt(tenantID, 10)+":"+strconv.FormatInt(userID, 10), create)
}

func (v *Vault) loadOrCreate(path string, wrapKey []byte, aad string, create bool) ([]byte, error) {
	if k, ok := v.cache[path]; ok {
		return k, nil
	}
	wrapped, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if !create {
			return nil, ErrNoKey
		}
		k := make([]byte, KeySize)
		if _, err := rand.Read(k); err != nil {
			return nil, err
		}
		w, err := Seal(wrapKey, k, []byte(aad))
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		werr := writeNew(path, w)
		if werr == nil {
			v.cache[path] = k
			return k, nil
		}
		if !errors.Is(werr, os.ErrExist) {
			return nil, fmt.Errorf("keys: store key: %w", werr)
		}
		// Another process (a CLI command beside the server) made the key first: use theirs.
		theirs, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("keys: read key: %w", err)
		}
		return v.unwrap(path, wrapKey, theirs, aad)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: read key: %w", err)
	}
	return v.unwrap(path, wrapKey, wrapped, aad)
}

func (v *Vault) unwrap(path string, wrapKey, wrapped []byte, aad string) ([]byte, error) {
	k, err := Unseal(wrapKey, wrapped, []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("keys: unwrap %s: %w", filepath.Base(path), err)
	}
	v.cache[path] = k
	return k, nil
}

// DestroyUserKey crypto-erases a user: the wrapped key is overwritten and removed, and a
// tombstone prevents a new key from being made for the same user.
func (v *Vault) DestroyUserKey(tenantID, userID int64) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	p := v.userPath(tenantID, userID)
	if k, ok := v.cache[p]; ok {
		clear(k)
		delete(v.cache, p)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	if err := writeAtomic(p+".erased", []byte("erased\n")); err != nil {
		return fmt.Errorf("keys: tombstone: %w", err)
	}
	if fi, err := os.Stat(p); err == nil {
		if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
			f.Write(make([]byte, fi.Size()))
			f.Sync()
			f.Close()
		}
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("keys: remove user key: %w", err)
		}
	}
	return syncDir(filepath.Dir(p))
}

// Erased reports whether a user's key was destroyed.
func (v *Vault) Erased(tenantID, userID int64) bool {
	_, err := os.Stat(v.userPath(tenantID, userID) + ".erased")
	return err == nil
}

// Seal encrypts with AES-256-GCM; the output is nonce || ciphertext.
func Seal(key, plaintext, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize(), gcm.NonceSize()+len(plaintext)+gcm.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plaintext, aad), nil
}

// Unseal decrypts what Seal made.
func Unseal(key, sealed, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize()+gcm.Overhead() {
		return nil, errors.New("keys: ciphertext too short")
	}
	return gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], aad)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("keys: key of %d bytes, want %d", len(key), KeySize)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// writeNew writes a file that must not exist yet, by temp file, fsync and link: of two
// processes creating the same key at once, one wins and the other gets os.ErrExist.
func writeNew(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// writeAtomic writes a file by temp file, fsync and rename, then syncs the directory.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// databasePath is where the embedded database's key is kept, wrapped by the master key.
func (v *Vault) databasePath() string { return filepath.Join(v.dir, "database.key") }

// DatabaseKey returns the embedded database's encryption key, making it (32 random bytes) on
// first use when create is true; without it ErrNoKey.
func (v *Vault) DatabaseKey(create bool) ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.loadOrCreate(v.databasePath(), v.master, "database", create)
}

// pendingDatabasePath holds the next database key while `privox db rekey` rewrites the
// database under it; it replaces database.key once the rewritten database is in place.
func (v *Vault) pendingDatabasePath() string { return filepath.Join(v.dir, "database.key.next") }

// NewPendingDatabaseKey makes a fresh database key and stores it, wrapped and synced, as the
// pending key beside the current one (replacing a pending key an interrupted rotation left).
// The current key stays until PromotePendingDatabaseKey: at every moment the vault holds a key
// that opens the database.
func (v *Vault) NewPendingDatabaseKey() ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	w, err := Seal(v.master, k, []byte("database"))
	if err != nil {
		return nil, err
	}
	p := v.pendingDatabasePath()
	delete(v.cache, p)
	if err := writeAtomic(p, w); err != nil {
		return nil, fmt.Errorf("keys: store the next database key: %w", err)
	}
	return k, nil
}

// PendingDatabaseKey returns the pending database key of a rotation, or ErrNoKey when no
// rotation is under way.
func (v *Vault) PendingDatabaseKey() ([]byte, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.loadOrCreate(v.pendingDatabasePath(), v.master, "database", false)
}

// PromotePendingDatabaseKey makes the pending key the database key (one rename, then the
// vault directory is synced); the key it replaces is gone.
func (v *Vault) PromotePendingDatabaseKey() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.cache, v.pendingDatabasePath())
	delete(v.cache, v.databasePath())
	if err := os.Rename(v.pendingDatabasePath(), v.databasePath()); err != nil {
		return fmt.Errorf("keys: make the next database key current: %w", err)
	}
	return syncDir(v.dir)
}

// DiscardPendingDatabaseKey removes the pending key of a rotation that did not replace the
// database (the current key still opens it).
func (v *Vault) DiscardPendingDatabaseKey() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.cache, v.pendingDatabasePath())
	if err := os.Remove(v.pendingDatabasePath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("keys: remove the unused next database key: %w", err)
	}
	return syncDir(v.dir)
}
