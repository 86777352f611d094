package keys

import (
	"errors"
	"strings"
	"testing"
)

// TestSealedSecretsBindTenantRowAndField: a sealed secret opens only for its tenant and its
// binding, carries no clear text, and two seals of one secret differ.
func TestSealedSecretsBindTenantRowAndField(t *testing.T) {
	v, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const ha1 = "5f4dcc3b5aa765d61d8327deb882cf99"
	b := SecretBinding("sip_secrets", 17, "ha1_md5")
	s1, err := v.SealSecret(1, b, ha1)
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := v.SealSecret(1, b, ha1)
	if !IsSealed(s1) || strings.Contains(s1, ha1) || s1 == s2 {
		t.Fatalf("sealed %q %q", s1, s2)
	}
	if got, err := v.OpenSecret(1, b, s1); err != nil || got != ha1 {
		t.Fatalf("open: %q %v", got, err)
	}
	for name, open := range map[string]func() (string, error){
		"other tenant": func() (string, error) { return v.OpenSecret(2, b, s1) },
		"other row":    func() (string, error) { return v.OpenSecret(1, SecretBinding("sip_secrets", 18, "ha1_md5"), s1) },
		"other field":  func() (string, error) { return v.OpenSecret(1, SecretBinding("sip_secrets", 17, "ha1_sha256"), s1) },
		"tampered":     func() (string, error) { return v.OpenSecret(1, b, s1[:len(s1)-2]+"AA") },
	} {
		if got, err := open(); err == nil {
			t.Errorf("%s: opened to %q", name, got)
		}
	}
	if _, err := v.OpenSecret(1, b, ha1); !errors.Is(err, ErrNotSealed) {
		t.Errorf("clear value: %v", err)
	}
	// A new vault handle on the same directory opens what the first sealed.
	v2, _ := Open(v.Dir())
	if got, err := v2.OpenSecret(1, b, s1); err != nil || got != ha1 {
		t.Fatalf("reopened vault: %q %v", got, err)
	}
}
