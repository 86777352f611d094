package app_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privox/privox/internal/privoxtest"
)

// TestRetentionPresetSwitch: retention set --tenant T --preset de switches an existing tenant
// to the preset: its rules apply to every category, the tenant's own rules go (and are
// named), the change is audited; a bad preset changes nothing.
func TestRetentionPresetSwitch(t *testing.T) {
	env := []string{"PRIVOX_DATA_DIR=" + filepath.Join(t.TempDir(), "d")}
	mustRun := func(args ...string) string {
		t.Helper()
		o, er, code := run(env, args...)
		if code != 0 {
			t.Fatalf("privox %s: exit %d: %s", strings.Join(args, " "), code, er)
		}
		return o
	}
	type rule struct {
		Category string `json:"category"`
		Kind     string `json:"kind"`
		Mode     string `json:"mode"`
		Days     int    `json:"days"`
		Source   string `json:"source"`
		Scope    string `json:"scope"`
	}
	rules := func() map[string]rule {
		var blocks []struct{ Rules []rule }
		if err := json.Unmarshal([]byte(mustRun("retention", "show", "--tenant", "acme", "--json")), &blocks); err != nil || len(blocks) != 1 {
			t.Fatalf("retention show: %v", err)
		}
		out := map[string]rule{}
		for _, r := range blocks[0].Rules {
			if r.Kind == "" {
				out[r.Category] = r
			}
		}
		return out
	}
	mustRun("tenant", "add", "acme")
	mustRun("retention", "set", "--tenant", "acme", "--category", "traffic", "--mode", "anonymise", "--days", "60")
	if r := rules()["traffic"]; r.Days != 60 || r.Source != "tenant" {
		t.Fatalf("own rule: %+v", r)
	}
	out := mustRun("retention", "set", "--tenant", "acme", "--preset", "de")
	if !strings.Contains(out, "retention preset de (was default)") || !strings.Contains(out, "removed the tenant's own rule for traffic: anonymise 60 days") {
		t.Fatalf("retention set --preset:\n%s", out)
	}
	for cat, r := range rules() {
		if r.Scope == "tenant" && r.Source != "preset:de" {
			t.Errorf("%s after the switch: %+v", cat, r)
		}
	}
	if r := rules()["traffic"]; r.Days != 7 || r.Source != "preset:de" {
		t.Fatalf("traffic under de: %+v, want 7 days from preset:de", r)
	}
	if o := mustRun("tenant", "list"); !strings.Contains(o, "acme") || !strings.Contains(o, " de") {
		t.Fatalf("tenant list: %s", o)
	}
	if o := mustRun("audit", "list", "--tenant", "acme"); !strings.Contains(o, "retention.preset") || !strings.Contains(o, "preset=de previous=default removed=traffic") {
		t.Fatalf("audit list: %s", o)
	}
	// A bad preset: a clear error naming the flag, nothing changed.
	_, er, code := run(env, "retention", "set", "--tenant", "acme", "--preset", "mars")
	if code != 1 || !strings.Contains(er, "invalid --preset") {
		t.Fatalf("bad preset: %d %s", code, er)
	}
	_, er, code = run(env, "retention", "set", "--tenant", "acme", "--preset", "eu", "--category", "traffic", "--mode", "delete")
	if code != 2 || !strings.Contains(er, "--preset") {
		t.Fatalf("--preset with --category: %d %s", code, er)
	}
	if r := rules()["traffic"]; r.Days != 7 || r.Source != "preset:de" {
		t.Fatalf("traffic after refused changes: %+v", r)
	}
}

// TestRetentionPresetAPI: the same switch through POST /api/v1/tenants/{tenant}/retention/preset.
func TestRetentionPresetAPI(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	p.MustDo(200, "PUT", "/api/v1/tenants/1/retention", p.AdminToken, map[string]any{"category": "billing", "mode": "anonymise", "days": 400}, nil)
	var ch struct {
		Previous string `json:"previous"`
		Preset   string `json:"preset"`
		Removed  []struct {
			Category string `json:"category"`
			Days     int    `json:"days"`
		} `json:"removed"`
	}
	p.MustDo(200, "POST", "/api/v1/tenants/1/retention/preset", p.AdminToken, map[string]any{"preset": "eu"}, &ch)
	if ch.Previous != "default" || ch.Preset != "eu" || len(ch.Removed) != 1 || ch.Removed[0].Category != "billing" || ch.Removed[0].Days != 400 {
		t.Fatalf("preset change: %+v", ch)
	}
	var got struct {
		Preset string `json:"preset"`
		Rules  []struct {
			Category string `json:"category"`
			Kind     string `json:"kind"`
			Days     int    `json:"days"`
			Source   string `json:"source"`
		} `json:"rules"`
	}
	p.MustDo(200, "GET", "/api/v1/tenants/1/retention", p.AdminToken, nil, &got)
	for _, r := range got.Rules {
		if r.Category == "billing" && r.Kind == "" && (r.Days != 183 || r.Source != "preset:eu") {
			t.Fatalf("billing under eu: %+v", r)
		}
	}
	if got.Preset != "eu" {
		t.Fatalf("preset: %+v", got.Preset)
	}
	if st, body := p.Do("POST", "/api/v1/tenants/1/retention/preset", p.AdminToken, map[string]any{"preset": "mars"}); st != 400 || !strings.Contains(string(body), "preset") {
		t.Fatalf("bad preset: %d %s", st, body)
	}
}
