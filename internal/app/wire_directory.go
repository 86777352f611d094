package app

import (
	"context"
	"sync"
	"time"

	"github.com/privox/privox/internal/api"
	"github.com/privox/privox/internal/directory"
)

// The directory: phonebooks in the store, the search index per tenant in memory. Its index
// is built at start, before SIP (caller-ID names) and LDAP start answering from it.

func init() { registerSubsystem(newDirectorySubsystem) }

// reconcileEvery is how often the directory checks the store for contacts that the privacy
// engine erased or swept without going through it.
const reconcileEvery = time.Minute

type directorySubsystem struct {
	a      *App
	svc    *directory.Service
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ Subsystem = (*directorySubsystem)(nil)

func newDirectorySubsystem(a *App) (Subsystem, error) {
	a.Directory = directory.New(a.DB, a.Logger.With("component", "directory"), a.Metrics)
	svc := a.Directory
	a.apiDeps = append(a.apiDeps, func(d *api.Deps) { d.Directory = svc })
	return &directorySubsystem{a: a, svc: svc}, nil
}

func (s *directorySubsystem) Name() string { return "directory" }

// Start builds every tenant's index from the store.
func (s *directorySubsystem) Start(ctx context.Context) error {
	start := time.Now()
	if err := s.svc.Load(ctx); err != nil {
		return err
	}
	s.a.Logger.Info("directory index built", "component", "directory", "took", time.Since(start).Round(time.Millisecond).String())
	run, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(reconcileEvery)
		defer t.Stop()
		for {
			select {
			case <-run.Done():
				return
			case <-t.C:
				if err := s.svc.Reconcile(run); err != nil && run.Err() == nil {
					s.a.Logger.Warn("directory reconcile failed", "component", "directory", "err", err)
				}
				s.syncDue(run)
			}
		}
	}()
	return nil
}

func (s *directorySubsystem) Drain(ctx context.Context) error { return nil }

func (s *directorySubsystem) Stop() error {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	return nil
}

// syncDue runs the directory sources whose interval has passed since their last run.
func (s *directorySubsystem) syncDue(ctx context.Context) {
	srcs, err := s.a.DB.ListDirectorySources(ctx, 0)
	if err != nil {
		return
	}
	y := &directory.Syncer{Dir: s.svc, DB: s.a.DB, Vault: s.a.Vault, Flows: s.a.Flows}
	dest := ""
	for _, src := range srcs {
		if src.Enabled {
			dest = "configured directory sources"
		}
	}
	s.a.Flows.SetDestination(directory.FlowName, dest)
	now := time.Now().UnixMilli()
	for _, src := range srcs {
		if ctx.Err() != nil {
			return
		}
		if !src.Enabled || (src.LastRunAt != nil && now-*src.LastRunAt < src.IntervalS*1000) {
			continue
		}
		if _, err := y.Run(ctx, src); err != nil {
			s.a.Logger.Warn("directory source sync failed", "component", "directory", "tenant", src.TenantID, "source", src.ID, "err", err)
		}
	}
}
