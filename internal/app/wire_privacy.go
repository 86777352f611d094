package app

import (
	"context"
	"sync"
	"time"

	"github.com/privox/privox/internal/api"
	"github.com/privox/privox/internal/privacy"
)

func init() {
	registerSubsystem(newPrivacySubsystem)
	onDeactivate = append(onDeactivate, func(c *cmdCtx, tenantID, userID int64) error {
		eng, err := c.privacy()
		if err != nil {
			return err
		}
		_, err = eng.Erase(c.ctx, tenantID, userID, privacy.Actor{Name: "cli"})
		return err
	})
}

// userForgetter is an engine that holds a person's data in memory outside the store (the SIP
// server: bindings, cached accounts, calls in progress). Deactivation, erasure and suspension
// reach it through forgetUser, so that privacy and tenancy need not know the engines.
type userForgetter interface {
	ForgetUser(tenantID, userID int64) (bindings, calls int)
}

// forgetUser makes every running engine drop what it holds in memory about a user.
func (a *App) forgetUser(_ context.Context, tenantID, userID int64) {
	for _, f := range a.forgetters {
		f.ForgetUser(tenantID, userID)
	}
}

// privacySubsystem runs the privacy engine's scheduled sweeps and keeps the outbound flow
// switches in step with the store.
type privacySubsystem struct {
	eng      *privacy.Engine
	interval time.Duration
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

var _ Subsystem = (*privacySubsystem)(nil)

func newPrivacySubsystem(a *App) (Subsystem, error) {
	a.Privacy = privacy.New(privacy.Deps{DB: a.DB, Files: a.Files, Vault: a.Vault, Flows: a.Flows, Logger: a.Logger.With("component", "privacy")},
		privacy.Options{Preset: a.Cfg.Privacy.Preset})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Privacy.LoadFlowSwitches(ctx); err != nil {
		return nil, err
	}
	eng := a.Privacy
	a.apiDeps = append(a.apiDeps, func(d *api.Deps) {
		d.Privacy = eng
		d.OnDeactivate = eng.OnDeactivate
		d.Forget = a.forgetUser
	})
	return &privacySubsystem{eng: eng, interval: a.Cfg.Privacy.SweepInterval}, nil
}

func (s *privacySubsystem) Name() string { return "privacy" }

func (s *privacySubsystem) Start(ctx context.Context) error {
	run, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.eng.Run(run, s.interval)
	}()
	return nil
}

// Drain stops a running sweep between two batches (every batch is complete on its own) and
// waits for it.
func (s *privacySubsystem) Drain(ctx context.Context) error {
	if s.cancel != nil {
		s.cancel()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *privacySubsystem) Stop() error {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	return nil
}
