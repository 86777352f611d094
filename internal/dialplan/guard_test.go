package dialplan

import (
	"context"
	"testing"
	"time"
)

type suspensions map[int64]string

func (s suspensions) OutsideSuspended(_ context.Context, _, ext int64) (bool, error) {
	_, ok := s[ext]
	return ok, nil
}

func (s suspensions) SuspendOutside(_ context.Context, _, ext int64, reason string) error {
	s[ext] = reason
	return nil
}

func TestGuard(t *testing.T) {
	sus := suspensions{}
	g := NewGuard(sus)
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	g.now = func() time.Time { return now }
	ctx := context.Background()
	req := &Request{TenantID: 1, From: "1001", FromExt: 7}
	admit := func(l Limits, want string) func(time.Duration) {
		t.Helper()
		done, reason, err := g.admit(ctx, req, l, false)
		if err != nil || reason != want {
			t.Fatalf("admit: %q %v, want %q", reason, err, want)
		}
		return done
	}
	l := Limits{MaxConcurrent: 2, MinutesPerDay: 2}
	d1 := admit(l, "")
	d2 := admit(l, "")
	admit(l, BlockConcurrent)
	d1(90 * time.Second)
	d1(90 * time.Second) // reported twice: counted once
	if g.Active(1, "1001") != 1 {
		t.Fatalf("active %d", g.Active(1, "1001"))
	}
	d3 := admit(l, "")
	d2(40 * time.Second)
	d3(0)
	admit(l, BlockMinutes) // 130 s of 120 used
	now = now.Add(24 * time.Hour)
	admit(l, "")(0) // a new day
	if _, reason, _ := g.admit(ctx, req, l, true); reason != "" {
		t.Fatalf("explain: %q", reason)
	}

	// A burst: three calls within a minute are fine, the fourth suspends the extension.
	b := Limits{BurstCalls: 3, BurstWindow: time.Minute}
	for i := 0; i < 3; i++ {
		admit(b, "")(0)
		now = now.Add(10 * time.Second)
	}
	if _, reason, _ := g.admit(ctx, req, b, true); reason != BlockBurst || len(sus) != 0 {
		t.Fatalf("explained burst: %q, suspensions %v", reason, sus)
	}
	admit(b, BlockBurst)
	if sus[7] != "burst" {
		t.Fatalf("not suspended: %v", sus)
	}
	now = now.Add(time.Hour)
	admit(b, BlockSuspended) // until an admin resumes
	delete(sus, 7)           // an admin resumes: the window starts afresh
	admit(b, "")(0)
	admit(b, "")(0)
}
