// Package dirlock owns the advisory locks that keep one Privox server per data directory and
// key vault: a lock file whose flock(2) lock the kernel releases when the holder exits (also on
// kill -9), and which names the holder's process id so that a refusal can say who holds it.
package dirlock

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Mode is how a lock is held.
type Mode int

const (
	// Shared locks may be held by many processes at once, but not beside an exclusive one.
	Shared Mode = iota
	// Exclusive locks are held by one process only.
	Exclusive
)

// HeldError says that another process holds a lock.
type HeldError struct {
	Path string
	// PID is the holder's process id as it wrote it into the lock file; 0 when unknown
	// (shared holders do not write theirs).
	PID int
}

func (e *HeldError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("%s is locked by process %d", e.Path, e.PID)
	}
	return fmt.Sprintf("%s is locked by another process", e.Path)
}

// ErrHeld matches every HeldError with errors.Is.
var ErrHeld = errors.New("dirlock: held by another process")

func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// Lock is a held lock; Release gives it up.
type Lock struct {
	f    *os.File
	excl bool
}

// Acquire takes the lock on path without waiting; the file is created (mode 0600) when it does
// not exist. An exclusive holder writes its process id into the file.
func Acquire(path string, mode Mode) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("dirlock: open %s: %w", path, err)
	}
	how := syscall.LOCK_SH
	if mode == Exclusive {
		how = syscall.LOCK_EX
	}
	if err := flock(f, how|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &HeldError{Path: path, PID: Holder(path)}
		}
		return nil, fmt.Errorf("dirlock: lock %s: %w", path, err)
	}
	if mode == Exclusive {
		if err := f.Truncate(0); err == nil {
			f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
			f.Sync()
		}
	}
	return &Lock{f: f, excl: mode == Exclusive}, nil
}

// flock retries when a signal interrupts the call.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// Holder returns the process id written into a lock file by its exclusive holder, or 0. The
// id is only meaningful while the lock is held.
func Holder(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// Release gives the lock up; an exclusive holder first clears its process id from the file
// (after a crash the id stays, which is harmless: it is only read while the lock is held, and
// a file that only exclusive holders lock then holds the current holder's id).
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	if l.excl {
		l.f.Truncate(0)
	}
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}
