package attendant

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzParseMenu: menu definitions come from the API and the CLI. Whatever is accepted must
// validate again after a round trip through its stored form.
func FuzzParseMenu(f *testing.F) {
	f.Add([]byte(`{"options":{"1":{"type":"extension","target":"1001"}},"fallback":{"type":"menu","target":"main"},"calendar":"office"}`))
	f.Add([]byte(`{"dial_by_extension":true,"timeout_ms":5000,"retries":2,"closed":{"type":"hangup"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMenu(b)
		if err != nil {
			return
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseMenu(out); err != nil {
			t.Fatalf("stored form refused: %v\n%s", err, out)
		}
	})
}

// FuzzParseCalendar: calendars come from the API and the CLI; Open must never panic.
func FuzzParseCalendar(f *testing.F) {
	f.Add([]byte(`{"time_zone":"Europe/Berlin","hours":{"mon":["08:00-17:00"]},"holidays":["2026-12-24"]}`))
	f.Add([]byte(`{"time_zone":"America/New_York","hours":{"sun":["00:00-24:00"]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCalendar(b)
		if err != nil {
			return
		}
		_ = c.Open(time.Unix(1796000000, 0))
	})
}
