package app_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/privox/privox/internal/app"
	"github.com/privox/privox/internal/privoxtest"
)

// served is a privox serve running in-process.
type served struct {
	out, err syncBuf
	sig      chan os.Signal
	done     chan int
	url      string
}

// serve runs privox serve with args on a fresh data directory and waits until it is running;
// it is stopped with SIGTERM when the test ends.
func serve(t *testing.T, env []string, args ...string) *served {
	t.Helper()
	s := &served{sig: make(chan os.Signal, 2), done: make(chan int, 1)}
	args = append([]string{"serve", "--data", filepath.Join(t.TempDir(), "d"), "--http-addr", "127.0.0.1:0", "--ldap-addr", ""}, args...)
	env = append([]string{"PRIVOX_METRICS_ADDR=127.0.0.1:0", "PRIVOX_LDAP_ADDR=127.0.0.1:0", "PRIVOX_LDAP_LDAPS_ADDR=127.0.0.1:0", "PRIVOX_PROMPTS_DIR=" + privoxtest.PromptDir(), "PRIVOX_RTP_PORTS=" + privoxtest.RTPRange(40)}, env...)
	go func() {
		s.done <- app.Main(app.Env{Args: args, Environ: env, Stdout: &s.out, Stderr: &s.err, Signals: s.sig})
	}()
	deadline := time.Now().Add(60 * time.Second)
	for s.url == "" {
		if _, rest, ok := strings.Cut(s.out.String(), "Privox is running: "); ok {
			s.url, _, _ = strings.Cut(rest, " ")
			break
		}
		select {
		case code := <-s.done:
			t.Fatalf("serve exited %d: %s %s", code, s.out.String(), s.err.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %s %s", s.out.String(), s.err.String())
		}
	}
	t.Cleanup(func() {
		select {
		case s.sig <- syscall.SIGTERM:
		default:
		}
		select {
		case <-s.done:
		case <-time.After(60 * time.Second):
			t.Error("serve did not stop")
		}
	})
	return s
}

// freeTCPPort returns a TCP port that is free on every interface.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lanIP returns a non-loopback IPv4 address of this machine, or "" when it has none.
func lanIP() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}

// TestSIPTLSAddrFlag: --sip-tls-addr sets the SIP over TLS listener, and a TLS address without
// a host listens on the host given with --sip-addr (loopback here), not on every interface.
func TestSIPTLSAddrFlag(t *testing.T) {
	port := freeTCPPort(t)
	serve(t, nil, "--sip-addr", "127.0.0.1:0", "--sip-tls-addr", ":"+strconv.Itoa(port))
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 10*time.Second)
	if err != nil {
		t.Fatalf("SIP over TLS is not listening on the port given with --sip-tls-addr: %v", err)
	}
	c.Close()
	if ip := lanIP(); ip != "" {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, strconv.Itoa(port)), 5*time.Second); err == nil {
			c.Close()
			t.Fatalf("SIP over TLS listens on %s although --sip-addr is loopback", ip)
		}
	} else {
		t.Log("no non-loopback address: only the loopback side is checked")
	}
}
