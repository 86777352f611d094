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

// promptsSubsystem synthesises missing system prompts with espeak-ng when Privox starts (the
// first start takes a few seconds; later ones find every prompt current).
type promptsSubsystem struct{ a *App }

var _ Subsystem = (*promptsSubsystem)(nil)

func newPromptsSubsystem(a *App) (Subsystem, error) {
	lib, err := prompts.Open(a.promptDir(), a.DB, a.Files)
	if err != nil {
		return nil, err
	}
	a.Prompts = lib
	a.apiDeps = append(a.apiDeps, func(d *api.Deps) { d.Prompts = lib })
	return &promptsSubsystem{a: a}, nil
}

func (s *promptsSubsystem) Name() string { return "prompts" }

func (s *promptsSubsystem) Start(ctx context.Context) error {
	log := s.a.Logger.With("component", "prompts")
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

func (s *promptsSubsystem) Drain(ctx context.Context) error { return nil }
func (s *promptsSubsystem) Stop() error                     { return nil }
