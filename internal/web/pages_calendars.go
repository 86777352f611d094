package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/privox/privox/internal/attendant"
	"github.com/privox/privox/internal/store"
)

// Business-hours calendars through the API's calendar routes: the attendant checks the time
// zone, every span and every holiday and names the field at fault. The form has one field per
// weekday with the day's spans separated by commas ("08:00-12:30, 13:30-17:00") and the
// holidays one date per line.

// weekdayKeys are the calendar's days in the order the form and the table show them.
var weekdayKeys = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

type calendarRow struct {
	store.Calendar
	Spec attendant.Calendar
}

// dayHours is one weekday's spans as the table shows them.
type dayHours struct {
	Day   string
	Spans string
}

// Week lists the open days in order with their spans.
func (c calendarRow) Week() []dayHours {
	var out []dayHours
	for _, d := range weekdayKeys {
		if spans := c.Spec.Hours[d]; len(spans) > 0 {
			out = append(out, dayHours{Day: d, Spans: strings.Join(spans, ", ")})
		}
	}
	return out
}

type calendarsView struct {
	Calendars []calendarRow
	Days      []string
	Editing   string
}

func (s *Server) calendars(w http.ResponseWriter, r *http.Request, v *view) {
	if v.Form == nil {
		v.Form = url.Values{}
		if name := r.URL.Query().Get("edit"); name != "" {
			var c store.Calendar
			if ae := s.call(r, "GET", tpath(v, "/calendars/%s", url.PathEscape(name)), nil, "", &c); ae != nil {
				s.fail(w, r, v, ae)
				return
			}
			var spec attendant.Calendar
			_ = json.Unmarshal(c.Spec, &spec)
			v.Form = url.Values{"name": {c.Name}, "editing": {c.Name}, "time_zone": {spec.TimeZone}, "holidays": {strings.Join(spec.Holidays, "\n")}}
			for _, d := range weekdayKeys {
				v.Form.Set("hours_"+d, strings.Join(spec.Hours[d], ", "))
			}
		}
	}
	s.renderCalendars(w, r, v, http.StatusOK)
}

func (s *Server) renderCalendars(w http.ResponseWriter, r *http.Request, v *view, status int) {
	var l list[store.Calendar]
	if ae := s.call(r, "GET", tpath(v, "/calendars"), nil, "", &l); ae != nil {
		s.fail(w, r, v, ae)
		return
	}
	cv := calendarsView{Days: weekdayKeys, Editing: v.Form.Get("editing")}
	for _, c := range l.Items {
		row := calendarRow{Calendar: c}
		_ = json.Unmarshal(c.Spec, &row.Spec)
		cv.Calendars = append(cv.Calendars, row)
	}
	if v.Flash == "" {
		v.Flash = flash(r, v)
	}
	v.Data = cv
	s.render(w, r, status, "calendars", v)
}

func (s *Server) calendarSave(w http.ResponseWriter, r *http.Request, v *view) {
	f := v.Form
	again := func(status int) { s.renderCalendars(w, r, v, status) }
	name := strings.TrimSpace(f.Get("name"))
	if name == "" {
		formError(v, "name", v.T("err.required"))
		again(http.StatusBadRequest)
		return
	}
	spec := attendant.Calendar{TimeZone: strings.TrimSpace(f.Get("time_zone")), Hours: map[string][]string{}, Holidays: formList(v, "holidays")}
	for _, d := range weekdayKeys {
		if spans := formList(v, "hours_"+d); len(spans) > 0 {
			spec.Hours[d] = spans
		}
	}
	if ae := s.call(r, "PUT", tpath(v, "/calendars/%s", url.PathEscape(name)), map[string]any{"spec": spec}, f.Get("csrf"), nil); ae != nil {
		if ae.Field == "hours" {
			ae.Field = hoursField(spec, ae.Message)
		}
		s.saveErr(w, r, v, ae, again)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/calendars?done=calendar_saved", v.Tenant), http.StatusSeeOther)
}

// calendarDelete deletes a calendar; one the dial plan names stays, and the page says who
// names it.
func (s *Server) calendarDelete(w http.ResponseWriter, r *http.Request, v *view) {
	if ae := s.call(r, "DELETE", tpath(v, "/calendars/%s", url.PathEscape(r.PathValue("calendar"))), nil, v.Form.Get("csrf"), nil); ae != nil {
		if ae.Status == http.StatusConflict {
			v.Form = url.Values{}
			v.Error = ae.Message
			s.renderCalendars(w, r, v, ae.Status)
			return
		}
		s.fail(w, r, v, ae)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/t/%d/calendars?done=calendar_deleted", v.Tenant), http.StatusSeeOther)
}

// hoursField finds the weekday field of the span the attendant refused (it quotes the span);
// the first day with spans when none matches.
func hoursField(spec attendant.Calendar, msg string) string {
	first := ""
	for _, d := range weekdayKeys {
		for _, sp := range spec.Hours[d] {
			if strings.Contains(msg, strconv.Quote(sp)) {
				return "hours_" + d
			}
		}
		if first == "" && len(spec.Hours[d]) > 0 {
			first = "hours_" + d
		}
	}
	if first == "" {
		first = "hours_mon"
	}
	return first
}
