package sip_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privox/privox/internal/config"
	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/sip"
)

// env is one Privox for an integration test, with helpers to drive real SIP peers at it.
type env struct {
	t *testing.T
	p *privoxtest.Privox
	// direct is a SIP server a test runs without the app around it (p is nil then).
	direct *sip.Server
}

// start runs a Privox for the test; tune may adjust the SIP policy before any traffic.
func start(t *testing.T, tune func(p *sip.Policy)) *env {
	t.Helper()
	return startWith(t, privoxtest.Options{Configure: func(c *config.Config) {}}, tune)
}

// startWith is start with the instance's options.
func startWith(t *testing.T, opts privoxtest.Options, tune func(p *sip.Policy)) *env {
	t.Helper()
	p := privoxtest.Start(t, opts)
	srv := p.App.SIP()
	if srv == nil {
		t.Fatal("SIP server not running")
	}
	pol := srv.Policy()
	pol.NoAnswer = 20 * time.Second
	if tune != nil {
		tune(&pol)
	}
	srv.SetPolicy(pol)
	return &env{t: t, p: p}
}

func (e *env) srv() *sip.Server {
	if e.direct != nil {
		return e.direct
	}
	return e.p.App.SIP()
}

// ext creates an extension through the CLI, as an administrator would.
func (e *env) ext(number, password string, extra ...string) {
	e.t.Helper()
	args := append([]string{"ext", "add", "--tenant", "default", "--number", number, "--sip-password", password}, extra...)
	out, errOut, code := e.p.CLI(args...)
	if code != 0 {
		e.t.Fatalf("ext add %s: exit %d: %s %s", number, code, out, errOut)
	}
}

// addr returns a SIP listener's address for a transport name (udp, tcp, tls).
func (e *env) addr(transport string) string {
	name := "sip-" + transport
	a := e.srv().Addr(name)
	if a == "" {
		e.t.Fatalf("no %s listener", name)
	}
	return a
}

// need fails the test when a peer binary is missing, naming the Debian package.
func need(t *testing.T, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("%s is not installed: install the Debian package %s (scripts/install-test-deps.sh does)", bin, pkg)
	}
	return p
}

// freePort returns a port free for both UDP and TCP on 127.0.0.1 (and port+2 for UDP), for a
// test peer to bind. The ports are taken above the kernel's ephemeral range (32768-60999),
// where no client socket of any process is given a port between this check and the peer's
// bind, and above the media ranges of privoxtest.RTPRange (below 32768).
func freePort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 200; i++ {
		port := 61000 + mrand.IntN(4400)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		// RTP of a sipp peer uses port and port+2 as well
		ok := true
		for _, q := range []int{port + 2} {
			if uu, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(q))); err != nil {
				ok = false
			} else {
				uu.Close()
			}
		}
		if ok {
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// sippRun is a sipp process.
type sippRun struct {
	name string
	cmd  *exec.Cmd
	out  bytes.Buffer
	dir  string
	done chan error
}

// sipp starts sipp with a scenario from testdata/sipp and the given arguments.
func (e *env) sipp(name, scenario string, args ...string) *sippRun {
	e.t.Helper()
	bin := need(e.t, "sipp", "sip-tester")
	dir := e.t.TempDir()
	abs := scenario // a scenario the test wrote (dtmfScenario), else one of testdata/sipp
	if !filepath.IsAbs(scenario) {
		var err error
		if abs, err = filepath.Abs(filepath.Join("testdata", "sipp", scenario)); err != nil {
			e.t.Fatal(err)
		}
	}
	full := append([]string{"-sf", abs, "-nostdin", "-trace_err", "-error_file", filepath.Join(dir, "errors.log"),
		"-trace_msg", "-message_file", filepath.Join(dir, "messages.log"), "-buff_size", "1048576"}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	r := &sippRun{name: name, cmd: exec.CommandContext(ctx, bin, full...), dir: dir, done: make(chan error, 1)}
	r.cmd.Dir = dir
	r.cmd.Stdout = &r.out
	r.cmd.Stderr = &r.out
	if err := r.cmd.Start(); err != nil {
		cancel()
		e.t.Fatalf("start sipp: %v", err)
	}
	go func() { r.done <- r.cmd.Wait(); cancel() }()
	e.t.Cleanup(func() {
		r.cmd.Process.Kill() // harmless when it has exited
		err := <-r.done
		r.done <- err
	})
	return r
}

// wait waits for sipp to end and fails the test unless every call succeeded.
func (r *sippRun) wait(t *testing.T) {
	t.Helper()
	var err error
	select {
	case err = <-r.done:
		r.done <- err
	case <-time.After(90 * time.Second):
		r.cmd.Process.Kill()
		err = errors.New("timed out")
	}
	if err != nil {
		errs, _ := os.ReadFile(filepath.Join(r.dir, "errors.log"))
		msgs, _ := os.ReadFile(filepath.Join(r.dir, "messages.log"))
		t.Fatalf("sipp %s: %v\n--- errors:\n%s\n--- messages (tail):\n%s", r.name, err, errs, tail(string(msgs), 6000))
	}
}

// end waits for sipp to exit and returns its error (non-zero exit when calls failed).
func (r *sippRun) end() error {
	err := <-r.done
	r.done <- err
	return err
}

// messages returns sipp's message trace so far.
func (r *sippRun) messages() string {
	b, _ := os.ReadFile(filepath.Join(r.dir, "messages.log"))
	return string(b)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// sippTransport maps a transport to sipp's -t option (TLS goes through a tunnel: Debian's
// sipp is built without OpenSSL).
func sippTransport(tr string) string {
	if tr == "udp" {
		return "u1"
	}
	return "t1"
}

// waitListening waits until something listens on a local port (udp or tcp).
func waitListening(t *testing.T, network string, port int) {
	t.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if network == "udp" {
			c, err := net.ListenPacket("udp", addr)
			if err != nil {
				return // taken: the peer is bound
			}
			c.Close()
		} else {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s/%s", addr, network)
}

// tlsClientTunnel accepts plain TCP on a local port and forwards each connection over TLS to
// target: sipp talks TCP to it, Privox sees SIP over TLS.
func tlsClientTunnel(t *testing.T, target string) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return tunnel(t, l, func() (net.Conn, error) {
		return tls.Dial("tcp", target, &tls.Config{InsecureSkipVerify: true})
	})
}

// tlsServerTunnel listens for TLS on a local port and forwards each connection as plain TCP
// to a local sipp: Privox calls the sipp callee over TLS.
func tlsServerTunnel(t *testing.T, targetPort int) int {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{testCertificate(t)}})
	if err != nil {
		t.Fatal(err)
	}
	return tunnel(t, l, func() (net.Conn, error) {
		return net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(targetPort)))
	})
}

// tunnel pipes every connection accepted on l to a connection from dial, until the test ends;
// it returns l's port.
func tunnel(t *testing.T, l net.Listener, dial func() (net.Conn, error)) int {
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	t.Cleanup(func() { l.Close() }) // runs first
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				u, err := dial()
				if err != nil {
					c.Close()
					return
				}
				pipe(c, u)
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

func pipe(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(2)
	cp := func(dst, src net.Conn) {
		defer wg.Done()
		io.Copy(dst, src)
		dst.Close()
		src.Close()
	}
	go cp(a, b)
	go cp(b, a)
	wg.Wait()
}

// peer is a sipp endpoint reachable for a transport: the port sipp binds and the address
// Privox should use (a TLS tunnel's for tls).
type peer struct {
	port        int    // sipp's own port
	contactPort int    // the port in its Contact
	transport   string // udp, tcp, tls
}

func (e *env) newPeer(transport string) peer {
	p := peer{port: freePort(e.t), transport: transport}
	p.contactPort = p.port
	if transport == "tls" {
		p.contactPort = tlsServerTunnel(e.t, p.port)
	}
	return p
}

// target returns the address sipp sends to for a transport (through a tunnel for TLS).
func (e *env) target(transport string) string {
	if transport == "tls" {
		return fmt.Sprintf("127.0.0.1:%d", tlsClientTunnel(e.t, e.addr("tls")))
	}
	return e.addr(transport)
}

// register registers number's contact at a peer's port through sipp.
func (e *env) register(number, password string, p peer) {
	e.t.Helper()
	r := e.sipp("register "+number, "register.xml", e.target(p.transport), "-t", sippTransport(p.transport),
		"-s", number, "-au", number, "-ap", password, "-key", "contact_port", strconv.Itoa(p.contactPort),
		"-key", "contact_transport", p.transport, "-i", "127.0.0.1", "-p", strconv.Itoa(freePort(e.t)), "-m", "1", "-timeout", "15")
	r.wait(e.t)
}

// waitFor polls cond until it holds or the test times out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var (
	certOnce sync.Once
	cert     tls.Certificate
	certErr  error
)

// testCertificate is a throw-away self-signed certificate for the TLS tunnels.
func testCertificate(t *testing.T) tls.Certificate {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			certErr = err
			return
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sipp tunnel"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			certErr = err
			return
		}
		cert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	})
	if certErr != nil {
		t.Fatal(certErr)
	}
	return cert
}

var _ = strings.TrimSpace

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

// listenBoth binds TCP and UDP on a loopback port and returns a function that releases them.
func listenBoth(port int) (func(), error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		l.Close()
		return nil, err
	}
	return func() { l.Close(); u.Close() }, nil
}
