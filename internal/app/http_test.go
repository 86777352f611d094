package app_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/privox/privox/internal/config"
	"github.com/privox/privox/internal/privoxtest"
)

// TestSlowBodyCutOff: a client that sends the headers of a login and then trickles (here:
// withholds) the body is cut off after http.read_timeout instead of holding the connection.
func TestSlowBodyCutOff(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{Configure: func(c *config.Config) { c.HTTP.ReadTimeout = 300 * time.Millisecond }})
	c, err := net.Dial("tcp", p.App.HTTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /api/v1/login HTTP/1.1\r\nHost: privox\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"tenant\":")
	// Generous: the server's time-out is 300 ms; only a connection it never cuts runs into this.
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after 30s with the body withheld (read %q)", got)
	}
	if len(got) > 0 && !strings.HasPrefix(string(got), "HTTP/1.1 408") {
		t.Errorf("answer to the withheld body: %.80q", got)
	}
}

// TestConnectionCap: beyond http.max_conns the server takes no further connection until one
// of those it serves ends.
func TestConnectionCap(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{Configure: func(c *config.Config) { c.HTTP.MaxConns = 2 }})
	var holders []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", p.App.HTTPAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// An answered request proves the server took the connection; kept alive, it stays taken.
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: privox\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
			t.Fatalf("holder %d: %q %v", i, line, err)
		}
		holders = append(holders, c)
	}
	third, err := net.Dial("tcp", p.App.HTTPAddr) // the kernel completes the handshake
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	fmt.Fprintf(third, "GET /healthz HTTP/1.1\r\nHost: privox\r\n\r\n")
	third.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if b, err := bufio.NewReader(third).ReadString('\n'); err == nil {
		t.Fatalf("a third connection was served beyond max_conns 2: %q", b)
	}
	holders[0].Close()
	third.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReader(third).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("after a holder left: %q %v", line, err)
	}
}

var routeParam = regexp.MustCompile(`\{[a-z_]+\}`)

func checkSecurityHeaders(t *testing.T, what string, h http.Header, https bool) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	}
	if https {
		want["Strict-Transport-Security"] = "max-age=63072000"
	}
	if !strings.Contains(what, " /api/") {
		// Outside the API the web console answers (with its own, still strict, policy:
		// scripts and styles only from Privox itself, no inline code, no framing).
		csp := h.Get("Content-Security-Policy")
		if csp == "" || strings.Contains(csp, "unsafe") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			!(strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "default-src 'self'")) {
			t.Errorf("%s: Content-Security-Policy %q is not strict", what, csp)
		}
		delete(want, "Content-Security-Policy")
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s %q, want %q", what, k, got, v)
		}
	}
	if !https && h.Get("Strict-Transport-Security") != "" {
		t.Errorf("%s: HSTS over plain HTTP", what)
	}
}

// TestSecurityHeadersEveryRoute calls every declared API route (authenticated and not), the
// health endpoints and paths and methods nothing serves, over HTTP and HTTPS, and requires
// the security headers on every answer, errors included.
func TestSecurityHeadersEveryRoute(t *testing.T) {
	certFile, keyFile := writeTestCert(t)
	for _, https := range []bool{false, true} {
		t.Run(fmt.Sprintf("https=%v", https), func(t *testing.T) {
			p := privoxtest.Start(t, privoxtest.Options{Configure: func(c *config.Config) {
				if https {
					c.HTTP.TLSCert, c.HTTP.TLSKey = certFile, keyFile
				}
			}})
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
			base := "http://" + p.App.HTTPAddr
			if https {
				base = "https://" + p.App.HTTPAddr
			}
			type call struct{ method, path string }
			calls := []call{{"GET", "/healthz"}, {"GET", "/readyz"}, {"GET", "/metrics"}, {"GET", "/"}, {"GET", "/nothing-here"},
				{"GET", "/api/v1/nothing-here"}, {"DELETE", "/healthz"}, {"GET", "/sip"}}
			for _, rt := range p.App.API.Routes() {
				calls = append(calls, call{rt.Method, routeParam.ReplaceAllString(rt.Path, "1")})
			}
			for _, c := range calls {
				for _, tok := range []string{"", p.AdminToken} {
					req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader("{}"))
					if tok != "" {
						req.Header.Set("Authorization", "Bearer "+tok)
					}
					res, err := client.Do(req)
					if err != nil {
						t.Fatalf("%s %s: %v", c.method, c.path, err)
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					checkSecurityHeaders(t, fmt.Sprintf("%s %s (%d)", c.method, c.path, res.StatusCode), res.Header, https)
				}
			}
			res, err := client.Get("http://" + p.Addr("metrics") + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			checkSecurityHeaders(t, "metrics listener", res.Header, false)
		})
	}
}

// TestMetricsListener: /metrics is served on metrics.addr only; on the HTTP listener it needs
// metrics.token when one is set, and does not exist otherwise.
func TestMetricsListener(t *testing.T) {
	get := func(url, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	p := privoxtest.Start(t, privoxtest.Options{})
	if st, _ := get(p.URL+"/metrics", ""); st != 404 {
		t.Errorf("/metrics on the HTTP listener by default: %d", st)
	}
	if st, body := get("http://"+p.Addr("metrics")+"/metrics", ""); st != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics on the metrics listener: %d %.100s", st, body)
	}
	if d := config.Default().Metrics.Addr; !strings.HasPrefix(d, "127.0.0.1:") {
		t.Errorf("default metrics.addr %q is not loopback", d)
	}

	const token = "metrics-token-0123456789"
	q := privoxtest.Start(t, privoxtest.Options{Configure: func(c *config.Config) { c.Metrics.Addr = ""; c.Metrics.Token = token }})
	if q.Addr("metrics") != "" {
		t.Error("a metrics listener although metrics.addr is empty")
	}
	for _, tok := range []string{"", "wrong-token-0123456789xx", q.AdminToken} {
		if st, _ := get(q.URL+"/metrics", tok); st != 401 {
			t.Errorf("/metrics with token %q: %d", tok, st)
		}
	}
	if st, body := get(q.URL+"/metrics", token); st != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics with the metrics token: %d %.100s", st, body)
	}
}

// writeTestCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeTestCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "privox-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}
