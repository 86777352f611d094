package web

import (
	"io/fs"
	"regexp"
	"testing"
)

// HasMessage reports whether the catalogue has a message in both languages.
func HasMessage(key string) bool { m, ok := messages[key]; return ok && m[0] != "" && m[1] != "" }

var keyRe = regexp.MustCompile(`\.T "([^"]+)"`)

// UsedKeys lists the message keys the templates and page titles use.
func UsedKeys(t *testing.T) []string {
	var keys []string
	names, _ := fs.Glob(templateFS, "templates/*.html")
	for _, n := range names {
		b, err := templateFS.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range keyRe.FindAllStringSubmatch(string(b), -1) {
			keys = append(keys, m[1])
		}
	}
	for p := range (&Server{pages: nil}).pageNames() {
		keys = append(keys, "title."+p)
	}
	return keys
}
