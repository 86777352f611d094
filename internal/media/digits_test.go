package media

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

func TestCollectDigits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		press := func(ch chan rune, keys string, gap time.Duration) {
			go func() {
				for _, k := range keys {
					time.Sleep(gap)
					ch <- k
				}
			}()
		}
		cases := []struct {
			name  string
			keys  string
			gap   time.Duration
			opt   CollectOptions
			want  string
			end   CollectEnd
			after time.Duration // fake time the collection took
		}{
			{"menu-choice", "2", time.Second, CollectOptions{}, "2", CollectMax, time.Second},
			{"no-input", "", 0, CollectOptions{}, "", CollectTimeout, 5 * time.Second},
			{"pin-with-hash", "1234#9", 500 * time.Millisecond, CollectOptions{Max: 10, Terminators: "#"}, "1234", CollectTerminated, 2500 * time.Millisecond},
			{"extension-interdigit-timeout", "10", time.Second, CollectOptions{Max: 4, NextTimeout: 2 * time.Second}, "10", CollectTimeout, 4 * time.Second},
			{"slow-second-digit", "12", 4 * time.Second, CollectOptions{Max: 4, NextTimeout: 3 * time.Second}, "1", CollectTimeout, 7 * time.Second},
		}
		for _, tc := range cases {
			ch := make(chan rune, 16)
			press(ch, tc.keys, tc.gap)
			start := time.Now()
			got, end := CollectDigits(ctx, ch, tc.opt)
			if got != tc.want || end != tc.end || time.Since(start) != tc.after {
				t.Errorf("%s: %q %v after %v, want %q %v after %v", tc.name, got, end, time.Since(start), tc.want, tc.end, tc.after)
			}
			synctest.Wait()
		}
		// A flood of 10,000 digits yields at most MaxCollect and leaves the rest.
		flood := make(chan rune, 10000)
		for i := 0; i < 10000; i++ {
			flood <- '5'
		}
		got, end := CollectDigits(ctx, flood, CollectOptions{Max: 1 << 20})
		if len(got) != MaxCollect || end != CollectMax || len(flood) != 10000-MaxCollect {
			t.Fatalf("flood: %d digits, %v, %d left", len(got), end, len(flood))
		}
		// Hang-up ends the collection at once.
		cctx, cancel := context.WithCancel(ctx)
		go func() { time.Sleep(time.Second); cancel() }()
		if _, end := CollectDigits(cctx, make(chan rune), CollectOptions{}); end != CollectCancelled {
			t.Fatalf("cancel: %v", end)
		}
	})
}
