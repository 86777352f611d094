package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary files to the loader: it must return a configuration or problems,
// never panic.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("data_dir: ./d\nhttp:\n  addr: :8080\n"))
	f.Add([]byte("database:\n  driver: postgres\n  dsn: postgres://x@y/z\nshutdown_grace: 5s\n"))
	f.Add([]byte("http: [1, 2]\n"))
	f.Add([]byte("sip:\n  addr:\n    nested: true\n"))
	f.Add([]byte("\x00\xff: &a *a\n"))
	f.Add([]byte("http:\n  addr: \":8080\"\n   bad: indent\nlog:\n  level: info\n"))
	f.Add([]byte("node_name: \"unterminated\nlog:\n  level: info\n"))
	f.Add([]byte("log:\n  level: info\nlog:\n  level: debug\n---\ndata_dir: x\n"))
	f.Add([]byte("rtp: {ports:\n  10000-20000}\nlog:\n  level: info\n   oops: 1\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "fuzz.yaml")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Skip()
		}
		Load(p, nil)
	})
}
