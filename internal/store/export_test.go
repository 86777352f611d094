package store

import (
	"os"
	"syscall"
)

// CrashAt makes the process kill itself (SIGKILL) when a database rewrite reaches point.
func CrashAt(point string) {
	rewriteHook = func(p string) {
		if p == point {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
}
