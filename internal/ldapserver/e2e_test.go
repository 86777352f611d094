package ldapserver_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/privox/privox/internal/privoxtest"
)

type ldapEnv struct {
	p        *privoxtest.Privox
	bindDN   string
	password string
	base     string
	cacert   string
}

// start runs a Privox with a company phonebook of a few contacts and an LDAP bind account.
func start(t *testing.T) *ldapEnv {
	t.Helper()
	if _, err := exec.LookPath("ldapsearch"); err != nil {
		t.Fatal("ldapsearch not installed (scripts/install-test-deps.sh installs ldap-utils)")
	}
	p := privoxtest.Start(t, privoxtest.Options{})
	tok := p.AdminToken
	p.MustDo(200, "PUT", "/api/v1/tenants/1/directory/settings", tok, map[string]any{"country": "DE"}, nil)
	var book struct{ ID int64 }
	p.MustDo(201, "POST", "/api/v1/tenants/1/phonebooks", tok, map[string]any{"kind": "company", "name": "Firma"}, &book)
	for _, c := range []map[string]any{
		{"given_name": "Hans", "family_name": "Müller", "company": "Müller Bau GmbH", "numbers": map[string]string{"work": "030 1234567", "mobile": "0171 2345678"}},
		{"given_name": "Petra", "family_name": "Müllerschön", "numbers": map[string]string{"work": "+49 89 987654-12"}},
		{"given_name": "Anna", "family_name": "Schmidt", "email": "anna@example.test", "numbers": map[string]string{"work": "0049 40 5551234"}},
		{"given_name": "Jürgen", "family_name": "Mühlberg", "numbers": map[string]string{"home": "040 7654321"}},
	} {
		p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/1/phonebooks/%d/contacts", book.ID), tok, c, nil)
	}
	var acct struct {
		BindDN   string `json:"bind_dn"`
		BaseDN   string `json:"base_dn"`
		Password string `json:"password"`
	}
	p.MustDo(201, "POST", "/api/v1/tenants/1/ldap/accounts", tok, map[string]any{"name": "phones"}, &acct)
	if acct.Password == "" || acct.BindDN != "cn=phones,o=default,dc=privox" {
		t.Fatalf("account: %+v", acct)
	}
	return &ldapEnv{p: p, bindDN: acct.BindDN, password: acct.Password, base: acct.BaseDN, cacert: filepath.Join(p.DataDir, "tls", "ldap.crt")}
}

// search runs ldapsearch and returns its LDIF with base64 values decoded, and its exit code.
func (e *ldapEnv) search(t *testing.T, url string, args ...string) (string, int) {
	t.Helper()
	all := append([]string{"-x", "-LLL", "-o", "ldif-wrap=no", "-H", url}, args...)
	cmd := exec.Command("ldapsearch", all...)
	cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+e.cacert, "LDAPTLS_REQCERT=demand")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return decodeLDIF(out.String()) + errb.String(), code
}

var b64Line = regexp.MustCompile(`(?m)^([A-Za-z]+):: (.*)$`)

func decodeLDIF(s string) string {
	return b64Line.ReplaceAllStringFunc(s, func(l string) string {
		m := b64Line.FindStringSubmatch(l)
		v, err := base64.StdEncoding.DecodeString(m[2])
		if err != nil {
			return l
		}
		return m[1] + ": " + string(v)
	})
}

func (e *ldapEnv) bound(args ...string) []string {
	return append([]string{"-D", e.bindDN, "-w", e.password, "-b", e.base}, args...)
}

func TestLDAPSearchOverEveryTransport(t *testing.T) {
	e := start(t)
	ldapURL := "ldap://" + e.p.Addr("ldap")
	ldapsURL := "ldaps://" + e.p.Addr("ldaps")
	for _, tr := range []struct {
		name, url string
		extra     []string
	}{{"ldap", ldapURL, nil}, {"starttls", ldapURL, []string{"-ZZ"}}, {"ldaps", ldapsURL, nil}} {
		t.Run(tr.name, func(t *testing.T) {
			// Yealink's name filter with "Mül" for %.
			out, code := e.search(t, tr.url, append(tr.extra, e.bound("(|(cn=Mül*)(sn=Mül*))", "cn", "telephoneNumber", "mobile")...)...)
			if code != 0 {
				t.Fatalf("ldapsearch exit %d: %s", code, out)
			}
			for _, want := range []string{"cn: Hans Müller", "telephoneNumber: +49301234567", "mobile: +491712345678", "cn: Petra Müllerschön"} {
				if !strings.Contains(out, want) {
					t.Errorf("missing %q in:\n%s", want, out)
				}
			}
			if strings.Contains(out, "Schmidt") || strings.Contains(out, "Mühlberg") || strings.Count(out, "dn: ") != 2 {
				t.Errorf("wrong entries:\n%s", out)
			}
			// Only the selected attributes come back.
			if strings.Contains(out, "objectClass") || strings.Contains(out, "givenName") {
				t.Errorf("unselected attributes returned:\n%s", out)
			}
		})
	}
}

func TestLDAPPhoneFilters(t *testing.T) {
	e := start(t)
	url := "ldap://" + e.p.Addr("ldap")
	for _, c := range []struct {
		filter string
		want   []string // display names, in any order
		code   int
	}{
		{"(|(telephoneNumber=+49301234567)(mobile=+49301234567)(ipPhone=+49301234567))", []string{"Hans Müller"}, 0},
		{"(|(telephoneNumber=0301234567)(mobile=0301234567))", []string{"Hans Müller"}, 0},
		{"(&(telephoneNumber=*)(sn=Schmi*))", []string{"Anna Schmidt"}, 0},
		{"(&(objectClass=inetOrgPerson)(|(givenName=jür*)(sn=jür*)))", []string{"Jürgen Mühlberg"}, 0},
		{"(telephoneNumber=*1234567)", []string{"Hans Müller"}, 0},
		{"(homePhone=040*)", []string{"Jürgen Mühlberg"}, 0},
		{"(cn=*ll*sch*)", []string{"Petra Müllerschön"}, 0},
		{"(!(sn=M*))", []string{"Anna Schmidt"}, 0},
		{"(sn~=Mueler)", []string{"Hans Müller"}, 0},
		{"(mail=ANNA@example.test)", []string{"Anna Schmidt"}, 0},
		{"(o=Müller Bau*)", []string{"Hans Müller"}, 0},
		{"(nosuchattribute=x)", nil, 0},
	} {
		out, code := e.search(t, url, e.bound("-s", "one", c.filter, "cn")...)
		if code != c.code {
			t.Errorf("%s: exit %d: %s", c.filter, code, out)
			continue
		}
		var got []string
		for _, l := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(l, "cn: "); ok {
				got = append(got, v)
			}
		}
		if strings.Join(sorted(got), "|") != strings.Join(sorted(c.want), "|") {
			t.Errorf("%s: got %v, want %v", c.filter, got, c.want)
		}
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestLDAPBindsLimitsPagingRootDSE(t *testing.T) {
	e := start(t)
	url := "ldap://" + e.p.Addr("ldap")
	// Anonymous access is off by default: the anonymous bind itself is refused.
	if out, code := e.search(t, url, "-b", e.base, "(cn=*)"); code != 48 {
		t.Errorf("anonymous search: exit %d: %s", code, out)
	}
	if out, code := e.search(t, url, "-D", e.bindDN, "-w", "wrong-password", "-b", e.base, "(cn=*)"); code != 49 {
		t.Errorf("wrong password: exit %d: %s", code, out)
	}
	if out, code := e.search(t, url, "-D", "cn=phones,o=other,dc=privox", "-w", e.password, "-b", e.base, "(cn=*)"); code != 49 {
		t.Errorf("another tenant's name: exit %d: %s", code, out)
	}
	// Size limit: one entry, then sizeLimitExceeded.
	out, code := e.search(t, url, e.bound("-z", "1", "(cn=*)", "cn")...)
	if code != 4 || strings.Count(out, "dn: ") != 1 {
		t.Errorf("size limit: exit %d:\n%s", code, out)
	}
	// Paged results in pages of 1 return all four.
	out, code = e.search(t, url, e.bound("-E", "pr=1/noprompt", "(cn=*)", "cn")...)
	if code != 0 || strings.Count(out, "dn: ") != 4 {
		t.Errorf("paged: exit %d:\n%s", code, out)
	}
	// Root DSE.
	out, code = e.search(t, url, "-D", e.bindDN, "-w", e.password, "-b", "", "-s", "base", "(objectClass=*)", "+")
	if code != 0 || !strings.Contains(out, "supportedControl: 1.2.840.113556.1.4.319") || !strings.Contains(out, "supportedExtension: 1.3.6.1.4.1.1466.20037") ||
		!strings.Contains(out, "namingContexts: o=default,dc=privox") {
		t.Errorf("root DSE: exit %d:\n%s", code, out)
	}
	// A base outside the tenant.
	if out, code := e.search(t, url, "-D", e.bindDN, "-w", e.password, "-b", "o=other,dc=privox", "(cn=*)"); code != 32 {
		t.Errorf("foreign base: exit %d: %s", code, out)
	}
	// The directory is read-only.
	cmd := exec.Command("ldapdelete", "-x", "-H", url, "-D", e.bindDN, "-w", e.password, "uid=1,"+e.base)
	if err := cmd.Run(); err == nil {
		t.Error("ldapdelete succeeded")
	} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 53 {
		t.Errorf("ldapdelete: %v", err)
	}
}
