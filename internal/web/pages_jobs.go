package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Long-running actions (the API's jobs): starting one sends the browser to the job's page,
// which shows its progress, reloads itself every second while the job runs (a meta refresh:
// no script), and shows the result once it is over.

type jobView struct {
	ID         string          `json:"id"`
	Kind       string          `json:"kind"`
	State      string          `json:"state"`
	Done       int             `json:"done"`
	Total      int             `json:"total"`
	Step       string          `json:"step"`
	Error      string          `json:"error"`
	Result     json.RawMessage `json:"result"`
	StartedAt  int64           `json:"started_at"`
	FinishedAt int64           `json:"finished_at"`
	Download   bool            `json:"download"`
}

// Percent is the job's progress in per cent.
func (j jobView) Percent() int {
	if j.Total <= 0 {
		return 0
	}
	return 100 * j.Done / j.Total
}

type sweepResult struct {
	DryRun bool `json:"dry_run"`
	Tables []struct {
		Table   string `json:"table"`
		Action  string `json:"action"`
		Removed int64  `json:"removed"`
		Held    int64  `json:"held"`
		Files   int64  `json:"files"`
	} `json:"tables"`
}

type importResult struct {
	Rows    int `json:"rows"`
	Created int `json:"created"`
	Updated int `json:"updated"`
	Skipped int `json:"skipped"`
	Errors  []struct {
		Line   int    `json:"line"`
		Reason string `json:"reason"`
	} `json:"errors"`
}

type exportResult struct {
	Bytes      int `json:"bytes"`
	Categories int `json:"categories"`
	Files      int `json:"files"`
}

type jobPage struct {
	Job    jobView
	Sweep  *sweepResult
	Import *importResult
	Export *exportResult
	// Back is where the page leads when the job is over.
	Back string
}

func (s *Server) jobShow(w http.ResponseWriter, r *http.Request, v *view) {
	var j jobView
	if ae := s.call(r, "GET", tpath(v, "/jobs/%s", url.PathEscape(r.PathValue("job"))), nil, "", &j); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	jp := jobPage{Job: j, Back: r.URL.Query().Get("back")}
	if !strings.HasPrefix(jp.Back, fmt.Sprintf("/t/%d/", v.Tenant)) {
		jp.Back = "" // only back into this tenant's pages
	}
	if len(j.Result) > 0 {
		switch j.Kind {
		case "retention_sweep":
			jp.Sweep = &sweepResult{}
			_ = json.Unmarshal(j.Result, jp.Sweep)
		case "contacts_import":
			jp.Import = &importResult{}
			_ = json.Unmarshal(j.Result, jp.Import)
		case "subject_export":
			jp.Export = &exportResult{}
			_ = json.Unmarshal(j.Result, jp.Export)
		}
	}
	if j.State == "running" {
		v.Refresh = 1
	}
	v.Data = jp
	s.render(w, r, http.StatusOK, "job", v)
}

// jobURL is a job's page, leading back to back when it is over.
func jobURL(v *view, id, back string) string {
	return fmt.Sprintf("/t/%d/jobs/%s?back=%s", v.Tenant, url.PathEscape(id), url.QueryEscape(back))
}

func (s *Server) retentionRun(w http.ResponseWriter, r *http.Request, v *view) {
	var j jobView
	body := map[string]bool{"dry_run": v.Form.Get("dry_run") == "on"}
	if ae := s.call(r, "POST", tpath(v, "/retention/sweep"), body, v.Form.Get("csrf"), &j); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, jobURL(v, j.ID, fmt.Sprintf("/t/%d/retention", v.Tenant)), http.StatusSeeOther)
}

func (s *Server) contactsImport(w http.ResponseWriter, r *http.Request, v *view) {
	id, ok := s.pathID(w, r, v, "phonebook")
	if !ok {
		return
	}
	f := v.Form
	again := func(field, msg string, status int) {
		v.Error, v.Field = msg, field
		v.Form = url.Values{}
		s.renderPhonebook(w, r, v, status)
	}
	file, hdr, err := r.FormFile("file")
	if err != nil {
		again("file", "file: "+v.T("pb.import.nofile"), http.StatusBadRequest)
		return
	}
	defer file.Close()
	format := f.Get("format")
	if format == "" {
		format = "csv"
		if n := strings.ToLower(hdr.Filename); strings.HasSuffix(n, ".vcf") || strings.HasSuffix(n, ".vcard") {
			format = "vcard"
		}
	}
	q := url.Values{"format": {format}}
	if f.Get("skip") == "on" {
		q.Set("on_error", "skip")
	}
	var j jobView
	rec := s.do(r, "POST", tpath(v, "/phonebooks/%d/import?%s", id, q.Encode()), rawBody{r: file, contentType: "application/octet-stream"}, f.Get("csrf"))
	if ae := rec.apiError(); ae != nil {
		if ae.Status == http.StatusBadRequest || ae.Status == http.StatusRequestEntityTooLarge || ae.Status == http.StatusConflict {
			again("file", ae.Message, ae.Status)
			return
		}
		s.fail(w, r, v, ae)
		return
	}
	if err := json.Unmarshal(rec.buf.Bytes(), &j); err != nil {
		s.fail(w, r, v, &apiError{Status: http.StatusInternalServerError, Message: "unreadable job"})
		return
	}
	http.Redirect(w, r, jobURL(v, j.ID, fmt.Sprintf("/t/%d/phonebooks/%d", v.Tenant, id)), http.StatusSeeOther)
}

// exportStart makes a user's export as a job (an admin's page); myExportStart the signed-in
// user's own. The job's page offers the ZIP once it is made.
func (s *Server) exportStart(w http.ResponseWriter, r *http.Request, v *view) {
	id, ok := s.pathID(w, r, v, "user")
	if !ok {
		return
	}
	s.startExport(w, r, v, id, fmt.Sprintf("/t/%d/users/%d", v.Tenant, id))
}

func (s *Server) myExportStart(w http.ResponseWriter, r *http.Request, v *view) {
	s.startExport(w, r, v, v.S.P.UserID, fmt.Sprintf("/t/%d/me/data", v.Tenant))
}

func (s *Server) startExport(w http.ResponseWriter, r *http.Request, v *view, user int64, back string) {
	var j jobView
	if ae := s.call(r, "POST", tpath(v, "/users/%d/export", user), nil, v.Form.Get("csrf"), &j); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, jobURL(v, j.ID, back), http.StatusSeeOther)
}

// jobDownload passes a finished export's ZIP to the browser.
func (s *Server) jobDownload(w http.ResponseWriter, r *http.Request, v *view) {
	s.download(w, r, v, tpath(v, "/jobs/%s/download", url.PathEscape(r.PathValue("job"))))
}
