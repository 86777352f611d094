// Package ldapserver owns the LDAP server desk phones read the directory through: LDAP with
// StartTLS and LDAPS (RFC 4511, 4513), simple binds with per-tenant or per-phonebook
// accounts, searches answered from the directory's in-memory index with our own filter
// evaluation, size and time limits, attribute selection, the paged-results control (RFC 2696)
// and a root DSE. The server is read-only.
//
// The protocol layer is our own rather than github.com/jimlambrt/gldap: gldap sets read and
// write deadlines once per connection at accept (a phone that stays connected is cut off, a
// client that stops reading is not), starts a goroutine per request without a bound, and does
// not report the address it bound. Here each connection handles its requests in order with a
// deadline per read and per write, and messages are bounded in size, so memory per
// connection is bounded whatever a client sends or fails to read.
package ldapserver

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/privox/privox/internal/credential"
	"github.com/privox/privox/internal/directory"
	"github.com/privox/privox/internal/store"
)

// Suffix is the root under which every tenant's directory lives: o=<tenant>,dc=privox.
const Suffix = "dc=privox"

// Config are the listeners and limits of the server.
type Config struct {
	Addr      string // LDAP with StartTLS ("" disables)
	LDAPSAddr string // LDAP over TLS ("" disables)
	// TLS serves LDAPS and StartTLS (nil: LDAPS is refused and StartTLS unavailable).
	TLS *tls.Config
	// AnonymousTenant, when set, lets unauthenticated clients read that tenant's company
	// phonebooks. Off by default.
	AnonymousTenant string
	// MaxConns bounds concurrent connections (default 4096).
	MaxConns int
	// SizeLimit caps entries per search (default 1000); TimeLimit the time per search
	// (default 10 s); IdleTimeout closes quiet connections (default 10 min); WriteTimeout
	// closes connections that stop reading (default 30 s).
	SizeLimit    int
	TimeLimit    time.Duration
	IdleTimeout  time.Duration
	WriteTimeout time.Duration
	// MaxMessage bounds one request in octets (default 64 KiB).
	MaxMessage int
}

// Deps are the services the server reads.
type Deps struct {
	DB        *store.DB
	Directory *directory.Service
	Logger    *slog.Logger
	Metrics   prometheus.Registerer
}

// Server is the LDAP server.
type Server struct {
	cfg     Config
	db      *store.DB
	dir     *directory.Service
	log     *slog.Logger
	lns     []net.Listener
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	addrs   map[string]string
	nconn   atomic.Int64
	closing atomic.Bool

	// binds remembers verified passwords (by digest) so that phones that bind before every
	// search do not pay argon2id each time; the stored hash is still read on every bind.
	bindMu sync.Mutex
	binds  map[[32]byte]string
	fails  *failures

	ops *prometheus.CounterVec
}

// New builds a server; Start binds its listeners.
func New(cfg Config, d Deps) *Server {
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 4096
	}
	if cfg.SizeLimit <= 0 {
		cfg.SizeLimit = 1000
	}
	if cfg.TimeLimit <= 0 {
		cfg.TimeLimit = 10 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 10 * time.Minute
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = 64 << 10
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, db: d.DB, dir: d.Directory, log: d.Logger, conns: map[net.Conn]struct{}{}, addrs: map[string]string{},
		binds: map[[32]byte]string{}, fails: &failures{m: map[string]*failEntry{}},
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "privox_ldap_operations_total", Help: "LDAP operations by kind and result code."}, []string{"op", "result"})}
	if d.Metrics != nil {
		d.Metrics.MustRegister(s.ops)
	}
	return s
}

// Start binds the listeners and serves them.
func (s *Server) Start(ctx context.Context) error {
	listen := func(name, addr string, tlsCfg *tls.Config) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("ldap: listen %s: %w", addr, err)
		}
		s.addrs[name] = ln.Addr().String()
		s.lns = append(s.lns, ln)
		s.wg.Add(1)
		go s.accept(ln, tlsCfg)
		return nil
	}
	if s.cfg.Addr != "" {
		if err := listen("ldap", s.cfg.Addr, nil); err != nil {
			return err
		}
	}
	if s.cfg.LDAPSAddr != "" {
		if s.cfg.TLS == nil {
			s.Stop()
			return errors.New("ldap: LDAPS listener without a TLS certificate")
		}
		if err := listen("ldaps", s.cfg.LDAPSAddr, s.cfg.TLS); err != nil {
			s.Stop()
			return err
		}
	}
	return nil
}

// Addr returns a bound address ("ldap" or "ldaps").
func (s *Server) Addr(name string) string { return s.addrs[name] }

// Drain stops accepting connections; open ones finish their current request.
func (s *Server) Drain(ctx context.Context) error {
	s.closing.Store(true)
	for _, ln := range s.lns {
		ln.Close()
	}
	return nil
}

// Stop closes every listener and connection and waits for them.
func (s *Server) Stop() error {
	s.closing.Store(true)
	for _, ln := range s.lns {
		ln.Close()
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *Server) accept(ln net.Listener, tlsCfg *tls.Config) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return
		}
		if s.closing.Load() || s.nconn.Load() >= int64(s.cfg.MaxConns) {
			c.Close()
			continue
		}
		if tlsCfg != nil {
			c = tls.Server(c, tlsCfg)
		}
		s.nconn.Add(1)
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				s.nconn.Add(-1)
				c.Close()
			}()
			s.serve(c, tlsCfg != nil)
		}()
	}
}

// LDAP result codes (RFC 4511 appendix A).
const (
	resSuccess           = 0
	resOperationsError   = 1
	resProtocolError     = 2
	resTimeLimit         = 3
	resSizeLimit         = 4
	resAuthMethod        = 7
	resUnavailableCrit   = 12
	resConfidentiality   = 13
	resNoSuchObject      = 32
	resInappropriateAuth = 48
	resInvalidCreds      = 49
	resInsufficientAcc   = 50
	resBusy              = 51
	resUnwilling         = 53
)

const (
	oidStartTLS     = "1.3.6.1.4.1.1466.20037"
	oidNoticeDiscon = "1.3.6.1.4.1.1466.20036"
	oidPaged        = "1.2.840.113556.1.4.319"
)

// session is one connection's state.
type session struct {
	s      *Server
	conn   net.Conn
	r      *bufio.Reader
	out    encoder
	tls    bool
	bound  bool
	tenant store.Tenant
	viewer directory.Viewer
	ip     string
}

func (s *Server) serve(c net.Conn, isTLS bool) {
	ss := &session{s: s, conn: c, r: bufio.NewReaderSize(c, 4096), tls: isTLS}
	ss.ip, _, _ = net.SplitHostPort(c.RemoteAddr().String())
	if isTLS {
		c.SetDeadline(time.Now().Add(s.cfg.WriteTimeout))
		if err := c.(*tls.Conn).Handshake(); err != nil {
			return
		}
		c.SetDeadline(time.Time{})
	}
	if s.cfg.AnonymousTenant != "" {
		ss.anonymous()
	}
	var buf []byte
	for !s.closing.Load() {
		c.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		msg, err := readMessage(ss.r, buf, s.cfg.MaxMessage)
		if err != nil {
			if errors.Is(err, errTooLarge) || errors.Is(err, errBER) {
				ss.disconnect(resProtocolError, err.Error())
			}
			return
		}
		buf = msg[:0]
		if !ss.handle(msg) {
			return
		}
	}
	ss.disconnect(resUnavailable, "server stopping")
}

const resUnavailable = 52

// disconnect sends the notice of disconnection (RFC 4511 §4.4.1).
func (ss *session) disconnect(code int, msg string) {
	ss.out.b = ss.out.b[:0]
	m := ss.out.begin(0x30)
	ss.out.int(0x02, 0)
	r := ss.out.begin(0x78)
	ss.result(code, "", msg)
	ss.out.str(0x8a, oidNoticeDiscon)
	ss.out.end(r)
	ss.out.end(m)
	ss.flush()
}

func (ss *session) flush() bool {
	if len(ss.out.b) == 0 {
		return true
	}
	ss.conn.SetWriteDeadline(time.Now().Add(ss.s.cfg.WriteTimeout))
	_, err := ss.conn.Write(ss.out.b)
	ss.out.b = ss.out.b[:0]
	return err == nil
}

func (ss *session) result(code int, matched, msg string) {
	ss.out.int(0x0a, int64(code))
	ss.out.str(0x04, matched)
	ss.out.str(0x04, msg)
}

// respond writes a response of the given application tag carrying only an LDAPResult.
func (ss *session) respond(id int64, tag byte, code int, msg string) bool {
	m := ss.out.begin(0x30)
	ss.out.int(0x02, id)
	r := ss.out.begin(tag)
	ss.result(code, "", msg)
	ss.out.end(r)
	ss.out.end(m)
	ss.s.ops.WithLabelValues(opName(tag), strconv.Itoa(code)).Inc()
	return ss.flush()
}

func opName(tag byte) string {
	switch tag {
	case 0x61:
		return "bind"
	case 0x65:
		return "search"
	case 0x78:
		return "extended"
	}
	return "other"
}

type control struct {
	oid      string
	critical bool
	value    []byte
}

// handle serves one message; false closes the connection.
func (ss *session) handle(msg []byte) bool {
	idEl, rest, err := next(msg)
	if err != nil || idEl.tag != 0x02 {
		ss.disconnect(resProtocolError, "malformed message")
		return false
	}
	id, err := integer(idEl.val)
	if err != nil || id < 0 {
		ss.disconnect(resProtocolError, "malformed message id")
		return false
	}
	op, rest, err := next(rest)
	if err != nil {
		ss.disconnect(resProtocolError, "malformed operation")
		return false
	}
	var ctrls []control
	if len(rest) > 0 {
		cs, _, err := next(rest)
		if err != nil || cs.tag != 0xa0 {
			ss.disconnect(resProtocolError, "malformed controls")
			return false
		}
		if ctrls, err = decodeControls(cs.val); err != nil {
			ss.disconnect(resProtocolError, "malformed controls")
			return false
		}
	}
	switch op.tag {
	case 0x60:
		return ss.bind(id, op.val)
	case 0x42: // unbind
		return false
	case 0x63:
		return ss.search(id, op.val, ctrls)
	case 0x77:
		return ss.extended(id, op.val)
	case 0x50: // abandon: requests are answered in order, nothing left to abandon
		return true
	case 0x66, 0x68, 0x6c, 0x6e:
		return ss.respond(id, op.tag+1, resUnwilling, "the directory is read-only over LDAP")
	case 0x4a:
		return ss.respond(id, 0x6b, resUnwilling, "the directory is read-only over LDAP")
	default:
		ss.disconnect(resProtocolError, "unknown operation")
		return false
	}
}

func decodeControls(b []byte) ([]control, error) {
	var out []control
	for len(b) > 0 {
		c, rest, err := next(b)
		if err != nil || c.tag != 0x30 {
			return nil, errBER
		}
		oid, r2, err := next(c.val)
		if err != nil || oid.tag != 0x04 {
			return nil, errBER
		}
		ctl := control{oid: string(oid.val)}
		for len(r2) > 0 {
			e, r3, err := next(r2)
			if err != nil {
				return nil, err
			}
			switch e.tag {
			case 0x01:
				ctl.critical = len(e.val) == 1 && e.val[0] != 0
			case 0x04:
				ctl.value = e.val
			default:
				return nil, errBER
			}
			r2 = r3
		}
		out = append(out, ctl)
		b = rest
	}
	return out, nil
}

// extended serves StartTLS; other extended operations are not supported.
func (ss *session) extended(id int64, b []byte) bool {
	name, _, err := next(b)
	if err != nil || name.tag != 0x80 {
		ss.disconnect(resProtocolError, "malformed extended request")
		return false
	}
	reply := func(code int, msg string) bool {
		m := ss.out.begin(0x30)
		ss.out.int(0x02, id)
		r := ss.out.begin(0x78)
		ss.result(code, "", msg)
		if code == resSuccess {
			ss.out.str(0x8a, oidStartTLS)
		}
		ss.out.end(r)
		ss.out.end(m)
		ss.s.ops.WithLabelValues("extended", strconv.Itoa(code)).Inc()
		return ss.flush()
	}
	if string(name.val) != oidStartTLS {
		return reply(resProtocolError, "unsupported extended operation")
	}
	if ss.tls || ss.s.cfg.TLS == nil {
		return reply(resOperationsError, "TLS is not available on this connection")
	}
	if ss.r.Buffered() > 0 {
		ss.disconnect(resProtocolError, "data after StartTLS")
		return false
	}
	if !reply(resSuccess, "") {
		return false
	}
	tc := tls.Server(ss.conn, ss.s.cfg.TLS)
	tc.SetDeadline(time.Now().Add(ss.s.cfg.WriteTimeout))
	if err := tc.Handshake(); err != nil {
		return false
	}
	tc.SetDeadline(time.Time{})
	ss.s.mu.Lock()
	delete(ss.s.conns, ss.conn)
	ss.s.conns[tc] = struct{}{}
	ss.s.mu.Unlock()
	ss.conn, ss.tls = tc, true
	ss.r = bufio.NewReaderSize(tc, 4096)
	return true
}

// tenantBase returns the base DN of a tenant.
func tenantBase(name string) string { return "o=" + name + "," + Suffix }

// normDN lower-cases a DN and drops spaces around separators for comparison.
func normDN(dn string) string {
	parts := strings.Split(dn, ",")
	for i, p := range parts {
		if k, v, ok := strings.Cut(p, "="); ok {
			parts[i] = strings.ToLower(strings.TrimSpace(k)) + "=" + strings.ToLower(strings.TrimSpace(v))
		} else {
			parts[i] = strings.ToLower(strings.TrimSpace(p))
		}
	}
	return strings.Join(parts, ",")
}

// parseBindName accepts cn=<account>,o=<tenant>,dc=privox and <account>@<tenant>.
func parseBindName(dn string) (account, tenant string, ok bool) {
	if a, t, found := strings.Cut(dn, "@"); found && !strings.Contains(dn, "=") {
		return a, t, a != "" && t != ""
	}
	parts := strings.Split(dn, ",")
	if len(parts) != 3 || normDN(parts[2]) != Suffix {
		return "", "", false
	}
	k1, v1, ok1 := strings.Cut(parts[0], "=")
	k2, v2, ok2 := strings.Cut(parts[1], "=")
	if !ok1 || !ok2 || !strings.EqualFold(strings.TrimSpace(k1), "cn") || !strings.EqualFold(strings.TrimSpace(k2), "o") {
		return "", "", false
	}
	return strings.TrimSpace(v1), strings.TrimSpace(v2), true
}

func (ss *session) anonymous() {
	ss.bound = false
	ss.tenant = store.Tenant{}
	if name := ss.s.cfg.AnonymousTenant; name != "" {
		if t, err := ss.s.db.TenantByName(context.Background(), name); err == nil {
			ss.tenant = t
			ss.viewer = directory.CompanyOnly
		}
	}
}

func (ss *session) bind(id int64, b []byte) bool {
	ver, rest, err := next(b)
	if err != nil || ver.tag != 0x02 {
		ss.disconnect(resProtocolError, "malformed bind")
		return false
	}
	name, rest, err := next(rest)
	if err != nil || name.tag != 0x04 {
		ss.disconnect(resProtocolError, "malformed bind")
		return false
	}
	auth, _, err := next(rest)
	if err != nil {
		ss.disconnect(resProtocolError, "malformed bind")
		return false
	}
	if v, _ := integer(ver.val); v != 3 {
		return ss.respond(id, 0x61, resProtocolError, "only LDAPv3 is supported")
	}
	if auth.tag != 0x80 {
		return ss.respond(id, 0x61, resAuthMethod, "only simple bind is supported")
	}
	dn, pw := string(name.val), auth.val
	if len(dn) == 0 && len(pw) == 0 {
		ss.anonymous()
		if ss.s.cfg.AnonymousTenant == "" {
			return ss.respond(id, 0x61, resInappropriateAuth, "anonymous bind is disabled")
		}
		return ss.respond(id, 0x61, resSuccess, "")
	}
	if len(pw) == 0 {
		// An unauthenticated bind (a name without password) must not pass as a real one.
		ss.anonymous()
		return ss.respond(id, 0x61, resUnwilling, "unauthenticated bind is not allowed")
	}
	if !ss.s.fails.allow(ss.ip) {
		return ss.respond(id, 0x61, resBusy, "too many failed binds; try later")
	}
	ss.anonymous()
	acct, tenant, ok := parseBindName(dn)
	if !ok {
		ss.s.fails.add(ss.ip)
		return ss.respond(id, 0x61, resInvalidCreds, "")
	}
	ctx := context.Background()
	t, err := ss.s.db.TenantByName(ctx, tenant)
	if err != nil || t.TerminatedAt != nil {
		ss.s.fails.add(ss.ip)
		return ss.respond(id, 0x61, resInvalidCreds, "")
	}
	a, err := ss.s.db.LDAPAccountByName(ctx, t.ID, acct)
	if err != nil || !ss.s.verify(t.ID, acct, a.Hash, pw) {
		ss.s.fails.add(ss.ip)
		return ss.respond(id, 0x61, resInvalidCreds, "")
	}
	ss.bound, ss.tenant = true, t
	ss.viewer = directory.CompanyOnly
	if a.PhonebookID != nil {
		ss.viewer = directory.Viewer{Books: map[int64]bool{*a.PhonebookID: true}}
	}
	return ss.respond(id, 0x61, resSuccess, "")
}

// verify checks a password against an account's argon2id hash, remembering success.
func (s *Server) verify(tenantID int64, name, hash string, pw []byte) bool {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%s\x00", tenantID, name)
	h.Write(pw)
	var k [32]byte
	copy(k[:], h.Sum(nil))
	s.bindMu.Lock()
	known, ok := s.binds[k]
	s.bindMu.Unlock()
	if ok && known == hash {
		return true
	}
	if credential.VerifyPassword(hash, string(pw)) != nil {
		return false
	}
	s.bindMu.Lock()
	if len(s.binds) > 10000 {
		clear(s.binds)
	}
	s.binds[k] = hash
	s.bindMu.Unlock()
	return true
}

// failures throttles failed binds per source address.
type failures struct {
	mu sync.Mutex
	m  map[string]*failEntry
}

type failEntry struct {
	n     int
	since time.Time
}

const (
	maxFailures   = 10
	failureWindow = time.Minute
)

func (f *failures) allow(ip string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.m[ip]
	if e == nil || time.Since(e.since) > failureWindow {
		delete(f.m, ip)
		return true
	}
	return e.n < maxFailures
}

func (f *failures) add(ip string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.m) > 100000 {
		clear(f.m)
	}
	e := f.m[ip]
	if e == nil || time.Since(e.since) > failureWindow {
		e = &failEntry{since: time.Now()}
		f.m[ip] = e
	}
	e.n++
}
