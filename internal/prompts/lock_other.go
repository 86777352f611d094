//go:build !unix

package prompts

// lockDir is a no-op where flock is not available; generation stays correct (every file is
// written atomically), only work may be done twice.
func lockDir(dir string) (func(), error) { return func() {}, nil }
