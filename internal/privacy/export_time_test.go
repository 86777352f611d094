package privacy_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"testing"
	"time"

	"github.com/privox/privox/internal/privacy"
)

// TestExportTimesISO: every time in an export (unix milliseconds) has a sibling <column>_iso
// with the same instant in ISO 8601 with its zone, in the JSON and in the CSV files; a missing
// time stays missing; the raw values stay as they were.
func TestExportTimesISO(t *testing.T) {
	runEngines(t, privacy.Options{Preset: "default"}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant(t, "acme", "default")
		u := e.user(t, tn.ID, "alice@acme.test")
		start := time.Date(2026, 3, 29, 1, 30, 0, 250*int(time.Millisecond), time.UTC).UnixMilli()
		e.cdr(t, tn.ID, start, &u.ID, nil, "")
		_, _ = e.voicemail(t, tn.ID, u.ID, start, []byte("RIFF"))
		var zipped bytes.Buffer
		m, err := e.eng.Export(ctx, tn.ID, u.ID, &zipped, privacy.Actor{Name: "test"})
		if err != nil {
			t.Fatal(err)
		}
		files, _ := readZip(t, zipped.Bytes())
		var traffic struct {
			Tables map[string][]map[string]any `json:"tables"`
		}
		if err := json.Unmarshal(files["data/traffic.json"], &traffic); err != nil {
			t.Fatal(err)
		}
		rows := traffic.Tables["cdrs"]
		if len(rows) != 1 {
			t.Fatalf("cdrs rows: %v", traffic.Tables)
		}
		row := rows[0]
		if row["start_at"] != float64(start) || row["start_at_iso"] != "2026-03-29T01:30:00.250Z" {
			t.Errorf("start_at %v, start_at_iso %v", row["start_at"], row["start_at_iso"])
		}
		for k, v := range row {
			if (k == "at" || len(k) > 3 && k[len(k)-3:] == "_at") && v != nil {
				iso, ok := row[k+"_iso"].(string)
				ms, _ := v.(float64)
				parsed, err := time.Parse(time.RFC3339Nano, iso)
				if !ok || err != nil || parsed.UnixMilli() != int64(ms) {
					t.Errorf("column %s = %v: sibling %s_iso = %v (%v)", k, v, k, row[k+"_iso"], err)
				}
			}
		}
		if v, ok := row["answer_at_iso"]; !ok || (row["answer_at"] == nil && v != nil) {
			t.Errorf("answer_at %v: answer_at_iso %v (present %v)", row["answer_at"], v, ok)
		}
		recs, err := csv.NewReader(bytes.NewReader(files["data/cdrs.csv"])).ReadAll()
		if err != nil || len(recs) != 2 {
			t.Fatalf("cdrs.csv: %v %q", err, files["data/cdrs.csv"])
		}
		col := map[string]int{}
		for i, h := range recs[0] {
			col[h] = i
		}
		i, ok := col["start_at_iso"]
		if !ok || col["start_at"]+1 != i || recs[1][i] != "2026-03-29T01:30:00.250Z" {
			t.Errorf("cdrs.csv header %v, row %v", recs[0], recs[1])
		}
		if len(m.Content) != 1 || m.Content[0].CreatedAtISO != "2026-03-29T01:30:00.250Z" {
			t.Errorf("manifest content: %+v", m.Content)
		}
	})
}
