package call

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// App is an application a call can be routed to: a menu, later a mailbox, a conference, a
// parking slot. Run owns the leg until it returns; it should return soon after its context
// ends (the caller hung up). The argument comes from the dial plan (which menu, which box).
// Lifecycle: registered at start-up (Apps.Register), looked up by name for each call.
type App interface {
	Run(ctx context.Context, h *Handle, arg string) error
}

// AppFunc adapts a function to App.
type AppFunc func(ctx context.Context, h *Handle, arg string) error

// Run implements App.
func (f AppFunc) Run(ctx context.Context, h *Handle, arg string) error { return f(ctx, h, arg) }

var _ App = AppFunc(nil)

// Route is a dial-plan decision to run an application.
type Route struct {
	App string // registered name
	Arg string
}

// Router finds the application a dialled number of a tenant runs, if any (an attendant
// number, later a voicemail access number). The dial plan in sip asks it in its application
// stage.
type Router interface {
	RouteApp(ctx context.Context, tenantID int64, number string) (Route, bool, error)
}

// Apps is the registry of applications and what runs them: the pacer their audio goes out on
// and the routers that map numbers to them.
type Apps struct {
	log   *slog.Logger
	pacer *Pacer

	mu      sync.RWMutex
	apps    map[string]App
	routers []Router
	wg      sync.WaitGroup
	moh     MOHSource
}

// NewApps returns an empty registry with its own pacer.
func NewApps(log *slog.Logger) *Apps {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Apps{log: log.With("component", "call"), pacer: NewPacer(), apps: map[string]App{}}
}

// Pacer returns the clock application audio is sent on.
func (a *Apps) Pacer() *Pacer { return a.pacer }

// Register adds an application under a name, and the router that maps numbers to it (nil
// when numbers reach it otherwise).
func (a *Apps) Register(name string, app App, r Router) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, dup := a.apps[name]; dup {
		panic("call: application registered twice: " + name)
	}
	a.apps[name] = app
	if r != nil {
		a.routers = append(a.routers, r)
	}
}

// RouteApp implements Router over every registered router, in registration order.
func (a *Apps) RouteApp(ctx context.Context, tenantID int64, number string) (Route, bool, error) {
	a.mu.RLock()
	rs := append([]Router(nil), a.routers...)
	a.mu.RUnlock()
	for _, r := range rs {
		rt, ok, err := r.RouteApp(ctx, tenantID, number)
		if err != nil || ok {
			return rt, ok, err
		}
	}
	return Route{}, false, nil
}

// Has reports whether an application is registered.
func (a *Apps) Has(name string) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.apps[name] != nil
}

// ErrNoApp: the dial plan named an application that is not registered.
var ErrNoApp = errors.New("call: no such application")

// Run starts the application on a leg in its own goroutine. When it returns without having
// bridged the leg, the call is hung up.
func (a *Apps) Run(l *Leg, rt Route) error {
	a.mu.RLock()
	app := a.apps[rt.App]
	a.mu.RUnlock()
	if app == nil {
		return fmt.Errorf("%w: %q", ErrNoApp, rt.App)
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		h := &Handle{l: l, apps: a}
		err := func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("call: application %s panicked: %v", rt.App, r)
				}
			}()
			return app.Run(l.ctx, h, rt.Arg)
		}()
		if err != nil && !errors.Is(err, ErrHungUp) && !errors.Is(err, context.Canceled) {
			a.log.Warn("application failed", "app", rt.App, "call_id", l.info.CallID, "tenant", l.info.TenantID, "err", err)
		}
		if l.Kind() != KindRelay && l.ctx.Err() == nil {
			l.sig.Hangup()
		}
		l.detach()
	}()
	return nil
}

// Close waits for running applications (their calls are hung up by then) and stops the pacer.
func (a *Apps) Close() {
	a.wg.Wait()
	a.pacer.Close()
}
