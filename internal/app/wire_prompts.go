package app

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/privox/privox/internal/api"
	"github.com/privox/privox/internal/prompts"
)

func init() { registerSubsystem(newPromptsSubsystem) }

// promptDir is where the system prompts of a configuration live.
func (a *App) promptDir() string { return promptDir(a.Cfg.Prompts.Dir, a.Cfg.DataDir) }

func promptDir(dir, dataDir string) string {
	if dir != "" {
		return dir
	}
	return filepath.Join(dataDir, "prompts")
}

// promptsSubsystem synthesises missing system prompts with espeak-ng in the background when
// Privox starts: phones register and calls run at once, and applications fall back to tones
// for a prompt that is not there yet. Later starts find every prompt current.
type promptsSubsystem struct {
	a      *App
	cancel context.CancelFunc
	done   chan struct{}
}

var _ Subsystem = (*promptsSubsystem)(nil)

func newPromptsSubsystem(a *App) (Subsystem, error) {
	lib, err := prompts.Open(a.promptDir(), a.DB, a.Files)
	if err != nil {
		return nil, err
	}
	a.Prompts = lib
	a.apiDeps = append(a.apiDeps, func(d *api.Deps) { d.Prompts = lib })
	return &promptsSubsystem{a: a, done: make(chan struct{})}, nil
}

func (s *promptsSubsystem) Name() string { return "prompts" }

func (s *promptsSubsystem) Start(ctx context.Context) error {
	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	go func() {
		defer close(s.done)
		if err := s.generate(gctx); err != nil && gctx.Err() == nil {
			s.a.Logger.Error("system prompts", "component", "prompts", "err", err)
		}
	}()
	return nil
}

func (s *promptsSubsystem) generate(ctx context.Context) error {
	log := s.a.Logger.With("component", "prompts")
	if s.a.Prompts.Missing() > 0 {
		log.Info("synthesising missing system prompts in the background", "missing", s.a.Prompts.Missing(), "dir", s.a.promptDir())
	}
	rep, err := prompts.Generate(ctx, s.a.promptDir(), prompts.GenerateOptions{})
	switch {
	case errors.Is(err, prompts.ErrNoSynthesizer):
		// Calls still work: applications fall back to tones where a prompt is missing.
		log.Warn("system prompts missing and espeak-ng is not installed; install the Debian package espeak-ng", "missing", s.a.Prompts.Missing())
		return nil
	case err != nil:
		return err
	}
	if rep.Generated > 0 {
		log.Info("system prompts generated", "generated", rep.Generated, "dir", s.a.promptDir())
	}
	return s.a.Prompts.Reload()
}

// Drain stops a synthesis still running; prompts already written stay, the rest follow at the
// next start.
func (s *promptsSubsystem) Drain(ctx context.Context) error {
	if s.cancel != nil {
		s.cancel()
		select {
		case <-s.done:
		case <-ctx.Done():
		}
	}
	return nil
}

func (s *promptsSubsystem) Stop() error {
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	return nil
}
