package api

import (
	"sync"
	"time"
)

// FreezeLoginClock stops the login throttle's clock at now, so that no budget refills while a
// slow test runs, and returns a function that moves it on.
func FreezeLoginClock(s *Server) func(d time.Duration) {
	var mu sync.Mutex
	now := time.Now()
	s.failures.mu.Lock()
	s.failures.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s.failures.mu.Unlock()
	return func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
}
