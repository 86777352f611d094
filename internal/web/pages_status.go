package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/privox/privox/internal/api"
)

// Health and metrics at a glance: the API's status summary (the readiness checks of /readyz
// and the figures of /metrics), the tenant's figures for its admins and the installation's
// for operators. The page reads nothing else.

// figure is one row of a table of figures: id names it for tests, Label is translated.
type figure struct {
	ID, Label, Value string
	// Warn marks a figure that needs attention (failed deliveries, a failed sweep).
	Warn bool
}

// figures is a table of figures; Heading is the id of its heading.
type figures struct {
	Heading, FigureCol, ValueCol string
	Rows                         []figure
}

type statusView struct {
	St           api.Status
	Tenant       figures
	Installation figures
}

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request, v *view) {
	var st api.Status
	if ae := s.call(r, "GET", tpath(v, "/status"), nil, "", &st); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	if st.Tenant.Trunks == nil {
		st.Tenant.Trunks = []api.TrunkStatus{}
	}
	d := statusView{St: st, Tenant: figures{Heading: "tenant-figures", FigureCol: v.T("status.figure"), ValueCol: v.T("status.value")}}
	d.Installation = d.Tenant
	d.Installation.Heading = "installation-figures"
	t := st.Tenant
	if t.SIPRunning {
		d.Tenant.Rows = append(d.Tenant.Rows, figure{ID: "registrations", Label: v.T("status.registrations"), Value: strconv.Itoa(t.Registrations)},
			figure{ID: "active-calls", Label: v.T("status.calls"), Value: strconv.Itoa(t.ActiveCalls)})
	} else {
		d.Tenant.Rows = append(d.Tenant.Rows, figure{ID: "sip", Label: v.T("status.registrations"), Value: v.T("status.nosip"), Warn: true})
	}
	d.Tenant.Rows = append(d.Tenant.Rows,
		figure{ID: "cdrs", Label: v.T("status.cdrs"), Value: strconv.FormatInt(t.CDRs, 10)},
		figure{ID: "blocked", Label: v.T("status.blocked"), Value: countsText(v, t.Blocked)},
		figure{ID: "mail-flow", Label: v.T("status.mailflow"), Value: mailFlowText(v, t)},
		figure{ID: "mail-pending", Label: v.T("status.mailpending"), Value: strconv.FormatInt(t.MailPending, 10)},
		figure{ID: "mail-failed", Label: v.T("status.mailfailed"), Value: strconv.FormatInt(t.MailFailed, 10), Warn: t.MailFailed > 0},
		figure{ID: "sweep", Label: v.T("status.sweep"), Value: sweepFigure(v, t.Sweep), Warn: t.Sweep.At != 0 && !t.Sweep.OK})
	if in := st.Installation; in != nil {
		n := func(f float64) string { return strconv.FormatFloat(f, 'f', 0, 64) }
		mib := func(b float64) string { return strconv.FormatFloat(b/(1<<20), 'f', 1, 64) + " MiB" }
		d.Installation.Rows = []figure{
			{ID: "uptime", Label: v.T("status.uptime"), Value: (time.Duration(in.UptimeSeconds) * time.Second).String()},
			{ID: "inst-registrations", Label: v.T("status.registrations"), Value: n(in.RegisteredContacts)},
			{ID: "inst-calls", Label: v.T("status.calls"), Value: n(in.ActiveCalls)},
			{ID: "inst-media", Label: v.T("status.media"), Value: n(in.MediaSessions)},
			{ID: "inst-trunks", Label: v.T("status.trunks"), Value: fmt.Sprintf(v.T("status.trunks.of"), n(in.TrunksRegistered), n(in.Trunks))},
			{ID: "inst-cdrs", Label: v.T("status.cdrs"), Value: strconv.FormatInt(in.CDRs, 10)},
			{ID: "inst-blocked", Label: v.T("status.blocked"), Value: countsText(v, in.Blocked)},
			{ID: "inst-mail-pending", Label: v.T("status.mailpending"), Value: strconv.FormatInt(in.MailPending, 10)},
			{ID: "inst-mail-failed", Label: v.T("status.mailfailed"), Value: strconv.FormatInt(in.MailFailed, 10), Warn: in.MailFailed > 0},
			{ID: "inst-sip", Label: v.T("status.sipreqs"), Value: fmt.Sprintf(v.T("status.dropped"), n(in.SIPRequests), n(in.SIPDropped))},
			{ID: "inst-api", Label: v.T("status.apireqs"), Value: n(in.APIRequests)},
			{ID: "inst-sweep", Label: v.T("status.sweep"), Value: sweepFigure(v, in.Sweep), Warn: in.Sweep.At != 0 && !in.Sweep.OK},
			{ID: "inst-heap", Label: v.T("status.heap"), Value: mib(in.HeapBytes)},
			{ID: "inst-sys", Label: v.T("status.sys"), Value: mib(in.SysBytes)},
			{ID: "inst-rss", Label: v.T("status.rss"), Value: mib(in.ResidentBytes)},
			{ID: "inst-goroutines", Label: v.T("status.goroutines"), Value: n(in.Goroutines)},
		}
	}
	v.Data = d
	s.render(w, r, http.StatusOK, "status", v)
}

// countsText is a counter by label ("international 2, premium 1"), or 0.
func countsText(v *view, cs []api.Count) string {
	if len(cs) == 0 {
		return "0"
	}
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		name := v.T("blocked." + c.Name)
		if name == "blocked."+c.Name { // a reason the catalogue does not know yet
			name = c.Name
		}
		parts = append(parts, name+": "+strconv.FormatFloat(c.Value, 'f', 0, 64))
	}
	return strings.Join(parts, ", ")
}

func mailFlowText(v *view, t api.TenantStatus) string {
	switch {
	case !t.MailFlowOn:
		return v.T("status.mail.off")
	case t.OwnRelay:
		return v.T("status.mail.own")
	default:
		return v.T("status.mail.installation")
	}
}

func sweepFigure(v *view, s api.SweepStatus) string {
	if s.At == 0 {
		return v.T("status.sweep.none")
	}
	out := time.UnixMilli(s.At).UTC().Format("2006-01-02 15:04:05") + " UTC, " + v.T(map[bool]string{true: "status.sweep.ok", false: "status.sweep.failed"}[s.OK])
	if s.Rows != nil {
		out += fmt.Sprintf(v.T("status.sweep.figures"), *s.Rows, *s.Files, *s.ErasuresPending)
	}
	return out
}
