package app

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
	if err := registerSweepMetrics(a.Metrics, eng); err != nil {
		return nil, err
	}
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

// registerSweepMetrics exposes the last sweep of every tenant this node ran: when it finished
// (0 before the first), whether it succeeded, what it removed, and the erasures that wait for
// a hold to end.
func registerSweepMetrics(reg prometheus.Registerer, eng *privacy.Engine) error {
	last := func(f func(l privacy.LastSweep) float64) func() float64 {
		return func() float64 {
			l, ok := eng.LastSweep()
			if !ok {
				return 0
			}
			return f(l)
		}
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "privox_retention_last_sweep_timestamp_seconds", Help: "When the last retention sweep of every tenant on this node finished (unix seconds; 0: none since start)."},
			last(func(l privacy.LastSweep) float64 { return float64(l.FinishedAt) / 1000 })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "privox_retention_last_sweep_ok", Help: "1 when the last retention sweep succeeded, 0 when it failed or none ran yet."},
			last(func(l privacy.LastSweep) float64 { return map[bool]float64{true: 1}[l.OK] })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "privox_retention_last_sweep_rows_removed", Help: "Rows the last retention sweep removed."},
			last(func(l privacy.LastSweep) float64 { return float64(l.Rows) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "privox_retention_last_sweep_files_removed", Help: "Content files the last retention sweep removed."},
			last(func(l privacy.LastSweep) float64 { return float64(l.Files) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "privox_retention_erasures_pending", Help: "Erasures waiting for a legal hold to end, after the last retention sweep."},
			last(func(l privacy.LastSweep) float64 { return float64(l.ErasuresPending) })),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("privacy: metrics: %w", err)
		}
	}
	return nil
}
