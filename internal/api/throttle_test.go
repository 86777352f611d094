package api

import (
	"fmt"
	"testing"
	"time"
)

func TestThrottleAddr(t *testing.T) {
	for _, c := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"}, // one /64
		{"::ffff:192.0.2.7", "192.0.2.7"},
	} {
		if throttleAddr(c.a) != throttleAddr(c.b) {
			t.Errorf("%s and %s count apart: %s, %s", c.a, c.b, throttleAddr(c.a), throttleAddr(c.b))
		}
	}
	if throttleAddr("2001:db8:1:2::1") == throttleAddr("2001:db8:1:3::1") || throttleAddr("192.0.2.7") == throttleAddr("192.0.2.8") {
		t.Error("different networks count together")
	}
}

// TestThrottleBounded: a flood from ever new addresses at ever new accounts leaves the
// throttle's maps bounded.
func TestThrottleBounded(t *testing.T) {
	th := newLoginThrottle()
	now := time.Now()
	th.now = func() time.Time { return now }
	th.limit = 1000
	for i := 0; i < 3*th.limit; i++ {
		th.begin(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), fmt.Sprintf("t\x00u%d", i))
	}
	if len(th.addrs) > th.limit || len(th.accounts) > th.limit {
		t.Fatalf("%d addresses and %d accounts kept, bound %d", len(th.addrs), len(th.accounts), th.limit)
	}
}
