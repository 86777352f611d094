package media

import (
	"context"
	"strings"
	"time"
)

// CollectOptions say when a digit collection ends. Zero fields take the defaults.
type CollectOptions struct {
	// Max is the most digits collected (default 1: a menu choice); at most MaxCollect.
	Max int
	// Terminators end the collection without being part of it (e.g. "#").
	Terminators string
	// FirstTimeout is how long to wait for the first digit (default 5 s).
	FirstTimeout time.Duration
	// NextTimeout is how long to wait for each further digit (default 3 s).
	NextTimeout time.Duration
}

// MaxCollect bounds a collection whatever Max says: a flood of digits cannot grow it.
const MaxCollect = 64

// CollectEnd says why a collection ended.
type CollectEnd int

const (
	// CollectMax: Max digits arrived.
	CollectMax CollectEnd = iota
	// CollectTerminated: a terminator arrived.
	CollectTerminated
	// CollectTimeout: no (further) digit within the time-out; Digits may be empty.
	CollectTimeout
	// CollectCancelled: ctx ended (the caller hung up) or the digit channel closed.
	CollectCancelled
)

func (e CollectEnd) String() string {
	return [...]string{"max", "terminated", "timeout", "cancelled"}[e]
}

// CollectDigits reads key presses from digits (RFC 4733 events and in-band detections of one
// leg, merged by the caller) until opt says the collection is complete. Digits that arrive
// while a prompt plays and are passed in already count (type-ahead). It never returns more than
// MaxCollect digits; anything after the end stays in the channel for the next collection.
func CollectDigits(ctx context.Context, digits <-chan rune, opt CollectOptions) (string, CollectEnd) {
	if opt.Max <= 0 {
		opt.Max = 1
	}
	opt.Max = min(opt.Max, MaxCollect)
	if opt.FirstTimeout <= 0 {
		opt.FirstTimeout = 5 * time.Second
	}
	if opt.NextTimeout <= 0 {
		opt.NextTimeout = 3 * time.Second
	}
	var got strings.Builder
	timer := time.NewTimer(opt.FirstTimeout)
	defer timer.Stop()
	for n := 0; ; {
		select {
		case <-ctx.Done():
			return got.String(), CollectCancelled
		case <-timer.C:
			return got.String(), CollectTimeout
		case d, ok := <-digits:
			if !ok {
				return got.String(), CollectCancelled
			}
			if strings.ContainsRune(opt.Terminators, d) {
				return got.String(), CollectTerminated
			}
			got.WriteRune(d)
			n++
			if n >= opt.Max {
				return got.String(), CollectMax
			}
			timer.Reset(opt.NextTimeout)
		}
	}
}
