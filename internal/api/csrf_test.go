package api

import "testing"

// TestCSRFMatches: only the session's exact token matches; a session without a token (there
// is none today) never matches, not even an absent header.
func TestCSRFMatches(t *testing.T) {
	for _, c := range []struct {
		got, want string
		ok        bool
	}{
		{"tok-123", "tok-123", true},
		{"tok-124", "tok-123", false},
		{"tok-12", "tok-123", false},
		{"tok-1234", "tok-123", false},
		{"", "tok-123", false},
		{"", "", false},
	} {
		if got := csrfMatches(c.got, c.want); got != c.ok {
			t.Errorf("csrfMatches(%q, %q) = %v, want %v", c.got, c.want, got, c.ok)
		}
	}
}
