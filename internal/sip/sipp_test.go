package sip_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/privox/privox/internal/store"
)

// The sipp scenarios (testdata/sipp) against a whole Privox, over UDP, TCP and TLS. Debian's
// sipp has no TLS, so for TLS it talks TCP to a tunnel in the test that speaks TLS to Privox
// (and Privox reaches the sipp callee through a TLS listener in front of it).

var transports = []string{"udp", "tcp", "tls"}

func TestSippRegister(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			e := start(t, nil)
			e.ext("1001", "secret-1001")
			port := freePort(t)
			r := e.sipp("register", "register_auth.xml", e.target(tr), "-t", sippTransport(tr), "-inf", writeCSV(t, "1001;[authentication username=1001 password=secret-1001]"),
				"-key", "contact_port", strconv.Itoa(port), "-key", "contact_transport", tr,
				"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "1", "-timeout", "15")
			r.wait(t)
			if n := e.srv().Registered(); n != 0 {
				t.Errorf("%d contacts left after un-REGISTER", n)
			}
			// a wrong password is refused
			bad := e.sipp("wrong password", "register_wrong.xml", e.target(tr), "-t", sippTransport(tr), "-s", "1001", "-au", "1001", "-ap", "not-the-password",
				"-i", "127.0.0.1", "-p", strconv.Itoa(freePort(t)), "-m", "1", "-timeout", "15")
			bad.wait(t)
		})
	}
}

func TestSippCalls(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			e := start(t, nil)
			e.ext("1001", "secret-1001")
			e.ext("1002", "secret-1002")

			t.Run("answer", func(t *testing.T) {
				e.sippCall(t, tr, "uas.xml", "uac.xml", "-d", "500")
			})
			t.Run("cancel", func(t *testing.T) {
				e.sippCall(t, tr, "uas_cancel.xml", "uac_cancel.xml")
			})
			t.Run("busy", func(t *testing.T) {
				e.sippCall(t, tr, "uas_busy.xml", "uac_busy.xml")
			})
			t.Run("hold", func(t *testing.T) {
				uas := e.newPeer(tr)
				callee := e.sippUAS("callee", "uas_hold.xml", uas)
				e.register("1002", "secret-1002", uas)
				uac := e.newPeer(tr)
				e.sippUACAt(uac, "caller", "uac_hold.xml", "-key", "rr_port", strconv.Itoa(uac.contactPort), "-key", "rr_transport", tr).wait(t)
				callee.wait(t)
			})

			// Every call left a CDR: answered, cancelled (487), busy (486), answered.
			waitFor(t, "4 CDRs", func() bool { return len(e.cdrs(t)) == 4 })
			cdrs := e.cdrs(t)
			want := []int{200, 487, 486, 200}
			for i, c := range cdrs {
				if c.Cause != want[i] || c.Caller != "1001" || c.Callee != "1002" || c.Direction != "internal" {
					t.Errorf("CDR %d: caller %s callee %s cause %d, want 1001 1002 %d", i, c.Caller, c.Callee, c.Cause, want[i])
				}
				if (c.Cause == 200) != (c.AnswerAt != nil) {
					t.Errorf("CDR %d: cause %d with answer_at %v", i, c.Cause, c.AnswerAt)
				}
			}
			if len(cdrs) == 4 && cdrs[3].HangupBy != "callee" {
				t.Errorf("held call hung up by %q, want callee", cdrs[3].HangupBy)
			}
			if n := e.srv().ActiveCalls(); n != 0 {
				t.Errorf("%d calls still active", n)
			}
		})
	}
}

// sippUAS starts a sipp callee on a peer and waits until it listens.
func (e *env) sippUAS(name, scenario string, p peer, extra ...string) *sippRun {
	e.t.Helper()
	network := "udp"
	if p.transport != "udp" {
		network = "tcp"
	}
	// A sipp that ends before it listens (its media port was taken meanwhile, say) is started
	// once more with another media port; its output names the reason if it ends again.
	for attempt := 0; ; attempt++ {
		args := append([]string{"-t", sippTransport(p.transport), "-i", "127.0.0.1", "-p", strconv.Itoa(p.port),
			"-mp", strconv.Itoa(freePort(e.t)), "-key", "contact_port", strconv.Itoa(p.contactPort), "-key", "contact_transport", p.transport,
			"-m", "1", "-timeout", "40"}, extra...)
		r := e.sipp(name, scenario, args...)
		exited, err := sippListening(e.t, r, network, p.port)
		if !exited {
			return r
		}
		if attempt == 1 {
			errs, _ := os.ReadFile(filepath.Join(r.dir, "errors.log"))
			e.t.Fatalf("sipp %s ended before it listened on %d/%s: %v\n%s\n%s", name, p.port, network, err, r.out.String(), errs)
		}
	}
}

// sippListening waits until sipp listens on its port (exited false), or until it ends first
// (exited true, with its exit error). It fails the test when sipp neither listens nor ends
// within 10 seconds.
func sippListening(t *testing.T, r *sippRun, network string, port int) (exited bool, err error) {
	t.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-r.done:
			r.done <- err
			return true, err
		default:
		}
		if network == "udp" {
			c, err := net.ListenPacket("udp", addr)
			if err != nil {
				return false, nil // taken: sipp is bound
			}
			c.Close()
		} else if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return false, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.cmd.Process.Kill()
	err = <-r.done
	r.done <- err
	t.Fatalf("sipp %s did not listen on %s/%s within 10 s: %v\n%s", r.name, addr, network, err, r.out.String())
	return false, nil
}

// sippUAC starts a sipp caller (1001 calling 1002) over a transport.
// sippCall runs one call from the sipp caller 1001 to a sipp callee registered as 1002 (with
// the password e.ext gave it in these tests) over transport, and waits for both to finish.
func (e *env) sippCall(t *testing.T, transport, uasScenario, uacScenario string, uacExtra ...string) {
	t.Helper()
	uas := e.newPeer(transport)
	callee := e.sippUAS("callee", uasScenario, uas)
	e.register("1002", "secret-1002", uas)
	e.sippUAC("caller", uacScenario, transport, uacExtra...).wait(t)
	callee.wait(t)
}

func (e *env) sippUAC(name, scenario, transport string, extra ...string) *sippRun {
	return e.sippUACAt(peer{port: freePort(e.t), transport: transport}, name, scenario, extra...)
}

func (e *env) sippUACAt(p peer, name, scenario string, extra ...string) *sippRun {
	e.t.Helper()
	// sipp's digest uri is remote_ip:remote_port unless told: name the Request-URI, as phones
	// do and Privox requires.
	target := e.target(p.transport)
	callee := "1002"
	for i := 0; i+1 < len(extra); i++ {
		if extra[i] == "-s" {
			callee = extra[i+1]
		}
	}
	args := append([]string{target, "-t", sippTransport(p.transport), "-s", "1002", "-au", "1001", "-ap", "secret-1001", "-auth_uri", callee + "@" + target,
		"-key", "caller", "1001", "-i", "127.0.0.1", "-p", strconv.Itoa(p.port), "-mp", strconv.Itoa(freePort(e.t)), "-m", "1", "-timeout", "40"}, extra...)
	return e.sipp(name, scenario, args...)
}

// cdrs reads the tenant's CDRs through the API.
func (e *env) cdrs(t *testing.T) []store.CDR {
	t.Helper()
	var out struct {
		Items []store.CDR `json:"items"`
	}
	st, body := e.p.Do("GET", "/api/v1/tenants/1/cdrs", e.p.AdminToken, nil)
	if st != http.StatusOK {
		t.Fatalf("GET cdrs: %d %s", st, body)
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	return out.Items
}

// writeCSV writes a sipp injection file.
func writeCSV(t *testing.T, lines ...string) string {
	t.Helper()
	path := fmt.Sprintf("%s/users.csv", t.TempDir())
	if err := writeFile(path, "SEQUENTIAL\n"+strings.Join(lines, "\n")+"\n"); err != nil {
		t.Fatal(err)
	}
	return path
}
