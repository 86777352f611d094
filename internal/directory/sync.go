package directory

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/privox/privox/internal/flows"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/store"
)

// The sync connector for LDAP and Active Directory sources: simple bind over StartTLS or
// LDAPS with certificate checks (ldap:// without StartTLS only when the source says so),
// paged search, an attribute mapping, number conversion rules, removal of entries that
// vanished at the source, and incremental runs by modifyTimestamp. A run changes the
// phonebook only once everything was read: a source that is down leaves the last good copy.
// Every connection goes through the declared outbound flow "directory_source".

// FlowName is the declared outbound flow of directory sources.
const FlowName = "directory_source"

// SourceSettings are the per-source options kept as JSON in directory_sources.settings.
type SourceSettings struct {
	// StartTLS upgrades ldap:// connections (default true); Insecure allows plain ldap://.
	StartTLS *bool `json:"starttls,omitempty"`
	Insecure bool  `json:"insecure,omitempty"`
	// CACert is a PEM file of the CA that signed the server's certificate (system roots
	// otherwise); ServerName overrides the name checked.
	CACert     string `json:"ca_cert,omitempty"`
	ServerName string `json:"server_name,omitempty"`
	// Mapping maps contact fields to source attributes (defaults: DefaultMapping).
	Mapping map[string]string `json:"mapping,omitempty"`
	// NumberRules rewrite numbers before normalisation: a number beginning with Match gets
	// Replace instead ("-" → "+49 89 987654-" turns extension -123 into +49 89 987654-123).
	NumberRules []NumberRule `json:"number_rules,omitempty"`
	// KeyAttribute identifies entries across runs (default entryUUID, then the DN).
	KeyAttribute string `json:"key_attribute,omitempty"`
}

// NumberRule is one number conversion.
type NumberRule struct {
	Match   string `json:"match"`
	Replace string `json:"replace"`
}

// DefaultMapping is the inetOrgPerson / Active Directory mapping.
var DefaultMapping = map[string]string{
	"display_name": "displayName", "given_name": "givenName", "family_name": "sn", "company": "o", "department": "ou",
	"title": "title", "email": "mail", "street": "street", "city": "l", "postal_code": "postalCode", "region": "st",
	"tel_work": "telephoneNumber", "tel_mobile": "mobile", "tel_home": "homePhone", "tel_fax": "facsimileTelephoneNumber", "tel_other": "ipPhone",
}

// ParseSettings reads a source's settings.
func ParseSettings(s string) (SourceSettings, error) {
	var st SourceSettings
	if s == "" {
		return st, nil
	}
	if err := json.Unmarshal([]byte(s), &st); err != nil {
		return st, fmt.Errorf("%w: settings: %v", ErrInvalid, err)
	}
	for f := range st.Mapping {
		if !validField(f) {
			return st, fmt.Errorf("%w: mapping: unknown field %q", ErrInvalid, f)
		}
	}
	return st, nil
}

// SealSecret seals a source's bind password with the tenant key, bound to the source.
func SealSecret(v *keys.Vault, tenantID, sourceID int64, password string) ([]byte, error) {
	k, err := v.TenantKey(tenantID)
	if err != nil {
		return nil, err
	}
	return keys.Seal(k, []byte(password), secretAAD(tenantID, sourceID))
}

func secretAAD(tenantID, sourceID int64) []byte {
	return []byte("directory_source:" + strconv.FormatInt(tenantID, 10) + ":" + strconv.FormatInt(sourceID, 10))
}

// Syncer runs sources.
type Syncer struct {
	Dir   *Service
	DB    *store.DB
	Vault *keys.Vault
	Flows *flows.Registry
}

// Run syncs one source now and records the outcome; the returned error is also stored as
// the source's last error.
func (y *Syncer) Run(ctx context.Context, src store.DirectorySource) (int, error) {
	n, err := y.run(ctx, src)
	at := store.Now()
	if err != nil {
		y.DB.RecordSourceRun(context.WithoutCancel(ctx), src.TenantID, src.ID, at, false, 0, err.Error())
		return 0, err
	}
	return n, y.DB.RecordSourceRun(context.WithoutCancel(ctx), src.TenantID, src.ID, at, true, int64(n), "")
}

func (y *Syncer) run(ctx context.Context, src store.DirectorySource) (int, error) {
	if !src.Enabled {
		return 0, errors.New("source is disabled")
	}
	// A configured, enabled source is the flow's destination: from now on the flow is on
	// (unless the admin switched it off) and the privacy notice names it.
	if y.Flows.Destination(FlowName) == "" {
		if err := y.Flows.SetDestination(FlowName, "configured directory sources"); err != nil {
			return 0, err
		}
	}
	if err := y.Flows.Check(FlowName); err != nil {
		return 0, err
	}
	st, err := ParseSettings(src.Settings)
	if err != nil {
		return 0, err
	}
	book, err := y.DB.Phonebook(ctx, src.TenantID, src.PhonebookID)
	if err != nil {
		return 0, fmt.Errorf("phonebook: %w", err)
	}
	if strings.HasPrefix(src.URL, "https://") {
		return y.runFile(ctx, src, st, book)
	}
	password := ""
	if len(src.Sealed) > 0 {
		k, err := y.Vault.TenantKey(src.TenantID)
		if err != nil {
			return 0, err
		}
		pw, err := keys.Unseal(k, src.Sealed, secretAAD(src.TenantID, src.ID))
		if err != nil {
			return 0, errors.New("the stored bind password cannot be unsealed")
		}
		password = string(pw)
	}
	conn, err := y.connect(ctx, src, st)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if src.BindDN != "" {
		if err := conn.Bind(src.BindDN, password); err != nil {
			return 0, fmt.Errorf("bind: %w", err)
		}
	}
	mapping := DefaultMapping
	if len(st.Mapping) > 0 {
		mapping = st.Mapping
	}
	keyAttr := st.KeyAttribute
	if keyAttr == "" {
		keyAttr = "entryUUID"
	}
	attrs := []string{keyAttr}
	for _, a := range mapping {
		attrs = append(attrs, a)
	}
	attrs = append(attrs, "cn")
	filter := src.Filter
	if filter == "" {
		filter = "(objectClass=person)"
	}
	// Incremental: only entries changed since the last good run carry their attributes;
	// the keys of all entries tell which vanished.
	changedFilter := filter
	if src.LastOKAt != nil {
		since := time.UnixMilli(*src.LastOKAt).Add(-5 * time.Minute).UTC().Format("20060102150405Z")
		changedFilter = "(&" + filter + "(modifyTimestamp>=" + since + "))"
	}
	changed, err := conn.SearchWithPaging(ldap.NewSearchRequest(src.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 60, false, changedFilter, attrs, nil), 500)
	if err != nil {
		return 0, fmt.Errorf("search: %w", err)
	}
	present, err := conn.SearchWithPaging(ldap.NewSearchRequest(src.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 60, false, filter, []string{keyAttr}, nil), 1000)
	if err != nil {
		return 0, fmt.Errorf("search: %w", err)
	}
	key := func(e *ldap.Entry) string {
		if v := e.GetAttributeValue(keyAttr); v != "" {
			return v
		}
		return strings.ToLower(e.DN)
	}
	keep := make(map[string]bool, len(present.Entries))
	for _, e := range present.Entries {
		keep[key(e)] = true
	}
	var cs []store.Contact
	for _, e := range changed.Entries {
		var c store.Contact
		c.Key = key(e)
		for field, attr := range mapping {
			v := e.GetAttributeValue(attr)
			if strings.HasPrefix(field, "tel_") {
				v = convertNumber(v, st.NumberRules)
			}
			setField(&c, field, v)
		}
		if c.DisplayName == "" {
			c.DisplayName = e.GetAttributeValue("cn")
		}
		if CheckContact(&c) != nil {
			continue
		}
		cs = append(cs, c)
	}
	if _, err := y.Dir.Upsert(ctx, book, cs); err != nil {
		return 0, err
	}
	if _, err := y.Dir.RemoveExcept(ctx, book, keep); err != nil {
		return 0, err
	}
	return len(keep), nil
}

func convertNumber(v string, rules []NumberRule) string {
	v = strings.TrimSpace(v)
	for _, r := range rules {
		if r.Match != "" && strings.HasPrefix(v, r.Match) {
			return r.Replace + v[len(r.Match):]
		}
	}
	return v
}

// connect dials the source through the flow registry and secures the connection.
func (y *Syncer) connect(ctx context.Context, src store.DirectorySource, st SourceSettings) (*ldap.Conn, error) {
	u, err := url.Parse(src.URL)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" {
		return nil, fmt.Errorf("%w: url must be ldap://host:port or ldaps://host:port", ErrInvalid)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[string]string{"ldap": "389", "ldaps": "636"}[u.Scheme])
	}
	tc := &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	if st.ServerName != "" {
		tc.ServerName = st.ServerName
	}
	if st.CACert != "" {
		pem, err := os.ReadFile(st.CACert)
		if err != nil {
			return nil, fmt.Errorf("ca_cert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("ca_cert: no certificate in the file")
		}
		tc.RootCAs = pool
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	raw, err := y.Flows.Dial(dctx, FlowName, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	var conn *ldap.Conn
	if u.Scheme == "ldaps" {
		t := tls.Client(raw, tc)
		if err := t.HandshakeContext(dctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("tls: %w", err)
		}
		conn = ldap.NewConn(t, true)
		conn.Start()
	} else {
		conn = ldap.NewConn(raw, false)
		conn.Start()
		if st.StartTLS == nil || *st.StartTLS {
			if err := conn.StartTLS(tc); err != nil {
				conn.Close()
				return nil, fmt.Errorf("starttls: %w", err)
			}
		} else if !st.Insecure {
			conn.Close()
			return nil, errors.New("plain ldap:// without StartTLS needs insecure: true")
		}
	}
	conn.SetTimeout(60 * time.Second)
	return conn, nil
}

// maxSourceFile bounds a vCard or CSV file fetched from a source.
const maxSourceFile = 256 << 20

// runFile replicates a vCard or CSV file served over HTTPS (the server's certificate is
// checked): the whole file replaces the phonebook's entries, by their stable keys.
func (y *Syncer) runFile(ctx context.Context, src store.DirectorySource, st SourceSettings, book store.Phonebook) (int, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: st.ServerName}
	if st.CACert != "" {
		pemData, err := os.ReadFile(st.CACert)
		if err != nil {
			return 0, fmt.Errorf("ca_cert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return 0, errors.New("ca_cert: no certificate in the file")
		}
		tc.RootCAs = pool
	}
	client := &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{DialContext: y.Flows.Dialer(FlowName), TLSClientConfig: tc,
		ForceAttemptHTTP2: true, Proxy: nil}, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Scheme != "https" {
			return errors.New("redirect away from https refused")
		}
		return nil
	}}
	req, err := http.NewRequestWithContext(ctx, "GET", src.URL, nil)
	if err != nil {
		return 0, err
	}
	if src.BindDN != "" && len(src.Sealed) > 0 {
		k, err := y.Vault.TenantKey(src.TenantID)
		if err != nil {
			return 0, err
		}
		pw, err := keys.Unseal(k, src.Sealed, secretAAD(src.TenantID, src.ID))
		if err != nil {
			return 0, errors.New("the stored password cannot be unsealed")
		}
		req.SetBasicAuth(src.BindDN, string(pw))
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("fetch: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("fetch: HTTP %d", res.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, maxSourceFile+1))
	if err != nil {
		return 0, fmt.Errorf("fetch: %w", err)
	}
	if len(data) > maxSourceFile {
		return 0, errors.New("fetch: file larger than 256 MB")
	}
	var cs []store.Contact
	var lines []int
	var rep ImportReport
	ct := res.Header.Get("Content-Type")
	if strings.Contains(ct, "vcard") || strings.HasSuffix(strings.ToLower(req.URL.Path), ".vcf") || bytes.HasPrefix(bytes.TrimSpace(data), []byte("BEGIN:VCARD")) {
		cs, lines, rep, err = ParseVCards(data)
	} else {
		cs, lines, rep, err = ParseCSV(data, st.Mapping)
	}
	if err != nil {
		return 0, err
	}
	for i := range cs {
		for _, p := range cs[i].Numbers.Slots() {
			*p = convertNumber(*p, st.NumberRules)
		}
	}
	// Rows a source gets wrong are skipped; the rest still replicate.
	rep, err = y.Dir.Import(ctx, book, cs, lines, rep, ImportOptions{SkipErrors: true})
	if err != nil {
		return 0, err
	}
	keep := map[string]bool{}
	for i := range cs {
		if cs[i].Key == "" {
			cs[i].Key = deriveKey(&cs[i])
		}
		keep[cs[i].Key] = true
	}
	if _, err := y.Dir.RemoveExcept(ctx, book, keep); err != nil {
		return 0, err
	}
	return rep.Created + rep.Updated, nil
}
