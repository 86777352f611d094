package call

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/privox/privox/internal/audio"
)

// Handle is what an application holds of its leg: the operations of a media application
// (answer, play, tones, record, collect digits) and of call control (bridge, hang up). Every
// blocking operation returns when its context ends or the leg hangs up (ErrHungUp); the
// leg's own context (Handle.Context) ends at hang-up.
type Handle struct {
	l *Leg
	// apps runs the applications a Bridge hands the leg over to; depth counts those hand-overs.
	apps  *Apps
	depth int
}

// NewHandle returns a handle on a leg.
func NewHandle(l *Leg) *Handle { return &Handle{l: l} }

// MaxHandOvers bounds how often one call passes from application to application (a menu to
// a mailbox whose operator is a menu ...): the next hand-over fails with status 482.
const MaxHandOvers = 8

// Info describes the leg.
func (h *Handle) Info() LegInfo { return h.l.info }

// Context ends when the call ends.
func (h *Handle) Context() context.Context { return h.l.ctx }

// Answer accepts the call; a second call is a no-op.
func (h *Handle) Answer(ctx context.Context) error {
	ctx, cancel := h.join(ctx)
	defer cancel()
	_, err := h.l.answer(ctx)
	return err
}

// join derives a context that also ends with the leg.
func (h *Handle) join(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(h.l.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// hungUp maps an ended context to ErrHungUp when the leg is gone.
func (h *Handle) hungUp(err error) error {
	if err != nil && h.l.ctx.Err() != nil {
		return ErrHungUp
	}
	return err
}

// Play plays sounds (prompts, tones, silence) one after another and returns when they ended.
func (h *Handle) Play(ctx context.Context, sounds ...audio.Sound) error {
	ep, err := h.l.endpoint()
	if err != nil {
		return err
	}
	ctx, cancel := h.join(ctx)
	defer cancel()
	return h.hungUp(ep.waitPlay(ctx, audio.Sequence(sounds...).Open()))
}

// PlayTone plays a call-progress tone (audio.Tones: ring-back, busy, congestion, a beep); a
// repeating tone plays until ctx ends.
func (h *Handle) PlayTone(ctx context.Context, t audio.Tone) error {
	return h.Play(ctx, t)
}

// Record hands the caller's decoded audio (8 kHz linear frames) to sink until ctx ends, max
// passes, or silence follows speech for silence (0: no end of speech detection). sink runs
// on the media goroutine: it must copy and return quickly. It returns nil at max or end of
// speech.
func (h *Handle) Record(ctx context.Context, max, silence time.Duration, sink func([]int16)) error {
	ep, err := h.l.endpoint()
	if err != nil {
		return err
	}
	ctx, cancel := h.join(ctx)
	defer cancel()
	quiet := make(chan struct{})
	var heard bool
	var still time.Duration
	closed := false
	f := func(s []int16) {
		sink(s)
		if silence <= 0 || closed {
			return
		}
		var e float64
		for _, x := range s {
			e += float64(x) * float64(x)
		}
		loud := e/float64(len(s)) > 500*500
		switch {
		case loud:
			heard, still = true, 0
		case heard:
			still += time.Duration(len(s)) * time.Second / 8000
			if still >= silence {
				closed = true
				close(quiet)
			}
		}
	}
	ep.recorder.Store(&f)
	defer ep.recorder.Store(nil)
	t := time.NewTimer(max)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-quiet:
		return nil
	case <-ctx.Done():
		return h.hungUp(ctx.Err())
	}
}

// Collect says how CollectDigits reads digits.
type Collect struct {
	// Max ends the collection at this many digits (1 to MaxDigits).
	Max int
	// Prompts play while waiting; the first digit stops them (barge-in).
	Prompts []audio.Sound
	// First is how long to wait for the first digit after the prompts ended; Inter between
	// digits (defaults 5 s and 3 s).
	First, Inter time.Duration
	// Terminator ends the collection early and is not returned ('#'; 0 for none).
	Terminator rune
	// Flush discards digits pressed before the collection started.
	Flush bool
}

// MaxDigits bounds one collection: a caller keying thousands of digits gets the first
// MaxDigits (the rest are dropped, and the leg's buffer stays bounded).
const MaxDigits = 32

// ErrNoInput: no digit came in time.
var ErrNoInput = errors.New("call: no input")

// CollectDigits reads digits from the caller, in-band or RFC 4733 alike. It returns the
// digits read, with ErrNoInput when there were none.
func (h *Handle) CollectDigits(ctx context.Context, c Collect) (string, error) {
	ep, err := h.l.endpoint()
	if err != nil {
		return "", err
	}
	ctx, cancel := h.join(ctx)
	defer cancel()
	if c.Max <= 0 || c.Max > MaxDigits {
		c.Max = MaxDigits
	}
	if c.First <= 0 {
		c.First = 5 * time.Second
	}
	if c.Inter <= 0 {
		c.Inter = 3 * time.Second
	}
	if c.Flush {
		ep.flushDigits()
	}
	var played <-chan struct{}
	if len(c.Prompts) > 0 {
		played = ep.play(audio.Sequence(c.Prompts...).Open())
		defer ep.stop()
	}
	var got strings.Builder
	n := 0
	var timer *time.Timer
	var timeout <-chan time.Time
	arm := func(d time.Duration) {
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		timeout = timer.C
	}
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	if played == nil {
		arm(c.First)
	}
	for {
		select {
		case <-played:
			played = nil
			if n == 0 {
				arm(c.First)
			}
		case d := <-ep.digits:
			if played != nil {
				ep.stop()
				played = nil
			}
			if c.Terminator != 0 && d == c.Terminator {
				return got.String(), nil
			}
			got.WriteRune(d)
			n++
			if n >= c.Max {
				return got.String(), nil
			}
			arm(c.Inter)
		case <-timeout:
			if n == 0 {
				return "", ErrNoInput
			}
			return got.String(), nil
		case <-ctx.Done():
			return got.String(), h.hungUp(ctx.Err())
		}
	}
}

// Bridge connects the caller to number through the dial plan (an extension, a group, an
// outside number through a trunk) while ring-back plays; on success the leg leaves the
// application (its media operations return ErrBridged) and the application should return.
// When the number is an application's (a menu, a mailbox), that application takes the leg
// and Bridge returns once it is done, with its error; the application should return then as
// well. On failure the leg stays with the application, which may play something else.
func (h *Handle) Bridge(ctx context.Context, number string, ringback audio.Sound) error {
	ep, err := h.l.endpoint()
	if err != nil {
		return err
	}
	ctx, cancel := h.join(ctx)
	defer cancel()
	if ringback != nil {
		ep.play(ringback.Open())
	}
	err = h.l.sig.Connect(ctx, number)
	if ar := (*AppRouteError)(nil); errors.As(err, &ar) {
		ep.stop()
		return h.handOver(ctx, ar.Route)
	}
	if err != nil {
		ep.stop()
		return h.hungUp(err)
	}
	return nil
}

// handOver runs the application a number leads to on this leg, in this goroutine, and
// returns when it is done with the leg: nil (or its error) as for a bridge that succeeded.
func (h *Handle) handOver(ctx context.Context, rt Route) error {
	if h.apps == nil || h.depth >= MaxHandOvers {
		return &ConnectError{Status: 482}
	}
	h.apps.mu.RLock()
	app := h.apps.apps[rt.App]
	h.apps.mu.RUnlock()
	if app == nil {
		return &ConnectError{Status: 404}
	}
	h.l.log.Debug("application hands the call over", "app", rt.App)
	return app.Run(ctx, &Handle{l: h.l, apps: h.apps, depth: h.depth + 1}, rt.Arg)
}

// Hangup ends the call.
func (h *Handle) Hangup() { h.l.sig.Hangup() }
