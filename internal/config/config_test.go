package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsValid(t *testing.T) {
	if ps := Validate(Default()); len(ps) != 0 {
		t.Fatalf("defaults invalid: %v", ps)
	}
}

func TestLoadFileEnv(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "privox.yaml")
	os.WriteFile(p, []byte("data_dir: /var/lib/privox\nhttp:\n  addr: 127.0.0.1:9000\nshutdown_grace: 5s\n"), 0o600)
	cfg, err := Load(p, []string{"PRIVOX_SIP_ADDR=127.0.0.1:25070", "PRIVOX_ADMIN_PASSWORD=x"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/var/lib/privox" || cfg.HTTP.Addr != "127.0.0.1:9000" || cfg.SIP.Addr != "127.0.0.1:25070" || cfg.Shutdown != 5*time.Second {
		t.Fatalf("unexpected config %+v", cfg)
	}
}

func TestCheckReportsEveryErrorWithLine(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.yaml")
	os.WriteFile(p, []byte(strings.Join([]string{
		"data_dir: ./d",      // 1
		"database:",          // 2
		"  driver: oracle",   // 3
		"http:",              // 4
		"  addr: nonsense",   // 5
		"colour: blue",       // 6
		"shutdown_grace: 5x", // 7
		"rtp:",               // 8
		"  ports: 5-3",       // 9
	}, "\n")), 0o600)
	_, err := Load(p, nil)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want Problems, got %v", err)
	}
	want := map[string]int{"database.driver": 3, "http.addr": 5, "colour": 6, "shutdown_grace": 7, "rtp.ports": 9}
	got := map[string]int{}
	for _, p := range ps {
		got[p.Key] = p.Line
		if !strings.HasPrefix(p.Error(), p.File+":") {
			t.Errorf("problem without file: %v", p)
		}
	}
	for k, l := range want {
		if got[k] != l {
			t.Errorf("%s: line %d, want %d (all: %v)", k, got[k], l, ps)
		}
	}
}

func TestSyntaxErrorHasLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.yaml")
	os.WriteFile(p, []byte("http:\n  addr: [\n"), 0o600)
	_, err := Load(p, nil)
	var ps Problems
	if !errors.As(err, &ps) || ps[0].Line == 0 {
		t.Fatalf("want syntax problem with line, got %v", err)
	}
}

func TestEnvBadValue(t *testing.T) {
	_, err := Load("", []string{"PRIVOX_SHUTDOWN_GRACE=soon"})
	if err == nil || !strings.Contains(err.Error(), "PRIVOX_SHUTDOWN_GRACE") {
		t.Fatalf("want env error, got %v", err)
	}
}

func TestPprofOnlyOnLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:6060": true, "[::1]:6060": true, "localhost:0": true,
		"0.0.0.0:6060": false, ":6060": false, "10.1.2.3:6060": false, "nonsense": false,
	} {
		_, err := Load("", []string{"PRIVOX_DEBUG_PPROF_ADDR=" + addr})
		if (err == nil) != ok {
			t.Errorf("debug.pprof_addr %q: err %v, want ok=%v", addr, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "debug.pprof_addr") {
			t.Errorf("debug.pprof_addr %q: error does not name the key: %v", addr, err)
		}
	}
}

func TestUnknownEnvWarns(t *testing.T) {
	got := UnknownEnv([]string{"PRIVOX_SIP_ADR=127.0.0.1:25060", "PRIVOX_SIP_ADDR=127.0.0.1:25060", "PRIVOX_ADMIN_PASSWORD=x",
		"PRIVOX_FROBNICATE=1", "PRIVOX_TEST_POSTGRES=postgres://x", "PRIVOX_HTTP_ADRESS=:28000", "HOME=/root", "PRIVOX_ADMIN_PASWORD=y"},
		"PRIVOX_ADMIN_PASSWORD")
	want := []string{
		"PRIVOX_ADMIN_PASWORD is not a Privox setting and is ignored (did you mean PRIVOX_ADMIN_PASSWORD?)",
		"PRIVOX_FROBNICATE is not a Privox setting and is ignored",
		"PRIVOX_HTTP_ADRESS is not a Privox setting and is ignored (did you mean PRIVOX_HTTP_ADDR?)",
		"PRIVOX_SIP_ADR is not a Privox setting and is ignored (did you mean PRIVOX_SIP_ADDR?)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestSyntaxErrorsAtTheirLine: malformed files report the line that is wrong, not the line
// where the enclosing block starts or the end of the file.
func TestSyntaxErrorsAtTheirLine(t *testing.T) {
	for _, c := range []struct {
		name string
		file []string
		line int
		msg  string
	}{
		{"key indented too far", []string{"http:", "  addr: \":28080\"", "   bad: indent", "log:", "  level: info"}, 3, "in the block that starts at line 1"},
		{"list item in a mapping", []string{"log:", "  level: info", " - item", "data_dir: ./d"}, 3, ""},
		{"tab", []string{"http:", "  addr: \":28080\"", "\tsip: x"}, 3, ""},
		{"unclosed quote", []string{"data_dir: ./d", "node_name: \"unterminated", "log:", "  level: info"}, 2, "not closed"},
		{"unclosed bracket", []string{"http:", "  addr: \":28080\"", "sip:", "  addr: [", "log:", "  level: info"}, 4, ""},
		{"error after a multi-line flow value", []string{"rtp: {ports:", "  10000-20000}", "log:", "  level: info", "   oops: 1", "data_dir: ./d"}, 5, ""},
		{"duplicate key", []string{"log:", "  level: info", "data_dir: ./d", "log:", "  level: debug"}, 4, "set twice (first at line 1)"},
		{"second document", []string{"data_dir: ./d", "---", "log:", "  level: info"}, 2, "second YAML document"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.yaml")
			os.WriteFile(p, []byte(strings.Join(c.file, "\n")+"\n"), 0o600)
			_, err := Load(p, nil)
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("want problems, got %v", err)
			}
			if ps[0].Line != c.line || !strings.Contains(ps[0].Msg, c.msg) || !strings.HasPrefix(ps[0].Error(), p+":") {
				t.Fatalf("first problem %q (line %d), want line %d with %q; all: %v", ps[0].Error(), ps[0].Line, c.line, c.msg, ps)
			}
		})
	}
}

func TestTLSListensWhereSIPDoes(t *testing.T) {
	for _, c := range []struct{ addr, tls, want string }{
		{":25060", ":25061", ":25061"},
		{"127.0.0.1:25060", ":25061", "127.0.0.1:25061"},
		{"[::1]:25070", ":25071", "[::1]:25071"},
		{"localhost:25060", ":0", "localhost:0"},
		{"127.0.0.1:25060", "0.0.0.0:25061", "0.0.0.0:25061"},
		{"127.0.0.1:25060", "192.0.2.7:25061", "192.0.2.7:25061"},
		{"", ":25061", ":25061"},
		{"127.0.0.1:25060", "", ""},
	} {
		if got := (SIP{Addr: c.addr, TLSAddr: c.tls}).TLSListenAddr(); got != c.want {
			t.Errorf("sip.addr %q, tls_addr %q: TLS listens on %q, want %q", c.addr, c.tls, got, c.want)
		}
	}
}

func TestTrustedSources(t *testing.T) {
	if got := Default().SIP.TrustedSources; len(got) != 2 || got[0] != "127.0.0.0/8" || got[1] != "::1/128" {
		t.Fatalf("default trusted sources %v, want loopback", got)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "privox.yaml")
	if err := os.WriteFile(path, []byte("sip:\n  trusted_sources: [\"10.1.0.0/16\", \"2001:db8::/32\", \"192.0.2.7\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := ParsePrefixes(cfg.SIP.TrustedSources)
	if err != nil || len(ps) != 3 || ps[2].String() != "192.0.2.7/32" {
		t.Fatalf("parsed %v %v", ps, err)
	}
	cfg, err = Load("", []string{"PRIVOX_SIP_TRUSTED_SOURCES=10.0.0.0/8, ::1/128"})
	if err != nil || len(cfg.SIP.TrustedSources) != 2 || cfg.SIP.TrustedSources[1] != "::1/128" {
		t.Fatalf("from the environment: %v %v", cfg.SIP.TrustedSources, err)
	}
	for _, bad := range []string{"10.0.0.1/8", "10.0.0.0/33", "example.com", "::1/129"} {
		if err := os.WriteFile(path, []byte("sip:\n  trusted_sources: [\""+bad+"\"]\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path, nil)
		if err == nil || !strings.Contains(err.Error(), "sip.trusted_sources") || !strings.Contains(err.Error(), ":2") {
			t.Errorf("%q: error %v, want one for sip.trusted_sources at line 2", bad, err)
		}
	}
}
