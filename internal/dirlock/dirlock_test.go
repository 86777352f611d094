package dirlock

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestLockModes: shared locks go together, an exclusive one goes alone and names its pid,
// and a released lock can be taken again (flock locks of one process conflict between open
// files, which is what this relies on).
func TestLockModes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.lock")
	s1, err := Acquire(p, Shared)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Acquire(p, Shared)
	if err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	if _, err := Acquire(p, Exclusive); !errors.Is(err, ErrHeld) {
		t.Fatalf("exclusive beside shared: %v", err)
	}
	s1.Release()
	s2.Release()
	x, err := Acquire(p, Exclusive)
	if err != nil {
		t.Fatal(err)
	}
	var he *HeldError
	if _, err := Acquire(p, Shared); !errors.As(err, &he) || he.PID != os.Getpid() {
		t.Fatalf("shared beside exclusive: %v", err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file mode %o", fi.Mode().Perm())
	}
	x.Release()
	if Holder(p) != 0 {
		t.Error("released lock still names a holder")
	}
	again, err := Acquire(p, Exclusive)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again.Release()
}
