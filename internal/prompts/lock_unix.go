//go:build unix

package prompts

import (
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive lock on dir so that two Privox processes sharing a prompt
// directory do not synthesise the same prompts at once; the second waits, then finds them.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
