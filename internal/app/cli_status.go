package app

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/privox/privox/internal/api"
)

// privox status asks the running server for its health and metrics summary, the API's
// GET /api/v1/tenants/{tenant}/status: the same readiness checks as /readyz and the same
// figures as /metrics, with the API's admin and tenant checks. It reads nothing itself.

func init() {
	addCommand(command{"status", "status --token-file FILE [--tenant ID] [--url http://127.0.0.1:8080] [--ca-cert FILE] [--json]   (health and metrics of the running server; the token's tenant unless --tenant; operators also see the installation's figures)", runStatus})
}

// statusURL is the running server's address from http.addr (loopback when it listens on
// every address).
func statusURL(c *cmdCtx) string {
	if u := c.str("url"); u != "" {
		return strings.TrimRight(u, "/")
	}
	host, port, err := net.SplitHostPort(c.cfg.HTTP.Addr)
	if err != nil {
		host, port = "", "8080"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	scheme := "http"
	if c.cfg.HTTP.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

func runStatus(c *cmdCtx) error {
	file := c.str("token-file")
	if file == "" {
		return usageErr("--token-file is required: a file that holds an API token of an admin (privox token add makes one)")
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("--token-file: %w", err)
	}
	token := strings.TrimSpace(string(raw))
	client := &http.Client{Timeout: 15 * time.Second}
	if f := c.str("ca-cert"); f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("--ca-cert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return usageErr("--ca-cert holds no PEM certificate")
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	base := statusURL(c)
	get := func(path string, out any) error {
		req, err := http.NewRequestWithContext(c.ctx, "GET", base+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("is privox serve running at %s (--url)? %w", base, err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
		if err != nil {
			return err
		}
		if res.StatusCode != http.StatusOK {
			var e struct {
				Error api.Error `json:"error"`
			}
			if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
				return fmt.Errorf("%s: %d %s", path, res.StatusCode, e.Error.Message)
			}
			return fmt.Errorf("%s: %s", path, res.Status)
		}
		return json.Unmarshal(body, out)
	}
	tenant := c.str("tenant")
	if tenant == "" {
		var me struct {
			User struct {
				TenantID int64 `json:"tenant_id"`
			} `json:"user"`
		}
		if err := get("/api/v1/me", &me); err != nil {
			return err
		}
		tenant = fmt.Sprint(me.User.TenantID)
	}
	var st api.Status
	if err := get("/api/v1/tenants/"+tenant+"/status", &st); err != nil {
		return err
	}
	return c.out(st, func(w *tabwriter.Writer) { printStatus(w, st) })
}

func printStatus(w io.Writer, st api.Status) {
	yes := map[bool]string{true: "yes", false: "no"}
	fmt.Fprintf(w, "ready:\t%s\n", yes[st.Ready])
	for _, ch := range st.Checks {
		state := "ok"
		if !ch.OK {
			state = "FAILED: " + ch.Detail
		}
		fmt.Fprintf(w, "  %s\t%s\n", ch.Name, state)
	}
	t := st.Tenant
	fmt.Fprintf(w, "tenant %d\t\n", t.TenantID)
	if t.SIPRunning {
		fmt.Fprintf(w, "  registrations\t%d\n  active calls\t%d\n", t.Registrations, t.ActiveCalls)
	} else {
		fmt.Fprintf(w, "  registrations, calls, trunks\tunknown: SIP is not running\n")
	}
	for _, tr := range t.Trunks {
		fmt.Fprintf(w, "  trunk %s\t%s (failures %d) %s\n", tr.Trunk, tr.State, tr.Failures, tr.LastError)
	}
	fmt.Fprintf(w, "  call records\t%d\n  toll-fraud refusals\t%s\n", t.CDRs, counts(t.Blocked))
	fmt.Fprintf(w, "  e-mail flow\t%s (own relay: %s)\n  e-mail pending\t%d\n  e-mail failed\t%d\n", map[bool]string{true: "on", false: "off"}[t.MailFlowOn], yes[t.OwnRelay], t.MailPending, t.MailFailed)
	fmt.Fprintf(w, "  last retention sweep\t%s\n", sweepText(t.Sweep))
	in := st.Installation
	if in == nil {
		return
	}
	fmt.Fprintf(w, "installation\t\n")
	fmt.Fprintf(w, "  uptime\t%s\n", (time.Duration(in.UptimeSeconds) * time.Second).String())
	fmt.Fprintf(w, "  registered contacts\t%.0f\n  active calls\t%.0f\n  media sessions\t%.0f\n", in.RegisteredContacts, in.ActiveCalls, in.MediaSessions)
	fmt.Fprintf(w, "  trunks registered\t%.0f of %.0f\n  call records\t%d\n  toll-fraud refusals\t%s\n", in.TrunksRegistered, in.Trunks, in.CDRs, counts(in.Blocked))
	fmt.Fprintf(w, "  e-mail pending\t%d\n  e-mail failed\t%d\n", in.MailPending, in.MailFailed)
	fmt.Fprintf(w, "  SIP requests\t%.0f (dropped %.0f)\n  API requests\t%.0f\n", in.SIPRequests, in.SIPDropped, in.APIRequests)
	fmt.Fprintf(w, "  last retention sweep\t%s\n", sweepText(in.Sweep))
	fmt.Fprintf(w, "  Go heap\t%.1f MiB (from the system %.1f MiB, resident %.1f MiB)\n  goroutines\t%.0f\n", in.HeapBytes/(1<<20), in.SysBytes/(1<<20), in.ResidentBytes/(1<<20), in.Goroutines)
}

func counts(cs []api.Count) string {
	if len(cs) == 0 {
		return "0"
	}
	var parts []string
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("%s %.0f", c.Name, c.Value))
	}
	return strings.Join(parts, ", ")
}

func sweepText(s api.SweepStatus) string {
	if s.At == 0 {
		return "none since start"
	}
	out := time.UnixMilli(s.At).UTC().Format(time.RFC3339)
	if !s.OK {
		out += " FAILED"
	}
	if s.Rows != nil {
		out += fmt.Sprintf(", %.0f rows and %.0f files removed, %.0f erasures pending", *s.Rows, *s.Files, *s.ErasuresPending)
	}
	return out
}
