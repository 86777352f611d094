package app_test

import (
	"bytes"
	"sync"

	"github.com/privox/privox/internal/app"
	"github.com/privox/privox/internal/config"
)

type appConfig = config.Config

func loadConfig(env []string) (config.Config, error) { return app.ConfigFromEnv(env) }

// syncBuf is a bytes.Buffer safe for a writer and a reader in different goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
