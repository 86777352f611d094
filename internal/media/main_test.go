package media

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind (socket readers,
// housekeeping, timeout callbacks).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
