package app

import (
	"github.com/privox/privox/internal/attendant"
	"github.com/privox/privox/internal/call"
)

// The call model's applications and what they are built from: the auto attendant (menus of
// the store, prompts) registers with the application registry the SIP core routes to.

// callApps is the application registry and the applications in it.
type callApps struct {
	*call.Apps
	attendant *attendant.Attendant
}

func newCallApps(a *App) *callApps {
	apps := call.NewApps(a.Logger)
	att := attendant.New(a.DB, attendant.TonePrompts{}, a.Logger)
	att.Register(apps)
	return &callApps{Apps: apps, attendant: att}
}

// Attendant returns the running auto attendant (nil when SIP is disabled), for tests.
func (a *App) Attendant() *attendant.Attendant {
	for _, sub := range a.subsystems {
		if s, ok := sub.(*sipSubsystem); ok && s.apps != nil {
			return s.apps.attendant
		}
	}
	return nil
}

// Apps returns the call model's application registry (nil when SIP is disabled).
func (a *App) Apps() *call.Apps {
	for _, sub := range a.subsystems {
		if s, ok := sub.(*sipSubsystem); ok && s.apps != nil {
			return s.apps.Apps
		}
	}
	return nil
}
