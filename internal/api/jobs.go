package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/privox/privox/internal/directory"
	"github.com/privox/privox/internal/privacy"
	"github.com/privox/privox/internal/store"
)

// Long-running actions as jobs: the request starts the work and answers 202 with the job at
// once; the job's route reports its progress (done of total steps, the step at hand) and, at
// the end, its result or error. Jobs live in the process (a restart forgets them; the work
// they did stays done), at most one of a kind runs per tenant, and finished ones are kept for
// jobKeep.

func init() { registerRoutes(jobRoutes) }

// Job is a long-running action.
type Job struct {
	ID       string `json:"id"`
	TenantID int64  `json:"tenant_id"`
	// UserID started it; Kind is "retention_sweep", "contacts_import" or "subject_export".
	UserID int64  `json:"user_id"`
	Kind   string `json:"kind"`
	// State is running, done or failed.
	State string `json:"state"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
	Step  string `json:"step,omitempty"`
	// Result is the action's report (a sweep's or an import's) once it is done; Error says
	// why it failed.
	Result     any    `json:"result,omitempty"`
	Error      string `json:"error,omitempty"`
	StartedAt  int64  `json:"started_at"`
	FinishedAt int64  `json:"finished_at,omitempty"`
	// Download is set while a finished export's ZIP waits for the user who started it
	// (GET …/jobs/{job}/download), at most exportKeep after it was made.
	Download bool `json:"download,omitempty"`

	zip []byte // the export, in memory only, never written to disk
}

// Job limits. An export is held in memory: at most maxExportJobBytes, for exportKeep.
const (
	jobKeep           = time.Hour
	jobMaxKept        = 200
	jobTimeout        = time.Hour
	exportKeep        = 15 * time.Minute
	maxExportJobBytes = 512 << 20
)

type jobTable struct {
	mu   sync.Mutex
	jobs map[string]*Job
}

// start registers a running job, or refuses (409) while one of its kind runs in the tenant.
func (t *jobTable) start(tenantID, userID int64, kind string, total int) (*Job, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.jobs == nil {
		t.jobs = map[string]*Job{}
	}
	now := time.Now()
	var oldest *Job
	for id, j := range t.jobs {
		if j.State != "running" && now.Sub(time.UnixMilli(j.FinishedAt)) > jobKeep {
			delete(t.jobs, id)
			continue
		}
		// An export is a person's: each user may run their own beside other users'.
		if j.TenantID == tenantID && j.Kind == kind && j.State == "running" && (kind != "subject_export" || j.UserID == userID) {
			return nil, &Error{Status: http.StatusConflict, Code: "job_running", Message: fmt.Sprintf("a %s job is running already (%s)", strings.ReplaceAll(kind, "_", " "), j.ID)}
		}
		if j.State != "running" && (oldest == nil || j.FinishedAt < oldest.FinishedAt) {
			oldest = j
		}
	}
	if len(t.jobs) >= jobMaxKept && oldest != nil {
		delete(t.jobs, oldest.ID)
	}
	var b [12]byte
	rand.Read(b[:])
	j := &Job{ID: hex.EncodeToString(b[:]), TenantID: tenantID, UserID: userID, Kind: kind, State: "running", Total: total, StartedAt: now.UnixMilli()}
	t.jobs[j.ID] = j
	return j, nil
}

// update changes a job under the table's lock.
func (t *jobTable) update(j *Job, f func(j *Job)) {
	t.mu.Lock()
	f(j)
	t.mu.Unlock()
}

// progress is a job's progress report: done of total steps, the step at hand.
func (t *jobTable) progress(j *Job) func(done, total int, step string) {
	return func(done, total int, step string) {
		t.update(j, func(j *Job) { j.Done, j.Total, j.Step = done, total, step })
	}
}

// finish ends a job with its result or error.
func (t *jobTable) finish(j *Job, result any, err error) {
	t.update(j, func(j *Job) {
		j.FinishedAt = time.Now().UnixMilli()
		j.Result = result
		if err != nil {
			j.State, j.Error = "failed", err.Error()
			return
		}
		j.State, j.Done, j.Step = "done", j.Total, ""
	})
}

// get returns a copy of a job of a tenant.
func (t *jobTable) get(tenantID int64, id string) (Job, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	j, ok := t.jobs[id]
	if !ok || j.TenantID != tenantID {
		return Job{}, false
	}
	return *j, true
}

func (t *jobTable) list(tenantID int64) []Job {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := []Job{}
	for _, j := range t.jobs {
		if j.TenantID == tenantID {
			out = append(out, *j)
		}
	}
	return out
}

func jobRoutes(s *Server) []Route {
	return []Route{
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/jobs", Summary: "List the tenant's long-running actions of the last hour (retention sweeps, contact imports) with their progress",
			Auth: Admin, Result: List[Job]{}, Handler: s.listJobs},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/jobs/{job}", Summary: "A long-running action's progress (done of total steps, the step at hand) and, once over, its result or error (the user who started it, or an admin)",
			Auth: Member, Result: Job{}, Handler: s.getJob},
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/jobs/{job}/download", Summary: "The ZIP a finished export job made, for the user who started it, within 15 minutes of its end",
			Auth: Member, Raw: true, Handler: s.downloadJob},
		{Method: "POST", Path: "/api/v1/tenants/{tenant}/users/{user}/export", Summary: "Start making the ZIP of everything stored about a person (self or admin; audited), with progress; answers 202 with the job, whose download holds the ZIP once it is done",
			Auth: Member, Result: Job{}, Status: http.StatusAccepted, Handler: s.exportJob},
		{Method: "POST", Path: "/api/v1/tenants/{tenant}/retention/sweep", Summary: "Start the retention sweeper for this tenant's data now (or count what it would remove, dry_run); answers 202 with the job to follow",
			Auth: Admin, Body: tenantSweepBody{}, Result: Job{}, Status: http.StatusAccepted, Handler: s.tenantSweep},
		{Method: "POST", Path: "/api/v1/tenants/{tenant}/phonebooks/{phonebook}/import", Summary: "Import a CSV (Outlook, Google or Privox headers; ?map=Header=field,…) or vCard file (?format=csv|vcard) into a phonebook; a file with bad rows imports nothing unless ?on_error=skip; answers 202 with the job whose result lists every bad row",
			Auth: Member, Upload: []string{"text/csv", "text/vcard", "text/x-vcard", "application/octet-stream"}, MaxBody: MaxImportBytes, Result: Job{}, Status: http.StatusAccepted, Handler: s.importContacts},
	}
}

// MaxImportBytes bounds an imported file.
const MaxImportBytes = 64 << 20

type tenantSweepBody struct {
	DryRun bool `json:"dry_run"`
}

func (s *Server) listJobs(r *Request) (any, error) {
	return List[Job]{Items: s.jobs.list(r.TenantID)}, nil
}

func (s *Server) getJob(r *Request) (any, error) {
	j, ok := s.jobs.get(r.TenantID, r.PathValue("job"))
	if !ok || !r.Principal.IsAdmin() && j.UserID != r.Principal.UserID {
		return nil, errNotFound
	}
	return j, nil
}

// background is the context a job runs in: not the request's, which ends with the 202.
func background() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), jobTimeout)
}

func (s *Server) tenantSweep(r *Request) (any, error) {
	if s.Privacy == nil {
		return nil, errNoPrivacy
	}
	var in tenantSweepBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	tenant := r.TenantID
	return s.runJob(r, "retention_sweep", 0, func(ctx context.Context, j *Job) {
		rep, err := s.Privacy.Sweep(ctx, privacy.SweepOptions{DryRun: in.DryRun, TenantID: tenant, Progress: s.jobs.progress(j)})
		if err == nil && !in.DryRun {
			rows, files := rep.Removed()
			if _, aerr := s.DB.AppendAudit(ctx, r.AuditEntry("retention.run", "retention", "sweep", fmt.Sprintf("rows=%d files=%d", rows, files))); aerr != nil {
				s.Logger.Error("audit append failed", "action", "retention.run", "err", aerr)
			}
		}
		s.jobs.finish(j, rep, privErr(err))
	})
}

// runJob starts a job of kind and runs work for it in the background (in a context of its
// own: the request's ends with the 202), answering with the job as it starts.
func (s *Server) runJob(r *Request, kind string, total int, work func(ctx context.Context, j *Job)) (any, error) {
	j, err := s.jobs.start(r.TenantID, r.Principal.UserID, kind, total)
	if err != nil {
		return nil, err
	}
	go func() {
		ctx, cancel := background()
		defer cancel()
		work(ctx, j)
	}()
	return s.jobCopy(j), nil
}

// exportJob makes a person's export in the background: the same ZIP as GET …/export, with
// the permission checked and the export audited when it starts.
func (s *Server) exportJob(r *Request) (any, error) {
	if s.Privacy == nil {
		return nil, errNoPrivacy
	}
	u, err := s.pathUser(r)
	if err != nil {
		return nil, err
	}
	a := r.actor()
	if err := s.Privacy.CheckExport(r.Context(), r.TenantID, u.ID, a); err != nil {
		return nil, privErr(err)
	}
	tenant := r.TenantID
	return s.runJob(r, "subject_export", 0, func(ctx context.Context, j *Job) {
		var buf capped
		m, err := s.Privacy.ExportWith(ctx, tenant, u.ID, &buf, a, privacy.ExportOptions{Progress: s.jobs.progress(j)})
		if err != nil {
			s.Logger.Error("export failed", "tenant", tenant, "user", u.ID, "err", err)
			s.jobs.finish(j, nil, privErr(err))
			return
		}
		s.jobs.finish(j, exportSummary{Bytes: buf.Len(), Categories: len(m.Categories), Files: len(m.Content)}, nil)
		s.jobs.update(j, func(j *Job) { j.zip, j.Download = buf.Bytes(), true })
		time.AfterFunc(exportKeep, func() { s.jobs.update(j, func(j *Job) { j.zip, j.Download = nil, false }) })
	})
}

// exportSummary is an export job's result.
type exportSummary struct {
	Bytes      int `json:"bytes"`
	Categories int `json:"categories"`
	Files      int `json:"files"`
}

// capped is a buffer that refuses to grow past maxExportJobBytes.
type capped struct{ bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if c.Len()+len(p) > maxExportJobBytes {
		return 0, fmt.Errorf("the export is larger than %d MiB: download it directly (GET …/export)", maxExportJobBytes>>20)
	}
	return c.Buffer.Write(p)
}

// downloadJob hands a finished export's ZIP to the user who started the job.
func (s *Server) downloadJob(r *Request) (any, error) {
	j, ok := s.jobs.get(r.TenantID, r.PathValue("job"))
	if !ok || j.UserID != r.Principal.UserID {
		return nil, errNotFound
	}
	if j.Kind != "subject_export" || !j.Download {
		return nil, &Error{Status: http.StatusConflict, Code: "no_download", Message: "this job has no ZIP to download (still running, failed, or its 15 minutes are over)"}
	}
	h := r.W.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="privox-export-%d-%s.zip"`, r.TenantID, j.ID))
	h.Set("Content-Length", strconv.Itoa(len(j.zip)))
	h.Set("Cache-Control", "no-store")
	r.W.Write(j.zip)
	return nil, nil
}

func (s *Server) jobCopy(j *Job) Job {
	s.jobs.mu.Lock()
	defer s.jobs.mu.Unlock()
	return *j
}

func (s *Server) importContacts(r *Request) (any, error) {
	d, err := s.dir()
	if err != nil {
		return nil, err
	}
	book, err := s.book(r, true)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	format := q.Get("format")
	switch format {
	case "csv", "vcard":
	case "":
		format = "csv"
		if ct := r.Header.Get("Content-Type"); strings.Contains(ct, "vcard") {
			format = "vcard"
		}
	default:
		return nil, FieldError("format", "csv or vcard")
	}
	opt := directory.ImportOptions{Mapping: map[string]string{}}
	switch q.Get("on_error") {
	case "", "abort":
	case "skip":
		opt.SkipErrors = true
	default:
		return nil, FieldError("on_error", "abort or skip")
	}
	if m := q.Get("map"); m != "" {
		for _, kv := range strings.Split(m, ",") {
			h, f, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, FieldError("map", "Header=field pairs separated by commas")
			}
			opt.Mapping[strings.ToLower(strings.TrimSpace(h))] = strings.TrimSpace(f)
		}
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: "file_too_large", Message: fmt.Sprintf("an imported file is limited to %d MiB", MaxImportBytes>>20)}
		}
		return nil, err
	}
	if len(data) == 0 {
		return nil, FieldError("file", "the file is empty")
	}
	return s.runJob(r, "contacts_import", 3, func(ctx context.Context, j *Job) {
		step := func(done int, what string) { s.jobs.update(j, func(j *Job) { j.Done, j.Step = done, what }) }
		step(0, "reading the file")
		var (
			cs    []store.Contact
			lines []int
			rep   directory.ImportReport
			err   error
		)
		if format == "csv" {
			cs, lines, rep, err = directory.ParseCSV(data, opt.Mapping)
		} else {
			cs, lines, rep, err = directory.ParseVCards(data)
		}
		if err != nil {
			s.jobs.finish(j, nil, dirError(err))
			return
		}
		step(1, fmt.Sprintf("checking %d rows", len(cs)))
		step(2, fmt.Sprintf("writing %d contacts", len(cs)))
		rep, err = d.Import(ctx, book, cs, lines, rep, opt)
		if err == nil && rep.Written {
			detail := fmt.Sprintf("created=%d updated=%d skipped=%d", rep.Created, rep.Updated, rep.Skipped)
			if _, aerr := s.DB.AppendAudit(ctx, r.AuditEntry("contacts.import", "phonebook", book.ID, detail)); aerr != nil {
				s.Logger.Error("audit append failed", "action", "contacts.import", "err", aerr)
			}
		}
		if err == nil && !rep.Written {
			err = fmt.Errorf("%d bad rows, nothing imported (on_error=skip imports the good ones)", len(rep.Errors))
		}
		s.jobs.finish(j, rep, err)
	})
}
