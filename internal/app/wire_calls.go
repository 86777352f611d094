package app

import (
	"context"
	"fmt"
	"github.com/privox/privox/internal/dialplan"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/privox/privox/internal/attendant"
	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/call"
	"github.com/privox/privox/internal/prompts"
)

// MOHPrompt is the prompt name under which a tenant uploads its own music on hold (the
// prompts API and CLI, any language); without it callers on hold hear call.DefaultMusicOnHold.
const MOHPrompt = prompts.CustomPrefix + "music-on-hold"

// tenantMOH plays a tenant's uploaded music on hold, looped.
type tenantMOH struct{ lib *prompts.Library }

var _ call.MOHSource = tenantMOH{}

func (m tenantMOH) MusicOnHold(tenantID int64) call.Source {
	if m.lib == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, lang := range prompts.Languages {
		if c, err := m.lib.Clip(ctx, tenantID, lang, MOHPrompt); err == nil {
			return audio.Loop(c, 0).Open()
		}
	}
	return nil
}

// The call model's applications and what they are built from: the auto attendant (menus of
// the store, prompts) registers with the application registry the SIP core routes to.

// callApps is the application registry and the applications in it.
type callApps struct {
	*call.Apps
	attendant *attendant.Attendant
}

func newCallApps(a *App) (*callApps, error) {
	apps := call.NewApps(a.Logger)
	att := attendant.New(a.DB, attendant.SpokenPrompts{Lib: a.Prompts}, a.Logger)
	att.Register(apps)
	a.voicemail().Register(apps)
	if fw := a.forwards(); fw != nil {
		apps.Register(dialplan.FeatureApp, &dialplan.Feature{Apply: a.Forwards, Prompts: appPrompts{a}, Lang: a.promptLanguage}, nil)
	}
	apps.SetMOH(tenantMOH{lib: a.Prompts})
	p := apps.Pacer()
	for _, c := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "privox_app_frames_sent_total", Help: "20 ms audio frames applications and music on hold sent."},
			func() float64 { return float64(p.Stats().Sent) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "privox_app_frames_late_total", Help: "Of those, frames sent more than 5 ms after their time."},
			func() float64 { return float64(p.Stats().Late) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "privox_app_streams", Help: "Application and music-on-hold streams playing."},
			func() float64 { return float64(p.Stats().Streams) }),
	} {
		if err := a.Metrics.Register(c); err != nil {
			apps.Close()
			return nil, fmt.Errorf("call: metrics: %w", err)
		}
	}
	return &callApps{Apps: apps, attendant: att}, nil
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

// promptLanguage is the language of a tenant's system prompts: German for the de preset,
// else English.
func (a *App) promptLanguage(ctx context.Context, tenantID int64) string {
	if t, err := a.DB.Tenant(ctx, tenantID); err == nil && t.RetentionPreset == "de" {
		return "de"
	}
	return "en"
}
