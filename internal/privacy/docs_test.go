package privacy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/privox/privox/internal/flows"
	"github.com/privox/privox/internal/privacy"
)

// TestDocsDescribeOnlyFlowsThatAreOn walks the flow registry: with every declared flow at its
// default switch (some default to on) and then switched on, but none with a destination, the
// privacy notice names none of them and the records list none as a recipient; a flow that is
// switched on and has a destination appears in both, and leaves them when switched off.
// Neither document names a web portal, which does not exist.
func TestDocsDescribeOnlyFlowsThatAreOn(t *testing.T) {
	runEngines(t, privacy.Options{Preset: "default"}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant(t, "acme", "default")
		docs := func() (en, de, rec string) {
			t.Helper()
			var err error
			if en, err = e.eng.PrivacyNotice(ctx, tn.ID, "en"); err != nil {
				t.Fatal(err)
			}
			if de, err = e.eng.PrivacyNotice(ctx, tn.ID, "de"); err != nil {
				t.Fatal(err)
			}
			if rec, err = e.eng.RecordsOfProcessing(ctx, tn.ID); err != nil {
				t.Fatal(err)
			}
			return en, de, rec
		}
		absent := func(when string, f flows.Flow) {
			t.Helper()
			en, _, rec := docs()
			if strings.Contains(en, f.Purpose) || strings.Contains(rec, "| "+f.Name+" |") {
				t.Errorf("%s: flow %s is described as on", when, f.Name)
			}
		}
		for _, sw := range []string{"default", "on"} {
			for _, f := range flows.Declared() {
				if sw == "on" {
					if _, err := e.eng.SetFlow(ctx, f.Name, true, privacy.Actor{Name: "test"}); err != nil {
						t.Fatal(err)
					}
				}
			}
			en, de, rec := docs()
			if !strings.Contains(en, "Nothing. Every outbound connection is switched off") || !strings.Contains(de, "Nichts.") ||
				!strings.Contains(rec, "None. No personal data leaves the installation.") {
				t.Errorf("switch %s, no destination: documents list a flow:\n%s\n%s", sw, en, rec)
			}
			for _, f := range flows.Declared() {
				absent("switch "+sw+", no destination", f)
				if !strings.Contains(rec, "`"+f.Name+"` (no destination configured)") {
					t.Errorf("records do not say why %s is off", f.Name)
				}
			}
		}
		for _, f := range flows.Declared() {
			e.flows.SetDestination(f.Name, "dest.example.test:1")
			en, _, rec := docs()
			if !strings.Contains(en, f.Purpose) || !strings.Contains(rec, "| "+f.Name+" |") {
				t.Errorf("flow %s switched on with a destination is missing:\n%s", f.Name, rec)
			}
			if _, err := e.eng.SetFlow(ctx, f.Name, false, privacy.Actor{Name: "test"}); err != nil {
				t.Fatal(err)
			}
			absent("switched off with a destination", f)
			e.flows.SetDestination(f.Name, "")
		}
		en, de, rec := docs()
		for _, doc := range []string{en, de, rec} {
			if strings.Contains(strings.ToLower(doc), "portal") {
				t.Errorf("a document names a web portal:\n%s", doc)
			}
		}
	})
}
