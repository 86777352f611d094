package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/privox/privox/internal/mail"
	"github.com/privox/privox/internal/store"
)

// Health and metrics at a glance: the readiness checks /readyz makes, and the figures of the
// Prometheus registry behind /metrics, read from the same sources (Deps.Readiness and
// Deps.Gatherer), never counted a second time. A tenant admin sees the figures of the tenant
// (its registrations, calls, trunks, deliveries, the toll-fraud guard's refusals of its
// calls); an operator sees the installation's besides.

func init() { registerRoutes(statusRoutes) }

func statusRoutes(s *Server) []Route {
	return []Route{
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/status", Summary: "Health and metrics summary: the readiness checks of /readyz, the tenant's figures (registrations, active calls, call records, trunks' registration, toll-fraud refusals, e-mail deliveries, the last retention sweep) and, for operators, the installation's figures from /metrics (uptime, Go runtime memory, SIP and API counters)",
			Auth: Admin, Result: Status{}, Handler: s.status},
	}
}

// ReadyCheck is one check of /readyz.
type ReadyCheck struct {
	// Name is "server" (started, not draining), "database" or a subsystem's name ("sip").
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Detail is the check's message when it fails (what /readyz answers).
	Detail string `json:"detail,omitempty"`
}

// Status is the health and metrics summary.
type Status struct {
	// Ready is what /readyz answers: every check passes.
	Ready  bool         `json:"ready"`
	Checks []ReadyCheck `json:"checks"`
	Tenant TenantStatus `json:"tenant"`
	// Installation holds the whole installation's figures (operators only).
	Installation *InstallationStatus `json:"installation,omitempty"`
}

// Count is a counter by its label.
type Count struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// TrunkStatus is the registration state of a registering trunk.
type TrunkStatus struct {
	Trunk     string `json:"trunk"`
	State     string `json:"state"`
	Failures  int    `json:"failures"`
	LastError string `json:"last_error,omitempty"`
}

// SweepStatus is the last retention sweep of every tenant this node ran.
type SweepStatus struct {
	// At is when it finished (unix ms; 0: none since start).
	At int64 `json:"at"`
	OK bool  `json:"ok"`
	// Rows and Files removed, and erasures waiting for a hold to end (operators only).
	Rows            *float64 `json:"rows_removed,omitempty"`
	Files           *float64 `json:"files_removed,omitempty"`
	ErasuresPending *float64 `json:"erasures_pending,omitempty"`
}

// TenantStatus are the figures of one tenant.
type TenantStatus struct {
	TenantID int64 `json:"tenant_id"`
	// SIPRunning is false where no SIP server runs (registrations, calls and trunks unknown).
	SIPRunning    bool          `json:"sip_running"`
	Registrations int           `json:"registrations"`
	ActiveCalls   int           `json:"active_calls"`
	Trunks        []TrunkStatus `json:"trunks"`
	// CDRs is the number of call records stored.
	CDRs int64 `json:"cdrs"`
	// Blocked are the outside calls the toll-fraud guard refused since the start, by reason.
	Blocked []Count `json:"blocked_calls"`
	// MailFlowOn: the outbound flow smtp_relay is on; OwnRelay: the tenant's own relay is
	// used. MailPending and MailFailed count the deliveries in those states.
	MailFlowOn  bool        `json:"mail_flow_on"`
	OwnRelay    bool        `json:"own_relay"`
	MailPending int64       `json:"mail_pending"`
	MailFailed  int64       `json:"mail_failed"`
	Sweep       SweepStatus `json:"sweep"`
}

// InstallationStatus are the installation's figures, as /metrics exposes them.
type InstallationStatus struct {
	UptimeSeconds      float64 `json:"uptime_seconds"`
	RegisteredContacts float64 `json:"registered_contacts"`
	ActiveCalls        float64 `json:"active_calls"`
	MediaSessions      float64 `json:"media_sessions"`
	TrunksRegistered   float64 `json:"trunks_registered"`
	Trunks             float64 `json:"trunks"`
	CDRs               int64   `json:"cdrs"`
	Blocked            []Count `json:"blocked_calls"`
	MailPending        int64   `json:"mail_pending"`
	MailFailed         int64   `json:"mail_failed"`
	SIPRequests        float64 `json:"sip_requests"`
	SIPDropped         float64 `json:"sip_dropped"`
	APIRequests        float64 `json:"api_requests"`
	// Go runtime: heap in use, memory obtained from the system, goroutines; the process's
	// resident memory.
	HeapBytes     float64     `json:"go_heap_bytes"`
	SysBytes      float64     `json:"go_sys_bytes"`
	Goroutines    float64     `json:"goroutines"`
	ResidentBytes float64     `json:"resident_bytes"`
	Sweep         SweepStatus `json:"sweep"`
}

// metrics are gathered metric families by name.
type metrics map[string]*dto.MetricFamily

func (m metrics) value(mt *dto.Metric) float64 {
	switch {
	case mt.Gauge != nil:
		return mt.Gauge.GetValue()
	case mt.Counter != nil:
		return mt.Counter.GetValue()
	case mt.Untyped != nil:
		return mt.Untyped.GetValue()
	}
	return 0
}

// sum adds a family's series whose labels match where (nil: all).
func (m metrics) sum(name string, where map[string]string) float64 {
	var n float64
	for _, mt := range m[name].GetMetric() {
		if labelsMatch(mt, where) {
			n += m.value(mt)
		}
	}
	return n
}

// count is how many series of a family match where.
func (m metrics) count(name string, where map[string]string) float64 {
	var n float64
	for _, mt := range m[name].GetMetric() {
		if labelsMatch(mt, where) {
			n++
		}
	}
	return n
}

// by sums a family's matching series by one label, largest first.
func (m metrics) by(name, label string, where map[string]string) []Count {
	sums := map[string]float64{}
	for _, mt := range m[name].GetMetric() {
		if !labelsMatch(mt, where) {
			continue
		}
		for _, l := range mt.GetLabel() {
			if l.GetName() == label {
				sums[l.GetValue()] += m.value(mt)
			}
		}
	}
	out := []Count{}
	for k, v := range sums {
		out = append(out, Count{Name: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Value != out[j].Value {
			return out[i].Value > out[j].Value
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func labelsMatch(mt *dto.Metric, where map[string]string) bool {
	for k, want := range where {
		found := false
		for _, l := range mt.GetLabel() {
			if l.GetName() == k {
				found = l.GetValue() == want
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (m metrics) sweep(withFigures bool) SweepStatus {
	at := m.sum("privox_retention_last_sweep_timestamp_seconds", nil)
	st := SweepStatus{At: int64(at * 1000), OK: m.sum("privox_retention_last_sweep_ok", nil) == 1}
	if withFigures {
		rows, files, pending := m.sum("privox_retention_last_sweep_rows_removed", nil), m.sum("privox_retention_last_sweep_files_removed", nil),
			m.sum("privox_retention_erasures_pending", nil)
		st.Rows, st.Files, st.ErasuresPending = &rows, &files, &pending
	}
	return st
}

func (s *Server) status(r *Request) (any, error) {
	if s.Readiness == nil || s.Gatherer == nil {
		return nil, &Error{Status: 503, Code: "unavailable", Message: "no readiness checks or metrics registry here"}
	}
	ctx := r.Context()
	out := Status{Ready: true, Checks: s.Readiness(ctx)}
	for _, c := range out.Checks {
		out.Ready = out.Ready && c.OK
	}
	mfs, err := s.Gatherer.Gather()
	if err != nil {
		return nil, fmt.Errorf("gather metrics: %w", err)
	}
	m := metrics{}
	for _, mf := range mfs {
		m[mf.GetName()] = mf
	}
	tenant := strconv.FormatInt(r.TenantID, 10)
	ts := TenantStatus{TenantID: r.TenantID, Trunks: []TrunkStatus{}, Blocked: m.by("privox_dialplan_blocked_total", "reason", map[string]string{"tenant": tenant}),
		Sweep: m.sweep(false)}
	if s.Registrations != nil && s.ActiveCalls != nil && s.TrunkStates != nil {
		ts.SIPRunning = true
		ts.Registrations = length(s.Registrations(r.TenantID, 0))
		ts.ActiveCalls = length(s.ActiveCalls(r.TenantID))
		if err := convert(s.TrunkStates(r.TenantID), &ts.Trunks); err != nil {
			return nil, err
		}
		sort.Slice(ts.Trunks, func(i, j int) bool { return ts.Trunks[i].Trunk < ts.Trunks[j].Trunk })
	}
	if err := s.counts(ctx, r.TenantID, &ts.CDRs, &ts.MailPending, &ts.MailFailed); err != nil {
		return nil, err
	}
	ts.MailFlowOn = s.Flows != nil && s.Flows.Enabled(mail.FlowName)
	if rel, err := s.DB.MailRelay(ctx, r.TenantID); err == nil {
		ts.OwnRelay = rel.Enabled
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	out.Tenant = ts
	if r.Principal.Operator {
		in := &InstallationStatus{
			RegisteredContacts: m.sum("privox_sip_registered_contacts", nil),
			ActiveCalls:        m.sum("privox_sip_active_calls", nil),
			MediaSessions:      m.sum("privox_media_sessions", nil),
			TrunksRegistered:   m.sum("privox_trunk_registered", nil),
			Trunks:             m.count("privox_trunk_registered", nil),
			Blocked:            m.by("privox_dialplan_blocked_total", "reason", nil),
			SIPRequests:        m.sum("privox_sip_requests_total", nil),
			SIPDropped:         m.sum("privox_sip_dropped_total", nil),
			APIRequests:        m.sum("privox_api_requests_total", nil),
			HeapBytes:          m.sum("go_memstats_heap_alloc_bytes", nil),
			SysBytes:           m.sum("go_memstats_sys_bytes", nil),
			Goroutines:         m.sum("go_goroutines", nil),
			ResidentBytes:      m.sum("process_resident_memory_bytes", nil),
			Sweep:              m.sweep(true),
		}
		if start := m.sum("process_start_time_seconds", nil); start > 0 {
			in.UptimeSeconds = float64(time.Now().Unix()) - start
		}
		if err := s.counts(ctx, 0, &in.CDRs, &in.MailPending, &in.MailFailed); err != nil {
			return nil, err
		}
		out.Installation = in
	}
	return out, nil
}

// counts reads the stored figures of a tenant (0: of every tenant).
func (s *Server) counts(ctx context.Context, tenantID int64, cdrs, pending, failed *int64) (err error) {
	if *cdrs, err = s.DB.CountCDRs(ctx, tenantID); err != nil {
		return err
	}
	if *pending, err = s.DB.CountVoicemailMail(ctx, tenantID, store.MailPending); err != nil {
		return err
	}
	*failed, err = s.DB.CountVoicemailMail(ctx, tenantID, store.MailFailed)
	return err
}

// length is the number of items of a list the SIP server returned.
func length(list any) int {
	v := reflect.ValueOf(list)
	if v.Kind() == reflect.Slice {
		return v.Len()
	}
	return 0
}

// convert copies a value the SIP server returned into the API's own type.
func convert(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	if string(b) == "null" {
		return nil
	}
	return json.Unmarshal(b, to)
}
