package sip_test

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Asterisk 20 LTS (chan_sip) as the PBX at the other end of a trunk: the prebuilt tree and its
// script asterisk.sh live in shared/peers/asterisk beside the checkout (PRIVOX_ASTERISK_SH
// names the script elsewhere). Its `trunk` peer is Privox's SIP address: calls from Privox land
// in its [trunk-in] context without authentication, and its phones dial 9<number> to send a
// call through the trunk to Privox.

// asteriskIP is Asterisk's own loopback address: Privox recognises a trunk's calls by their
// source address, so Asterisk must not share the phones' 127.0.0.1.
const asteriskIP = "127.0.0.8"

type asteriskPeer struct {
	t      *testing.T
	script string
	dir    string
	port   int
}

// asteriskScript finds asterisk.sh, or skips the test when this machine has none.
func asteriskScript(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PRIVOX_ASTERISK_SH"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("PRIVOX_ASTERISK_SH: %v", err)
		}
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "shared", "peers", "asterisk", "asterisk.sh")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		up := filepath.Dir(dir)
		if up == dir {
			break
		}
		dir = up
	}
	t.Skip("no Asterisk to test against: shared/peers/asterisk/asterisk.sh is not beside the checkout (PRIVOX_ASTERISK_SH names it elsewhere)")
	return ""
}

// freePortsOn returns the first of n consecutive ports, the first even, free for UDP and TCP on
// a loopback address; like freePort's, above the ephemeral range and the media ranges.
func freePortsOn(t *testing.T, ip string, n int) int {
	t.Helper()
	for i := 0; i < 200; i++ {
		base := 61000 + 2*mrand.IntN((4400-n)/2)
		ok := true
		for p := base; p < base+n && ok; p++ {
			addr := net.JoinHostPort(ip, strconv.Itoa(p))
			l, err := net.Listen("tcp", addr)
			if err != nil {
				ok = false
				break
			}
			u, err := net.ListenPacket("udp", addr)
			l.Close()
			if err != nil {
				ok = false
				break
			}
			u.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatalf("no %d free ports on %s", n, ip)
	return 0
}

// startAsterisk starts an Asterisk on asteriskIP with SIP on a free port and RTP in a free
// range of its own, state in a temporary directory; env adds the script's knobs (KEY=value).
// It is stopped when the test ends.
func startAsterisk(t *testing.T, script string, env ...string) *asteriskPeer {
	t.Helper()
	a := &asteriskPeer{t: t, script: script, dir: t.TempDir(), port: freePortsOn(t, asteriskIP, 1)}
	rtp := freePortsOn(t, asteriskIP, 20)
	// The first start on a machine unpacks the tree and installs its libraries with apt.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, "start", a.dir, strconv.Itoa(a.port))
	cmd.Env = append(os.Environ(), append([]string{"SIP_BIND=" + asteriskIP,
		"RTP_START=" + strconv.Itoa(rtp), "RTP_END=" + strconv.Itoa(rtp+19)}, env...)...)
	out, err := cmd.CombinedOutput()
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(a.dir, "log", "messages"))
			t.Logf("asterisk log:\n%s", tail(string(b), 6000))
		}
		if out, err := exec.Command(script, "stop", a.dir).CombinedOutput(); err != nil {
			t.Errorf("asterisk.sh stop: %v\n%s", err, out)
		}
	})
	if err != nil {
		t.Fatalf("asterisk.sh start: %v\n%s", err, out)
	}
	return a
}

// cli runs one Asterisk CLI command.
func (a *asteriskPeer) cli(command string) string {
	a.t.Helper()
	out, err := exec.Command(a.script, "cli", a.dir, command).CombinedOutput()
	if err != nil {
		a.t.Fatalf("asterisk %q: %v\n%s", command, err, out)
	}
	return string(out)
}

// idle waits until Asterisk has no channel left (its recordings are closed by then).
func (a *asteriskPeer) idle() {
	a.t.Helper()
	waitFor(a.t, "Asterisk without channels", func() bool {
		return strings.HasPrefix(a.cli("core show channels count"), "0 active channels")
	})
}

// log returns Asterisk's log so far.
func (a *asteriskPeer) log() string {
	b, _ := os.ReadFile(filepath.Join(a.dir, "log", "messages"))
	return string(b)
}

// TestAsteriskTrunk: Privox and Asterisk are trunked both ways (an ip trunk on Privox whose
// source is Asterisk's address; Asterisk's trunk peer is Privox's SIP address).
// Out: extension 1001 (baresip, sending 880 Hz) dials a national number; the outbound route
// sends it through the trunk in E.164 with the tenant's main number, Asterisk takes it as its
// trunk peer's call, records what it hears and plays its 440 Hz tone: 1001 hears the tone and
// Asterisk heard 1001.
// In: Asterisk's phone 2001 (baresip registered with Asterisk, sending 440 Hz) dials 9 and a
// DID of Privox; Asterisk sends the call through its trunk, Privox recognises the trunk and the
// DID rings extension 1002, a sipp UAS that echoes what it gets: 2001 hears its own tone back
// through both PBXes. Privox's relay carries the media of both calls, and the CDRs name the
// trunk.
func TestAsteriskTrunk(t *testing.T) {
	script := asteriskScript(t)
	need(t, "baresip", "baresip")
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	dir := t.TempDir()
	_, privoxPort, _ := net.SplitHostPort(e.addr("udp"))
	heardAt := filepath.Join(dir, "asterisk-heard.wav")
	ast := startAsterisk(t, script, "TRUNK_HOST=127.0.0.1", "TRUNK_PORT="+privoxPort, "EXTENSIONS_CONF_EXTRA="+fmt.Sprintf(`[trunk-in](+)
exten => +49301234567,1,Verbose(1,PRIVOX-CALL to ${EXTEN} from ${CALLERID(num)} on ${CHANNEL})
 same => n,Answer()
 same => n,MixMonitor(%s,r(%s))
 same => n,Playback(tone)
 same => n,Hangup()
`, filepath.Join(dir, "asterisk-call.wav"), heardAt))
	for _, args := range [][]string{
		{"dial", "settings", "--tenant", "default", "--country", "DE", "--main-number", "030 1234000"},
		{"trunk", "set", "--tenant", "default", "--name", "asterisk", "--kind", "ip", "--server", asteriskIP + ":" + strconv.Itoa(ast.port), "--sources", asteriskIP},
		{"route", "set", "--tenant", "default", "--name", "national", "--pattern", "_0[1-9]X.", "--trunks", "asterisk"},
		{"did", "add", "--tenant", "default", "--number", "030 5550100", "--dest", "extension:1002"},
	} {
		if out, er, code := e.p.CLI(args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, er)
		}
	}
	waitFor(t, "the trunk's address", func() bool { return e.srv().TrunkSourceKnownForTest(asteriskIP) })

	t.Run("out", func(t *testing.T) {
		before := e.p.App.Relay().Stats().PacketsRelayed
		e.baresip(dir, "1001", "secret-1001", 880, []string{"-e", "/dial 0301234567"}, 6).wait(t)
		ast.idle()
		if log := ast.log(); !strings.Contains(log, "PRIVOX-CALL to +49301234567 from +49301234000 on SIP/trunk-") {
			t.Errorf("Asterisk did not take the call for +49301234567 from +49301234000 as its trunk's:\n%s", tail(log, 3000))
		}
		wantTone(t, "1001 hears Asterisk's tone", baresipHeard(t, dir, "1001"), 440, 2)
		wantTone(t, "Asterisk hears 1001", readWAV(t, heardAt), 880, 2)
		if n := e.p.App.Relay().Stats().PacketsRelayed - before; n < 2*50*2 { // anchored: 2 s each way at least
			t.Errorf("relay forwarded only %d packets", n)
		}
	})

	t.Run("in", func(t *testing.T) {
		before := e.p.App.Relay().Stats().PacketsRelayed
		uas := e.newPeer("udp")
		callee := e.sippUAS("1002", "uas.xml", uas, "-rtp_echo")
		e.register("1002", "secret-1002", uas)
		wav := filepath.Join(dir, "2001-tone.wav")
		writeToneWAV(t, wav, 440, 30)
		account := fmt.Sprintf("<sip:2001@%s:%d>;auth_pass=pass2001;regint=600", asteriskIP, ast.port)
		baresipAccount(t, dir, "2001", account, wav, "", []string{"-e", "/dial 90305550100"}, 6).wait(t)
		wantTone(t, "2001 hears its tone echoed by 1002", baresipHeard(t, dir, "2001"), 440, 2)
		callee.wait(t)
		if msgs := callee.messages(); !strings.Contains(msgs, "INVITE sip:1002@") || !strings.Contains(msgs, "sip:2001@") {
			t.Errorf("extension 1002 got:\n%s", tail(msgs, 3000))
		}
		if n := e.p.App.Relay().Stats().PacketsRelayed - before; n < 2*50*2 { // anchored: 2 s each way at least
			t.Errorf("relay forwarded only %d packets", n)
		}
	})

	waitFor(t, "both CDRs", func() bool { c := e.cdrs(t); return len(c) == 2 && !c[0].InProgress && !c[1].InProgress })
	for _, c := range e.cdrs(t) {
		switch c.Direction {
		case "outbound":
			if c.Trunk != "asterisk" || c.Cause != 200 || c.Caller != "1001" || c.Callee != "0301234567" {
				t.Errorf("outbound CDR %+v", c)
			}
		case "inbound":
			if c.Trunk != "asterisk" || c.Cause != 200 || c.Caller != "2001" || c.Callee != "0305550100" {
				t.Errorf("inbound CDR %+v", c)
			}
		default:
			t.Errorf("CDR %+v", c)
		}
	}
	if n := e.srv().ActiveCalls(); n != 0 {
		t.Errorf("%d calls active", n)
	}
}
