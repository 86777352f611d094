package attendant

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseMenu(t *testing.T) {
	for _, tc := range []struct {
		name, spec, field string
	}{
		{"ok", `{"options":{"1":{"type":"extension","target":"1001"},"9":{"type":"menu","target":"sales"}},"fallback":{"type":"hangup"}}`, ""},
		{"dial by extension alone", `{"dial_by_extension":true}`, ""},
		{"empty", `{}`, "options"},
		{"unknown field", `{"options":{"1":{"type":"hangup"}},"colour":"red"}`, "spec"},
		{"bad key", `{"options":{"12":{"type":"hangup"}}}`, "options"},
		{"bad type", `{"options":{"1":{"type":"fax"}}}`, "options.1"},
		{"every destination type", `{"options":{"1":{"type":"mailbox","target":"1001"},"2":{"type":"group","target":"600"},"3":{"type":"number","target":"+49301234567"}}}`, ""},
		{"mailbox without extension", `{"options":{"1":{"type":"mailbox"}}}`, "options.1"},
		{"number with letters", `{"options":{"1":{"type":"number","target":"0800-CALLME"}}}`, "options.1"},
		{"extension without number", `{"options":{"1":{"type":"extension"}}}`, "options.1"},
		{"hash with dial by extension", `{"dial_by_extension":true,"options":{"#":{"type":"hangup"}}}`, "options"},
		{"retries", `{"options":{"1":{"type":"hangup"}},"retries":100}`, "retries"},
		{"timeout", `{"options":{"1":{"type":"hangup"}},"timeout_ms":3600000}`, "timeout_ms"},
		{"language", `{"options":{"1":{"type":"hangup"}},"language":"fr"}`, "language"},
		{"prompt path", `{"options":{"1":{"type":"hangup"}},"greeting":"../../etc/passwd"}`, "greeting"},
		{"not json", `menu`, "spec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMenu([]byte(tc.spec))
			var fe *FieldError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.field != "" && !errors.As(err, &fe):
				t.Fatalf("accepted or wrong error: %v", err)
			case tc.field != "" && fe.Field != tc.field:
				t.Fatalf("error names %q, want %q: %v", fe.Field, tc.field, err)
			}
		})
	}
}

func TestCheckLoops(t *testing.T) {
	menu := func(fallback, closed string) Menu {
		m := Menu{Options: map[string]Destination{"0": {Type: "menu", Target: "main"}}}
		if fallback != "" {
			m.Fallback = &Destination{Type: "menu", Target: fallback}
		}
		if closed != "" {
			m.Closed = &Destination{Type: "menu", Target: closed}
		}
		return m
	}
	// Options back to the main menu are choices: no loop.
	if err := CheckLoops(map[string]Menu{"main": menu("sales", ""), "sales": menu("", "")}); err != nil {
		t.Errorf("options back to main refused: %v", err)
	}
	for name, menus := range map[string]map[string]Menu{
		"self":             {"main": menu("main", "")},
		"two":              {"main": menu("sales", ""), "sales": menu("main", "")},
		"through closed":   {"main": menu("", "night"), "night": menu("support", ""), "support": menu("main", "")},
		"closed to itself": {"main": menu("", "main")},
	} {
		err := CheckLoops(menus)
		if !errors.Is(err, ErrLoop) || !strings.Contains(err.Error(), "→") {
			t.Errorf("%s: %v, want a loop named", name, err)
		}
	}
}

func TestCalendarOpen(t *testing.T) {
	c, err := ParseCalendar([]byte(`{"time_zone":"Europe/Berlin","hours":{"mon":["08:00-12:00","13:00-17:30"],"sat":["10:00-14:00"]},"holidays":["2026-12-24"]}`))
	if err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	h := hours{c: c, loc: loc}
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, tc := range []struct {
		at   string
		open bool
	}{
		{"2026-12-07T07:30:00Z", true},  // Monday 08:30 in Berlin (CET, UTC+1)
		{"2026-12-07T06:59:00Z", false}, // 07:59
		{"2026-12-07T11:30:00Z", false}, // 12:30 lunch
		{"2026-12-07T16:29:00Z", true},  // 17:29
		{"2026-12-07T16:30:00Z", false}, // 17:30
		{"2026-07-06T06:30:00Z", true},  // Monday 08:30 in summer (CEST, UTC+2)
		{"2026-12-12T09:00:00Z", true},  // Saturday 10:00
		{"2026-12-13T10:00:00Z", false}, // Sunday
		{"2026-12-24T10:00:00Z", false}, // a holiday (Thursday)
		{"2026-12-23T23:30:00Z", false}, // already the 24th in Berlin
	} {
		if got := c.Open(at(tc.at)); got != tc.open {
			t.Errorf("%s: open %v, want %v", tc.at, got, tc.open)
		}
		if got := h.Open(at(tc.at)); got != tc.open { // as the dial plan judges it
			t.Errorf("%s: open for the dial plan %v, want %v", tc.at, got, tc.open)
		}
	}
	if l := h.Local(at("2026-12-23T23:30:00Z")); l.Format("Mon 15:04 MST") != "Thu 00:30 CET" || l.Location().String() != "Europe/Berlin" {
		t.Errorf("local time %s %s", l, l.Location())
	}
	for _, bad := range []string{
		`{"time_zone":"Mars/Olympus","hours":{}}`,
		`{"time_zone":"Local","hours":{}}`,
		`{"time_zone":"UTC","hours":{"monday":["08:00-09:00"]}}`,
		`{"time_zone":"UTC","hours":{"mon":["09:00-08:00"]}}`,
		`{"time_zone":"UTC","hours":{"mon":["8-9"]}}`,
		`{"time_zone":"UTC","holidays":["24.12.2026"]}`,
	} {
		if _, err := ParseCalendar([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
