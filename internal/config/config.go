// Package config owns Privox's configuration: defaults that start a working system with no file,
// one YAML file format, environment variables (PRIVOX_*) and listener flags on top, and a
// checker that reports every error with its file and line.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration. Field tags give the YAML key; the environment variable
// is PRIVOX_ followed by the upper-cased key path joined by underscores
// (database.dsn → PRIVOX_DATABASE_DSN).
type Config struct {
	DataDir  string        `yaml:"data_dir"`
	Database Database      `yaml:"database"`
	HTTP     HTTP          `yaml:"http"`
	SIP      SIP           `yaml:"sip"`
	LDAP     LDAP          `yaml:"ldap"`
	RTP      RTP           `yaml:"rtp"`
	Log      Log           `yaml:"log"`
	Privacy  Privacy       `yaml:"privacy"`
	Mail     Mail          `yaml:"mail"`
	Prompts  Prompts       `yaml:"prompts"`
	Debug    Debug         `yaml:"debug"`
	Metrics  Metrics       `yaml:"metrics"`
	Shutdown time.Duration `yaml:"shutdown_grace"`
	// NodeName tags the registrations this node stores, which it restores at start. Privox
	// runs as one node per database (SQLite or PostgreSQL): the location service and the
	// nonce key are per process, so several nodes on one database are not supported.
	NodeName string `yaml:"node_name"`
}

// Database selects the store of this one node.
type Database struct {
	// Driver is "sqlite" (embedded, default) or "postgres". PostgreSQL is supported as the
	// store of one Privox node, not as a database shared by several (see NodeName).
	Driver string `yaml:"driver"`
	// DSN is the PostgreSQL connection string; for SQLite the file defaults to DataDir/privox.db.
	DSN string `yaml:"dsn"`
	// Encrypt keeps the embedded database encrypted at rest with the key vault's database key
	// (default true). false exists to measure what encryption costs (bench/); a database that
	// is already encrypted is refused rather than read clear. Only for the sqlite driver.
	Encrypt bool `yaml:"encrypt"`
	// AllowPlaintextLoopback lets the PostgreSQL connection go without verified TLS when every
	// host of the DSN is a loopback address (a server on the same machine); false by default.
	// A Unix socket needs no TLS; any other host needs sslmode=verify-full or verify-ca.
	AllowPlaintextLoopback bool `yaml:"allow_plaintext_loopback"`
}

// HTTP is the web, REST, WebSocket and metrics listener.
type HTTP struct {
	Addr    string `yaml:"addr"`
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// ReadTimeout bounds reading one request, headers and body (slow senders are cut off).
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// MaxConns caps the connections served at once; more wait in the kernel's queue.
	MaxConns int `yaml:"max_conns"`
}

// Metrics says where Prometheus metrics are served.
type Metrics struct {
	// Addr is a listener of its own for /metrics (loopback by default); empty serves none.
	Addr string `yaml:"addr"`
	// Token, when set, also serves /metrics on the HTTP listener to requests that carry
	// "Authorization: Bearer <token>".
	Token string `yaml:"token"`
}

// SIP holds the SIP listeners.
type SIP struct {
	// Addr is the UDP and TCP listener; empty disables SIP.
	Addr string `yaml:"addr"`
	// TLSAddr is the SIP over TLS listener (a certificate is generated when none is given).
	// Without a host (":5061", the default) it listens on the host of Addr, so that SIP bound
	// to 127.0.0.1 is not offered over TLS on every interface; see TLSListenAddr.
	TLSAddr string `yaml:"tls_addr"`
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// PublicAddr is the address written into SDP and Contact headers (defaults to the listener).
	PublicAddr string `yaml:"public_addr"`
	// TrustedSources are the networks (CIDR) whose SIP traffic is not rate-limited: a load
	// balancer in front, a trunk provider's gateways. Bans still apply to them. Default:
	// loopback. In the environment: a comma-separated list.
	TrustedSources []string `yaml:"trusted_sources"`
}

// TLSListenAddr is the address the SIP over TLS listener binds: TLSAddr, with the host of
// Addr when TLSAddr names only a port.
func (s SIP) TLSListenAddr() string {
	host, port, err := net.SplitHostPort(s.TLSAddr)
	if err != nil || host != "" {
		return s.TLSAddr
	}
	if sipHost, _, err := net.SplitHostPort(s.Addr); err == nil && sipHost != "" {
		return net.JoinHostPort(sipHost, port)
	}
	return s.TLSAddr
}

// LDAP holds the directory listeners.
type LDAP struct {
	Addr      string `yaml:"addr"`
	LDAPSAddr string `yaml:"ldaps_addr"`
	// TLSCert and TLSKey serve LDAPS and StartTLS; without them a self-signed certificate is
	// generated into <data_dir>/tls on first start.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// AnonymousTenant lets clients that do not bind read that tenant's company phonebooks
	// ("" keeps anonymous access off).
	AnonymousTenant string `yaml:"anonymous_tenant"`
}

// RTP is the media port range.
type RTP struct {
	Ports string `yaml:"ports"`
}

// Log configures structured logging.
type Log struct {
	Level string `yaml:"level"`
}

// Prompts locates the system prompts, which espeak-ng synthesises at first start.
type Prompts struct {
	// Dir holds the generated prompts; empty means DataDir/prompts. Several installations on
	// one machine may share one directory.
	Dir string `yaml:"dir"`
}

// Debug holds troubleshooting listeners, all off by default.
type Debug struct {
	// PprofAddr serves Go's runtime profiles (net/http/pprof) on a loopback address, e.g.
	// 127.0.0.1:6060; empty (the default) serves none.
	PprofAddr string `yaml:"pprof_addr"`
}

// Privacy holds installation-wide privacy settings.
type Privacy struct {
	// Preset is the retention preset new tenants start with: default, eu or de.
	Preset string `yaml:"preset"`
	// SweepInterval is how often the retention sweeper runs.
	SweepInterval time.Duration `yaml:"sweep_interval"`
}

// Mail is the installation's SMTP relay for voicemail e-mails (the outbound flow
// "smtp_relay"); a tenant may configure its own relay through the API, which then takes its
// place for that tenant. Certificates are always verified.
type Mail struct {
	// Enabled switches the flow on once Host is set (default off).
	Enabled bool   `yaml:"enabled"`
	Host    string `yaml:"host"`
	// Port defaults to 587 for starttls, 465 for tls and 25 for plaintext.
	Port int `yaml:"port"`
	// Mode is starttls (default), tls (implicit TLS) or plaintext, which only
	// PlaintextForLocalTesting allows.
	Mode string `yaml:"mode"`
	// Username and Password log in to the relay (only over TLS). Prefer the environment
	// (PRIVOX_MAIL_PASSWORD) or PasswordFile to a password in the file.
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	// CAFile is a PEM file of the private CA that signed the relay's certificate; the system's
	// roots are used besides it.
	CAFile string `yaml:"ca_file"`
	// From is the sender address of the e-mails.
	From string `yaml:"from"`
	// PlaintextForLocalTesting allows mode plaintext: e-mails, recordings included, cross the
	// network unencrypted. For a relay on the same machine in tests only; the privacy notice
	// says so while it is on.
	PlaintextForLocalTesting bool `yaml:"plaintext_for_local_testing"`
	// Timeout bounds one delivery (connect, TLS, sending).
	Timeout time.Duration `yaml:"timeout"`
	Retry   MailRetry     `yaml:"retry"`
}

// MailRetry is the back-off of a delivery the relay did not take: the n-th retry waits
// First·2^(n-1), at most Max; after Attempts tries the delivery is marked failed.
type MailRetry struct {
	Attempts int           `yaml:"attempts"`
	First    time.Duration `yaml:"first"`
	Max      time.Duration `yaml:"max"`
}

// MailPort is the relay's port, or the mode's default.
func (m Mail) MailPort() int {
	if m.Port != 0 {
		return m.Port
	}
	switch m.Mode {
	case "tls":
		return 465
	case "plaintext":
		return 25
	}
	return 587
}

// Default returns the configuration Privox runs with when nothing is configured.
func Default() Config {
	return Config{
		DataDir:  "./privox-data",
		Database: Database{Driver: "sqlite", Encrypt: true},
		HTTP:     HTTP{Addr: ":8080", ReadTimeout: 30 * time.Second, MaxConns: 1024},
		Metrics:  Metrics{Addr: "127.0.0.1:9464"},
		SIP:      SIP{Addr: ":5060", TLSAddr: ":5061", TrustedSources: []string{"127.0.0.0/8", "::1/128"}},
		LDAP:     LDAP{Addr: ":3890", LDAPSAddr: ":6360"},
		RTP:      RTP{Ports: "10000-20000"},
		Log:      Log{Level: "info"},
		Privacy:  Privacy{Preset: "default", SweepInterval: time.Hour},
		Mail:     Mail{Mode: "starttls", Retry: MailRetry{Attempts: 8, First: time.Minute, Max: time.Hour}},
		Shutdown: 30 * time.Second,
	}
}

// Problem is one configuration error with its position.
type Problem struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (p Problem) Error() string {
	switch {
	case p.File != "" && p.Line > 0:
		return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Key, p.Msg)
	case p.File != "":
		return fmt.Sprintf("%s: %s", p.File, p.Msg)
	default:
		return fmt.Sprintf("%s: %s", p.Key, p.Msg)
	}
}

// Problems is every error found in a configuration.
type Problems []Problem

func (ps Problems) Error() string {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "\n")
}

// Load builds the configuration: defaults, then the file (if path is not empty), then the
// environment. It returns Problems listing every error found.
func Load(path string, environ []string) (Config, error) {
	cfg := Default()
	var probs Problems
	lines := map[string]int{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, Problems{{File: path, Msg: err.Error()}}
		}
		probs = append(probs, decodeFile(path, data, &cfg, lines)...)
	}
	probs = append(probs, applyEnv(&cfg, environ)...)
	for _, p := range Validate(cfg) {
		if l, ok := lines[p.Key]; ok {
			p.File, p.Line = path, l
		} else if path != "" && p.Line == 0 && p.File == "" {
			p.Key = p.Key + " (from defaults or environment)"
		}
		probs = append(probs, p)
	}
	if len(probs) > 0 {
		return cfg, probs
	}
	return cfg, nil
}

// decodeFile decodes YAML into cfg, recording the line of every key and reporting unknown
// keys and type errors with their lines.
func decodeFile(path string, data []byte, cfg *Config, lines map[string]int) Problems {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, errEOF(err)) {
			return nil
		}
		return Problems{syntaxProblem(path, data, err)}
	}
	var probs Problems
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		probs = append(probs, Problem{File: path, Line: next.Line, Key: "(syntax)", Msg: "a second YAML document: the configuration is one document"})
	} else if !errors.Is(err, errEOF(err)) {
		probs = append(probs, syntaxProblem(path, data, err))
	}
	if len(root.Content) == 0 {
		return probs
	}
	walk(path, "", root.Content[0], reflect.ValueOf(cfg).Elem(), lines, &probs)
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
	return probs
}

func errEOF(err error) error {
	if err != nil && err.Error() == "EOF" {
		return err
	}
	return errors.New("not eof")
}

func yamlErrLine(msg string) (int, bool) {
	i := strings.Index(msg, "line ")
	if i < 0 {
		return 0, false
	}
	rest := msg[i+5:]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	n, err := strconv.Atoi(rest[:j])
	return n, err == nil
}

var durationType = reflect.TypeOf(time.Duration(0))

func walk(path, prefix string, node *yaml.Node, v reflect.Value, lines map[string]int, probs *Problems) {
	if node.Kind != yaml.MappingNode {
		*probs = append(*probs, Problem{File: path, Line: node.Line, Key: strings.TrimSuffix(prefix, "."), Msg: "expected a mapping"})
		return
	}
	fields := map[string]reflect.Value{}
	for i := 0; i < v.NumField(); i++ {
		fields[v.Type().Field(i).Tag.Get("yaml")] = v.Field(i)
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, val := node.Content[i], node.Content[i+1]
		key := prefix + k.Value
		if first, dup := lines[key]; dup {
			*probs = append(*probs, Problem{File: path, Line: k.Line, Key: key, Msg: fmt.Sprintf("set twice (first at line %d)", first)})
			continue
		}
		lines[key] = k.Line
		f, ok := fields[k.Value]
		if !ok {
			*probs = append(*probs, Problem{File: path, Line: k.Line, Key: key, Msg: "unknown option"})
			continue
		}
		if f.Kind() == reflect.Struct {
			walk(path, key+".", val, f, lines, probs)
			continue
		}
		if f.Kind() == reflect.Slice && val.Kind == yaml.SequenceNode {
			items := make([]string, 0, len(val.Content))
			for _, it := range val.Content {
				if it.Kind != yaml.ScalarNode {
					*probs = append(*probs, Problem{File: path, Line: it.Line, Key: key, Msg: "expected a list of single values"})
					items = nil
					break
				}
				items = append(items, it.Value)
			}
			if items != nil {
				f.Set(reflect.ValueOf(items))
			}
			continue
		}
		if val.Kind != yaml.ScalarNode {
			*probs = append(*probs, Problem{File: path, Line: val.Line, Key: key, Msg: "expected a single value"})
			continue
		}
		if err := setScalar(f, val.Value); err != nil {
			*probs = append(*probs, Problem{File: path, Line: val.Line, Key: key, Msg: err.Error()})
		}
	}
}

func setScalar(f reflect.Value, s string) error {
	switch {
	case f.Type() == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q (want e.g. 30s, 5m)", s)
		}
		f.SetInt(int64(d))
	case f.Kind() == reflect.String:
		f.SetString(s)
	case f.Kind() == reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("invalid number %q", s)
		}
		f.SetInt(int64(n))
	case f.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("invalid boolean %q", s)
		}
		f.SetBool(b)
	case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
		// a list in one value (environment, flags): comma-separated; empty is the empty list
		items := []string{}
		for _, it := range strings.Split(s, ",") {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
		f.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported option type %s", f.Type())
	}
	return nil
}

// EnvVars lists every environment variable Privox reads, with its key path.
func EnvVars() map[string]string {
	out := map[string]string{}
	var rec func(prefix string, t reflect.Type)
	rec = func(prefix string, t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			key := prefix + f.Tag.Get("yaml")
			if f.Type.Kind() == reflect.Struct && f.Type != durationType {
				rec(key+".", f.Type)
				continue
			}
			out["PRIVOX_"+strings.ToUpper(strings.ReplaceAll(key, ".", "_"))] = key
		}
	}
	rec("", reflect.TypeOf(Config{}))
	return out
}

func applyEnv(cfg *Config, environ []string) Problems {
	vars := EnvVars()
	var probs Problems
	names := make([]string, 0)
	env := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, "PRIVOX_") {
			env[k] = v
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		key, ok := vars[name]
		if !ok {
			continue // PRIVOX_ADMIN_PASSWORD and test variables are read elsewhere
		}
		if err := Set(cfg, key, env[name]); err != nil {
			probs = append(probs, Problem{Key: name, Msg: err.Error()})
		}
	}
	return probs
}

// Set sets one option by its key path (used for environment variables and flags).
func Set(cfg *Config, key, value string) error {
	v := reflect.ValueOf(cfg).Elem()
	for _, part := range strings.Split(key, ".") {
		found := false
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).Tag.Get("yaml") == part {
				v = v.Field(i)
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("unknown option %q", key)
		}
	}
	return setScalar(v, value)
}

// Validate checks a configuration and returns every problem, keyed by option path.
func Validate(c Config) Problems {
	var ps Problems
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(c.DataDir) == "" {
		add("data_dir", "must not be empty")
	}
	switch c.Database.Driver {
	case "sqlite":
	case "postgres":
		if c.Database.DSN == "" {
			add("database.dsn", "required when database.driver is postgres")
		}
	default:
		add("database.driver", "must be sqlite or postgres, not %q", c.Database.Driver)
	}
	checkAddr := func(key, addr string, required bool) {
		if addr == "" {
			if required {
				add(key, "must not be empty")
			}
			return
		}
		if _, port, err := net.SplitHostPort(addr); err != nil {
			add(key, "invalid listen address %q (want host:port or :port)", addr)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			add(key, "invalid port %q", port)
		}
	}
	checkAddr("http.addr", c.HTTP.Addr, true)
	checkAddr("sip.addr", c.SIP.Addr, false)
	checkAddr("sip.tls_addr", c.SIP.TLSAddr, false)
	checkAddr("ldap.addr", c.LDAP.Addr, false)
	checkAddr("ldap.ldaps_addr", c.LDAP.LDAPSAddr, false)
	checkAddr("debug.pprof_addr", c.Debug.PprofAddr, false)
	checkAddr("metrics.addr", c.Metrics.Addr, false)
	if c.Metrics.Token != "" && len(c.Metrics.Token) < 16 {
		add("metrics.token", "must be at least 16 characters")
	}
	if c.HTTP.ReadTimeout <= 0 || c.HTTP.ReadTimeout > 10*time.Minute {
		add("http.read_timeout", "must be more than 0s and at most 10m")
	}
	if c.HTTP.MaxConns < 1 {
		add("http.max_conns", "must be at least 1")
	}
	if c.Debug.PprofAddr != "" {
		if host, _, err := net.SplitHostPort(c.Debug.PprofAddr); err == nil && !loopbackHost(host) {
			add("debug.pprof_addr", "must be a loopback address (127.0.0.1, ::1 or localhost), not %q", host)
		}
	}
	if _, err := ParsePrefixes(c.SIP.TrustedSources); err != nil {
		add("sip.trusted_sources", "%v", err)
	}
	if (c.LDAP.TLSCert == "") != (c.LDAP.TLSKey == "") {
		add("ldap.tls_cert", "tls_cert and tls_key go together")
	}
	if (c.HTTP.TLSCert == "") != (c.HTTP.TLSKey == "") {
		add("http.tls_cert", "tls_cert and tls_key go together")
	}
	if _, _, err := ParsePortRange(c.RTP.Ports); err != nil {
		add("rtp.ports", "%v", err)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "must be debug, info, warn or error, not %q", c.Log.Level)
	}
	switch c.Privacy.Preset {
	case "default", "eu", "de":
	default:
		add("privacy.preset", "must be default, eu or de, not %q", c.Privacy.Preset)
	}
	if c.Privacy.SweepInterval < time.Minute {
		add("privacy.sweep_interval", "must be at least 1m")
	}
	for _, p := range ValidateMail(c.Mail) {
		add(p.Key, "%s", p.Msg)
	}
	if c.Shutdown < 0 || c.Shutdown > 10*time.Minute {
		add("shutdown_grace", "must be between 0s and 10m")
	}
	return ps
}

// ValidateMail checks the SMTP relay settings; keys are option paths under mail.
func ValidateMail(m Mail) Problems {
	var ps Problems
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: "mail." + key, Msg: fmt.Sprintf(format, args...)})
	}
	switch m.Mode {
	case "starttls", "tls":
	case "plaintext":
		if !m.PlaintextForLocalTesting {
			add("mode", "plaintext sends e-mails unencrypted and needs mail.plaintext_for_local_testing: true (for local tests only); use starttls or tls")
		}
	default:
		add("mode", "must be starttls or tls, not %q", m.Mode)
	}
	if m.Enabled && strings.TrimSpace(m.Host) == "" {
		add("host", "required when mail.enabled is true")
	}
	if m.Host != "" && (strings.ContainsAny(m.Host, " /:@") && net.ParseIP(m.Host) == nil) {
		add("host", "must be a host name or address without port, not %q", m.Host)
	}
	if m.Port < 0 || m.Port > 65535 {
		add("port", "must be between 1 and 65535")
	}
	if m.Password != "" && m.PasswordFile != "" {
		add("password", "password and password_file exclude each other")
	}
	if (m.Password != "" || m.PasswordFile != "") && m.Username == "" {
		add("username", "required with a password")
	}
	if m.Username != "" && m.Mode == "plaintext" {
		add("username", "credentials are sent only over TLS: use mode starttls or tls")
	}
	if m.PasswordFile != "" {
		if _, err := os.Stat(m.PasswordFile); err != nil {
			add("password_file", "%v", err)
		}
	}
	if m.CAFile != "" {
		if _, err := os.Stat(m.CAFile); err != nil {
			add("ca_file", "%v", err)
		}
	}
	if m.From != "" && (!strings.Contains(m.From, "@") || strings.ContainsAny(m.From, " <>\r\n")) {
		add("from", "must be a plain address such as voicemail@example.com, not %q", m.From)
	}
	if m.Timeout < 0 || m.Timeout > 10*time.Minute {
		add("timeout", "must be between 0s (default 1m) and 10m")
	}
	if m.Retry.Attempts < 1 || m.Retry.Attempts > 50 {
		add("retry.attempts", "must be between 1 and 50")
	}
	if m.Retry.First < time.Second || m.Retry.First > 24*time.Hour {
		add("retry.first", "must be between 1s and 24h")
	}
	if m.Retry.Max < m.Retry.First || m.Retry.Max > 7*24*time.Hour {
		add("retry.max", "must be at least retry.first and at most 168h")
	}
	return ps
}

// ParsePrefixes parses a list of networks in CIDR notation (192.0.2.0/24, 2001:db8::/32); a
// bare address stands for itself (/32 or /128).
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			if p != p.Masked() {
				return nil, fmt.Errorf("%q has host bits set (did you mean %s?)", s, p.Masked())
			}
			out = append(out, p)
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("invalid network %q (want CIDR such as 192.0.2.0/24 or an address)", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// ParsePortRange parses "10000-20000" into an inclusive range of even-sized width.
func ParsePortRange(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("invalid port range %q (want LOW-HIGH)", s)
	}
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || lo < 1024 || hi > 65535 || hi-lo < 3 {
		return 0, 0, fmt.Errorf("invalid port range %q (want LOW-HIGH within 1024-65535, at least 4 ports)", s)
	}
	return lo, hi, nil
}

// SQLitePath returns the SQLite database file inside the data directory.
func (c Config) SQLitePath() string { return filepath.Join(c.DataDir, "privox.db") }

func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
