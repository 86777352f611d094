//go:build race

package media

// raceEnabled: the race detector allocates on its own, so allocation counts are skipped.
const raceEnabled = true
