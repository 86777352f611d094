package directory_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/privox/privox/internal/directory"
	"github.com/privox/privox/internal/flows"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/store/storetest"
)

// writeCert writes a self-signed CA certificate for 127.0.0.1 and its key.
func writeCert(t *testing.T, dir, name string) (certFile, keyFile string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600)
	return
}

type slapd struct {
	cmd  *exec.Cmd
	url  string
	conf string
	ca   string
}

// startSlapd runs a private slapd (back-mdb) on a free loopback port with StartTLS and the
// entries of ldif.
func startSlapd(t *testing.T, ldif string) *slapd {
	bin, err := exec.LookPath("slapd")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/slapd"); err2 != nil {
			t.Fatal("slapd not installed (scripts/install-test-deps.sh installs it)")
		}
		bin = "/usr/sbin/slapd"
	}
	dir := t.TempDir()
	crt, key := writeCert(t, dir, "slapd")
	os.MkdirAll(filepath.Join(dir, "db"), 0o700)
	mod := "/usr/lib/ldap"
	conf := filepath.Join(dir, "slapd.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile %[1]s/slapd.pid
modulepath %[2]s
moduleload back_mdb
TLSCertificateFile %[3]s
TLSCertificateKeyFile %[4]s
database mdb
maxsize 104857600
suffix "dc=example,dc=com"
rootdn "cn=admin,dc=example,dc=com"
rootpw admin-secret
directory %[1]s/db
access to * by * read
`, dir, mod, crt, key)), 0o600)
	os.WriteFile(filepath.Join(dir, "data.ldif"), []byte(ldif), 0o600)
	if out, err := exec.Command("/usr/sbin/slapadd", "-f", conf, "-l", filepath.Join(dir, "data.ldif")).CombinedOutput(); err != nil {
		t.Fatalf("slapadd: %v %s", err, out)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &slapd{url: fmt.Sprintf("ldap://127.0.0.1:%d", port), conf: conf, ca: crt}
	s.cmd = exec.Command(bin, "-d", "0", "-h", s.url+"/", "-f", conf)
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("slapd did not start")
	return nil
}

func (s *slapd) stop() {
	if s.cmd.Process != nil && s.cmd.ProcessState == nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

func (s *slapd) modify(t *testing.T, tool, ldif string) {
	cmd := exec.Command(tool, "-x", "-H", s.url, "-ZZ", "-D", "cn=admin,dc=example,dc=com", "-w", "admin-secret")
	cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+s.ca)
	cmd.Stdin = strings.NewReader(ldif)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v %s", tool, err, out)
	}
}

const sourceLDIF = `dn: dc=example,dc=com
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: uid=hm,dc=example,dc=com
objectClass: inetOrgPerson
uid: hm
cn: Hans Müller
sn: Müller
givenName: Hans
telephoneNumber: -123
mobile: 0171 2345678

dn: uid=as,dc=example,dc=com
objectClass: inetOrgPerson
uid: as
cn: Anna Schmidt
sn: Schmidt
telephoneNumber: +49 30 5551234

dn: uid=pm,dc=example,dc=com
objectClass: inetOrgPerson
uid: pm
cn: Petra Maier
sn: Maier
telephoneNumber: 040 7654321
`

func TestLDAPSync(t *testing.T) {
	ctx := context.Background()
	sl := startSlapd(t, sourceLDIF)
	e := setup(t, storetest.Engines(t)[0])
	vault, err := keys.Open(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	reg := flows.NewRegistry()
	y := &directory.Syncer{Dir: e.dir, DB: e.db, Vault: vault, Flows: reg}
	settings := fmt.Sprintf(`{"ca_cert":%q,"number_rules":[{"match":"-","replace":"+49 89 987654-"}]}`, sl.ca)
	src, err := e.db.CreateDirectorySource(ctx, store.DirectorySource{TenantID: e.tenant, PhonebookID: e.company.ID, Name: "ad", URL: sl.url,
		BindDN: "cn=admin,dc=example,dc=com", BaseDN: "dc=example,dc=com", Filter: "(objectClass=inetOrgPerson)", Settings: settings, Enabled: true, IntervalS: 3600})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := directory.SealSecret(vault, e.tenant, src.ID, "admin-secret")
	if err != nil {
		t.Fatal(err)
	}
	e.db.SetDirectorySourceSecret(ctx, e.tenant, src.ID, sealed)
	load := func() store.DirectorySource {
		s, err := e.db.DirectorySource(ctx, e.tenant, src.ID)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if n, err := y.Run(ctx, load()); err != nil || n != 3 {
		t.Fatalf("first sync: %d %v", n, err)
	}
	if name, ok := e.dir.CallerName(e.tenant, "+4989987654123", 0); !ok || name != "Hans Müller" {
		t.Errorf("extension -123 converted: %q %v", name, ok)
	}
	if name, ok := e.dir.CallerName(e.tenant, "+49407654321", 0); !ok || name != "Petra Maier" {
		t.Errorf("national number: %q %v", name, ok)
	}
	// A removed and a renamed entry: the next (incremental) run follows.
	sl.modify(t, "ldapdelete", "uid=pm,dc=example,dc=com\n")
	time.Sleep(1100 * time.Millisecond) // modifyTimestamp has one-second resolution
	sl.modify(t, "ldapmodify", "dn: uid=as,dc=example,dc=com\nchangetype: modify\nreplace: cn\ncn: Anna Schmidt-Weber\n")
	if n, err := y.Run(ctx, load()); err != nil || n != 2 {
		t.Fatalf("second sync: %d %v", n, err)
	}
	if _, ok := e.dir.CallerName(e.tenant, "+49407654321", 0); ok {
		t.Error("an entry removed at the source is still there")
	}
	if name, _ := e.dir.CallerName(e.tenant, "+49305551234", 0); name != "Anna Schmidt-Weber" {
		t.Errorf("renamed entry: %q", name)
	}
	// The certificate is checked: another CA fails the run and changes nothing.
	other, _ := writeCert(t, t.TempDir(), "other")
	bad := load()
	bad.Settings = fmt.Sprintf(`{"ca_cert":%q}`, other)
	if _, err := y.Run(ctx, bad); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("wrong CA: %v", err)
	}
	// The flow switched off: no connection.
	reg.SetEnabled(directory.FlowName, false)
	if _, err := y.Run(ctx, load()); err == nil {
		t.Error("sync ran with the flow off")
	}
	reg.SetEnabled(directory.FlowName, true)
	// A source that is down leaves the last good copy and records the error.
	sl.stop()
	if _, err := y.Run(ctx, load()); err == nil {
		t.Fatal("sync against a stopped server succeeded")
	}
	if e.dir.Index(e.tenant).Len() != 2 {
		t.Errorf("%d contacts after a failed run, want the last good 2", e.dir.Index(e.tenant).Len())
	}
	if s := load(); s.LastError == "" || s.LastOKAt == nil || s.LastCount != 2 {
		t.Errorf("source after failure: %+v", s)
	}
}

func TestHTTPSVCardSync(t *testing.T) {
	ctx := context.Background()
	e := setup(t, storetest.Engines(t)[0])
	body := cards
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "sync" || p != "file-secret" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/vcard")
		io.WriteString(w, body)
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	vault, _ := keys.Open(filepath.Join(t.TempDir(), "keys"))
	y := &directory.Syncer{Dir: e.dir, DB: e.db, Vault: vault, Flows: flows.NewRegistry()}
	src, _ := e.db.CreateDirectorySource(ctx, store.DirectorySource{TenantID: e.tenant, PhonebookID: e.company.ID, Name: "file", URL: srv.URL + "/contacts.vcf",
		BindDN: "sync", BaseDN: "-", Settings: fmt.Sprintf(`{"ca_cert":%q}`, ca), Enabled: true, IntervalS: 3600})
	sealed, _ := directory.SealSecret(vault, e.tenant, src.ID, "file-secret")
	e.db.SetDirectorySourceSecret(ctx, e.tenant, src.ID, sealed)
	src, _ = e.db.DirectorySource(ctx, e.tenant, src.ID)
	if n, err := y.Run(ctx, src); err != nil || n != 2 {
		t.Fatalf("sync: %d %v", n, err)
	}
	// The second card vanished from the file: it goes; the server's certificate is checked.
	body = strings.SplitAfter(cards, "END:VCARD\n")[0]
	if n, err := y.Run(ctx, src); err != nil || n != 1 || e.dir.Index(e.tenant).Len() != 1 {
		t.Fatalf("second sync: %d %v (%d contacts)", n, err, e.dir.Index(e.tenant).Len())
	}
	src.Settings = "{}"
	if _, err := y.Run(ctx, src); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("an unknown certificate was accepted: %v", err)
	}
	if e.dir.Index(e.tenant).Len() != 1 {
		t.Error("a failed run changed the phonebook")
	}
}

// TestSourcePriority: two company phonebooks replicate the same number; the one whose source
// has the higher priority names the caller, also after a reload.
func TestSourcePriority(t *testing.T) {
	ctx := context.Background()
	e := setup(t, storetest.Engines(t)[0])
	second, err := e.dir.CreatePhonebook(ctx, store.Phonebook{TenantID: e.tenant, Kind: store.BookCompany, Name: "AD"})
	if err != nil {
		t.Fatal(err)
	}
	e.add(t, e.company, "Hans", "Local", "+49 30 1234567")
	e.add(t, second, "Hans", "Directory", "+49 30 1234567")
	if _, err := e.db.CreateDirectorySource(ctx, store.DirectorySource{TenantID: e.tenant, PhonebookID: second.ID, Name: "ad", URL: "ldaps://x", BaseDN: "dc=x", Priority: 10, Enabled: true, IntervalS: 3600}); err != nil {
		t.Fatal(err)
	}
	e.dir.SetSourcePriority(e.tenant, second.ID, 10)
	if n, _ := e.dir.CallerName(e.tenant, "+49301234567", 0); n != "Hans Directory" {
		t.Errorf("caller name %q, want the higher-priority source's", n)
	}
	if err := e.dir.Reload(ctx, e.tenant); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.dir.CallerName(e.tenant, "+49301234567", 0); n != "Hans Directory" {
		t.Errorf("after reload: %q", n)
	}
}
