package call

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"

	"github.com/privox/privox/internal/media"
)

// Kind says what a leg's bridge is.
type Kind int

const (
	// KindNone: not yet in a bridge (ringing, routing).
	KindNone Kind = iota
	// KindApp: the far end is an application inside Privox.
	KindApp
	// KindRelay: the leg is relayed to another SIP leg (two-party call).
	KindRelay
)

func (k Kind) String() string {
	switch k {
	case KindApp:
		return "app"
	case KindRelay:
		return "relay"
	}
	return "none"
}

// Errors of leg operations.
var (
	// ErrHungUp: the leg's call ended (the caller hung up, the media timed out, the node drains).
	ErrHungUp = errors.New("call: leg hung up")
	// ErrBridged: the leg left the application's bridge (it was connected elsewhere).
	ErrBridged = errors.New("call: leg is bridged elsewhere")
	// ErrNotAnswered: a media operation before Answer.
	ErrNotAnswered = errors.New("call: leg not answered")
)

// Signalling is what the signalling layer (sip) does for a leg on an application's behalf.
type Signalling interface {
	// Answer accepts the call with an SDP answer made inside Privox (media.Session.AnswerLocal)
	// and returns the format the leg talks; it returns once the answer is acknowledged.
	Answer(ctx context.Context) (media.Format, error)
	// Connect rings number through the dial plan and, when it answers, moves the leg into a
	// relay bridge with it (re-INVITEing the leg when its media description changes). An
	// error means the leg stays where it is; *ConnectError says why.
	Connect(ctx context.Context, number string) error
	// Hangup ends the call.
	Hangup()
}

// ConnectError is why Connect failed: the status the target's side ended with (404 unknown,
// 480 unavailable or not answering, 486 busy).
type ConnectError struct{ Status int }

func (e *ConnectError) Error() string { return "call: connect failed with status " + itoa(e.Status) }

// AppRouteError is Connect's answer when the number is an application's (a menu, a mailbox):
// there is no one to ring, and the application that holds the leg hands it over to that one
// (Handle.Bridge does).
type AppRouteError struct{ Route Route }

func (e *AppRouteError) Error() string { return "call: the number runs application " + e.Route.App }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [12]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// LegInfo describes a leg to applications: no SIP, no addresses.
type LegInfo struct {
	CallID   string
	TenantID int64
	Caller   string // the caller's number (extension, or the trunk's caller ID)
	Dialed   string // the number the caller dialled
}

// Leg is one endpoint of a call. The signalling layer creates it for a call routed to an
// application, feeds it RFC 4733 events (DTMF) and ends it (End) when the call is over.
type Leg struct {
	info  LegInfo
	sig   Signalling
	ms    *media.Session
	side  media.LegID
	pacer *Pacer
	log   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc

	mu   sync.Mutex
	ep   *Endpoint
	kind atomic.Int32
}

// LegConfig is what NewLeg needs.
type LegConfig struct {
	Info LegInfo
	Sig  Signalling
	// Media is the call's media session; Side is the session leg facing the peer.
	Media *media.Session
	Side  media.LegID
	Pacer *Pacer
	Log   *slog.Logger
}

// NewLeg makes a leg; it is in no bridge until answered by an application.
func NewLeg(c LegConfig) *Leg {
	ctx, cancel := context.WithCancel(context.Background())
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return &Leg{info: c.Info, sig: c.Sig, ms: c.Media, side: c.Side, pacer: c.Pacer, log: c.Log, ctx: ctx, cancel: cancel}
}

// Info describes the leg.
func (l *Leg) Info() LegInfo { return l.info }

// Kind is the leg's bridge.
func (l *Leg) Kind() Kind { return Kind(l.kind.Load()) }

// Context ends when the leg's call ends.
func (l *Leg) Context() context.Context { return l.ctx }

// DTMF hands the leg an RFC 4733 event (from the media session's DTMF hook).
func (l *Leg) DTMF(ev media.DTMFEvent) {
	l.mu.Lock()
	ep := l.ep
	l.mu.Unlock()
	if ep != nil {
		ep.onEvent(ev)
	}
}

// End is called by the signalling layer when the call is over: the application's context is
// cancelled and its playback stops.
func (l *Leg) End() {
	l.cancel()
	l.detach()
}

// Relayed is called by the signalling layer when the leg was moved into a relay bridge.
func (l *Leg) Relayed() {
	l.kind.Store(int32(KindRelay))
	l.detach()
}

// detach takes the application endpoint off the media session.
func (l *Leg) detach() {
	l.mu.Lock()
	ep := l.ep
	l.ep = nil
	l.mu.Unlock()
	if ep != nil {
		l.ms.Tap(nil)
		ep.close()
	}
}

// answer accepts the call for an application and attaches its endpoint.
func (l *Leg) answer(ctx context.Context) (*Endpoint, error) {
	l.mu.Lock()
	if l.ep != nil {
		ep := l.ep
		l.mu.Unlock()
		return ep, nil
	}
	l.mu.Unlock()
	if l.ctx.Err() != nil {
		return nil, ErrHungUp
	}
	f, err := l.sig.Answer(ctx)
	if err != nil {
		if l.ctx.Err() != nil {
			return nil, ErrHungUp
		}
		return nil, err
	}
	ep := newEndpoint(l.ms, l.side, f, l.pacer)
	l.mu.Lock()
	if l.ctx.Err() != nil {
		l.mu.Unlock()
		return nil, ErrHungUp
	}
	l.ep = ep
	l.kind.Store(int32(KindApp))
	l.mu.Unlock()
	ep.keepAlive()
	side := l.side
	l.ms.Tap(func(from media.LegID, pkt *rtp.Packet) {
		if from == side {
			ep.onPacket(pkt)
		}
	})
	return ep, nil
}

// endpoint returns the application endpoint, or why there is none.
func (l *Leg) endpoint() (*Endpoint, error) {
	if l.ctx.Err() != nil {
		return nil, ErrHungUp
	}
	if l.Kind() == KindRelay {
		return nil, ErrBridged
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ep == nil {
		return nil, ErrNotAnswered
	}
	return l.ep, nil
}
