package sip_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// baresipCtl sends commands to a baresip's ctrl_tcp module (netstring-framed JSON).
type baresipCtl struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialBaresipCtl(t *testing.T, port int) *baresipCtl {
	t.Helper()
	waitListening(t, "tcp", port)
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &baresipCtl{t: t, conn: c, r: bufio.NewReader(c)}
}

func (b *baresipCtl) command(cmd string) {
	b.t.Helper()
	msg, _ := json.Marshal(map[string]string{"command": cmd, "params": "", "token": cmd})
	if _, err := fmt.Fprintf(b.conn, "%d:%s,", len(msg), msg); err != nil {
		b.t.Fatalf("baresip %s: %v", cmd, err)
	}
}

// mohPower is the power of the default music on hold's notes in samples.
func mohPower(s []float64) float64 {
	p := 0.0
	for _, f := range []float64{392, 494, 587} {
		p += goertzel(s, f)
	}
	return p
}

// TestMusicOnHold: 1001 (baresip) calls 1002 (baresip, sending 880 Hz), which puts the call on
// hold (re-INVITE a=sendonly). The held caller hears the music on hold, not 1002's tone (the
// relay no longer passes it). In a second call 1002 resumes, and 1001 hears 1002 again.
// baresip's recorder starts a new file when a re-INVITE changes the stream, so each call's
// recording shows the phase the call ends in.
func TestMusicOnHold(t *testing.T) {
	need(t, "baresip", "baresip")
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	dir := t.TempDir()
	ctlPort := freePort(t)
	wav := filepath.Join(dir, "880.wav")
	writeToneWAV(t, wav, 880, 30)
	callee := e.baresipWAV(dir, "1002", "secret-1002", wav, "",
		fmt.Sprintf("module ctrl_tcp.so\nctrl_tcp_listen 127.0.0.1:%d\n", ctlPort), nil, 30)
	waitFor(t, "1002 registered", func() bool { return e.srv().Registered() == 1 })
	ctl := dialBaresipCtl(t, ctlPort)
	answered := func() {
		waitFor(t, "call answered", func() bool {
			return e.srv().ActiveCalls() == 1 && e.p.App.Relay().Stats().PacketsRelayed > 100
		})
		time.Sleep(time.Second)
	}

	// 1: held until the caller hangs up
	heldDir := filepath.Join(dir, "held")
	os.MkdirAll(heldDir, 0o755)
	caller := e.baresipPlayer(heldDir, 7)
	answered()
	ctl.command("hold")
	caller.wait(t)
	heard := heardWAV(t, heldDir, "1001")
	heard = window(heard, float64(len(heard))/8000-2.5, float64(len(heard))/8000-0.3) // the call ends on hold
	if moh, tone := mohPower(heard), goertzel(heard, 880); len(heard) < 8000 || moh < 1e12 || moh < 10*tone {
		t.Errorf("on hold the caller heard music %.3g against the callee's tone %.3g (%.1fs)", moh, tone, float64(len(heard))/8000)
	}
	waitFor(t, "first call over", func() bool { return e.srv().ActiveCalls() == 0 })

	// 2: held, then resumed
	resumeDir := filepath.Join(dir, "resumed")
	os.MkdirAll(resumeDir, 0o755)
	caller = e.baresipPlayer(resumeDir, 10)
	answered()
	ctl.command("hold")
	time.Sleep(2 * time.Second)
	ctl.command("resume")
	caller.wait(t)
	heard = heardWAV(t, resumeDir, "1001")
	heard = window(heard, float64(len(heard))/8000-2.5, float64(len(heard))/8000-0.3) // the call ends resumed
	if tone, moh := goertzel(heard, 880), mohPower(heard); len(heard) < 8000 || tone < 1e12 || tone < 10*moh {
		t.Errorf("after the resume the caller heard 880 Hz %.3g against music %.3g (%.1fs)", tone, moh, float64(len(heard))/8000)
	}
	callee.cmd.Process.Kill()
	waitFor(t, "no calls", func() bool { return e.srv().ActiveCalls() == 0 })
}

// baresipPlayer starts 1001 calling 1002 with its audio player writing to dir/played.wav
// (baresip's aufile player, which starts the file again when a re-INVITE restarts the player:
// the file holds what the phone played since the last change).
func (e *env) baresipPlayer(dir string, quit int) *baresipRun {
	wav := filepath.Join(dir, "440.wav")
	writeToneWAV(e.t, wav, 440, 30)
	return e.baresipWAV(dir, "1001", "secret-1001", wav, "", "", []string{"-e", "/dial 1002"}, quit)
}

// TestHoldStorm: the caller sends 40 re-INVITEs back to back, hold and resume in turn. Each
// gets its answer (recvonly to a hold, sendrecv to a resume) from Privox, the callee sees none
// of them (its sipp scenario fails on an unexpected INVITE), the music on hold starts and
// stops each time, and when the call ends nothing is left playing and every port is back.
func TestHoldStorm(t *testing.T) {
	const pairs = 20 // sipp refuses much longer scenarios
	e := start(t, nil)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002")
	base, err := os.ReadFile(filepath.Join("testdata", "sipp", "uac.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var storm strings.Builder
	var refs []string
	seq := 3
	for i := 0; i < pairs; i++ {
		for _, dir := range [][2]string{{"sendonly", "recvonly"}, {"sendrecv", "sendrecv"}} {
			fmt.Fprintf(&storm, `  <send retrans="500">
    <![CDATA[

      INVITE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      [routes]
      From: "Caller" <sip:[caller]@[remote_ip]>;tag=[pid]C[call_number]
      To: <sip:[service]@[remote_ip]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: %[1]d INVITE
      Contact: <sip:[caller]@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 1 %[1]d IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=%[2]s

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="200">
    <action>
      <ereg regexp="a=%[3]s" search_in="body" check_it="true" assign_to="d%[1]d"/>
    </action>
  </recv>
  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      [routes]
      From: "Caller" <sip:[caller]@[remote_ip]>;tag=[pid]C[call_number]
      To: <sip:[service]@[remote_ip]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: %[1]d ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
`, seq, dir[0], dir[1])
			refs = append(refs, fmt.Sprintf("d%d", seq))
			seq++
		}
	}
	scenario := strings.Replace(string(base), "  <pause/>\n", storm.String(), 1)
	scenario = strings.Replace(scenario, "CSeq: 3 BYE", fmt.Sprintf("CSeq: %d BYE", seq), 1)
	scenario = strings.Replace(scenario, `<Reference variables="all,mport"/>`, `<Reference variables="all,mport,`+strings.Join(refs, ",")+`"/>`, 1)
	dir := t.TempDir()
	path := filepath.Join(dir, "uac_hold_storm.xml")
	if err := os.WriteFile(path, []byte(scenario), 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(filepath.Join("testdata", "sipp"))
	rel, err := filepath.Rel(abs, path)
	if err != nil {
		t.Fatal(err)
	}
	uas := e.newPeer("udp")
	callee := e.sippUAS("callee", "uas.xml", uas)
	e.register("1002", "secret-1002", uas)
	e.sippUAC("caller", rel, "udp").wait(t)
	callee.wait(t)
	waitFor(t, "the call to end", func() bool { return e.srv().ActiveCalls() == 0 })
	waitFor(t, "nothing playing", func() bool { return e.p.App.Apps().Pacer().Stats().Streams == 0 })
	waitFor(t, "ports back", func() bool { return e.p.App.Relay().Stats().PortsInUse == 0 })
}
