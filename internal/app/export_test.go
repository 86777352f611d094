package app

import (
	"os"
	"syscall"

	"github.com/privox/privox/internal/config"
	"github.com/privox/privox/internal/store"
)

// ConfigFromEnv loads the configuration the CLI would use with this environment.
func ConfigFromEnv(env []string) (config.Config, error) { return config.Load("", env) }

// CrashAt makes the process kill itself (SIGKILL) when a key rotation or a rewrite of the
// database reaches point (cli_db_test.go).
func CrashAt(point string) {
	kill := func(p string) {
		if p == point {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
	rekeyHook = kill
	store.SetRewriteHook(kill)
}
