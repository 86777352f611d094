package app_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/privox/privox/internal/privoxtest"
)

// buildPrivox builds the privox binary into a temporary directory.
func buildPrivox(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "privox")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/privox")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeUDPTCPPort returns a port free for UDP and TCP on 127.0.0.1, with port+2 free for UDP
// (sipp's RTP).
func freeUDPTCPPort(t *testing.T) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ok := true
		for _, p := range []int{port, port + 2} {
			u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				ok = false
				break
			}
			u.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// sippProc is a sipp process with its message trace.
type sippProc struct {
	cmd  *exec.Cmd
	dir  string
	out  syncBuf
	done chan error
}

// startSipp runs sipp with one of the SIP core's scenarios (internal/sip/testdata/sipp).
func startSipp(t *testing.T, scenario string, args ...string) *sippProc {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatal("sipp is not installed: install the Debian package sip-tester (scripts/install-test-deps.sh does)")
	}
	sf, err := filepath.Abs(filepath.Join("..", "sip", "testdata", "sipp", scenario))
	if err != nil {
		t.Fatal(err)
	}
	p := &sippProc{dir: t.TempDir(), done: make(chan error, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	p.cmd = exec.CommandContext(ctx, bin, append([]string{"-sf", sf, "-nostdin", "-trace_msg", "-message_file", filepath.Join(p.dir, "messages.log")}, args...)...)
	p.cmd.Dir = p.dir
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait(); cancel() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		err := <-p.done
		p.done <- err
	})
	return p
}

func (p *sippProc) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			msgs, _ := os.ReadFile(filepath.Join(p.dir, "messages.log"))
			t.Fatalf("sipp %s: %v\n%s\n--- messages:\n%s", what, err, p.out.String(), msgs)
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("sipp %s did not finish", what)
	}
}

func (p *sippProc) messages() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "messages.log"))
	return string(b)
}

// metric reads one value from a Prometheus text page.
func metric(url, name string) (float64, bool) {
	res, err := http.Get(url + "/metrics")
	if err != nil {
		return 0, false
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` ([0-9.e+]+)$`).FindSubmatch(b)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	return v, err == nil
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCtrlCDrainsThenStopsOnSecond runs the privox binary with a call in progress between two
// sipp phones on loopback. The first SIGINT says that Privox is draining and for how long, and
// Privox keeps running (the call may finish within shutdown_grace, 10 minutes here); the
// second SIGINT stops it at once and the call is hung up (the caller gets a BYE). The callee
// is offered media on a loopback address, as SIP listens on localhost.
func TestCtrlCDrainsThenStopsOnSecond(t *testing.T) {
	bin := buildPrivox(t)
	data := filepath.Join(t.TempDir(), "data")
	env := []string{"PRIVOX_DATA_DIR=" + data}
	for _, args := range [][]string{
		{"tenant", "add", "default"},
		{"ext", "add", "--tenant", "default", "--number", "1001", "--sip-password", "secret-1001"},
		{"ext", "add", "--tenant", "default", "--number", "1002", "--sip-password", "secret-1002"},
	} {
		if _, er, code := run(env, args...); code != 0 {
			t.Fatalf("privox %s: %s", strings.Join(args, " "), er)
		}
	}
	sipPort := freeUDPTCPPort(t)
	metricsURL := "http://127.0.0.1:" + strconv.Itoa(freeUDPTCPPort(t))
	srv := exec.Command(bin, "serve", "--data", data, "--http-addr", "127.0.0.1:0", "--sip-addr", "localhost:"+strconv.Itoa(sipPort),
		"--sip-tls-addr", "127.0.0.1:0", "--ldap-addr", "")
	srv.Env = append(os.Environ(), "PRIVOX_SHUTDOWN_GRACE=10m", "PRIVOX_METRICS_ADDR="+strings.TrimPrefix(metricsURL, "http://"), "PRIVOX_LDAP_ADDR=127.0.0.1:0", "PRIVOX_LDAP_LDAPS_ADDR=127.0.0.1:0", "PRIVOX_PROMPTS_DIR="+privoxtest.PromptDir(), "PRIVOX_RTP_PORTS="+privoxtest.RTPRange(40))
	var out, errOut syncBuf
	srv.Stdout, srv.Stderr = &out, &errOut
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	t.Cleanup(func() {
		srv.Process.Kill()
		<-exited
	})
	var url string
	waitUntil(t, "privox serve to start", func() bool {
		if _, rest, ok := strings.Cut(out.String(), "Privox is running: "); ok {
			url, _, _ = strings.Cut(rest, " ")
		}
		return url != ""
	})
	target := "127.0.0.1:" + strconv.Itoa(sipPort)
	uasPort := freeUDPTCPPort(t)
	callee := startSipp(t, "uas.xml", "-t", "u1", "-i", "127.0.0.1", "-p", strconv.Itoa(uasPort), "-mp", strconv.Itoa(freeUDPTCPPort(t)),
		"-key", "contact_port", strconv.Itoa(uasPort), "-key", "contact_transport", "udp", "-m", "1", "-timeout", "80")
	startSipp(t, "register.xml", target, "-t", "u1", "-s", "1002", "-au", "1002", "-ap", "secret-1002", "-key", "contact_port", strconv.Itoa(uasPort),
		"-key", "contact_transport", "udp", "-i", "127.0.0.1", "-p", strconv.Itoa(freeUDPTCPPort(t)), "-m", "1", "-timeout", "15").wait(t, "register")
	caller := startSipp(t, "uac_wait_bye.xml", target, "-t", "u1", "-s", "1002", "-au", "1001", "-ap", "secret-1001", "-auth_uri", "1002@"+target, "-key", "caller", "1001",
		"-key", "session_expires", "1800", "-i", "127.0.0.1", "-p", strconv.Itoa(freeUDPTCPPort(t)), "-mp", strconv.Itoa(freeUDPTCPPort(t)), "-m", "1", "-timeout", "80")
	waitUntil(t, "the call to be answered", func() bool { v, _ := metric(metricsURL, "privox_sip_active_calls"); return v == 1 })
	if m := regexp.MustCompile(`c=IN IP4 ([0-9.]+)`).FindStringSubmatch(callee.messages()); m == nil || !net.ParseIP(m[1]).IsLoopback() {
		t.Errorf("callee offered media at %v, want a loopback address (SIP is on localhost)", m)
	}
	if m := regexp.MustCompile(`(?m)^Contact: <sip:[^>]*?@?([0-9.]+):[0-9]+`).FindStringSubmatch(callee.messages()); m == nil || !net.ParseIP(m[1]).IsLoopback() {
		t.Errorf("callee got a Contact at %v, want a loopback address (SIP is on localhost)", m)
	}

	srv.Process.Signal(syscall.SIGINT)
	waitUntil(t, "the draining message", func() bool { return strings.Contains(out.String(), "Draining") })
	if !strings.Contains(out.String(), "up to 10m0s") || !strings.Contains(out.String(), "Ctrl-C again") {
		t.Fatalf("draining message does not say how long or how to stop now:\n%s", out.String())
	}
	// Still running and draining: not ready, the call still up.
	waitUntil(t, "readiness to turn false", func() bool {
		res, err := http.Get(url + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusServiceUnavailable
	})
	if v, _ := metric(metricsURL, "privox_sip_active_calls"); v != 1 {
		t.Fatalf("active calls while draining: %v, want 1", v)
	}
	select {
	case err := <-exited:
		t.Fatalf("privox exited on the first SIGINT with a call up: %v\n%s", err, out.String())
	default:
	}

	srv.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("privox after the second SIGINT: %v\n%s\n%s", err, out.String(), errOut.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("privox did not stop on the second SIGINT:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "Stopping now") || !strings.Contains(out.String(), "Privox stopped.") {
		t.Fatalf("no stop message:\n%s", out.String())
	}
	caller.wait(t, "caller (hung up by privox)")
}
