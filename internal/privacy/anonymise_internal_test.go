package privacy

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privox/privox/internal/datacat"
	"github.com/privox/privox/internal/flows"
)

func TestMaskNumber(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"+4930123456789", "+493012xxxxxxx"},
		{"+49 30 1234567", "+49 30 1xxxxxx"},
		{"030123456", "0301xxxxx"},
		{"1001", "xxxx"},
		{"xxxx", "xxxx"},
		{"+493012xxxxxxx", "+493012xxxxxxx"},
		{"112", "xxx"},
		{"+1 (555) 010-9999", "+1 (555) 0xx-xxxx"},
		{"", ""},
		{"anonymous", ""},
		{"sip:alice@example.com", ""},
		{"  +44 20 7946 0958 ", "+44 20 79xx xxxx"},
	} {
		if got := MaskNumber(c.in); got != c.want {
			t.Errorf("MaskNumber(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTruncateIP(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"192.0.2.177", "192.0.2.0"},
		{"192.0.2.177:5060", "192.0.2.0"},
		{"2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::"},
		{"[2001:db8:abcd:12::1]:5061", "2001:db8:abcd::"},
		{"fe80::1%eth0", "fe80::"},
		{"::ffff:198.51.100.7", "198.51.100.0"},
		{"", ""},
		{"not-an-ip", ""},
	} {
		if got := TruncateIP(c.in); got != c.want {
			t.Errorf("TruncateIP(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestVCard checks the vCard writer against a golden file: escaping, TEL as a tel: URI and
// folding of long lines at 75 octets without splitting a UTF-8 sequence.
func TestVCard(t *testing.T) {
	var b bytes.Buffer
	mapping := map[string]string{"name": "FN", "email": "EMAIL", "phone": "TEL", "company": "ORG", "note": "NOTE"}
	cols := []string{"id", "name", "email", "phone", "company", "note"}
	writeVCard(&b, mapping, cols, []any{int64(1), "Müller, Jürgen; Dr.", "j.mueller@example.com", "+49 30 123456", "Müller & Söhne GmbH", strings.Repeat("Grüße aus Köln. ", 8)})
	writeVCard(&b, mapping, cols, []any{int64(2), nil, "", "+1 555 0100", "ACME", nil})
	golden := filepath.Join("testdata", "contacts.vcf")
	if os.Getenv("UPDATE_GOLDEN") == "1" {
		os.WriteFile(golden, b.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Fatalf("vCard differs from %s (UPDATE_GOLDEN=1 to refresh):\n%s", golden, b.String())
	}
	for _, line := range strings.Split(b.String(), "\r\n") {
		if len(line) > 75 {
			t.Errorf("line longer than 75 octets: %q", line)
		}
	}
}

// TestEveryCategoryAndFlowHasText makes a new category or flow fail until the generated
// documents can describe it in every language.
func TestEveryCategoryAndFlowHasText(t *testing.T) {
	for _, c := range datacat.Categories() {
		for _, lang := range Languages {
			if categoryNames[lang][c] == "" || dataSubjects[lang][c] == "" || legalBasis[lang][c] == "" {
				t.Errorf("category %s lacks a name, data subjects or legal basis in %s", c, lang)
			}
		}
		if categoryDescDE[c] == "" {
			t.Errorf("category %s lacks a German description", c)
		}
	}
	for _, f := range flows.Declared() {
		if tr, ok := flowText["de"][f.Name]; !ok || tr[0] == "" || tr[1] == "" || tr[2] == "" || tr[3] == "" {
			t.Errorf("flow %s lacks a German text", f.Name)
		}
	}
	for _, k := range datacat.FileKinds() {
		for _, lang := range Languages {
			if kindNames[lang][k.Kind] == "" {
				t.Errorf("kind %s lacks a name in %s", k.Kind, lang)
			}
		}
	}
}

func TestRuleText(t *testing.T) {
	for _, c := range []struct {
		r      datacat.Rule
		en, de string
	}{
		{datacat.Rule{Mode: datacat.Delete, Days: 7}, "deleted after 7 days", "nach 7 Tagen gelöscht"},
		{datacat.Rule{Mode: datacat.Anonymise, Days: 30}, "anonymised after 30 days (only hourly aggregates remain)", "nach 30 Tagen anonymisiert (nur stündliche Summen bleiben)"},
		{datacat.Rule{Mode: datacat.WhileActive}, "kept while the account is active", "gespeichert, solange das Konto aktiv ist"},
		{datacat.Rule{Mode: datacat.NeverStored}, "never stored", "nie gespeichert"},
	} {
		if got := ruleText(c.r, "en"); got != c.en {
			t.Errorf("en %+v: %q", c.r, got)
		}
		if got := ruleText(c.r, "de"); got != c.de {
			t.Errorf("de %+v: %q", c.r, got)
		}
	}
}
