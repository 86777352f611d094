package web_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
)

// sipp runs sipp with a scenario of the SIP core's (internal/sip/testdata/sipp) and returns
// a function that waits for it to end.
func sipp(t *testing.T, scenario string, args ...string) func() error {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatal("sipp is not installed: scripts/install-test-deps.sh installs the Debian package sip-tester")
	}
	sf, err := filepath.Abs(filepath.Join("..", "sip", "testdata", "sipp", scenario))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, bin, append([]string{"-sf", sf, "-nostdin", "-trace_msg", "-message_file", filepath.Join(dir, "messages.log")}, args...)...)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); cancel() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		err := <-done
		done <- err
	})
	return func() error {
		err := <-done
		done <- err
		if err != nil {
			msgs, _ := os.ReadFile(filepath.Join(dir, "messages.log"))
			return fmt.Errorf("sipp %s: %v\n%s", scenario, err, msgs)
		}
		return nil
	}
}

// freeUDPPort is a loopback UDP port free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// TestBrowserRegistrationsActiveCalls: two phones register through sipp and one calls the
// other; the admin's "registrations and calls" page lists both contacts and the ringing
// call, and a user's "my devices" shows the phones of that user's extensions only.
func TestBrowserRegistrationsActiveCalls(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	ctx := chrome(t, t.TempDir())
	def := defaultTenant(t, p)
	tb := fmt.Sprintf("/api/v1/tenants/%d", def.ID)
	tp := func(path string) string { return fmt.Sprintf("%s/t/%d%s", p.URL, def.ID, path) }
	var uma store.User
	p.MustDo(201, "POST", tb+"/users", p.AdminToken, map[string]string{"name": "Uma", "email": "uma@example.test", "password": "uma-long-password"}, &uma)
	p.MustDo(201, "POST", tb+"/extensions", p.AdminToken, map[string]any{"number": "401", "sip_password": "ext-secret-401", "user_id": uma.ID}, nil)
	p.MustDo(201, "POST", tb+"/extensions", p.AdminToken, map[string]any{"number": "402", "sip_password": "ext-secret-402"}, nil)
	target := p.Addr("sip-udp")
	ports := map[string]int{}
	for _, n := range []string{"401", "402"} {
		ports[n] = freeUDPPort(t)
		wait := sipp(t, "register.xml", target, "-t", "u1", "-s", n, "-au", n, "-ap", "ext-secret-"+n, "-key", "contact_port", strconv.Itoa(ports[n]),
			"-key", "contact_transport", "udp", "-i", "127.0.0.1", "-p", strconv.Itoa(freeUDPPort(t)), "-m", "1", "-timeout", "15")
		if err := wait(); err != nil {
			t.Fatal(err)
		}
	}
	// 402 calls 401, whose registered contact never answers: the call rings.
	sipp(t, "uac_noanswer.xml", target, "-t", "u1", "-s", "401", "-au", "402", "-ap", "ext-secret-402", "-auth_uri", "401@"+target,
		"-key", "caller", "402", "-i", "127.0.0.1", "-p", strconv.Itoa(ports["402"]), "-mp", strconv.Itoa(freeUDPPort(t)), "-m", "1", "-timeout", "50")
	deadline := time.Now().Add(15 * time.Second)
	for {
		var l struct{ Items []map[string]any }
		p.MustDo(200, "GET", tb+"/active-calls", p.AdminToken, nil, &l)
		if len(l.Items) == 1 && l.Items[0]["state"] == "ringing" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("active calls: %+v", l.Items)
		}
		time.Sleep(50 * time.Millisecond)
	}

	signIn(t, ctx, p.URL, "default", "admin@localhost", privoxtest.AdminPassword)
	var calls, regs string
	run(t, ctx, "live page",
		chromedp.Click(chromedp.CSS(`nav a[href$="/live"]`)),
		chromedp.WaitVisible(chromedp.ID("#calls")),
		into(chromedp.Text(chromedp.CSS("#calls tbody")), &calls),
		into(chromedp.Text(chromedp.CSS("#registrations tbody")), &regs),
	)
	if !strings.Contains(calls, "402") || !strings.Contains(calls, "401") || !strings.Contains(calls, "ringing") {
		t.Fatalf("active calls table: %q", calls)
	}
	for _, want := range []string{"401", "402", fmt.Sprintf("127.0.0.1:%d", ports["401"]), "privox-test", "UDP"} {
		if !strings.Contains(regs, want) {
			t.Fatalf("registrations table lacks %q: %q", want, regs)
		}
	}
	shot(t, ctx, "live-en")

	// Uma sees her phone, not 402's.
	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS(".top button")), chromedp.WaitVisible(chromedp.ID("#signin")))
	signIn(t, ctx, p.URL, "default", "uma@example.test", "uma-long-password")
	run(t, ctx, "my devices",
		chromedp.Click(chromedp.CSS(`nav a[href$="/me/devices"]`)),
		chromedp.WaitVisible(chromedp.ID("#registrations")),
		into(chromedp.Text(chromedp.CSS("#registrations tbody")), &regs),
	)
	if !strings.Contains(regs, "401") || !strings.Contains(regs, "privox-test") || strings.Contains(regs, "402") {
		t.Fatalf("my devices: %q", regs)
	}
	shot(t, ctx, "my-devices-en")
	var body string
	run(t, ctx, "user on live", chromedp.Navigate(tp("/live")), into(chromedp.Text(chromedp.CSS("main")), &body))
	if !strings.Contains(body, "may not") || strings.Contains(body, "402") {
		t.Errorf("a user on /live sees:\n%s", body)
	}
}
