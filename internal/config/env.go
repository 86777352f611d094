package config

import (
	"sort"
	"strings"
)

// testEnvPrefixes are PRIVOX_ variables that the test suite and the benchmarks read, never the
// binary; they are no mistake in a developer's shell.
var testEnvPrefixes = []string{"PRIVOX_TEST_", "PRIVOX_BENCH_", "PRIVOX_CRASH_", "PRIVOX_REQUIRE_"}

// UnknownEnv returns one warning for every PRIVOX_ variable in environ that is neither an
// option (EnvVars) nor one of extra (variables the caller reads itself, such as
// PRIVOX_ADMIN_PASSWORD), naming the closest known variable when one is close. Such a
// variable is almost always a typing mistake that would otherwise be ignored in silence.
func UnknownEnv(environ []string, extra ...string) []string {
	known := EnvVars()
	names := make([]string, 0, len(known)+len(extra))
	for n := range known {
		names = append(names, n)
	}
	names = append(names, extra...)
	sort.Strings(names)
	isKnown := map[string]bool{}
	for _, n := range names {
		isKnown[n] = true
	}
	var out []string
	seen := map[string]bool{}
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "PRIVOX_") || isKnown[k] || seen[k] || testVariable(k) {
			continue
		}
		seen[k] = true
		msg := k + " is not a Privox setting and is ignored"
		if c := closest(k, names); c != "" {
			msg += " (did you mean " + c + "?)"
		}
		out = append(out, msg)
	}
	sort.Strings(out)
	return out
}

func testVariable(name string) bool {
	for _, p := range testEnvPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// closest returns the name nearest to s by edit distance, if it is near enough to be a typing
// mistake (at most two fifths of the part after PRIVOX_ differ).
func closest(s string, names []string) string {
	best, bestD := "", -1
	for _, n := range names {
		if d := editDistance(s, n); bestD < 0 || d < bestD {
			best, bestD = n, d
		}
	}
	if bestD < 0 || bestD*5 > 2*len(strings.TrimPrefix(s, "PRIVOX_")) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance of two ASCII strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
