package keys

import (
	"bytes"
	"errors"
	"testing"
)

func TestUserKeyPersistsAndErases(t *testing.T) {
	dir := t.TempDir()
	v, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	k1, err := v.UserKey(1, 7, true)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := v2.UserKey(1, 7, false)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("key not persisted: %v", err)
	}
	sealed, _ := Seal(k2, []byte("hello"), []byte("aad"))
	if err := v2.DestroyUserKey(1, 7); err != nil {
		t.Fatal(err)
	}
	v3, _ := Open(dir)
	if _, err := v3.UserKey(1, 7, true); !errors.Is(err, ErrErased) {
		t.Fatalf("want ErrErased, got %v", err)
	}
	other, err := v3.UserKey(1, 8, true)
	if err != nil || bytes.Equal(other, k1) {
		t.Fatalf("other user: %v", err)
	}
	if _, err := Unseal(other, sealed, []byte("aad")); err == nil {
		t.Fatal("decrypted with the wrong key")
	}
}

func TestTamperDetected(t *testing.T) {
	k := make([]byte, KeySize)
	s, _ := Seal(k, []byte("x"), []byte("a"))
	s[len(s)-1] ^= 1
	if _, err := Unseal(k, s, []byte("a")); err == nil {
		t.Fatal("tampered ciphertext accepted")
	}
}

// TestConcurrentKeyCreation: two vault handles on one directory (a server and a CLI command)
// creating the same tenant key at once end up with one key.
func TestConcurrentKeyCreation(t *testing.T) {
	dir := t.TempDir()
	for round := 0; round < 20; round++ {
		a, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Open(dir)
		tenant := int64(round + 1)
		var ka, kb []byte
		var ea, eb error
		done := make(chan bool)
		go func() { ka, ea = a.TenantKey(tenant); done <- true }()
		kb, eb = b.TenantKey(tenant)
		<-done
		if ea != nil || eb != nil || !bytes.Equal(ka, kb) {
			t.Fatalf("round %d: two keys for one tenant (%v, %v)", round, ea, eb)
		}
	}
}
