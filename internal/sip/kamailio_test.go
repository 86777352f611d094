package sip_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// kamailioProvider is a provider's SIP edge played by Kamailio from Debian: a registrar with
// digest authentication (in-memory usrloc) for the customer's trunk account, a proxy that
// asks the customer's INVITEs for credentials and sends them on to the provider's network
// (a sipp UAS), and the way in for the provider's callers (a sipp UAC at uacPort): their
// INVITEs go to the contact the trunk registered. Every dialog is record-routed.
// kamailioIP is the provider's own loopback address: Privox recognises a trunk's calls by
// their source address, so the provider must not share the phones' 127.0.0.1.
const kamailioIP = "127.0.0.4"

type kamailioProvider struct {
	port int
	log  string
}

func startKamailio(t *testing.T, uacPort, uasPort int, realm, account, password string) *kamailioProvider {
	t.Helper()
	bin := need(t, "kamailio", "kamailio")
	dir := t.TempDir()
	k := &kamailioProvider{port: freePort(t), log: filepath.Join(dir, "kamailio.log")}
	cfg := fmt.Sprintf(`#!KAMAILIO
debug=2
log_stderror=yes
children=2
auto_aliases=no
dns=no
rev_dns=no
listen=udp:%[7]s:%[1]d

loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"

modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", 20)
modparam("auth", "secret", "privox-test-nonce-secret")

request_route {
    if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
    if (has_totag()) {
        if (loose_route()) { t_relay(); exit; }
        if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
        xlog("L_INFO", "in-dialog $rm $ru from $si:$sp not routable\n");
        sl_send_reply("404", "Not here");
        exit;
    }
    if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
    if (is_method("REGISTER")) {
        if (!pv_www_authenticate("%[4]s", "%[6]s", "0")) { www_challenge("%[4]s", "0"); exit; }
        if ($au != "%[5]s") { sl_send_reply("403", "Wrong account"); exit; }
        consume_credentials();
        if (!save("location")) { sl_reply_error(); }
        exit;
    }
    if (!is_method("INVITE")) { sl_send_reply("405", "Method Not Allowed"); exit; }
    xlog("L_INFO", "new $rm $ru from $si:$sp\n");
    record_route();
    if ($sp == %[2]d) {
        $ru = "sip:%[5]s@%[4]s";
        if (!lookup("location")) { sl_send_reply("480", "Customer not registered"); exit; }
        t_relay();
        exit;
    }
    if (!pv_proxy_authenticate("%[4]s", "%[6]s", "0")) { proxy_challenge("%[4]s", "0"); exit; }
    consume_credentials();
    $du = "sip:127.0.0.1:%[3]d";
    t_relay();
    exit;
}
`, k.port, uacPort, uasPort, realm, account, password, kamailioIP)
	path := filepath.Join(dir, "kamailio.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("kamailio refuses its configuration: %v\n%s", err, out)
	}
	logf, err := os.Create(k.log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-DD", "-E", "-f", path, "-m", "64", "-M", "8", "-Y", dir, "-w", dir, "-P", filepath.Join(dir, "kamailio.pid"))
	cmd.Stdout, cmd.Stderr = logf, logf
	// Kamailio forks its workers: it runs in a process group of its own, and stopping it
	// stops the group (a SIGKILL to the main process alone would leave the workers running).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever did not stop by itself
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(k.log)
			t.Logf("kamailio log:\n%s", tail(string(b), 4000))
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile(k.log); strings.Contains(string(b), "SO_RCVBUF is finally") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("kamailio did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	return k
}

// TestTrunkKamailio: Privox registers a trunk with Kamailio as the provider's registrar
// (digest authentication), and re-registers before the granted time runs out; an outside call in
// national format leaves through Kamailio in E.164 with the caller's DID, answers Kamailio's
// proxy challenge, and is connected to the sipp UAS behind it; a provider's caller reaches a
// DID through Kamailio, which sends the call to the contact Privox registered, and the DID
// (read from the To header) rings extension 1002. The CDRs name the trunk and the direction.
func TestTrunkKamailio(t *testing.T) {
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	phone := e.newPeer("udp")
	callee := e.sippUAS("phone 1002", "uas.xml", phone)
	e.register("1002", "secret-1002", phone)
	network := e.newPeer("udp")
	far := e.sippUAS("provider network", "uas.xml", network)
	uacPort := freePort(t)
	k := startKamailio(t, uacPort, network.port, "provider.test", "acme-trunk", "trunk-secret-1")
	for _, args := range [][]string{
		{"dial", "settings", "--tenant", "default", "--country", "DE", "--main-number", "030 1234000"},
		{"trunk", "set", "--tenant", "default", "--name", "provider", "--kind", "register", "--server", kamailioIP + ":" + strconv.Itoa(k.port),
			"--username", "acme-trunk", "--password", "trunk-secret-1", "--expires", "60", "--did-from", "to"},
		{"route", "set", "--tenant", "default", "--name", "national", "--pattern", "_0[1-9]X.", "--trunks", "provider"},
		{"did", "add", "--tenant", "default", "--number", "030 1234500", "--last", "030 1234599", "--dest", "extension:1002"},
		{"did", "add", "--tenant", "default", "--number", "030 1234001", "--dest", "extension:1001"},
	} {
		if out, er, code := e.p.CLI(args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, er)
		}
	}
	registered := func() (string, int64) {
		for _, s := range e.srv().TrunkStates(1) {
			if s.Trunk == "provider" {
				return s.State, s.ExpiresAt
			}
		}
		return "", 0
	}
	waitFor(t, "the trunk registered at Kamailio", func() bool { s, _ := registered(); return s == "registered" })

	// Out: 1001 dials a national number.
	e.sippUAC("caller", "uac.xml", "udp", "-s", "0891234567", "-d", "300").wait(t)
	far.wait(t)
	inv := far.messages()
	if !strings.Contains(inv, "INVITE sip:+49891234567@") {
		t.Errorf("the provider's network got no INVITE for +49891234567:\n%s", tail(inv, 3000))
	}
	if !strings.Contains(inv, "+49301234001") {
		t.Errorf("the caller's DID is not presented:\n%s", tail(inv, 3000))
	}
	if strings.Contains(inv, "trunk-secret-1") {
		t.Error("the trunk password crossed the wire")
	}
	// Kamailio relays an INVITE only once it carries the answer to its challenge (and takes
	// the credentials off): two INVITEs reached it, the second went on.
	if b, _ := os.ReadFile(k.log); strings.Count(string(b), "new INVITE sip:+49891234567@") != 2 {
		t.Errorf("Kamailio saw the outside call's INVITE %d times, want 2 (challenged, answered)", strings.Count(string(b), "new INVITE sip:+49891234567@"))
	}

	// In: a caller on the provider's network dials a DID of the range.
	r := e.sipp("provider caller", "trunk_uac.xml", kamailioIP+":"+strconv.Itoa(k.port), "-t", "u1", "-i", "127.0.0.1", "-p", strconv.Itoa(uacPort),
		"-mp", strconv.Itoa(freePort(t)), "-s", "+49301234567", "-key", "did_to", "+49301234567", "-key", "caller", "+4940555000", "-m", "1", "-timeout", "40", "-d", "300")
	r.wait(t)
	callee.wait(t)
	if msgs := callee.messages(); !strings.Contains(msgs, "INVITE sip:1002@") || !strings.Contains(msgs, "+4940555000") {
		t.Errorf("extension 1002 got:\n%s", tail(msgs, 3000))
	}
	waitFor(t, "both CDRs", func() bool { return len(e.cdrs(t)) == 2 })
	for _, c := range e.cdrs(t) {
		switch c.Direction {
		case "outbound":
			if c.Trunk != "provider" || c.Cause != 200 || c.Caller != "1001" {
				t.Errorf("outbound CDR %+v", c)
			}
		case "inbound":
			if c.Trunk != "provider" || c.Cause != 200 || c.Caller != "+4940555000" || c.Callee != "+49301234567" {
				t.Errorf("inbound CDR %+v", c)
			}
		default:
			t.Errorf("CDR %+v", c)
		}
	}

	// The binding (Kamailio grants 20 s of the 60 asked for) is refreshed before it expires.
	_, before := registered()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, n := registered()
		if n > before && s == "registered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no re-registration within 30 s: %q, binding until %d (was %d)", s, n, before)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestBaresipTrunkCall: a baresip phone registered as 1001 dials a German number in national
// format; the outbound route sends it through the trunk registered at Kamailio, in E.164 with
// 1001's own DID as the caller, Privox answers Kamailio's challenge, and the provider's network
// behind Kamailio (a sipp UAS) answers and sends back every RTP packet it receives. 1001 sends
// a 440 Hz tone and hears it back: its audio reached the UAS and the UAS's reached 1001, both
// through Privox's relay. The hang-up goes through Kamailio, as the dialog's route set says.
func TestBaresipTrunkCall(t *testing.T) {
	need(t, "baresip", "baresip")
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	network := e.newPeer("udp")
	far := e.sippUAS("provider network", "uas.xml", network, "-rtp_echo")
	k := startKamailio(t, freePort(t), network.port, "provider.test", "acme-trunk", "trunk-secret-1")
	for _, args := range [][]string{
		{"dial", "settings", "--tenant", "default", "--country", "DE", "--main-number", "030 1234000"},
		{"trunk", "set", "--tenant", "default", "--name", "provider", "--kind", "register", "--server", kamailioIP + ":" + strconv.Itoa(k.port),
			"--username", "acme-trunk", "--password", "trunk-secret-1", "--expires", "60"},
		{"route", "set", "--tenant", "default", "--name", "national", "--pattern", "_0[1-9]X.", "--trunks", "provider"},
		{"did", "add", "--tenant", "default", "--number", "030 1234001", "--dest", "extension:1001"},
	} {
		if out, er, code := e.p.CLI(args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, er)
		}
	}
	waitFor(t, "the trunk registered at Kamailio", func() bool {
		for _, s := range e.srv().TrunkStates(1) {
			if s.Trunk == "provider" && s.State == "registered" {
				return true
			}
		}
		return false
	})
	dir := t.TempDir()
	before := e.p.App.Relay().Stats().PacketsRelayed
	e.baresip(dir, "1001", "secret-1001", 440, []string{"-e", "/dial 0301234567"}, 6).wait(t)
	wantTone(t, "1001 hears its tone back from the provider's network", baresipHeard(t, dir, "1001"), 440, 2)
	if n := e.p.App.Relay().Stats().PacketsRelayed - before; n < 2*50*2 { // anchored: 2 s each way at least
		t.Errorf("relay forwarded only %d packets", n)
	}
	far.wait(t)
	var invite, bye string
	for _, m := range strings.Split(far.messages(), "UDP message received") {
		if i := strings.Index(m, "INVITE sip:"); i >= 0 && i < 200 {
			invite = m
		}
		if i := strings.Index(m, "BYE sip:"); i >= 0 && i < 200 {
			bye = m
		}
	}
	if !strings.Contains(invite, "INVITE sip:+49301234567@") || !strings.Contains(invite, "From: <sip:+49301234001@") {
		t.Errorf("INVITE at the provider's network, want +49301234567 from +49301234001:\n%s", tail(far.messages(), 3000))
	}
	if !strings.Contains(bye, "Via: SIP/2.0/UDP "+kamailioIP+":"+strconv.Itoa(k.port)) {
		t.Errorf("BYE at the provider's network did not come through Kamailio:\n%s", bye)
	}
	waitFor(t, "the CDR", func() bool { c := e.cdrs(t); return len(c) == 1 && !c[0].InProgress })
	if c := e.cdrs(t)[0]; c.Direction != "outbound" || c.Trunk != "provider" || c.Cause != 200 || c.Caller != "1001" || c.DurationMS < 2000 {
		t.Errorf("CDR %+v", c)
	}
}
