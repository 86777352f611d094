package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/privox/privox/internal/config"
	"github.com/privox/privox/internal/dirlock"
	"github.com/privox/privox/internal/keys"
)

// One server per data directory. Lock files and who takes them:
//
//   - <data>/privox.lock and <vault>/privox.lock: exclusive, held by `privox serve` for its
//     whole life (with its pid in the file). A second server on the same data directory or
//     key vault is refused with the first one's pid.
//   - <data>/privox-write.lock: shared, held by the server and by every CLI command that writes
//     (tenant add, user add, ext add, erase, retention run, …): they run beside a server, which
//     sees their changes through the database (the account cache polls changed secrets, flow
//     switches are reloaded). Exclusive for `privox fsck --repair`, which may undo a file being
//     written and so runs only when no server and no writing command runs.
//   - `privox db encrypt` and `privox db rekey` (cli_db.go) rewrite the database file: they
//     take the server's two locks and the write lock exclusively, so they are refused while a
//     server or a writing command runs, and neither starts while they run.
//
// Commands that only read (lists, fsck without --repair, docs, audit verify) take no lock.
const (
	serveLockName = "privox.lock"
	writeLockName = "privox-write.lock"
)

// locks are the locks a process holds on its data directory and key vault.
type locks []*dirlock.Lock

func (ls locks) release() {
	for i := len(ls) - 1; i >= 0; i-- {
		ls[i].Release()
	}
}

// errServerRunning says that a server holds the data directory.
func errServerRunning(dataDir string, pid int, what string) error {
	who := "another privox serve"
	if pid > 0 {
		who = fmt.Sprintf("another privox serve (pid %d)", pid)
	}
	return fmt.Errorf("%s is running on data directory %s; %s", who, dataDir, what)
}

// lockServe takes the server's locks: exclusive on the data directory and on the key vault,
// shared on the write lock.
func lockServe(cfg config.Config) (locks, error) {
	vault := keys.DefaultDir(cfg.DataDir)
	if err := os.MkdirAll(vault, 0o700); err != nil {
		return nil, fmt.Errorf("keys: create vault %s: %w", vault, err)
	}
	// Only Privox's user may enter either directory, whatever made them.
	for _, d := range []string{cfg.DataDir, vault} {
		if err := os.Chmod(d, 0o700); err != nil {
			return nil, fmt.Errorf("restrict %s to its owner: %w", d, err)
		}
	}
	var held locks
	fail := func(err error) (locks, error) { held.release(); return nil, err }
	l, err := dirlock.Acquire(filepath.Join(cfg.DataDir, serveLockName), dirlock.Exclusive)
	var he *dirlock.HeldError
	if errors.As(err, &he) {
		return fail(errServerRunning(cfg.DataDir, he.PID, "stop it first or give this one another --data"))
	} else if err != nil {
		return fail(err)
	}
	held = append(held, l)
	if l, err = dirlock.Acquire(filepath.Join(vault, serveLockName), dirlock.Exclusive); errors.As(err, &he) {
		return fail(fmt.Errorf("another privox serve (pid %d) is using key vault %s", he.PID, vault))
	} else if err != nil {
		return fail(err)
	}
	held = append(held, l)
	if l, err = dirlock.Acquire(filepath.Join(cfg.DataDir, writeLockName), dirlock.Shared); errors.As(err, &he) {
		return fail(fmt.Errorf("privox fsck --repair is running on data directory %s; start the server when it has finished", cfg.DataDir))
	} else if err != nil {
		return fail(err)
	}
	return append(held, l), nil
}

// readOnlyCommands change nothing in the data directory or database and take no lock.
var readOnlyCommands = map[string]bool{
	"config check": true, "tenant list": true, "user list": true, "ext list": true,
	"retention show": true, "audit verify": true, "audit list": true, "docs records": true,
	"docs privacy-notice": true, "hold list": true, "restrict list": true, "flows list": true,
	"status": true, // asks the running server over HTTP
}

// lockCommand takes the lock a CLI command needs (serve takes its own in New): none to read,
// the shared write lock to write beside a running server, and for fsck --repair the write
// lock exclusively, refused while a server or a writing command runs.
func lockCommand(c *cmdCtx, name string) (locks, error) {
	repair := name == "fsck" && c.str("repair") != ""
	switch {
	case name == "serve", readOnlyCommands[name], name == "fsck" && !repair,
		name == "retention run" && c.str("dry-run") != "":
		return nil, nil
	}
	if offlineDBCommands[name] { // cli_db.go
		return lockOffline(c, name)
	}
	if err := ensureDir(c.cfg.DataDir); err != nil {
		return nil, err
	}
	if !repair {
		l, err := dirlock.Acquire(filepath.Join(c.cfg.DataDir, writeLockName), dirlock.Shared)
		if errors.Is(err, dirlock.ErrHeld) {
			return nil, fmt.Errorf("privox fsck --repair is running on data directory %s; try again when it has finished", c.cfg.DataDir)
		}
		if err != nil {
			return nil, err
		}
		return locks{l}, nil
	}
	// Repair: the write lock exclusively. While a server runs it holds the write lock shared,
	// and its own lock names its pid.
	l, err := dirlock.Acquire(filepath.Join(c.cfg.DataDir, writeLockName), dirlock.Exclusive)
	if errors.Is(err, dirlock.ErrHeld) {
		var he *dirlock.HeldError
		if s, serr := dirlock.Acquire(filepath.Join(c.cfg.DataDir, serveLockName), dirlock.Exclusive); errors.As(serr, &he) {
			return nil, errServerRunning(c.cfg.DataDir, he.PID, "stop it before repairing (it runs the same recovery when it starts)")
		} else if serr == nil {
			s.Release()
		}
		return nil, fmt.Errorf("another privox command is writing to data directory %s; repair when it has finished", c.cfg.DataDir)
	}
	if err != nil {
		return nil, err
	}
	return locks{l}, nil
}

// abandon closes an App that was made but did not start or failed to: the store and the locks.
func (a *App) abandon() {
	a.DB.Close()
	a.locks.release()
}

// restrictUmask makes every file the process creates readable by its user only, also those
// that libraries create without asking for a mode; Privox's own files set 0600 and 0700
// explicitly as well.
func restrictUmask() { syscall.Umask(0o077) }
