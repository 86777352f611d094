package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsClaimOneNode: the README and docs/ say Privox runs as one node per database and do
// not promise several nodes on one PostgreSQL database (the location service and the nonce
// key are per process, so calls between phones on different nodes would fail with 480).
func TestDocsClaimOneNode(t *testing.T) {
	root := filepath.Join("..", "..")
	files, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files = append(files, filepath.Join(root, "README.md"))
	claims := []string{"when several nodes serve", "several nodes share", "several nodes can share", "share the key vault directory between them",
		"same `database.dsn` on each"}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(strings.Fields(string(b)), " ")
		for _, c := range claims {
			if strings.Contains(text, c) {
				t.Errorf("%s promises several nodes on one database: %q", f, c)
			}
		}
	}
	readme, _ := os.ReadFile(filepath.Join(root, "README.md"))
	if !strings.Contains(string(readme), "One node per database") {
		t.Error("README does not say that Privox runs as one node per database")
	}
}
