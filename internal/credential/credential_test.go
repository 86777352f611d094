package credential

import (
	"errors"
	"strings"
	"testing"
)

func TestPasswordRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$") || strings.Contains(h, "correct") {
		t.Fatalf("bad hash %q", h)
	}
	if err := VerifyPassword(h, "correct horse"); err != nil {
		t.Fatal(err)
	}
	if err := VerifyPassword(h, "wrong"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("want mismatch, got %v", err)
	}
	if err := VerifyPassword("garbage", "x"); err == nil {
		t.Fatal("garbage hash accepted")
	}
}

func TestHA1(t *testing.T) {
	// RFC 2617 §3.5 example: Mufasa / testrealm@host.com / Circle Of Life.
	if got := HA1MD5("Mufasa", "testrealm@host.com", "Circle Of Life"); got != "939e7578ed9e3c518a452acee763bce9" {
		t.Fatalf("HA1 = %s", got)
	}
	// RFC 7616 §3.9.1 example uses SHA-256 of the same triple.
	if got := HA1SHA256("Mufasa", "http-auth@example.org", "Circle of Life"); got != "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232" {
		t.Fatalf("HA1 sha256 = %s", got)
	}
}
