package app

import "github.com/privox/privox/internal/config"

// ConfigFromEnv loads the configuration the CLI would use with this environment.
func ConfigFromEnv(env []string) (config.Config, error) { return config.Load("", env) }
