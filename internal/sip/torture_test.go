package sip_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	gosip "github.com/emiago/sipgo/sip"

	"github.com/privox/privox/internal/sip"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

// RFC 4475 (SIP torture test messages), section by section. valid: must be processed (a
// request gets an answer other than 400/505; a response to nothing is dropped). invalid:
// must be rejected (400/505) or dropped, never processed. liberal: RFC 4475 allows either.
// A status: the semantic test expects exactly that answer.
var torture = []struct {
	name   string
	expect string
}{
	{"wsinv", "valid"}, {"intmeth", "valid"}, {"esc01", "valid"}, {"escnull", "valid"}, {"esc02", "valid"},
	{"lwsdisp", "valid"}, {"longreq", "valid"}, {"dblreq", "valid"}, {"semiuri", "valid"}, {"transports", "valid"},
	{"mpart01", "valid"}, {"unreason", "valid"}, {"noreason", "valid"},
	{"badinv01", "invalid"}, {"clerr", "invalid"}, {"ncl", "invalid"}, {"scalar02", "invalid"}, {"scalarlg", "invalid"},
	{"quotbal", "invalid"}, {"ltgtruri", "invalid"}, {"lwsruri", "invalid"}, {"lwsstart", "liberal"}, {"trws", "liberal"},
	{"escruri", "liberal"}, {"baddate", "liberal"}, {"regbadct", "liberal"}, {"badaspec", "liberal"}, {"baddn", "invalid"},
	{"badvers", "505"}, {"mismatch01", "400"}, {"mismatch02", "400"}, {"bigcode", "invalid"},
	{"badbranch", "200"},
	{"insuf", "invalid"}, {"unkscm", "416"}, {"novelsc", "416"}, {"unksm2", "400"}, {"bext01", "420"}, {"invut", "415"},
	{"regaut01", "401"}, {"multi01", "invalid"}, {"mcl01", "invalid"}, {"bcast", "none"}, {"zeromf", "200"},
	{"cparam01", "401"}, {"cparam02", "401"}, {"regescrt", "401"}, {"sdp01", "406"}, {"inv2543", "407"},
	{"test", "invalid"},
}

// TestTorture sends every RFC 4475 message to Privox over UDP and checks the answer against
// the RFC's expectation and against testdata/torture/expect.golden (go test -update rewrites
// it). It sends from a free port. Answers go to the source address and the top Via's port,
// or the source port when the Via names none; the few messages whose top Via names SIP's
// default port get the test's port there instead (viaPort), the rest of each message as the
// RFC has it. Nothing here listens on a fixed port.
// Afterwards a normal request must still work: nothing a torture message does may break the
// next one.
func TestTorture(t *testing.T) {
	e := start(t, func(p *sip.Policy) {
		p.UnknownTargets = 0 // the torture messages name many users that do not exist
		p.AuthFailures = 0
	})
	client, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	port := client.LocalAddr().(*net.UDPAddr).Port
	dst, _ := net.ResolveUDPAddr("udp", e.addr("udp"))

	var got []string
	for _, tc := range torture {
		raw := viaPort(tortureMessage(t, tc.name), port)
		status := exchange(t, client, dst, raw)
		got = append(got, fmt.Sprintf("%-10s %s", tc.name, status))
		isResponse := bytes.HasPrefix(raw, []byte("SIP/"))
		switch tc.expect {
		case "valid":
			if isResponse && status != "none" || !isResponse && (status == "none" || status == "400" || status == "505") {
				t.Errorf("%s: valid message got %s", tc.name, status)
			}
		case "invalid":
			if status != "none" && status != "400" && status != "505" {
				t.Errorf("%s: invalid message got %s, want 400, 505 or no answer", tc.name, status)
			}
		case "liberal":
		default:
			if status != tc.expect {
				t.Errorf("%s: got %s, want %s", tc.name, status, tc.expect)
			}
		}
	}
	golden := filepath.Join("testdata", "torture", "expect.golden")
	text := strings.Join(got, "\n") + "\n"
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestTorture -update)", err)
	}
	if string(want) != text {
		t.Errorf("answers differ from %s:\n--- got\n%s--- want\n%s", golden, text, want)
	}

	// The server still answers a plain request.
	ok := "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-after-torture;rport\r\nMax-Forwards: 70\r\n" +
		"From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: after-torture\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	if st := exchange(t, client, dst, []byte(ok)); st != "200" {
		t.Errorf("OPTIONS after the torture messages: %s", st)
	}
	if n := e.srv().ActiveCalls(); n != 0 {
		t.Errorf("%d calls left by torture INVITEs", n)
	}
}

// viaPort puts port in place of SIP's default UDP port in a message's top Via.
func viaPort(msg []byte, port int) []byte {
	lines := bytes.SplitAfter(msg, []byte("\r\n"))
	for i, l := range lines {
		if len(bytes.TrimSpace(l)) == 0 {
			break
		}
		name, _, ok := bytes.Cut(l, []byte(":"))
		if n := strings.ToLower(strings.TrimSpace(string(name))); ok && (n == "via" || n == "v") {
			lines[i] = bytes.Replace(l, []byte(fmt.Sprintf(":%d", gosip.DefaultUdpPort)), []byte(fmt.Sprintf(":%d", port)), 1)
			break
		}
	}
	return bytes.Join(lines, nil)
}

func tortureMessage(t *testing.T, name string) []byte {
	t.Helper()
	for _, dir := range []string{"valid", "invalid"} {
		b, err := os.ReadFile(filepath.Join("testdata", "torture", dir, name+".dat"))
		if err == nil {
			return b
		}
	}
	t.Fatalf("torture message %s not found", name)
	return nil
}

// header returns the first value of a header field (long or compact name) in a raw message.
func header(msg []byte, names ...string) string {
	for _, l := range bytes.Split(msg, []byte("\r\n")) {
		if len(l) == 0 {
			break
		}
		name, value, ok := bytes.Cut(l, []byte(":"))
		if !ok {
			continue
		}
		for _, n := range names {
			if strings.EqualFold(strings.TrimSpace(string(name)), n) {
				return strings.TrimSpace(string(value))
			}
		}
	}
	return ""
}

// exchange sends a datagram and returns the status of the final answer with the same Call-ID
// ("none" when there is none within a short wait). Provisional answers are skipped; a
// non-2xx answer to an INVITE is acknowledged so that it is not retransmitted.
func exchange(t *testing.T, c net.PacketConn, dst net.Addr, msg []byte) string {
	t.Helper()
	if _, err := c.WriteTo(msg, dst); err != nil {
		t.Fatal(err)
	}
	callID := header(msg, "Call-ID", "i")
	buf := make([]byte, 65536)
	deadline := time.Now().Add(400 * time.Millisecond)
	var statuses []string
	for {
		c.SetReadDeadline(deadline)
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			t.Fatal(err)
		}
		res := buf[:n]
		if callID == "" || header(res, "Call-ID", "i") != callID {
			continue
		}
		line, _, _ := bytes.Cut(res, []byte("\r\n"))
		f := strings.Fields(string(line))
		if len(f) >= 2 && f[0] == "SIP/2.0" && !strings.HasPrefix(f[1], "1") {
			statuses = append(statuses, f[1])
			if cseq := strings.Fields(header(res, "CSeq")); len(cseq) == 2 && cseq[1] == "INVITE" && !strings.HasPrefix(f[1], "2") {
				ack := "ACK " + strings.Fields(string(bytes.SplitN(msg, []byte("\r\n"), 2)[0]))[1] + " SIP/2.0\r\nVia: " + header(res, "Via", "v") +
					"\r\nFrom: " + header(res, "From", "f") + "\r\nTo: " + header(res, "To", "t") + "\r\nCall-ID: " + callID +
					"\r\nCSeq: " + cseq[0] + " ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
				c.WriteTo([]byte(ack), dst)
			}
			// Wait a little for retransmissions or a second answer, then stop.
			deadline = time.Now().Add(100 * time.Millisecond)
		}
	}
	if len(statuses) == 0 {
		return "none"
	}
	sort.Strings(statuses)
	return statuses[0]
}
