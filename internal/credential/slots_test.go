package credential

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func TestSlotCount(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		avail uint64
		cpus  int
		want  int
	}{
		{0, 2, 2},          // unknown memory: a few per CPU
		{0, 64, 8},         // capped small
		{100 * mib, 4, 1},  // less than two computations' worth: still one
		{256 * mib, 4, 2},  // half of 256 MiB holds two
		{24 << 30, 2, 2},   // plenty of memory, two CPUs
		{24 << 30, 16, 8},  // plenty of memory, many CPUs: the cap
		{640 * mib, 16, 5}, // memory decides
		{1 * mib, 1, 1},    // never zero
	} {
		if got := slotCount(c.avail, c.cpus); got != c.want {
			t.Errorf("slotCount(%d MiB, %d CPUs) = %d, want %d", c.avail/mib, c.cpus, got, c.want)
		}
	}
}

// TestParallelChecksBounded runs 16 password checks at once and requires that no more than
// the limit ever computed at the same time (each holds 64 MiB), with every result right.
func TestParallelChecksBounded(t *testing.T) {
	hash, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	before := Hashes()
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw := "wrong password"
			if i%8 == 0 {
				pw = "correct horse battery"
			}
			errs[i] = VerifyPassword(hash, pw)
		}()
	}
	wg.Wait()
	after := Hashes()
	for i, err := range errs {
		if want := i%8 != 0; (err != nil) != want || (err != nil && !errors.Is(err, ErrMismatch)) {
			t.Errorf("check %d: %v", i, err)
		}
	}
	if after.Peak > after.Limit || after.Limit < 1 {
		t.Fatalf("%d computations at once, limit %d", after.Peak, after.Limit)
	}
	if after.Total-before.Total != 16 || after.Running != 0 {
		t.Fatalf("computations: %d ran, %d still running", after.Total-before.Total, after.Running)
	}
	t.Logf("limit %d, peak %d", after.Limit, after.Peak)
}

// TestVerifyUnknown costs one computation like a real check, and always fails.
func TestVerifyUnknown(t *testing.T) {
	VerifyUnknown(context.Background(), "warm-up") // the dummy hash is made once
	before := Hashes().Total
	if err := VerifyUnknown(context.Background(), "privox dummy account password"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("unknown account: %v", err)
	}
	if n := Hashes().Total - before; n != 1 {
		t.Fatalf("%d computations for an unknown account, want 1 as for a known one", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range cap(slots.sem) {
		slots.sem <- struct{}{}
	}
	defer func() {
		for range cap(slots.sem) {
			<-slots.sem
		}
	}()
	if err := VerifyUnknown(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("no slot and a cancelled context: %v", err)
	}
}
